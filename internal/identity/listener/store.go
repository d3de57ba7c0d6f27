package listener

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"

	"github.com/keyway/keyway/internal/db"
)

// component names the migrations of this package.
const component = "listener"

var migrations = []db.Migration{{
	Version: 1,
	Name:    "event outbox",
	// token_key is the SHA-256 of the revoked-token identifier, so events for
	// one token can be kept in order without indexing the identifier itself.
	// payload holds the JSON body exactly as it will be sent (sealed when a
	// sealer is configured), so every retry repeats the same eventId.
	SQL: `CREATE TABLE idn_event_outbox (
	event_id VARCHAR(36) NOT NULL PRIMARY KEY,
	seq BIGINT NOT NULL,
	kind VARCHAR(64) NOT NULL,
	token_key VARCHAR(64) NOT NULL,
	payload TEXT NOT NULL,
	attempts BIGINT NOT NULL,
	next_attempt BIGINT NOT NULL,
	created_at BIGINT NOT NULL,
	last_error TEXT
);
CREATE INDEX idn_event_outbox_seq ON idn_event_outbox (seq)`,
}}

// outboxRow is one stored event.
type outboxRow struct {
	EventID     string
	Seq         int64
	Kind        string
	TokenKey    string
	Payload     string
	Attempts    int64
	NextAttempt int64 // epoch ms
	CreatedAt   int64 // epoch ms
}

func tokenKey(identifier string) string {
	sum := sha256.Sum256([]byte(identifier))
	return hex.EncodeToString(sum[:])
}

// outbox is the SQL behind the sender.
type outbox struct{ d *db.DB }

func (o outbox) insert(ctx context.Context, r outboxRow) error {
	_, err := o.d.ExecContext(ctx, `INSERT INTO idn_event_outbox
		(event_id, seq, kind, token_key, payload, attempts, next_attempt, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		r.EventID, r.Seq, r.Kind, r.TokenKey, r.Payload, r.Attempts, r.NextAttempt, r.CreatedAt)
	if err != nil && !db.IsUniqueViolation(err) {
		return fmt.Errorf("store event %s: %w", r.EventID, err)
	}
	return nil
}

// head returns up to limit pending events, oldest first.
func (o outbox) head(ctx context.Context, limit int) ([]outboxRow, error) {
	rows, err := o.d.QueryContext(ctx, fmt.Sprintf(`SELECT event_id, seq, kind, token_key, payload, attempts, next_attempt, created_at
		FROM idn_event_outbox ORDER BY seq, event_id LIMIT %d`, limit))
	if err != nil {
		return nil, fmt.Errorf("read event outbox: %w", err)
	}
	defer rows.Close()
	var out []outboxRow
	for rows.Next() {
		var r outboxRow
		if err := rows.Scan(&r.EventID, &r.Seq, &r.Kind, &r.TokenKey, &r.Payload, &r.Attempts, &r.NextAttempt, &r.CreatedAt); err != nil {
			return nil, fmt.Errorf("read event outbox: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read event outbox: %w", err)
	}
	return out, nil
}

// claim takes the next attempt of r for this process: it moves the row's
// next_attempt to leaseUntil only if no other sender (another node sharing
// the database) has touched it since it was read. A sender that dies while
// sending leaves the row due again at leaseUntil.
func (o outbox) claim(ctx context.Context, r outboxRow, leaseUntil int64) (bool, error) {
	res, err := o.d.ExecContext(ctx, `UPDATE idn_event_outbox SET next_attempt = ?, attempts = attempts + 1
		WHERE event_id = ? AND next_attempt = ? AND attempts = ?`, leaseUntil, r.EventID, r.NextAttempt, r.Attempts)
	if err != nil {
		return false, fmt.Errorf("claim event %s: %w", r.EventID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("claim event %s: %w", r.EventID, err)
	}
	return n == 1, nil
}

// delivered prunes a delivered event: once the receiver answered 2xx the row
// has no further use (the receiver keeps its own record, keyed by eventId).
func (o outbox) delivered(ctx context.Context, eventID string) error {
	if _, err := o.d.ExecContext(ctx, `DELETE FROM idn_event_outbox WHERE event_id = ?`, eventID); err != nil {
		return fmt.Errorf("prune delivered event %s: %w", eventID, err)
	}
	return nil
}

// failed schedules the next attempt and records why this one failed.
func (o outbox) failed(ctx context.Context, eventID string, next int64, reason string) error {
	if _, err := o.d.ExecContext(ctx, `UPDATE idn_event_outbox SET next_attempt = ?, last_error = ? WHERE event_id = ?`, next, reason, eventID); err != nil {
		return fmt.Errorf("reschedule event %s: %w", eventID, err)
	}
	return nil
}

// retryNow makes every waiting event due at now: called at start, so a
// restart delivers what an earlier run left pending without waiting out its
// backoff.
func (o outbox) retryNow(ctx context.Context, now int64) error {
	if _, err := o.d.ExecContext(ctx, `UPDATE idn_event_outbox SET next_attempt = ? WHERE next_attempt > ?`, now, now); err != nil {
		return fmt.Errorf("reload pending events: %w", err)
	}
	return nil
}

func (o outbox) count(ctx context.Context) (int64, error) {
	var n int64
	if err := o.d.QueryRowContext(ctx, `SELECT COUNT(*) FROM idn_event_outbox`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count pending events: %w", err)
	}
	return n, nil
}

func (o outbox) maxSeq(ctx context.Context) (int64, error) {
	var n sql.NullInt64
	if err := o.d.QueryRowContext(ctx, `SELECT MAX(seq) FROM idn_event_outbox`).Scan(&n); err != nil {
		return 0, fmt.Errorf("read event outbox: %w", err)
	}
	return n.Int64, nil
}
