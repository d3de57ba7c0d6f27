package catalog

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/events"
)

// LifecycleState returns an API's state with its available transitions.
func (s *Service) LifecycleState(ctx context.Context, apiID string) (*LifecycleState, error) {
	st, err := loadAPI(ctx, s.db, apiID)
	if err != nil {
		return nil, err
	}
	ls := StateOf(st.api.LifeCycleStatus)
	return &ls, nil
}

// LifecycleHistory lists an API's lifecycle changes, oldest first.
func (s *Service) LifecycleHistory(ctx context.Context, apiID string) ([]LifecycleHistoryItem, error) {
	if _, err := loadAPI(ctx, s.db, apiID); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT prev_state, post_state, username, created FROM am_api_lc_event WHERE api_uuid = ? ORDER BY seq`, apiID)
	if err != nil {
		return nil, fmt.Errorf("lifecycle history: %w", err)
	}
	defer rows.Close()
	out := []LifecycleHistoryItem{}
	for rows.Next() {
		var it LifecycleHistoryItem
		var at int64
		if err := rows.Scan(&it.PreviousState, &it.PostState, &it.User, &at); err != nil {
			return nil, err
		}
		it.UpdatedTime = rfc3339(at)
		out = append(out, it)
	}
	return out, rows.Err()
}

// lifecycleChange is what one applied action did, for the events.
type lifecycleChange struct {
	api        *API
	prev       string
	undeployed []Deployment
}

// ChangeLifecycle applies a lifecycle action. checklist holds the check
// items ("Deprecate old versions after publishing the API": true deprecates
// the other published versions). Retire undeploys the API everywhere.
func (s *Service) ChangeLifecycle(ctx context.Context, caller, apiID, action string, checklist map[string]bool) (*LifecycleState, error) {
	var changes []lifecycleChange
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		var err error
		changes, err = s.applyActionTx(ctx, tx, caller, apiID, action, checklist)
		if err != nil {
			return err
		}
		// Publishing makes the scopes usable: make sure every key manager the
		// API allows has them (one may have been added since the API was
		// saved). A failure keeps the API in its old state.
		if a := changes[0].api; a.LifeCycleStatus == StatusPublished || a.LifeCycleStatus == StatusPrototyped {
			return s.registerScopes(ctx, a)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.publishLifecycle(ctx, changes)
	return s.LifecycleState(ctx, apiID)
}

func (s *Service) publishLifecycle(ctx context.Context, changes []lifecycleChange) {
	for _, c := range changes {
		for _, d := range c.undeployed {
			ev := eventOf(c.api)
			ev.RevisionID, ev.Environment, ev.VHost = d.RevisionUUID, d.Name, d.VHost
			s.publish(ctx, events.APIUndeployed, ev)
		}
		ev := eventOf(c.api)
		ev.PreviousState = c.prev
		s.publish(ctx, events.APILifecycleChanged, ev)
	}
}

func (s *Service) applyActionTx(ctx context.Context, tx *db.Tx, caller, apiID, action string, checklist map[string]bool) ([]lifecycleChange, error) {
	st, err := loadAPI(ctx, tx, apiID)
	if err != nil {
		return nil, err
	}
	prev := st.api.LifeCycleStatus
	next, ok := NextState(prev, action)
	if !ok {
		return nil, invalid(900381, "Unsupported state change action", "Lifecycle state change action %s is not allowed from state %s", action, TitleState(prev))
	}
	if err := s.setStatusTx(ctx, tx, st.api, next, caller); err != nil {
		return nil, err
	}
	change := lifecycleChange{api: st.api, prev: prev}
	if next == StatusRetired {
		deps, err := s.deployments(ctx, tx, apiID)
		if err != nil {
			return nil, err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM am_api_deployment WHERE api_uuid = ?`, apiID); err != nil {
			return nil, fmt.Errorf("undeploy retired API: %w", err)
		}
		change.undeployed = deps
	}
	changes := []lifecycleChange{change}
	if next == StatusPublished && checklist[CheckDeprecateOld] {
		others, err := loadAPIs(ctx, tx, []string{StatusPublished})
		if err != nil {
			return nil, err
		}
		for _, o := range others {
			if o.api.ID == apiID || o.api.Name != st.api.Name || o.api.Provider != st.api.Provider {
				continue
			}
			if err := s.setStatusTx(ctx, tx, o.api, StatusDeprecated, caller); err != nil {
				return nil, err
			}
			changes = append(changes, lifecycleChange{api: o.api, prev: StatusPublished})
		}
	}
	return changes, nil
}

// setStatusTx stores a new status and records it in the history; a is updated.
func (s *Service) setStatusTx(ctx context.Context, tx *db.Tx, a *API, next, caller string) error {
	now := millis(s.now())
	if _, err := tx.ExecContext(ctx, `UPDATE am_api SET status = ?, updated = ? WHERE uuid = ?`, next, now, a.ID); err != nil {
		return fmt.Errorf("change lifecycle status: %w", err)
	}
	var seq int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM am_api_lc_event WHERE api_uuid = ?`, a.ID).Scan(&seq); err != nil {
		return fmt.Errorf("lifecycle history sequence: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO am_api_lc_event (id, api_uuid, seq, prev_state, post_state, username, created) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		uuid.NewString(), a.ID, seq+1, a.LifeCycleStatus, next, caller, now); err != nil {
		return fmt.Errorf("record lifecycle change: %w", err)
	}
	a.LifeCycleStatus = next
	return nil
}

// actionsTo returns the actions that take an API from one status to
// another, for imports that carry a target lifeCycleStatus.
func actionsTo(from, to string) ([]string, error) {
	to = strings.ToUpper(to)
	if !ValidStatus(to) {
		return nil, invalid(400, "Bad Request", "unknown lifecycle status %q", to)
	}
	acts, ok := PathTo(from, to)
	if !ok {
		return nil, invalid(900381, "Unsupported state change action", "the API cannot move from %s to %s", TitleState(from), TitleState(to))
	}
	return acts, nil
}
