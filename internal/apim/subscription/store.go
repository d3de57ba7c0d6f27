package subscription

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"encoding/json"

	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/events"
)

var migrations = []db.Migration{{
	Version: 1,
	Name:    "applications, subscriptions, key mappings",
	SQL: `CREATE TABLE apim_application (
	uuid VARCHAR(64) NOT NULL PRIMARY KEY,
	app_id BIGINT NOT NULL,
	name VARCHAR(255) NOT NULL,
	owner VARCHAR(255) NOT NULL,
	policy VARCHAR(128) NOT NULL,
	description TEXT,
	token_type VARCHAR(16) NOT NULL,
	status VARCHAR(32) NOT NULL,
	attributes TEXT,
	group_ids TEXT,
	created BIGINT NOT NULL,
	updated BIGINT NOT NULL
);
CREATE UNIQUE INDEX apim_application_id ON apim_application (app_id);
CREATE UNIQUE INDEX apim_application_name ON apim_application (owner, name);
CREATE TABLE apim_subscription (
	uuid VARCHAR(64) NOT NULL PRIMARY KEY,
	app_uuid VARCHAR(64) NOT NULL,
	api_uuid VARCHAR(64) NOT NULL,
	policy VARCHAR(128) NOT NULL,
	requested_policy VARCHAR(128) NOT NULL,
	status VARCHAR(32) NOT NULL,
	created BIGINT NOT NULL,
	updated BIGINT NOT NULL
);
CREATE UNIQUE INDEX apim_subscription_pair ON apim_subscription (app_uuid, api_uuid);
CREATE INDEX apim_subscription_api ON apim_subscription (api_uuid);
CREATE TABLE apim_key_mapping (
	uuid VARCHAR(64) NOT NULL PRIMARY KEY,
	app_uuid VARCHAR(64) NOT NULL,
	key_type VARCHAR(16) NOT NULL,
	key_manager VARCHAR(128) NOT NULL,
	key_manager_id VARCHAR(64) NOT NULL,
	consumer_key VARCHAR(255) NOT NULL,
	sealed_secret TEXT,
	mode VARCHAR(16) NOT NULL,
	state VARCHAR(32) NOT NULL,
	grant_types TEXT,
	callback_url TEXT,
	props TEXT,
	created BIGINT NOT NULL,
	updated BIGINT NOT NULL
);
CREATE UNIQUE INDEX apim_key_mapping_slot ON apim_key_mapping (app_uuid, key_type, key_manager);
CREATE UNIQUE INDEX apim_key_mapping_client ON apim_key_mapping (key_manager, consumer_key)`,
}}

// Store keeps applications, subscriptions and key mappings, and publishes an
// event for each change the gateways must see.
type Store struct {
	db  *db.DB
	bus events.Bus
}

// New migrates the schema. bus may be nil.
func New(ctx context.Context, d *db.DB, bus events.Bus) (*Store, error) {
	if err := d.Migrate(ctx, "apim-subscription", migrations); err != nil {
		return nil, fmt.Errorf("subscription: %w", err)
	}
	return &Store{db: d, bus: bus}, nil
}

func (s *Store) publish(ctx context.Context, typ string, payload any) {
	if s.bus != nil {
		// The write is committed; a lost event only delays the gateway
		// until its next full reload.
		_ = s.bus.Publish(ctx, events.New(typ, payload))
	}
}

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

func marshal(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func unmarshal[T any](s sql.NullString) T {
	var v T
	if s.Valid && s.String != "" {
		_ = json.Unmarshal([]byte(s.String), &v)
	}
	return v
}

func randomAppID() int64 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return int64(binary.BigEndian.Uint32(b[:])&0x7fffffff) | 1
}

// ---- applications ----

func (a *Application) validate() error {
	a.Name = strings.TrimSpace(a.Name)
	if a.Name == "" || len(a.Name) > 100 {
		return invalid("application name is required and must be at most 100 characters")
	}
	if strings.TrimSpace(a.ThrottlingPolicy) == "" {
		return invalid("throttlingPolicy is required")
	}
	switch strings.ToUpper(a.TokenType) {
	case "", "JWT":
		a.TokenType = "JWT"
	case "OAUTH":
		a.TokenType = "OAUTH"
	default:
		return invalid("tokenType must be JWT or OAUTH")
	}
	if len(a.Description) > 512 {
		return invalid("description must be at most 512 characters")
	}
	if a.Owner == "" {
		return invalid("application owner is required")
	}
	if a.Attributes == nil {
		a.Attributes = map[string]string{}
	}
	if a.Groups == nil {
		a.Groups = []string{}
	}
	if a.Status == "" {
		a.Status = "APPROVED"
	}
	return nil
}

// CreateApplication stores a new application, assigning its ids.
func (s *Store) CreateApplication(ctx context.Context, a *Application) error {
	if err := a.validate(); err != nil {
		return err
	}
	now := time.Now()
	a.UUID, a.Created, a.Updated = uuid.NewString(), now, now
	for attempt := 0; ; attempt++ {
		id := randomAppID()
		_, err := s.db.ExecContext(ctx, `INSERT INTO apim_application (uuid, app_id, name, owner, policy, description, token_type,
			status, attributes, group_ids, created, updated) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
			a.UUID, id, a.Name, a.Owner, a.ThrottlingPolicy, a.Description, a.TokenType, a.Status,
			marshal(a.Attributes), marshal(a.Groups), now.UnixMilli(), now.UnixMilli())
		if err == nil {
			a.ID = int(id)
			break
		}
		if !db.IsUniqueViolation(err) {
			return fmt.Errorf("insert application %s: %w", a.Name, err)
		}
		if _, err := s.GetApplicationByName(ctx, a.Owner, a.Name); err == nil {
			return fmt.Errorf("%w: an application with name %s already exists", ErrConflict, a.Name)
		}
		if attempt > 5 {
			return fmt.Errorf("insert application %s: %w", a.Name, err)
		}
	}
	s.publish(ctx, events.ApplicationChanged, map[string]any{"applicationId": a.ID, "applicationUuid": a.UUID, "action": "create"})
	return nil
}

// UpdateApplication replaces an application's editable fields (name,
// policy, description, token type, attributes, groups).
func (s *Store) UpdateApplication(ctx context.Context, a *Application) error {
	old, err := s.GetApplication(ctx, a.UUID)
	if err != nil {
		return err
	}
	a.ID, a.Owner, a.Created, a.Status = old.ID, old.Owner, old.Created, old.Status
	if err := a.validate(); err != nil {
		return err
	}
	a.Updated = time.Now()
	_, err = s.db.ExecContext(ctx, `UPDATE apim_application SET name = ?, policy = ?, description = ?, token_type = ?,
		attributes = ?, group_ids = ?, updated = ? WHERE uuid = ?`,
		a.Name, a.ThrottlingPolicy, a.Description, a.TokenType, marshal(a.Attributes), marshal(a.Groups), a.Updated.UnixMilli(), a.UUID)
	if db.IsUniqueViolation(err) {
		return fmt.Errorf("%w: an application with name %s already exists", ErrConflict, a.Name)
	}
	if err != nil {
		return fmt.Errorf("update application %s: %w", a.UUID, err)
	}
	s.publish(ctx, events.ApplicationChanged, map[string]any{"applicationId": a.ID, "applicationUuid": a.UUID, "action": "update"})
	return nil
}

// ChangeOwner gives an application to another user.
func (s *Store) ChangeOwner(ctx context.Context, appUUID, owner string) error {
	a, err := s.GetApplication(ctx, appUUID)
	if err != nil {
		return err
	}
	if strings.TrimSpace(owner) == "" {
		return invalid("owner is required")
	}
	_, err = s.db.ExecContext(ctx, `UPDATE apim_application SET owner = ?, updated = ? WHERE uuid = ?`, owner, time.Now().UnixMilli(), appUUID)
	if db.IsUniqueViolation(err) {
		return fmt.Errorf("%w: %s already owns an application named %s", ErrConflict, owner, a.Name)
	}
	if err != nil {
		return fmt.Errorf("change owner of %s: %w", appUUID, err)
	}
	s.publish(ctx, events.ApplicationChanged, map[string]any{"applicationId": a.ID, "applicationUuid": a.UUID, "action": "update"})
	return nil
}

// DeleteApplication removes an application with its subscriptions and key
// mappings, in one transaction. The caller deletes the OAuth clients at the
// key managers first.
func (s *Store) DeleteApplication(ctx context.Context, appUUID string) error {
	a, err := s.GetApplication(ctx, appUUID)
	if err != nil {
		return err
	}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		for _, q := range []string{
			`DELETE FROM apim_subscription WHERE app_uuid = ?`,
			`DELETE FROM apim_key_mapping WHERE app_uuid = ?`,
			`DELETE FROM apim_application WHERE uuid = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, appUUID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete application %s: %w", appUUID, err)
	}
	s.publish(ctx, events.ApplicationDeleted, map[string]any{"applicationId": a.ID, "applicationUuid": a.UUID})
	return nil
}

const appColumns = `uuid, app_id, name, owner, policy, description, token_type, status, attributes, group_ids, created, updated`

// GetApplication returns an application by uuid.
func (s *Store) GetApplication(ctx context.Context, appUUID string) (*Application, error) {
	return s.oneApp(ctx, `WHERE uuid = ?`, appUUID)
}

// GetApplicationByName returns the owner's application with that name.
func (s *Store) GetApplicationByName(ctx context.Context, owner, name string) (*Application, error) {
	return s.oneApp(ctx, `WHERE owner = ? AND name = ?`, owner, name)
}

func (s *Store) oneApp(ctx context.Context, where string, args ...any) (*Application, error) {
	as, err := s.queryApps(ctx, where, args...)
	return first(as, err, "application")
}

// first returns the first row a lookup found, or ErrNotFound naming what.
func first[T any](rows []T, err error, what string) (T, error) {
	var zero T
	if err != nil {
		return zero, err
	}
	if len(rows) == 0 {
		return zero, fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return rows[0], nil
}

// ApplicationQuery selects applications. Empty fields match everything.
type ApplicationQuery struct {
	Owner string
	// Name matches exactly when Exact, else as a case-insensitive substring.
	Name   string
	Exact  bool
	Offset int
	Limit  int // 0: all
}

// ListApplications returns a page of applications ordered by name, and the
// total number that match.
func (s *Store) ListApplications(ctx context.Context, q ApplicationQuery) ([]*Application, int, error) {
	var where []string
	var args []any
	if q.Owner != "" {
		where, args = append(where, "owner = ?"), append(args, q.Owner)
	}
	if q.Name != "" {
		if q.Exact {
			where, args = append(where, "name = ?"), append(args, q.Name)
		} else {
			where, args = append(where, "LOWER(name) LIKE ?"), append(args, "%"+likeEscape(strings.ToLower(q.Name))+"%")
		}
	}
	page, total, err := s.countPage(ctx, "apim_application", "applications", where, args, "name, uuid", q.Limit, q.Offset)
	if err != nil {
		return nil, 0, err
	}
	as, err := s.queryApps(ctx, page, args...)
	return as, total, err
}

// countPage counts the rows of table that match the conditions where (ANDed,
// with args) and returns the clause that selects one page of them in order;
// limit 0 means all. plural words a failure ("count applications: ...").
func (s *Store) countPage(ctx context.Context, table, plural string, where []string, args []any, order string, limit, offset int) (string, int, error) {
	clause := ""
	if len(where) > 0 {
		clause = "WHERE " + strings.Join(where, " AND ")
	}
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table+` `+clause, args...).Scan(&total); err != nil {
		return "", 0, fmt.Errorf("count %s: %w", plural, err)
	}
	page := clause + " ORDER BY " + order
	if limit > 0 {
		page += fmt.Sprintf(" LIMIT %d OFFSET %d", limit, offset)
	}
	return page, total, nil
}

// likeEscape drops LIKE wildcards from user input, since escape syntax is
// not portable across the engines.
func likeEscape(s string) string {
	return strings.NewReplacer("%", "", "_", "").Replace(s)
}

func (s *Store) queryApps(ctx context.Context, where string, args ...any) ([]*Application, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+appColumns+` FROM apim_application `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("query applications: %w", err)
	}
	defer rows.Close()
	out := []*Application{}
	for rows.Next() {
		var (
			a              Application
			desc, at, grps sql.NullString
			id, c, u       int64
		)
		if err := rows.Scan(&a.UUID, &id, &a.Name, &a.Owner, &a.ThrottlingPolicy, &desc, &a.TokenType, &a.Status, &at, &grps, &c, &u); err != nil {
			return nil, fmt.Errorf("scan application: %w", err)
		}
		a.ID, a.Description = int(id), desc.String
		a.Attributes = unmarshal[map[string]string](at)
		a.Groups = unmarshal[[]string](grps)
		if a.Attributes == nil {
			a.Attributes = map[string]string{}
		}
		if a.Groups == nil {
			a.Groups = []string{}
		}
		a.Created, a.Updated = time.UnixMilli(c), time.UnixMilli(u)
		out = append(out, &a)
	}
	return out, rows.Err()
}

// ApplicationPolicyInUse reports whether an application uses the tier.
func (s *Store) ApplicationPolicyInUse(ctx context.Context, name string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM apim_application WHERE policy = ?`, name).Scan(&n)
	return n > 0, err
}

// SubscriptionPolicyInUse reports whether a subscription uses the tier.
func (s *Store) SubscriptionPolicyInUse(ctx context.Context, name string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM apim_subscription WHERE policy = ?`, name).Scan(&n)
	return n > 0, err
}

// CountSubscriptions returns how many subscriptions an application has.
func (s *Store) CountSubscriptions(ctx context.Context, appUUID string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM apim_subscription WHERE app_uuid = ?`, appUUID).Scan(&n)
	return n, err
}
