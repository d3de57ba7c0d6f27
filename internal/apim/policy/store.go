package policy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/events"
	"github.com/keyway/keyway/internal/runtime"
)

var migrations = []db.Migration{{
	Version: 1,
	Name:    "throttling policies",
	SQL: `CREATE TABLE apim_policy (
	id VARCHAR(64) NOT NULL PRIMARY KEY,
	lvl VARCHAR(32) NOT NULL,
	name VARCHAR(128) NOT NULL,
	display_name VARCHAR(256) NOT NULL,
	description TEXT,
	limit_type VARCHAR(32) NOT NULL,
	request_count BIGINT NOT NULL,
	data_amount BIGINT NOT NULL,
	data_unit VARCHAR(8) NOT NULL,
	unit_time BIGINT NOT NULL,
	time_unit VARCHAR(16) NOT NULL,
	rate_limit_count BIGINT NOT NULL,
	rate_limit_time_unit VARCHAR(16) NOT NULL,
	stop_on_quota INTEGER NOT NULL,
	billing_plan VARCHAR(32) NOT NULL,
	created BIGINT NOT NULL,
	updated BIGINT NOT NULL
);
CREATE UNIQUE INDEX apim_policy_name ON apim_policy (lvl, name)`,
}}

// Store keeps throttling policies and tells the gateways about changes.
type Store struct {
	db  *db.DB
	bus events.Bus
}

// New migrates the schema and seeds WSO2's default tiers for every level
// that has none yet (so a deleted default stays deleted only while other
// tiers of its level exist). bus may be nil.
func New(ctx context.Context, d *db.DB, bus events.Bus) (*Store, error) {
	if err := d.Migrate(ctx, "apim-policy", migrations); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	s := &Store{db: d, bus: bus}
	if err := s.seed(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) seed(ctx context.Context) error {
	for _, level := range []Level{Subscription, Application, Advanced} {
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM apim_policy WHERE lvl = ?`, string(level)).Scan(&n); err != nil {
			return fmt.Errorf("policy: count %s tiers: %w", level, err)
		}
		if n > 0 {
			continue
		}
		for _, p := range Defaults() {
			if p.Level != level {
				continue
			}
			p := p
			// Another node seeding at the same moment is fine: the unique
			// index keeps one copy.
			if err := s.insert(ctx, s.db, &p); err != nil && !errors.Is(err, ErrConflict) {
				return fmt.Errorf("policy: seed %s: %w", p.Name, err)
			}
		}
	}
	return nil
}

const columns = `id, lvl, name, display_name, description, limit_type, request_count, data_amount, data_unit,
	unit_time, time_unit, rate_limit_count, rate_limit_time_unit, stop_on_quota, billing_plan, created, updated`

func (s *Store) insert(ctx context.Context, ex db.Execer, p *Policy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	now := time.Now()
	if p.ID == "" {
		p.ID = uuid.NewString()
	}
	p.Created, p.Updated, p.Deployed = now, now, true
	_, err := ex.ExecContext(ctx, `INSERT INTO apim_policy (`+columns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		p.ID, string(p.Level), p.Name, p.DisplayName, p.Description, p.LimitType, p.RequestCount, p.DataAmount, p.DataUnit,
		p.UnitTime, p.TimeUnit, p.RateLimitCount, p.RateLimitTimeUnit, boolInt(p.StopOnQuotaReach), p.BillingPlan,
		now.UnixMilli(), now.UnixMilli())
	if db.IsUniqueViolation(err) {
		return fmt.Errorf("%w: %s policy %q", ErrConflict, p.Level, p.Name)
	}
	if err != nil {
		return fmt.Errorf("insert policy %s: %w", p.Name, err)
	}
	return nil
}

// Create validates and stores a new policy.
func (s *Store) Create(ctx context.Context, p *Policy) error {
	p.ID = ""
	if err := s.insert(ctx, s.db, p); err != nil {
		return err
	}
	s.publish(ctx, p)
	return nil
}

// Update replaces a policy's limits and texts; the name and level of a
// policy never change (subscriptions refer to it by name).
func (s *Store) Update(ctx context.Context, p *Policy) error {
	old, err := s.Get(ctx, p.Level, p.ID)
	if err != nil {
		return err
	}
	if p.Name != "" && p.Name != old.Name {
		return fmt.Errorf("%w: policyName cannot be changed", ErrInvalid)
	}
	p.Name = old.Name
	if err := p.Validate(); err != nil {
		return err
	}
	p.Created, p.Updated, p.Deployed = old.Created, time.Now(), true
	_, err = s.db.ExecContext(ctx, `UPDATE apim_policy SET display_name = ?, description = ?, limit_type = ?, request_count = ?,
		data_amount = ?, data_unit = ?, unit_time = ?, time_unit = ?, rate_limit_count = ?, rate_limit_time_unit = ?,
		stop_on_quota = ?, billing_plan = ?, updated = ? WHERE id = ?`,
		p.DisplayName, p.Description, p.LimitType, p.RequestCount, p.DataAmount, p.DataUnit, p.UnitTime, p.TimeUnit,
		p.RateLimitCount, p.RateLimitTimeUnit, boolInt(p.StopOnQuotaReach), p.BillingPlan, p.Updated.UnixMilli(), p.ID)
	if err != nil {
		return fmt.Errorf("update policy %s: %w", p.Name, err)
	}
	s.publish(ctx, p)
	return nil
}

// Delete removes a policy. inUse, when not nil, is asked first whether
// anything still refers to the policy's name.
func (s *Store) Delete(ctx context.Context, level Level, id string, inUse func(ctx context.Context, p *Policy) (bool, error)) error {
	p, err := s.Get(ctx, level, id)
	if err != nil {
		return err
	}
	if inUse != nil {
		used, err := inUse(ctx, p)
		if err != nil {
			return err
		}
		if used {
			return fmt.Errorf("%w: %s policy %q", ErrInUse, level, p.Name)
		}
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM apim_policy WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete policy %s: %w", p.Name, err)
	}
	s.publish(ctx, p)
	return nil
}

// Get returns a policy of the level by id.
func (s *Store) Get(ctx context.Context, level Level, id string) (*Policy, error) {
	return s.one(ctx, `WHERE lvl = ? AND id = ?`, string(level), id)
}

// GetByName returns a policy of the level by name.
func (s *Store) GetByName(ctx context.Context, level Level, name string) (*Policy, error) {
	return s.one(ctx, `WHERE lvl = ? AND name = ?`, string(level), name)
}

// Exists reports whether a tier of the level has that name.
func (s *Store) Exists(ctx context.Context, level Level, name string) (bool, error) {
	_, err := s.GetByName(ctx, level, name)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func (s *Store) one(ctx context.Context, where string, args ...any) (*Policy, error) {
	ps, err := s.query(ctx, where, args...)
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, ErrNotFound
	}
	return ps[0], nil
}

// List returns the policies of a level, ordered by name.
func (s *Store) List(ctx context.Context, level Level) ([]*Policy, error) {
	return s.query(ctx, `WHERE lvl = ? ORDER BY name`, string(level))
}

func (s *Store) query(ctx context.Context, where string, args ...any) ([]*Policy, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+columns+` FROM apim_policy `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("query policies: %w", err)
	}
	defer rows.Close()
	var out []*Policy
	for rows.Next() {
		var (
			p            Policy
			lvl          string
			desc         sql.NullString
			stop         int
			created, upd int64
		)
		if err := rows.Scan(&p.ID, &lvl, &p.Name, &p.DisplayName, &desc, &p.LimitType, &p.RequestCount, &p.DataAmount,
			&p.DataUnit, &p.UnitTime, &p.TimeUnit, &p.RateLimitCount, &p.RateLimitTimeUnit, &stop, &p.BillingPlan,
			&created, &upd); err != nil {
			return nil, fmt.Errorf("scan policy: %w", err)
		}
		p.Level, p.Description, p.StopOnQuotaReach, p.Deployed = Level(lvl), desc.String, stop != 0, true
		p.Created, p.Updated = time.UnixMilli(created), time.UnixMilli(upd)
		out = append(out, &p)
	}
	return out, rows.Err()
}

// Runtime returns every tier in the gateway's model.
func (s *Store) Runtime(ctx context.Context) (subs, apps []runtime.ThrottlePolicy, apis []runtime.APIPolicy, err error) {
	all, err := s.query(ctx, `ORDER BY lvl, name`)
	if err != nil {
		return nil, nil, nil, err
	}
	subs, apps, apis = []runtime.ThrottlePolicy{}, []runtime.ThrottlePolicy{}, []runtime.APIPolicy{}
	for _, p := range all {
		switch p.Level {
		case Subscription:
			subs = append(subs, p.ThrottlePolicy())
		case Application:
			apps = append(apps, p.ThrottlePolicy())
		case Advanced:
			apis = append(apis, p.APIPolicy())
		}
	}
	return subs, apps, apis, nil
}

func (s *Store) publish(ctx context.Context, p *Policy) {
	if s.bus == nil {
		return
	}
	// A lost event only delays the gateway until its next full reload; the
	// write itself has already succeeded.
	_ = s.bus.Publish(ctx, events.New(events.PolicyChanged, map[string]string{
		"policyId": p.ID, "policyName": p.Name, "policyType": string(p.Level)}))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
