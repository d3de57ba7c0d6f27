package events

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

func testRedis(t *testing.T) *redis.Client {
	t.Helper()
	addr := os.Getenv("KEYWAY_TEST_REDIS")
	if addr == "" {
		addr = miniredis.RunT(t).Addr()
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRedisBusDeliversOnceToEveryNode(t *testing.T) {
	ctx := context.Background()
	client := testRedis(t)
	channel := "keyway:test:" + t.Name() + time.Now().Format("150405.000000")
	a, err := NewRedis(ctx, client, channel, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := NewRedis(ctx, client, channel, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	gotA := make(chan Event, 10)
	gotB := make(chan Event, 10)
	a.Subscribe(func(e Event) { gotA <- e })
	b.Subscribe(func(e Event) { gotB <- e })

	e := New(TokenRevoked, map[string]string{"jwt_signature": "jti-1"})
	if err := a.Publish(ctx, e); err != nil {
		t.Fatal(err)
	}
	// Local delivery is synchronous.
	select {
	case got := <-gotA:
		if got.ID != e.ID || got.Origin != a.Node() {
			t.Fatalf("local event = %+v", got)
		}
	default:
		t.Fatal("publisher's own subscribers were not called synchronously")
	}
	select {
	case got := <-gotB:
		if got.ID != e.ID || got.Type != TokenRevoked || string(got.Payload) != `{"jwt_signature":"jti-1"}` {
			t.Fatalf("remote event = %+v", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("other node never received the event")
	}
	// A second event proves the first was not echoed back to a.
	if err := b.Publish(ctx, New(APIDeployed, nil)); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-gotA:
		if got.Type != APIDeployed {
			t.Fatalf("node a received %s twice or out of order", got.Type)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("node a never received b's event")
	}
}

func TestRedisBusPublishFailsWhenRedisIsGoneButDeliversLocally(t *testing.T) {
	ctx := context.Background()
	m := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1})
	defer client.Close()
	bus, err := NewRedis(ctx, client, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	bus.Subscribe(func(Event) { got++ })
	m.Close()
	if err := bus.Publish(ctx, New(APIUpdated, nil)); err == nil {
		t.Fatal("publish with redis down reported success")
	}
	if got != 1 {
		t.Fatalf("local subscribers called %d times, want 1", got)
	}
	_ = bus.Close()
}
