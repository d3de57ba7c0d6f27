package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/keyway/keyway/internal/db"
)

// stored is one am_api row.
type stored struct {
	api              *API
	definition       []byte
	revisionsCreated int
	created, updated int64
}

const apiColumns = `uuid, status, is_default, revisions_created, created, updated, doc, definition`

func scanAPI(scan func(...any) error) (*stored, error) {
	var (
		s          stored
		id, status string
		isDefault  int
		doc, def   string
	)
	if err := scan(&id, &status, &isDefault, &s.revisionsCreated, &s.created, &s.updated, &doc, &def); err != nil {
		return nil, err
	}
	var a API
	if err := json.Unmarshal([]byte(doc), &a); err != nil {
		return nil, fmt.Errorf("decode API %s: %w", id, err)
	}
	a.ID, a.LifeCycleStatus, a.IsDefaultVersion = id, status, isDefault == 1
	a.CreatedTime = strconv.FormatInt(s.created, 10)
	a.LastUpdatedTime = strconv.FormatInt(s.updated, 10)
	a.LastUpdatedTimestamp = a.LastUpdatedTime
	s.api, s.definition = &a, []byte(def)
	return &s, nil
}

func loadAPI(ctx context.Context, q db.Execer, id string) (*stored, error) {
	s, err := scanAPI(q.QueryRowContext(ctx, `SELECT `+apiColumns+` FROM am_api WHERE uuid = ?`, id).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apiNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("load API %s: %w", id, err)
	}
	return s, nil
}

// loadAPIs returns every API with one of statuses (all when empty).
func loadAPIs(ctx context.Context, q db.Execer, statuses []string) ([]*stored, error) {
	query := `SELECT ` + apiColumns + ` FROM am_api`
	args := make([]any, 0, len(statuses))
	if len(statuses) > 0 {
		query += ` WHERE status IN (`
		for i, st := range statuses {
			if i > 0 {
				query += `, `
			}
			query += `?`
			args = append(args, st)
		}
		query += `)`
	}
	rows, err := q.QueryContext(ctx, query+` ORDER BY created, uuid`, args...)
	if err != nil {
		return nil, fmt.Errorf("list APIs: %w", err)
	}
	defer rows.Close()
	var out []*stored
	for rows.Next() {
		s, err := scanAPI(rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// docJSON is the stored document: the DTO without the fields kept in columns.
func docJSON(a *API) (string, error) {
	c := *a
	c.ID, c.LifeCycleStatus, c.CreatedTime, c.LastUpdatedTime, c.LastUpdatedTimestamp = "", "", "", "", ""
	b, err := json.Marshal(&c)
	if err != nil {
		return "", fmt.Errorf("encode API: %w", err)
	}
	return string(b), nil
}

func insertAPI(ctx context.Context, q db.Execer, a *API, def []byte, created int64) error {
	doc, err := docJSON(a)
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, `INSERT INTO am_api (uuid, name, version, context, provider, status, is_default, revisions_created, created, updated, doc, definition)
VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)`, a.ID, a.Name, a.Version, a.Context, a.Provider, a.LifeCycleStatus, boolInt(a.IsDefaultVersion), created, created, doc, string(def))
	if err != nil {
		if db.IsUniqueViolation(err) {
			return conflict(900300, "The API already exists.", "An API with name '%s' and version '%s' or context '%s' already exists", a.Name, a.Version, a.Context)
		}
		return fmt.Errorf("insert API: %w", err)
	}
	return setAPIScopes(ctx, q, a)
}

func updateAPI(ctx context.Context, q db.Execer, a *API, def []byte, updated int64) error {
	doc, err := docJSON(a)
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, `UPDATE am_api SET context = ?, provider = ?, status = ?, is_default = ?, updated = ?, doc = ?, definition = ? WHERE uuid = ?`,
		a.Context, a.Provider, a.LifeCycleStatus, boolInt(a.IsDefaultVersion), updated, doc, string(def), a.ID)
	if err != nil {
		if db.IsUniqueViolation(err) {
			return conflict(900251, "The API context already exists.", "An API with context '%s' already exists", a.Context)
		}
		return fmt.Errorf("update API: %w", err)
	}
	return setAPIScopes(ctx, q, a)
}

func setAPIScopes(ctx context.Context, q db.Execer, a *API) error {
	if _, err := q.ExecContext(ctx, `DELETE FROM am_api_scope WHERE api_uuid = ?`, a.ID); err != nil {
		return fmt.Errorf("clear API scopes: %w", err)
	}
	seen := map[string]bool{}
	for _, s := range a.Scopes {
		if s.Shared || seen[s.Scope.Name] {
			continue
		}
		seen[s.Scope.Name] = true
		if _, err := q.ExecContext(ctx, `INSERT INTO am_api_scope (api_uuid, name) VALUES (?, ?)`, a.ID, s.Scope.Name); err != nil {
			return fmt.Errorf("store API scope: %w", err)
		}
	}
	return nil
}

// scopeOwners returns the ids of the APIs whose local scopes include name.
func scopeOwners(ctx context.Context, q db.Execer, name string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT api_uuid FROM am_api_scope WHERE name = ?`, name)
	if err != nil {
		return nil, fmt.Errorf("look up scope %s: %w", name, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

func apiIDByNameVersion(ctx context.Context, q db.Execer, name, version string) (string, error) {
	var id string
	err := q.QueryRowContext(ctx, `SELECT uuid FROM am_api WHERE name = ? AND version = ?`, name, version).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("look up API %s %s: %w", name, version, err)
	}
	return id, nil
}

func deleteAPIRows(ctx context.Context, q db.Execer, id string) error {
	for _, stmt := range []string{
		`DELETE FROM am_api_deployment WHERE api_uuid = ?`,
		`DELETE FROM am_api_revision WHERE api_uuid = ?`,
		`DELETE FROM am_api_lc_event WHERE api_uuid = ?`,
		`DELETE FROM am_api_scope WHERE api_uuid = ?`,
		`DELETE FROM am_api WHERE uuid = ?`,
	} {
		if _, err := q.ExecContext(ctx, stmt, id); err != nil {
			return fmt.Errorf("delete API %s: %w", id, err)
		}
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func millis(t time.Time) int64 { return t.UnixMilli() }

func rfc3339(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339) }
