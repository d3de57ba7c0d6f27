// Package events carries control-plane changes and token revocations from the
// API Manager to every gateway: in process by default, through Redis pub/sub
// when several nodes share a deployment.
package events

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Event types. A gateway reloads its snapshot on any type except the
// revocation ones, which it applies directly because they must act at once.
const (
	APIDeployed          = "DEPLOY_API_IN_GATEWAY"
	APIUndeployed        = "REMOVE_API_FROM_GATEWAY"
	APILifecycleChanged  = "API_LIFECYCLE_CHANGE"
	APIUpdated           = "API_UPDATE"
	APIDeleted           = "API_DELETE"
	ApplicationChanged   = "APPLICATION_UPDATE"
	ApplicationDeleted   = "APPLICATION_DELETE"
	KeyMappingChanged    = "APPLICATION_REGISTRATION_CREATE"
	SubscriptionChanged  = "SUBSCRIPTIONS_UPDATE"
	PolicyChanged        = "POLICY_UPDATE"
	KeyManagerChanged    = "KEY_MANAGER_CONFIGURATION"
	TokenRevoked         = "token_revocation"
	ConsumerKeyRevoked   = "consumer_app_revocation_event"
	SubjectEntityRevoked = "subject_entity_revocation_event"
)

// EnvironmentChanged: an admin added, updated or deleted a gateway
// environment (payload: the environment's id, name and the action). API
// Manager nodes refresh their environment list; gateways reload as on any
// other change.
const EnvironmentChanged = "GATEWAY_ENVIRONMENT_CHANGE"

// Event is one change. Payload is type-specific JSON (for TokenRevoked a
// runtime.RevokedToken).
type Event struct {
	ID      string          `json:"eventId"`
	Type    string          `json:"type"`
	Time    int64           `json:"timeStamp"`
	Payload json.RawMessage `json:"payload,omitempty"`
	// Origin is the node that published the event.
	Origin string `json:"origin,omitempty"`
}

// New makes an event with a fresh id and the current time.
func New(typ string, payload any) Event {
	var raw json.RawMessage
	if payload != nil {
		raw, _ = json.Marshal(payload)
	}
	return Event{ID: uuid.NewString(), Type: typ, Time: time.Now().UnixMilli(), Payload: raw}
}

// Bus publishes events to every subscriber on every node.
type Bus interface {
	Publish(ctx context.Context, e Event) error
	// Subscribe calls fn for every event, on a goroutine of the bus; fn must
	// not block for long. The returned function unsubscribes.
	Subscribe(fn func(Event)) (cancel func())
	Close() error
}

// Local is an in-process bus.
type Local struct {
	mu   sync.RWMutex
	next int
	subs map[int]func(Event)
}

// NewLocal returns an in-process bus.
func NewLocal() *Local { return &Local{subs: map[int]func(Event){}} }

// Publish delivers e to every subscriber synchronously, so that once Publish
// returns every local gateway has seen the change.
func (b *Local) Publish(_ context.Context, e Event) error {
	b.mu.RLock()
	fns := make([]func(Event), 0, len(b.subs))
	for _, fn := range b.subs {
		fns = append(fns, fn)
	}
	b.mu.RUnlock()
	for _, fn := range fns {
		fn(e)
	}
	return nil
}

// Subscribe registers fn.
func (b *Local) Subscribe(fn func(Event)) func() {
	b.mu.Lock()
	id := b.next
	b.next++
	b.subs[id] = fn
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		delete(b.subs, id)
		b.mu.Unlock()
	}
}

// Close drops every subscriber.
func (b *Local) Close() error {
	b.mu.Lock()
	b.subs = map[int]func(Event){}
	b.mu.Unlock()
	return nil
}
