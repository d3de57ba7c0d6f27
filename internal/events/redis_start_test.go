package events

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// TestStartRedisSubscribesOnceRedisAnswers: a node that came up while Redis
// was down joins the fan-out when Redis comes back, without a restart.
func TestStartRedisSubscribesOnceRedisAnswers(t *testing.T) {
	ctx := context.Background()
	m := miniredis.RunT(t)
	addr := m.Addr()
	m.Close()
	late := redis.NewClient(&redis.Options{Addr: addr})
	defer late.Close()
	a := StartRedis(late, "", nil)
	defer a.Close()
	got := make(chan Event, 10)
	a.Subscribe(func(e Event) { got <- e })
	// Its own events still reach its own subscribers.
	if err := a.Publish(ctx, New(APIUpdated, nil)); err == nil {
		t.Fatal("publish with redis down reported success")
	}
	if e := <-got; e.Type != APIUpdated {
		t.Fatalf("local event = %+v", e)
	}

	if err := m.Restart(); err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(&redis.Options{Addr: addr})
	defer client.Close()
	b, err := NewRedis(ctx, client, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// Publish until a's background subscription is in place: events sent
	// before it are missed by design.
	deadline := time.After(20 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := b.Publish(ctx, New(TokenRevoked, map[string]string{"jwt_signature": "jti-1"})); err != nil {
			t.Fatal(err)
		}
		select {
		case e := <-got:
			if e.Type != TokenRevoked || e.Origin != b.Node() {
				t.Fatalf("remote event = %+v", e)
			}
			return
		case <-tick.C:
		case <-deadline:
			t.Fatal("the late node never joined the fan-out")
		}
	}
}
