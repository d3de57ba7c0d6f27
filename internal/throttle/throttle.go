// Package throttle holds the gateway's rate limiters: fixed-window request
// counters kept in process (Local) or in Redis (Redis, shared by every
// gateway node), with the Redis limiter falling back to local counting while
// Redis is unreachable so that an outage never fails requests.
//
// A window starts at the first request for a key and lasts the policy's
// unit time (as WSO2's time-batch throttling windows do), so a quota of N per
// window admits exactly N requests in it.
package throttle

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Result is a limiter's answer.
type Result struct {
	Allowed bool
	// RetryAfter is the time until the window resets (when not allowed).
	RetryAfter time.Duration
}

// Limiter counts one request against key's quota of limit per window.
type Limiter interface {
	Allow(ctx context.Context, key string, limit int64, window time.Duration) Result
}

// Local is an in-process fixed-window limiter.
type Local struct {
	m      sync.Map // string -> *window
	n      atomic.Int64
	sweepN atomic.Int64
	now    func() time.Time
}

type window struct {
	mu    sync.Mutex
	start int64 // unix nanos
	dur   int64
	count int64
}

// NewLocal returns an empty limiter.
func NewLocal() *Local {
	l := &Local{now: time.Now}
	l.sweepN.Store(10_000)
	return l
}

// Allow implements Limiter.
func (l *Local) Allow(_ context.Context, key string, limit int64, win time.Duration) Result {
	now := l.now().UnixNano()
	v, ok := l.m.Load(key)
	if !ok {
		var loaded bool
		v, loaded = l.m.LoadOrStore(key, &window{start: now, dur: int64(win)})
		if !loaded && l.n.Add(1) > l.sweepN.Load() {
			l.sweep(now)
		}
	}
	w := v.(*window)
	w.mu.Lock()
	if now-w.start >= int64(win) || w.dur != int64(win) {
		w.start, w.dur, w.count = now, int64(win), 0
	}
	w.count++
	allowed := w.count <= limit
	retry := time.Duration(w.start + w.dur - now)
	w.mu.Unlock()
	if allowed {
		return Result{Allowed: true}
	}
	return Result{RetryAfter: retry}
}

// sweep drops windows that ended, keeping memory bounded by live keys.
func (l *Local) sweep(now int64) {
	l.m.Range(func(k, v any) bool {
		w := v.(*window)
		w.mu.Lock()
		done := now-w.start >= w.dur
		w.mu.Unlock()
		if done && l.m.CompareAndDelete(k, v) {
			l.n.Add(-1)
		}
		return true
	})
	l.sweepN.Store(max(10_000, 2*l.n.Load()))
}
