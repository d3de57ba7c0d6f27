package revocation

import (
	"context"
	"fmt"
	"time"

	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/runtime"
)

var migrations = []db.Migration{{
	Version: 1,
	Name:    "revoked tokens",
	SQL: `CREATE TABLE gw_revoked_tokens (
  event_id VARCHAR(64) NOT NULL PRIMARY KEY,
  token_id VARCHAR(1024) NOT NULL,
  token_type VARCHAR(32) NOT NULL,
  expiry_ms BIGINT NOT NULL,
  consumer_key VARCHAR(255) NOT NULL,
  tenant_id BIGINT NOT NULL,
  created_ms BIGINT NOT NULL
);
CREATE INDEX gw_revoked_tokens_expiry ON gw_revoked_tokens (expiry_ms)`,
}}

// store persists revocations in gw_revoked_tokens. Opaque tokens are stored
// only as their SHA-256 (the caller hashes them).
type store struct{ d *db.DB }

func newStore(ctx context.Context, d *db.DB) (*store, error) {
	if err := d.Migrate(ctx, "gateway_revocation", migrations); err != nil {
		return nil, fmt.Errorf("migrate revocation store: %w", err)
	}
	return &store{d: d}, nil
}

type record struct {
	EventID     string
	TokenID     string
	TokenType   string
	ExpiryMs    int64
	ConsumerKey string
	TenantID    int64
}

// insert stores r; it reports false when the event id was seen before.
func (s *store) insert(ctx context.Context, r record) (bool, error) {
	_, err := s.d.ExecContext(ctx, `INSERT INTO gw_revoked_tokens
 (event_id, token_id, token_type, expiry_ms, consumer_key, tenant_id, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		r.EventID, r.TokenID, r.TokenType, r.ExpiryMs, r.ConsumerKey, r.TenantID, time.Now().UnixMilli())
	if err != nil {
		if db.IsUniqueViolation(err) {
			return false, nil
		}
		return false, fmt.Errorf("store revocation %s: %w", r.EventID, err)
	}
	return true, nil
}

// live returns the revocations that have not expired.
func (s *store) live(ctx context.Context, nowMs int64) ([]runtime.RevokedToken, error) {
	rows, err := s.d.QueryContext(ctx, `SELECT token_id, expiry_ms, token_type FROM gw_revoked_tokens WHERE expiry_ms > ? ORDER BY created_ms`, nowMs)
	if err != nil {
		return nil, fmt.Errorf("list revocations: %w", err)
	}
	defer rows.Close()
	out := []runtime.RevokedToken{}
	seen := map[string]int{}
	for rows.Next() {
		var r runtime.RevokedToken
		if err := rows.Scan(&r.Token, &r.ExpiryMillis, &r.TokenType); err != nil {
			return nil, fmt.Errorf("scan revocation: %w", err)
		}
		if i, dup := seen[r.Token]; dup {
			if r.ExpiryMillis > out[i].ExpiryMillis {
				out[i].ExpiryMillis = r.ExpiryMillis
			}
			continue
		}
		seen[r.Token] = len(out)
		out = append(out, r)
	}
	return out, rows.Err()
}

// prune deletes revocations of tokens that have expired anyway.
func (s *store) prune(ctx context.Context, nowMs int64) (int64, error) {
	res, err := s.d.ExecContext(ctx, `DELETE FROM gw_revoked_tokens WHERE expiry_ms <= ?`, nowMs)
	if err != nil {
		return 0, fmt.Errorf("prune revocations: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
