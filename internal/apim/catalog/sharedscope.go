package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/keyway/keyway/internal/db"
)

// allKeyManagers is the key manager list shared scopes are registered with.
var allKeyManagers = []string{"all"}

func scanShared(scan func(...any) error) (Scope, error) {
	var sc Scope
	var bindings string
	if err := scan(&sc.ID, &sc.Name, &sc.DisplayName, &sc.Description, &bindings); err != nil {
		return sc, err
	}
	if err := json.Unmarshal([]byte(bindings), &sc.Bindings); err != nil {
		return sc, fmt.Errorf("decode bindings of scope %s: %w", sc.Name, err)
	}
	if sc.Bindings == nil {
		sc.Bindings = []string{}
	}
	return sc, nil
}

// SharedScopes lists the shared scopes with their usage counts.
func (s *Service) SharedScopes(ctx context.Context) ([]Scope, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT uuid, name, display_name, description, bindings FROM am_shared_scope ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list shared scopes: %w", err)
	}
	defer rows.Close()
	out := []Scope{}
	for rows.Next() {
		sc, err := scanShared(rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	usage, err := s.sharedUsage(ctx)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].UsageCount = usage[out[i].Name]
	}
	return out, nil
}

// sharedUsage counts the APIs that reference each shared scope.
func (s *Service) sharedUsage(ctx context.Context) (map[string]int, error) {
	all, err := loadAPIs(ctx, s.db, nil)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, st := range all {
		for _, sc := range st.api.Scopes {
			if sc.Shared {
				out[sc.Scope.Name]++
			}
		}
	}
	return out, nil
}

func (s *Service) sharedScopeMap(ctx context.Context) (map[string]Scope, error) {
	list, err := s.SharedScopes(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[string]Scope, len(list))
	for _, sc := range list {
		sc.UsageCount = 0
		m[sc.Name] = sc
	}
	return m, nil
}

// SharedScope returns one shared scope by id.
func (s *Service) SharedScope(ctx context.Context, id string) (*Scope, error) {
	sc, err := scanShared(s.db.QueryRowContext(ctx, `SELECT uuid, name, display_name, description, bindings FROM am_shared_scope WHERE uuid = ?`, id).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(404, "Not Found", "Shared scope with id %s not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("load shared scope: %w", err)
	}
	usage, err := s.sharedUsage(ctx)
	if err != nil {
		return nil, err
	}
	sc.UsageCount = usage[sc.Name]
	return &sc, nil
}

func validScope(sc *Scope) error {
	sc.Name = strings.TrimSpace(sc.Name)
	if sc.Name == "" || len(sc.Name) > 255 || strings.ContainsAny(sc.Name, " \t") {
		return invalid(400, "Bad Request", "scope name %q is invalid", sc.Name)
	}
	if len(sc.DisplayName) > 255 || len(sc.Description) > 512 {
		return invalid(400, "Bad Request", "scope display name or description is too long")
	}
	if sc.DisplayName == "" {
		sc.DisplayName = sc.Name
	}
	if sc.Bindings == nil {
		sc.Bindings = []string{}
	}
	return nil
}

// CreateSharedScope adds a shared scope and registers it in every key manager.
func (s *Service) CreateSharedScope(ctx context.Context, in Scope) (*Scope, error) {
	sc := in
	if err := validScope(&sc); err != nil {
		return nil, err
	}
	sc.ID = uuid.NewString()
	b, _ := json.Marshal(sc.Bindings)
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		owners, err := scopeOwners(ctx, tx, sc.Name)
		if err != nil {
			return err
		}
		if len(owners) > 0 {
			return conflict(409, "Conflict", "scope %s is already used by an API", sc.Name)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO am_shared_scope (uuid, name, display_name, description, bindings) VALUES (?, ?, ?, ?, ?)`,
			sc.ID, sc.Name, sc.DisplayName, sc.Description, string(b)); err != nil {
			if db.IsUniqueViolation(err) {
				return conflict(409, "Conflict", "shared scope %s already exists", sc.Name)
			}
			return fmt.Errorf("insert shared scope: %w", err)
		}
		return s.registerShared(ctx, sc)
	})
	if err != nil {
		return nil, err
	}
	return &sc, nil
}

func (s *Service) registerShared(ctx context.Context, sc Scope) error {
	if r := s.registrar(); r != nil {
		if err := r.RegisterScopes(ctx, allKeyManagers, []Scope{sc}); err != nil {
			return keyManagerError(err)
		}
	}
	return nil
}

// UpdateSharedScope changes a shared scope's display name, description and
// bindings (the name is fixed).
func (s *Service) UpdateSharedScope(ctx context.Context, id string, in Scope) (*Scope, error) {
	cur, err := s.SharedScope(ctx, id)
	if err != nil {
		return nil, err
	}
	sc := in
	sc.ID, sc.Name, sc.UsageCount = cur.ID, cur.Name, cur.UsageCount
	if in.Name != "" && in.Name != cur.Name {
		return nil, invalid(400, "Bad Request", "the name of a shared scope cannot change")
	}
	if err := validScope(&sc); err != nil {
		return nil, err
	}
	b, _ := json.Marshal(sc.Bindings)
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE am_shared_scope SET display_name = ?, description = ?, bindings = ? WHERE uuid = ?`,
			sc.DisplayName, sc.Description, string(b), id); err != nil {
			return fmt.Errorf("update shared scope: %w", err)
		}
		return s.registerShared(ctx, sc)
	})
	if err != nil {
		return nil, err
	}
	return &sc, nil
}

// DeleteSharedScope removes an unused shared scope.
func (s *Service) DeleteSharedScope(ctx context.Context, id string) error {
	cur, err := s.SharedScope(ctx, id)
	if err != nil {
		return err
	}
	if cur.UsageCount > 0 {
		return conflict(409, "Conflict", "shared scope %s is used by %d API(s)", cur.Name, cur.UsageCount)
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM am_shared_scope WHERE uuid = ?`, id); err != nil {
		return fmt.Errorf("delete shared scope: %w", err)
	}
	if r := s.registrar(); r != nil {
		if err := r.DeleteScopes(ctx, allKeyManagers, []string{cur.Name}); err != nil {
			s.log.Warn("delete shared scope from key managers", "scope", cur.Name, "err", err)
		}
	}
	return nil
}

// ScopeExists reports whether a scope name is taken, as a shared scope or a
// scope of some API.
func (s *Service) ScopeExists(ctx context.Context, name string) (bool, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM am_shared_scope WHERE name = ?`, name).Scan(&n); err != nil {
		return false, fmt.Errorf("check scope %s: %w", name, err)
	}
	if n > 0 {
		return true, nil
	}
	owners, err := scopeOwners(ctx, s.db, name)
	return len(owners) > 0, err
}
