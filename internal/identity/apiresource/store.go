// Package apiresource owns the Identity Server's API resources and their
// scopes (tables idn_*): the REST API at /api/server/v1/api-resources, the
// legacy scope API at /api/identity/oauth2/v1.0/scopes (both over one scope
// store, scope names unique across the server, as in IS 7), and the scope
// authorizer that decides which requested scopes a token receives.
package apiresource

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/keyway/keyway/internal/db"
)

// Errors returned by the Store.
var (
	ErrNotFound = errors.New("apiresource: not found")
	ErrConflict = errors.New("apiresource: already exists")
	ErrInvalid  = errors.New("apiresource: invalid input")
)

// Resource is an API resource: an audience with its scopes.
type Resource struct {
	ID          string
	Name        string
	Identifier  string
	Description string
	// Type is BUSINESS for resources created through the API, SYSTEM for
	// the server's own.
	Type                  string
	RequiresAuthorization bool
	Scopes                []Scope
	Created               time.Time
	Updated               time.Time
}

// Scope is one scope. ResourceID is empty for scopes made through the legacy
// scope API, which carry role Bindings instead.
type Scope struct {
	ID          string
	ResourceID  string
	Name        string
	DisplayName string
	Description string
	Bindings    []string
	// RequiresAuthorization is the owning resource's flag (true for legacy
	// scopes), filled by lookups that the authorizer uses.
	RequiresAuthorization bool
}

// Store keeps API resources and scopes.
type Store struct {
	d   *db.DB
	now func() time.Time
}

var migrations = []db.Migration{{
	Version: 1,
	Name:    "api resources and scopes",
	SQL: `CREATE TABLE idn_api_resources (
	id VARCHAR(64) NOT NULL PRIMARY KEY,
	name VARCHAR(255) NOT NULL,
	identifier VARCHAR(255) NOT NULL,
	description TEXT NOT NULL,
	kind VARCHAR(32) NOT NULL,
	requires_authz INTEGER NOT NULL,
	created BIGINT NOT NULL,
	updated BIGINT NOT NULL);
CREATE UNIQUE INDEX idn_api_resources_ident ON idn_api_resources (identifier);
CREATE TABLE idn_scopes (
	id VARCHAR(64) NOT NULL PRIMARY KEY,
	resource_id VARCHAR(64) NOT NULL,
	name VARCHAR(255) NOT NULL,
	display_name VARCHAR(255) NOT NULL,
	description TEXT NOT NULL,
	created BIGINT NOT NULL);
CREATE UNIQUE INDEX idn_scopes_name ON idn_scopes (name);
CREATE INDEX idn_scopes_res ON idn_scopes (resource_id);
CREATE TABLE idn_scope_bindings (
	scope_id VARCHAR(64) NOT NULL,
	role_name VARCHAR(255) NOT NULL,
	PRIMARY KEY (scope_id, role_name))`,
}}

// NewStore migrates the idn_* tables.
func NewStore(ctx context.Context, d *db.DB) (*Store, error) {
	if err := d.Migrate(ctx, "apiresource", migrations); err != nil {
		return nil, fmt.Errorf("api resource store: %w", err)
	}
	return &Store{d: d, now: time.Now}, nil
}

func validScope(s *Scope) error {
	s.Name = strings.TrimSpace(s.Name)
	if s.Name == "" || len(s.Name) > 255 || strings.ContainsAny(s.Name, " \t\r\n\"\\") {
		return fmt.Errorf("%w: scope name %q must be 1 to 255 characters without spaces or quotes", ErrInvalid, s.Name)
	}
	if s.DisplayName == "" {
		s.DisplayName = s.Name
	}
	if len(s.DisplayName) > 255 {
		return fmt.Errorf("%w: scope display name is too long", ErrInvalid)
	}
	return nil
}

func validResource(r *Resource) error {
	if strings.TrimSpace(r.Name) == "" || len(r.Name) > 255 {
		return fmt.Errorf("%w: name must have 1 to 255 characters", ErrInvalid)
	}
	if strings.TrimSpace(r.Identifier) == "" || len(r.Identifier) > 255 || strings.ContainsAny(r.Identifier, " \t\r\n") {
		return fmt.Errorf("%w: identifier must have 1 to 255 characters without spaces", ErrInvalid)
	}
	if r.Type == "" {
		r.Type = "BUSINESS"
	}
	seen := map[string]bool{}
	for i := range r.Scopes {
		if err := validScope(&r.Scopes[i]); err != nil {
			return err
		}
		if seen[r.Scopes[i].Name] {
			return fmt.Errorf("%w: scope %q is listed twice", ErrInvalid, r.Scopes[i].Name)
		}
		seen[r.Scopes[i].Name] = true
	}
	return nil
}

// CreateResource stores r and its scopes in one transaction.
func (s *Store) CreateResource(ctx context.Context, r *Resource) error {
	if err := validResource(r); err != nil {
		return err
	}
	r.ID = uuid.NewString()
	now := s.now().UnixMilli()
	err := s.d.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO idn_api_resources (id, name, identifier, description, kind, requires_authz, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.Name, r.Identifier, r.Description, r.Type, boolInt(r.RequiresAuthorization), now, now); err != nil {
			if db.IsUniqueViolation(err) {
				return fmt.Errorf("API resource with identifier %q: %w", r.Identifier, ErrConflict)
			}
			return fmt.Errorf("insert API resource: %w", err)
		}
		return insertScopes(ctx, tx, r.ID, r.Scopes, now)
	})
	if err != nil {
		return err
	}
	for i := range r.Scopes {
		r.Scopes[i].ResourceID = r.ID
	}
	r.Created, r.Updated = time.UnixMilli(now).UTC(), time.UnixMilli(now).UTC()
	return nil
}

func insertScopes(ctx context.Context, tx *db.Tx, resourceID string, scopes []Scope, now int64) error {
	for i := range scopes {
		sc := &scopes[i]
		sc.ID = uuid.NewString()
		if _, err := tx.ExecContext(ctx, `INSERT INTO idn_scopes (id, resource_id, name, display_name, description, created) VALUES (?, ?, ?, ?, ?, ?)`,
			sc.ID, resourceID, sc.Name, sc.DisplayName, sc.Description, now); err != nil {
			if db.IsUniqueViolation(err) {
				return fmt.Errorf("scope %q: %w", sc.Name, ErrConflict)
			}
			return fmt.Errorf("insert scope %q: %w", sc.Name, err)
		}
		for _, b := range uniq(sc.Bindings) {
			if _, err := tx.ExecContext(ctx, `INSERT INTO idn_scope_bindings (scope_id, role_name) VALUES (?, ?)`, sc.ID, b); err != nil {
				return fmt.Errorf("bind scope %q: %w", sc.Name, err)
			}
		}
	}
	return nil
}

const resourceCols = `id, name, identifier, description, kind, requires_authz, created, updated`

func scanResource(sc interface{ Scan(...any) error }) (*Resource, error) {
	var r Resource
	var ra int
	var created, updated int64
	if err := sc.Scan(&r.ID, &r.Name, &r.Identifier, &r.Description, &r.Type, &ra, &created, &updated); err != nil {
		return nil, err
	}
	r.RequiresAuthorization = ra != 0
	r.Created, r.Updated = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	return &r, nil
}

// GetResource returns a resource with its scopes.
func (s *Store) GetResource(ctx context.Context, id string) (*Resource, error) {
	r, err := scanResource(s.d.QueryRowContext(ctx, `SELECT `+resourceCols+` FROM idn_api_resources WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("API resource %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get API resource: %w", err)
	}
	if r.Scopes, err = s.ListScopes(ctx, id); err != nil {
		return nil, err
	}
	return r, nil
}

// ListOptions select and page API resources. Attribute is name or
// identifier; Op is eq, sw, co or ew. After and Before are resource ids
// (cursor paging ordered by id).
type ListOptions struct {
	Attribute, Op, Value string
	Limit                int
	After, Before        string
}

// ListResources returns one page, the total matching the filter, and
// whether more rows exist beyond the page in the paging direction.
func (s *Store) ListResources(ctx context.Context, o ListOptions) (out []*Resource, total int, more bool, err error) {
	where, args, err := resourceFilter(o)
	if err != nil {
		return nil, 0, false, err
	}
	if err := s.d.QueryRowContext(ctx, `SELECT COUNT(*) FROM idn_api_resources`+where, args...).Scan(&total); err != nil {
		return nil, 0, false, fmt.Errorf("count API resources: %w", err)
	}
	order := " ORDER BY id"
	switch {
	case o.After != "":
		where, args = and(where, "id > ?"), append(args, o.After)
	case o.Before != "":
		where, args = and(where, "id < ?"), append(args, o.Before)
		order = " ORDER BY id DESC"
	}
	limit := o.Limit
	if limit <= 0 {
		limit = 1 << 30
	}
	rows, err := s.d.QueryContext(ctx, `SELECT `+resourceCols+` FROM idn_api_resources`+where+order+` LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, 0, false, fmt.Errorf("list API resources: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanResource(rows)
		if err != nil {
			return nil, 0, false, fmt.Errorf("list API resources: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, false, fmt.Errorf("list API resources: %w", err)
	}
	if len(out) > limit {
		out, more = out[:limit], true
	}
	if o.Before != "" {
		sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	}
	return out, total, more, nil
}

func and(where, cond string) string {
	if where == "" {
		return " WHERE " + cond
	}
	return where + " AND " + cond
}

func resourceFilter(o ListOptions) (string, []any, error) {
	if o.Attribute == "" {
		return "", nil, nil
	}
	var col string
	switch strings.ToLower(o.Attribute) {
	case "identifier":
		col = "identifier"
	case "name":
		col = "name"
	case "type":
		col = "kind"
	default:
		return "", nil, fmt.Errorf("%w: filter attribute %q (use name, identifier or type)", ErrInvalid, o.Attribute)
	}
	return likeClause(col, o.Op, o.Value)
}

func likeClause(col, op, v string) (string, []any, error) {
	esc := strings.NewReplacer("!", "!!", "%", "!%", "_", "!_").Replace(v)
	switch strings.ToLower(op) {
	case "eq":
		return " WHERE " + col + " = ?", []any{v}, nil
	case "sw":
		return " WHERE " + col + " LIKE ? ESCAPE '!'", []any{esc + "%"}, nil
	case "co":
		return " WHERE " + col + " LIKE ? ESCAPE '!'", []any{"%" + esc + "%"}, nil
	case "ew":
		return " WHERE " + col + " LIKE ? ESCAPE '!'", []any{"%" + esc}, nil
	}
	return "", nil, fmt.Errorf("%w: filter operator %q (use eq, sw, co or ew)", ErrInvalid, op)
}

// PatchResource changes name and description (nil keeps them) and adds scopes.
func (s *Store) PatchResource(ctx context.Context, id string, name, description *string, added []Scope) error {
	if name != nil && (strings.TrimSpace(*name) == "" || len(*name) > 255) {
		return fmt.Errorf("%w: name must have 1 to 255 characters", ErrInvalid)
	}
	for i := range added {
		if err := validScope(&added[i]); err != nil {
			return err
		}
	}
	now := s.now().UnixMilli()
	return s.d.InTx(ctx, func(tx *db.Tx) error {
		var cur Resource
		if err := tx.QueryRowContext(ctx, `SELECT name, description FROM idn_api_resources WHERE id = ?`, id).Scan(&cur.Name, &cur.Description); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("API resource %s: %w", id, ErrNotFound)
			}
			return fmt.Errorf("patch API resource: %w", err)
		}
		if name != nil {
			cur.Name = *name
		}
		if description != nil {
			cur.Description = *description
		}
		if _, err := tx.ExecContext(ctx, `UPDATE idn_api_resources SET name = ?, description = ?, updated = ? WHERE id = ?`, cur.Name, cur.Description, now, id); err != nil {
			return fmt.Errorf("patch API resource: %w", err)
		}
		return insertScopes(ctx, tx, id, added, now)
	})
}

// DeleteResource removes a resource and its scopes.
func (s *Store) DeleteResource(ctx context.Context, id string) error {
	return s.d.InTx(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM idn_api_resources WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("delete API resource: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("API resource %s: %w", id, ErrNotFound)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM idn_scope_bindings WHERE scope_id IN (SELECT id FROM idn_scopes WHERE resource_id = ?)`, id); err != nil {
			return fmt.Errorf("delete API resource scopes: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM idn_scopes WHERE resource_id = ?`, id); err != nil {
			return fmt.Errorf("delete API resource scopes: %w", err)
		}
		return nil
	})
}

func (s *Store) resourceExists(ctx context.Context, q db.Execer, id string) error {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM idn_api_resources WHERE id = ?`, id).Scan(&n); err != nil {
		return fmt.Errorf("find API resource: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("API resource %s: %w", id, ErrNotFound)
	}
	return nil
}

// ListScopes returns a resource's scopes ordered by name.
func (s *Store) ListScopes(ctx context.Context, resourceID string) ([]Scope, error) {
	if err := s.resourceExists(ctx, s.d, resourceID); err != nil {
		return nil, err
	}
	return s.queryScopes(ctx, ` WHERE s.resource_id = ?`, resourceID)
}

// ReplaceScopes makes the resource's scopes exactly scopes: scopes with a
// name already there keep their id and get the new display name and
// description; others are added; missing ones are removed.
func (s *Store) ReplaceScopes(ctx context.Context, resourceID string, scopes []Scope) error {
	seen := map[string]bool{}
	for i := range scopes {
		if err := validScope(&scopes[i]); err != nil {
			return err
		}
		if seen[scopes[i].Name] {
			return fmt.Errorf("%w: scope %q is listed twice", ErrInvalid, scopes[i].Name)
		}
		seen[scopes[i].Name] = true
	}
	now := s.now().UnixMilli()
	return s.d.InTx(ctx, func(tx *db.Tx) error {
		if err := s.resourceExists(ctx, tx, resourceID); err != nil {
			return err
		}
		existing, err := queryNames(ctx, tx, `SELECT name FROM idn_scopes WHERE resource_id = ?`, resourceID)
		if err != nil {
			return fmt.Errorf("replace scopes: %w", err)
		}
		have := map[string]bool{}
		for _, n := range existing {
			have[n] = true
			if !seen[n] {
				if err := deleteScope(ctx, tx, resourceID, n); err != nil {
					return err
				}
			}
		}
		var added []Scope
		for _, sc := range scopes {
			if have[sc.Name] {
				if _, err := tx.ExecContext(ctx, `UPDATE idn_scopes SET display_name = ?, description = ? WHERE resource_id = ? AND name = ?`, sc.DisplayName, sc.Description, resourceID, sc.Name); err != nil {
					return fmt.Errorf("update scope %q: %w", sc.Name, err)
				}
				continue
			}
			added = append(added, sc)
		}
		return insertScopes(ctx, tx, resourceID, added, now)
	})
}

// PatchScope changes a resource scope's display name or description.
func (s *Store) PatchScope(ctx context.Context, resourceID, name string, displayName, description *string) error {
	if displayName != nil && (*displayName == "" || len(*displayName) > 255) {
		return fmt.Errorf("%w: displayName must have 1 to 255 characters", ErrInvalid)
	}
	return s.d.InTx(ctx, func(tx *db.Tx) error {
		var dn, desc string
		if err := tx.QueryRowContext(ctx, `SELECT display_name, description FROM idn_scopes WHERE resource_id = ? AND name = ?`, resourceID, name).Scan(&dn, &desc); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("scope %q: %w", name, ErrNotFound)
			}
			return fmt.Errorf("patch scope: %w", err)
		}
		if displayName != nil {
			dn = *displayName
		}
		if description != nil {
			desc = *description
		}
		_, err := tx.ExecContext(ctx, `UPDATE idn_scopes SET display_name = ?, description = ? WHERE resource_id = ? AND name = ?`, dn, desc, resourceID, name)
		if err != nil {
			return fmt.Errorf("patch scope: %w", err)
		}
		return nil
	})
}

// DeleteResourceScope removes one scope of a resource.
func (s *Store) DeleteResourceScope(ctx context.Context, resourceID, name string) error {
	return s.d.InTx(ctx, func(tx *db.Tx) error { return deleteScope(ctx, tx, resourceID, name) })
}

func deleteScope(ctx context.Context, tx *db.Tx, resourceID, name string) error {
	var id string
	if err := tx.QueryRowContext(ctx, `SELECT id FROM idn_scopes WHERE resource_id = ? AND name = ?`, resourceID, name).Scan(&id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("scope %q: %w", name, ErrNotFound)
		}
		return fmt.Errorf("delete scope: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM idn_scope_bindings WHERE scope_id = ?`, id); err != nil {
		return fmt.Errorf("delete scope bindings: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM idn_scopes WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete scope: %w", err)
	}
	return nil
}

const scopeSelect = `SELECT s.id, s.resource_id, s.name, s.display_name, s.description, COALESCE(r.requires_authz, 1) FROM idn_scopes s LEFT JOIN idn_api_resources r ON r.id = s.resource_id`

func (s *Store) queryScopes(ctx context.Context, where string, args ...any) ([]Scope, error) {
	rows, err := s.d.QueryContext(ctx, scopeSelect+where+` ORDER BY s.name`, args...)
	if err != nil {
		return nil, fmt.Errorf("list scopes: %w", err)
	}
	out := []Scope{}
	for rows.Next() {
		var sc Scope
		var ra int
		if err := rows.Scan(&sc.ID, &sc.ResourceID, &sc.Name, &sc.DisplayName, &sc.Description, &ra); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list scopes: %w", err)
		}
		sc.RequiresAuthorization = ra != 0
		out = append(out, sc)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list scopes: %w", err)
	}
	for i := range out {
		b, err := queryNames(ctx, s.d, `SELECT role_name FROM idn_scope_bindings WHERE scope_id = ? ORDER BY role_name`, out[i].ID)
		if err != nil {
			return nil, fmt.Errorf("scope bindings: %w", err)
		}
		out[i].Bindings = b
	}
	return out, nil
}

// AllScopes lists every scope of the server, optionally filtered on name
// (op eq, sw, co, ew).
func (s *Store) AllScopes(ctx context.Context, op, value string) ([]Scope, error) {
	if op == "" {
		return s.queryScopes(ctx, "")
	}
	where, args, err := likeClause("s.name", op, value)
	if err != nil {
		return nil, err
	}
	return s.queryScopes(ctx, where, args...)
}

// Lookup returns the known scopes among names, keyed by name.
func (s *Store) Lookup(ctx context.Context, names []string) (map[string]Scope, error) {
	out := map[string]Scope{}
	names = uniq(names)
	// Bounded IN lists keep every engine's parameter limit far away.
	for len(names) > 0 {
		n := min(len(names), 200)
		batch := names[:n]
		names = names[n:]
		args := make([]any, len(batch))
		for i, v := range batch {
			args[i] = v
		}
		rows, err := s.d.QueryContext(ctx, scopeSelect+` WHERE s.name IN (?`+strings.Repeat(", ?", len(batch)-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("look up scopes: %w", err)
		}
		for rows.Next() {
			var sc Scope
			var ra int
			if err := rows.Scan(&sc.ID, &sc.ResourceID, &sc.Name, &sc.DisplayName, &sc.Description, &ra); err != nil {
				rows.Close()
				return nil, fmt.Errorf("look up scopes: %w", err)
			}
			sc.RequiresAuthorization = ra != 0
			out[sc.Name] = sc
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("look up scopes: %w", err)
		}
	}
	return out, nil
}

// GetScope returns any scope by name, with its bindings.
func (s *Store) GetScope(ctx context.Context, name string) (*Scope, error) {
	out, err := s.queryScopes(ctx, ` WHERE s.name = ?`, name)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("scope %q: %w", name, ErrNotFound)
	}
	return &out[0], nil
}

// CreateScope adds a scope that belongs to no API resource (legacy API).
func (s *Store) CreateScope(ctx context.Context, sc *Scope) error {
	if err := validScope(sc); err != nil {
		return err
	}
	sc.ResourceID = ""
	now := s.now().UnixMilli()
	return s.d.InTx(ctx, func(tx *db.Tx) error {
		one := []Scope{*sc}
		if err := insertScopes(ctx, tx, "", one, now); err != nil {
			return err
		}
		sc.ID = one[0].ID
		return nil
	})
}

// UpdateScope replaces the display name, description and bindings of any scope.
func (s *Store) UpdateScope(ctx context.Context, sc *Scope) error {
	if sc.DisplayName == "" || len(sc.DisplayName) > 255 {
		return fmt.Errorf("%w: displayName must have 1 to 255 characters", ErrInvalid)
	}
	return s.d.InTx(ctx, func(tx *db.Tx) error {
		var id string
		if err := tx.QueryRowContext(ctx, `SELECT id FROM idn_scopes WHERE name = ?`, sc.Name).Scan(&id); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("scope %q: %w", sc.Name, ErrNotFound)
			}
			return fmt.Errorf("update scope: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE idn_scopes SET display_name = ?, description = ? WHERE id = ?`, sc.DisplayName, sc.Description, id); err != nil {
			return fmt.Errorf("update scope: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM idn_scope_bindings WHERE scope_id = ?`, id); err != nil {
			return fmt.Errorf("update scope bindings: %w", err)
		}
		for _, b := range uniq(sc.Bindings) {
			if _, err := tx.ExecContext(ctx, `INSERT INTO idn_scope_bindings (scope_id, role_name) VALUES (?, ?)`, id, b); err != nil {
				return fmt.Errorf("bind scope: %w", err)
			}
		}
		sc.ID = id
		return nil
	})
}

// DeleteScope removes any scope by name.
func (s *Store) DeleteScope(ctx context.Context, name string) error {
	return s.d.InTx(ctx, func(tx *db.Tx) error {
		var rid string
		if err := tx.QueryRowContext(ctx, `SELECT resource_id FROM idn_scopes WHERE name = ?`, name).Scan(&rid); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("scope %q: %w", name, ErrNotFound)
			}
			return fmt.Errorf("delete scope: %w", err)
		}
		return deleteScope(ctx, tx, rid, name)
	})
}

func queryNames(ctx context.Context, q db.Execer, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func uniq(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := make([]string, 0, len(in))
	for _, v := range in {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// DisplayNames returns the display names of the known scopes among names,
// keyed by name (for role permissions shown by SCIM roles v2).
func (s *Store) DisplayNames(ctx context.Context, names []string) (map[string]string, error) {
	known, err := s.Lookup(ctx, names)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(known))
	for n, sc := range known {
		out[n] = sc.DisplayName
	}
	return out, nil
}
