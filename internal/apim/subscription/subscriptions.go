package subscription

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/events"
)

func validStatus(s string) bool {
	switch s {
	case Unblocked, Blocked, ProdOnlyBlocked, OnHold, Rejected:
		return true
	}
	return false
}

// CreateSubscription subscribes an application to an API. The caller has
// checked that both exist and that the tier is allowed for the API.
func (s *Store) CreateSubscription(ctx context.Context, sub *Subscription) error {
	if sub.ApplicationUUID == "" || sub.APIUUID == "" {
		return invalid("applicationId and apiId are required")
	}
	if strings.TrimSpace(sub.Policy) == "" {
		return invalid("throttlingPolicy is required")
	}
	if sub.Status == "" {
		sub.Status = Unblocked
	}
	if !validStatus(sub.Status) {
		return invalid("unknown subscription status %q", sub.Status)
	}
	if sub.RequestedPolicy == "" {
		sub.RequestedPolicy = sub.Policy
	}
	now := time.Now()
	sub.UUID, sub.Created, sub.Updated = uuid.NewString(), now, now
	_, err := s.db.ExecContext(ctx, `INSERT INTO apim_subscription (uuid, app_uuid, api_uuid, policy, requested_policy, status,
		created, updated) VALUES (?,?,?,?,?,?,?,?)`,
		sub.UUID, sub.ApplicationUUID, sub.APIUUID, sub.Policy, sub.RequestedPolicy, sub.Status, now.UnixMilli(), now.UnixMilli())
	if db.IsUniqueViolation(err) {
		return fmt.Errorf("%w: the application is already subscribed to the API", ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("insert subscription: %w", err)
	}
	s.publishSub(ctx, sub, "create")
	return nil
}

func (s *Store) publishSub(ctx context.Context, sub *Subscription, action string) {
	s.publish(ctx, events.SubscriptionChanged, map[string]any{"subscriptionUuid": sub.UUID, "apiUuid": sub.APIUUID,
		"applicationUuid": sub.ApplicationUUID, "policyId": sub.Policy, "subscriptionState": sub.Status, "action": action})
}

// UpdateSubscription changes a subscription's tier and, when status is not
// empty, its state.
func (s *Store) UpdateSubscription(ctx context.Context, id, policy, status string) (*Subscription, error) {
	sub, err := s.GetSubscription(ctx, id)
	if err != nil {
		return nil, err
	}
	if policy != "" {
		sub.Policy, sub.RequestedPolicy = policy, policy
	}
	if status != "" {
		if !validStatus(status) {
			return nil, invalid("unknown subscription status %q", status)
		}
		sub.Status = status
	}
	sub.Updated = time.Now()
	if _, err := s.db.ExecContext(ctx, `UPDATE apim_subscription SET policy = ?, requested_policy = ?, status = ?, updated = ? WHERE uuid = ?`,
		sub.Policy, sub.RequestedPolicy, sub.Status, sub.Updated.UnixMilli(), id); err != nil {
		return nil, fmt.Errorf("update subscription %s: %w", id, err)
	}
	s.publishSub(ctx, sub, "update")
	return sub, nil
}

// SetSubscriptionStatus blocks or unblocks a subscription (the publisher's
// block-subscription / unblock-subscription operations).
func (s *Store) SetSubscriptionStatus(ctx context.Context, id, status string) error {
	switch status {
	case Blocked, ProdOnlyBlocked, Unblocked:
	default:
		return invalid("blockState must be BLOCKED or PROD_ONLY_BLOCKED")
	}
	_, err := s.UpdateSubscription(ctx, id, "", status)
	return err
}

// DeleteSubscription removes a subscription.
func (s *Store) DeleteSubscription(ctx context.Context, id string) error {
	sub, err := s.GetSubscription(ctx, id)
	if err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM apim_subscription WHERE uuid = ?`, id); err != nil {
		return fmt.Errorf("delete subscription %s: %w", id, err)
	}
	s.publishSub(ctx, sub, "delete")
	return nil
}

// DeleteSubscriptionsOfAPI removes every subscription to an API (API deletion).
func (s *Store) DeleteSubscriptionsOfAPI(ctx context.Context, apiUUID string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM apim_subscription WHERE api_uuid = ?`, apiUUID)
	if err != nil {
		return fmt.Errorf("delete subscriptions of API %s: %w", apiUUID, err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		s.publish(ctx, events.SubscriptionChanged, map[string]any{"apiUuid": apiUUID, "action": "delete"})
	}
	return nil
}

const subColumns = `uuid, app_uuid, api_uuid, policy, requested_policy, status, created, updated`

// GetSubscription returns a subscription by uuid.
func (s *Store) GetSubscription(ctx context.Context, id string) (*Subscription, error) {
	subs, err := s.querySubs(ctx, `WHERE uuid = ?`, id)
	return first(subs, err, "subscription")
}

// SubscriptionQuery selects subscriptions; empty fields match everything.
type SubscriptionQuery struct {
	ApplicationUUID string
	APIUUID         string
	// Owner limits to applications of this user.
	Owner  string
	Offset int
	Limit  int // 0: all
}

// ListSubscriptions returns a page of subscriptions and the total count.
func (s *Store) ListSubscriptions(ctx context.Context, q SubscriptionQuery) ([]*Subscription, int, error) {
	var where []string
	var args []any
	if q.ApplicationUUID != "" {
		where, args = append(where, "app_uuid = ?"), append(args, q.ApplicationUUID)
	}
	if q.APIUUID != "" {
		where, args = append(where, "api_uuid = ?"), append(args, q.APIUUID)
	}
	if q.Owner != "" {
		where, args = append(where, "app_uuid IN (SELECT uuid FROM apim_application WHERE owner = ?)"), append(args, q.Owner)
	}
	page, total, err := s.countPage(ctx, "apim_subscription", "subscriptions", where, args, "created, uuid", q.Limit, q.Offset)
	if err != nil {
		return nil, 0, err
	}
	subs, err := s.querySubs(ctx, page, args...)
	return subs, total, err
}

func (s *Store) querySubs(ctx context.Context, where string, args ...any) ([]*Subscription, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+subColumns+` FROM apim_subscription `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("query subscriptions: %w", err)
	}
	defer rows.Close()
	out := []*Subscription{}
	for rows.Next() {
		var sub Subscription
		var c, u int64
		if err := rows.Scan(&sub.UUID, &sub.ApplicationUUID, &sub.APIUUID, &sub.Policy, &sub.RequestedPolicy, &sub.Status, &c, &u); err != nil {
			return nil, fmt.Errorf("scan subscription: %w", err)
		}
		sub.Created, sub.Updated = time.UnixMilli(c), time.UnixMilli(u)
		out = append(out, &sub)
	}
	return out, rows.Err()
}

// BlockSubscription blocks a subscription (state BLOCKED or
// PROD_ONLY_BLOCKED): the publisher's block-subscription.
func (s *Store) BlockSubscription(ctx context.Context, subscriptionID, state string) error {
	if state != Blocked && state != ProdOnlyBlocked {
		return invalid("blockState must be BLOCKED or PROD_ONLY_BLOCKED")
	}
	return s.SetSubscriptionStatus(ctx, subscriptionID, state)
}

// UnblockSubscription restores a blocked subscription.
func (s *Store) UnblockSubscription(ctx context.Context, subscriptionID string) error {
	return s.SetSubscriptionStatus(ctx, subscriptionID, Unblocked)
}
