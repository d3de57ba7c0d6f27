package keymanager

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/keyway/keyway/internal/db"
)

var migrations = []db.Migration{{
	Version: 1,
	Name:    "key managers",
	SQL: `CREATE TABLE apim_key_manager (
	uuid VARCHAR(64) NOT NULL PRIMARY KEY,
	name VARCHAR(128) NOT NULL,
	kind VARCHAR(64) NOT NULL,
	enabled INTEGER NOT NULL,
	config TEXT NOT NULL,
	secrets TEXT,
	created BIGINT NOT NULL,
	updated BIGINT NOT NULL
);
CREATE UNIQUE INDEX apim_key_manager_name ON apim_key_manager (name)`,
}}

// Masked is what the admin API shows instead of a connector secret; sending
// it back on update keeps the stored secret.
const Masked = "********"

// isSecretProperty says which additional properties are sealed at rest and
// masked in responses (the connector's masked fields).
func isSecretProperty(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "password") || strings.Contains(n, "secret") || n == "initial_access_token"
}

// store persists configurations; secrets are sealed by the Service.
type store struct{ db *db.DB }

func (s *store) insert(ctx context.Context, c *Config, sealed map[string]string) error {
	body, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode key manager: %w", err)
	}
	now := time.Now()
	if c.ID == "" {
		c.ID = uuid.NewString()
	}
	c.Created, c.Updated = now, now
	_, err = s.db.ExecContext(ctx, `INSERT INTO apim_key_manager (uuid, name, kind, enabled, config, secrets, created, updated)
		VALUES (?,?,?,?,?,?,?,?)`, c.ID, c.Name, c.Type, boolInt(c.Enabled), string(body), marshalMap(sealed), now.UnixMilli(), now.UnixMilli())
	if db.IsUniqueViolation(err) {
		return fmt.Errorf("%w: a key manager named %s already exists", ErrConflict, c.Name)
	}
	if err != nil {
		return fmt.Errorf("insert key manager %s: %w", c.Name, err)
	}
	return nil
}

func (s *store) update(ctx context.Context, c *Config, sealed map[string]string) error {
	body, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode key manager: %w", err)
	}
	c.Updated = time.Now()
	res, err := s.db.ExecContext(ctx, `UPDATE apim_key_manager SET kind = ?, enabled = ?, config = ?, secrets = ?, updated = ? WHERE uuid = ?`,
		c.Type, boolInt(c.Enabled), string(body), marshalMap(sealed), c.Updated.UnixMilli(), c.ID)
	if err != nil {
		return fmt.Errorf("update key manager %s: %w", c.Name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

func (s *store) delete(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM apim_key_manager WHERE uuid = ?`, id)
	if err != nil {
		return fmt.Errorf("delete key manager %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// stored is a configuration with its sealed secrets.
type stored struct {
	cfg    *Config
	sealed map[string]string
}

func (s *store) query(ctx context.Context, where string, args ...any) ([]stored, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT uuid, name, config, secrets, created, updated FROM apim_key_manager `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("query key managers: %w", err)
	}
	defer rows.Close()
	var out []stored
	for rows.Next() {
		var (
			id, name, body string
			secrets        sql.NullString
			c, u           int64
		)
		if err := rows.Scan(&id, &name, &body, &secrets, &c, &u); err != nil {
			return nil, fmt.Errorf("scan key manager: %w", err)
		}
		cfg := &Config{}
		if err := json.Unmarshal([]byte(body), cfg); err != nil {
			return nil, fmt.Errorf("decode key manager %s: %w", name, err)
		}
		cfg.ID, cfg.Name = id, name
		cfg.Created, cfg.Updated = time.UnixMilli(c), time.UnixMilli(u)
		sealed := map[string]string{}
		if secrets.Valid && secrets.String != "" {
			_ = json.Unmarshal([]byte(secrets.String), &sealed)
		}
		out = append(out, stored{cfg: cfg, sealed: sealed})
	}
	return out, rows.Err()
}

func marshalMap(m map[string]string) string {
	b, _ := json.Marshal(m)
	return string(b)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
