package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/events"
)

// envCache holds the admin-created environments as last read from the
// database. Environments() has no context (its callers only read), so it is
// served from here; every local change reloads it, and EnvironmentChanged
// events reload it on the other API Manager nodes sharing the database.
type envCache struct {
	mu   sync.RWMutex
	list []Environment
	// reload serialises reloads so that the last one to finish read the
	// latest committed state.
	reload sync.Mutex
}

// EnvironmentEvent is the payload of EnvironmentChanged.
type EnvironmentEvent struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Action string `json:"action"` // CREATE, UPDATE or DELETE
}

func (s *Service) initEnvironments(ctx context.Context) error {
	if err := s.reloadEnvironments(ctx); err != nil {
		return err
	}
	if s.bus != nil {
		// The bus calls back on its own goroutine; a short query is within
		// what Subscribe allows.
		s.bus.Subscribe(func(e events.Event) {
			if e.Type != events.EnvironmentChanged {
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.reloadEnvironments(ctx); err != nil {
				s.log.Warn("reload gateway environments", "err", err)
			}
		})
	}
	return nil
}

func (s *Service) reloadEnvironments(ctx context.Context) error {
	s.custom.reload.Lock()
	defer s.custom.reload.Unlock()
	list, err := loadEnvironments(ctx, s.db)
	if err != nil {
		return err
	}
	s.custom.mu.Lock()
	s.custom.list = list
	s.custom.mu.Unlock()
	return nil
}

func (s *Service) allEnvironments() []Environment {
	s.custom.mu.RLock()
	defer s.custom.mu.RUnlock()
	out := make([]Environment, 0, len(s.envs)+len(s.custom.list))
	out = append(out, s.envs...)
	return append(out, s.custom.list...)
}

// ListEnvironments reads every environment, the admin-created ones from the
// database (refreshing what Environments returns).
func (s *Service) ListEnvironments(ctx context.Context) ([]Environment, error) {
	if err := s.reloadEnvironments(ctx); err != nil {
		return nil, err
	}
	return s.allEnvironments(), nil
}

// GetEnvironment returns one environment by id or name.
func (s *Service) GetEnvironment(ctx context.Context, idOrName string) (*Environment, error) {
	if e, ok := s.configuredEnvironment(idOrName); ok {
		return &e, nil
	}
	e, err := loadEnvironment(ctx, s.db, idOrName)
	if err != nil {
		return nil, err
	}
	return e, nil
}

// CreateEnvironment stores a new gateway environment. Its name must not be
// taken (regardless of case) by a configured or an admin-created one.
func (s *Service) CreateEnvironment(ctx context.Context, in Environment) (*Environment, error) {
	e := in
	if err := validEnvironment(&e); err != nil {
		return nil, err
	}
	if c, ok := s.configuredEnvironment(e.Name); ok {
		return nil, environmentExists(c.Name)
	}
	e.ID, e.IsReadOnly = uuid.NewString(), false
	doc, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode environment: %w", err)
	}
	now := millis(s.now())
	_, err = s.db.ExecContext(ctx, `INSERT INTO am_gateway_environment (uuid, name, name_key, created, updated, doc) VALUES (?, ?, ?, ?, ?, ?)`,
		e.ID, e.Name, strings.ToLower(e.Name), now, now, string(doc))
	if db.IsUniqueViolation(err) {
		return nil, environmentExists(e.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("insert environment: %w", err)
	}
	s.environmentChanged(ctx, e, "CREATE")
	return &e, nil
}

// UpdateEnvironment replaces an admin-created environment's settings; its
// name cannot change (deployments refer to it), and a vhost that deployed
// APIs use cannot be removed.
func (s *Service) UpdateEnvironment(ctx context.Context, idOrName string, in Environment) (*Environment, error) {
	if c, ok := s.configuredEnvironment(idOrName); ok {
		return nil, readOnlyEnvironment(c.Name)
	}
	e := in
	var out *Environment
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		cur, err := loadEnvironment(ctx, tx, idOrName)
		if err != nil {
			return err
		}
		if e.Name == "" {
			e.Name = cur.Name
		}
		if e.Name != cur.Name {
			return invalid(400, "Bad Request", "the name of environment %s cannot be changed", cur.Name)
		}
		if err := validEnvironment(&e); err != nil {
			return err
		}
		e.ID, e.IsReadOnly = cur.ID, false
		used, err := deployedVHosts(ctx, tx, cur.Name)
		if err != nil {
			return err
		}
		for _, h := range used {
			if !hasVHost(e, h) {
				return conflict(409, "Conflict", "vhost %s of environment %s has deployed API revisions; undeploy them first", h, cur.Name)
			}
		}
		doc, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encode environment: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE am_gateway_environment SET updated = ?, doc = ? WHERE uuid = ?`,
			millis(s.now()), string(doc), cur.ID); err != nil {
			return fmt.Errorf("update environment: %w", err)
		}
		out = &e
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.environmentChanged(ctx, *out, "UPDATE")
	return out, nil
}

// DeleteEnvironment removes an admin-created environment that has no
// deployed API revision (WSO2 refuses too).
func (s *Service) DeleteEnvironment(ctx context.Context, idOrName string) error {
	if c, ok := s.configuredEnvironment(idOrName); ok {
		return readOnlyEnvironment(c.Name)
	}
	var gone *Environment
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		cur, err := loadEnvironment(ctx, tx, idOrName)
		if err != nil {
			return err
		}
		used, err := deployedVHosts(ctx, tx, cur.Name)
		if err != nil {
			return err
		}
		if len(used) > 0 {
			return conflict(409, "Conflict", "environment %s has deployed API revisions; undeploy them first", cur.Name)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM am_gateway_environment WHERE uuid = ?`, cur.ID); err != nil {
			return fmt.Errorf("delete environment: %w", err)
		}
		gone = cur
		return nil
	})
	if err != nil {
		return err
	}
	s.environmentChanged(ctx, *gone, "DELETE")
	return nil
}

// environmentChanged refreshes the local list and tells the other nodes
// and the gateways. The change is committed: failures are only logged (the
// next ListEnvironments or event reloads).
func (s *Service) environmentChanged(ctx context.Context, e Environment, action string) {
	if err := s.reloadEnvironments(ctx); err != nil {
		s.log.Warn("reload gateway environments", "err", err)
	}
	if s.bus == nil {
		return
	}
	if err := s.bus.Publish(ctx, events.New(events.EnvironmentChanged, EnvironmentEvent{ID: e.ID, Name: e.Name, Action: action})); err != nil {
		s.log.Warn("publish environment event", "environment", e.Name, "err", err)
	}
}

func (s *Service) configuredEnvironment(idOrName string) (Environment, bool) {
	for _, e := range s.envs {
		if e.ID == idOrName || strings.EqualFold(e.Name, idOrName) {
			return e, true
		}
	}
	return Environment{}, false
}

func loadEnvironments(ctx context.Context, q db.Execer) ([]Environment, error) {
	rows, err := q.QueryContext(ctx, `SELECT uuid, doc FROM am_gateway_environment ORDER BY created, name_key`)
	if err != nil {
		return nil, fmt.Errorf("list environments: %w", err)
	}
	defer rows.Close()
	var out []Environment
	for rows.Next() {
		e, err := scanEnvironment(rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, *e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list environments: %w", err)
	}
	return out, nil
}

func loadEnvironment(ctx context.Context, q db.Execer, idOrName string) (*Environment, error) {
	// By id first: a name may look like another environment's id.
	e, err := scanEnvironment(q.QueryRowContext(ctx, `SELECT uuid, doc FROM am_gateway_environment WHERE uuid = ?`, idOrName).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		e, err = scanEnvironment(q.QueryRowContext(ctx, `SELECT uuid, doc FROM am_gateway_environment WHERE name_key = ?`,
			strings.ToLower(idOrName)).Scan)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(404, "Not Found", "Gateway environment %s not found", idOrName)
	}
	return e, err
}

func scanEnvironment(scan func(...any) error) (*Environment, error) {
	var id, doc string
	if err := scan(&id, &doc); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		return nil, fmt.Errorf("read environment: %w", err)
	}
	var e Environment
	if err := json.Unmarshal([]byte(doc), &e); err != nil {
		return nil, fmt.Errorf("decode environment %s: %w", id, err)
	}
	e.ID, e.IsReadOnly = id, false
	return &e, nil
}

// deployedVHosts lists the vhosts of env that deployed revisions use.
func deployedVHosts(ctx context.Context, q db.Execer, env string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT DISTINCT vhost FROM am_api_deployment WHERE env = ?`, env)
	if err != nil {
		return nil, fmt.Errorf("read deployments of %s: %w", env, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, fmt.Errorf("read deployments of %s: %w", env, err)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

func hasVHost(e Environment, host string) bool {
	for _, v := range e.VHosts {
		if strings.EqualFold(v.Host, host) {
			return true
		}
	}
	return false
}

func environmentExists(name string) *Error {
	return conflict(409, "Conflict", "A gateway environment named %s already exists", name)
}

func readOnlyEnvironment(name string) *Error {
	return invalid(400, "Bad Request", "gateway environment %s is configured in deployment.toml and is read-only", name)
}
