package events

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// DefaultChannel is the Redis pub/sub channel Keyway nodes share.
const DefaultChannel = "keyway:events"

// publishTimeout bounds the fan-out of one event, so that an unresponsive
// Redis delays the control plane's writes by at most this much (go-redis
// would otherwise retry its dial timeout several times).
const publishTimeout = 2 * time.Second

// Redis is a Bus shared by several nodes through Redis pub/sub. Publish
// delivers to this node's subscribers synchronously (as Local does) and then
// to the other nodes; events coming back from Redis with this node's origin
// are not delivered twice. go-redis resubscribes after a connection loss;
// events published while Redis is down reach only the local node.
type Redis struct {
	client  redis.UniversalClient
	channel string
	node    string
	local   *Local
	ps      *redis.PubSub
	logger  *slog.Logger
	done    chan struct{}
	once    sync.Once
}

// NewRedis subscribes to channel (DefaultChannel when empty) and returns
// once the subscription is confirmed, so no event published afterwards is
// missed.
func NewRedis(ctx context.Context, client redis.UniversalClient, channel string, logger *slog.Logger) (*Redis, error) {
	b := newRedis(ctx, client, channel, logger)
	if _, err := b.ps.Receive(ctx); err != nil {
		b.ps.Close()
		return nil, fmt.Errorf("subscribe to redis channel %s: %w", b.channel, err)
	}
	go b.receive()
	return b, nil
}

// StartRedis is NewRedis for a Redis that does not answer yet: it returns at
// once and go-redis subscribes in the background as soon as Redis answers
// (retrying, as after a connection loss). Until then this node sees only
// its own events, and what other nodes publish meanwhile is missed; the
// caller needs another way to catch up (a gateway node's snapshot pulls).
func StartRedis(client redis.UniversalClient, channel string, logger *slog.Logger) *Redis {
	// The first attempt is bounded: a black-holed Redis must not hold up
	// the node's start.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	b := newRedis(ctx, client, channel, logger)
	go b.receive()
	return b
}

func newRedis(ctx context.Context, client redis.UniversalClient, channel string, logger *slog.Logger) *Redis {
	if channel == "" {
		channel = DefaultChannel
	}
	if logger == nil {
		logger = slog.Default()
	}
	// Subscribe records the channel even when Redis does not answer, and
	// every reconnection subscribes to it again.
	ps := client.Subscribe(ctx, channel)
	return &Redis{client: client, channel: channel, node: uuid.NewString(), local: NewLocal(), ps: ps,
		logger: logger.With("component", "events"), done: make(chan struct{})}
}

// Node is this bus's origin id.
func (b *Redis) Node() string { return b.node }

func (b *Redis) receive() {
	defer close(b.done)
	for msg := range b.ps.Channel() {
		var e Event
		if err := json.Unmarshal([]byte(msg.Payload), &e); err != nil {
			b.logger.Warn("undecodable event on redis channel", "channel", b.channel, "error", err)
			continue
		}
		if e.Origin == b.node {
			continue
		}
		_ = b.local.Publish(context.Background(), e)
	}
}

// Publish delivers e locally, then to every other node. An error means
// only this node's subscribers saw e.
func (b *Redis) Publish(ctx context.Context, e Event) error {
	e.Origin = b.node
	_ = b.local.Publish(ctx, e)
	raw, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode event %s: %w", e.Type, err)
	}
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	if err := b.client.Publish(ctx, b.channel, raw).Err(); err != nil {
		return fmt.Errorf("publish event %s to redis: %w", e.Type, err)
	}
	return nil
}

// Subscribe registers fn for local and remote events.
func (b *Redis) Subscribe(fn func(Event)) func() { return b.local.Subscribe(fn) }

// Close unsubscribes from Redis and drops local subscribers; the Redis
// client itself belongs to the caller.
func (b *Redis) Close() error {
	var err error
	b.once.Do(func() {
		err = b.ps.Close()
		<-b.done
		_ = b.local.Close()
	})
	return err
}
