package throttle

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

func TestLocalWindow(t *testing.T) {
	l := NewLocal()
	now := time.Unix(1000, 0)
	l.now = func() time.Time { return now }
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if !l.Allow(ctx, "k", 3, time.Minute).Allowed {
			t.Fatalf("request %d refused", i)
		}
	}
	r := l.Allow(ctx, "k", 3, time.Minute)
	if r.Allowed || r.RetryAfter != time.Minute {
		t.Fatalf("4th request: %+v", r)
	}
	if !l.Allow(ctx, "other", 3, time.Minute).Allowed {
		t.Fatal("keys are not independent")
	}
	now = now.Add(30 * time.Second)
	if r := l.Allow(ctx, "k", 3, time.Minute); r.Allowed || r.RetryAfter != 30*time.Second {
		t.Fatalf("mid-window: %+v", r)
	}
	now = now.Add(30 * time.Second)
	if !l.Allow(ctx, "k", 3, time.Minute).Allowed {
		t.Fatal("a new window did not reset the count")
	}
}

func TestLocalConcurrentExact(t *testing.T) {
	l := NewLocal()
	var ok atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				if l.Allow(context.Background(), "k", 250, time.Hour).Allowed {
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 250 {
		t.Fatalf("admitted %d, want exactly 250", ok.Load())
	}
}

func TestLocalSweepBoundsMemory(t *testing.T) {
	l := NewLocal()
	now := time.Unix(0, 0)
	l.now = func() time.Time { return now }
	for i := 0; i < 25_000; i++ {
		l.Allow(context.Background(), strconv.Itoa(i), 1, time.Millisecond)
		now = now.Add(time.Microsecond * 10)
	}
	if n := l.n.Load(); n > 20_000 {
		t.Fatalf("%d windows kept; expired ones are not swept", n)
	}
}

func TestRedisSharedAndFallback(t *testing.T) {
	addr := os.Getenv("KEYWAY_TEST_REDIS")
	var m *miniredis.Miniredis
	if addr == "" {
		m = miniredis.RunT(t)
		addr = m.Addr()
	}
	reg := prometheus.NewRegistry()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	ca, cb := redis.NewClient(&redis.Options{Addr: addr}), redis.NewClient(&redis.Options{Addr: addr})
	defer ca.Close()
	defer cb.Close()
	a := NewRedis(ca, RedisOptions{Logger: logger, Metrics: reg})
	b := NewRedis(cb, RedisOptions{Logger: logger, Metrics: reg})
	key := "test:" + strconv.FormatInt(time.Now().UnixNano(), 10)
	ctx := context.Background()
	admitted := 0
	for i := 0; i < 10; i++ {
		l := a
		if i%2 == 1 {
			l = b
		}
		if r := l.Allow(ctx, key, 6, time.Minute); r.Allowed {
			admitted++
		} else if r.RetryAfter <= 0 || r.RetryAfter > time.Minute {
			t.Fatalf("retry after %v", r.RetryAfter)
		}
	}
	if admitted != 6 {
		t.Fatalf("two limiters on one Redis admitted %d, want 6", admitted)
	}
	if m == nil {
		return
	}
	m.Close()
	for i := 0; i < 3; i++ {
		if !a.Allow(ctx, "fresh", 5, time.Minute).Allowed {
			t.Fatal("fallback refused a request within the local quota")
		}
	}
	if v := counterValue(t, reg, "keyway_gateway_throttle_redis_fallback_total"); v != 3 {
		t.Fatalf("fallback counter %v, want 3", v)
	}
}

func BenchmarkLocalAllow(b *testing.B) {
	l := NewLocal()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Allow(context.Background(), "sub:app:api", 1<<62, time.Minute)
		}
	})
}

// BenchmarkLocalAllowContended is one hot key (an API-level quota) under
// many concurrent callers, as the gateway sees it.
func BenchmarkLocalAllowContended(b *testing.B) {
	l := NewLocal()
	b.ReportAllocs()
	b.SetParallelism(25)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Allow(context.Background(), "api:uuid:Gold", 1<<62, time.Minute)
		}
	})
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return -1
}
