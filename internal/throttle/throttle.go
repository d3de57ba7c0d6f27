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

// window holds the current fixed window of one key. Counting is lock-free:
// a request adds to the live epoch's counter; the first request past the
// window's end swaps in a new epoch (one allocation per window, not per
// request), so many concurrent callers of one key never queue on a mutex.
type window struct {
	cur atomic.Pointer[epoch]
}

// epoch is one window; start and dur never change after publication.
type epoch struct {
	start int64 // unix nanos
	dur   int64
	count atomic.Int64
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
		w := &window{}
		w.cur.Store(&epoch{start: now, dur: int64(win)})
		var loaded bool
		v, loaded = l.m.LoadOrStore(key, w)
		if !loaded && l.n.Add(1) > l.sweepN.Load() {
			l.sweep(now)
		}
	}
	w := v.(*window)
	for {
		e := w.cur.Load()
		if now-e.start >= e.dur || e.dur != int64(win) {
			// The window ended (or the policy's unit time changed): start
			// a new one with this request as its first. Losing the race
			// means another request started it; count in that one.
			next := &epoch{start: now, dur: int64(win)}
			next.count.Store(1)
			if !w.cur.CompareAndSwap(e, next) {
				continue
			}
			e = next
			if 1 <= limit {
				return Result{Allowed: true}
			}
			return Result{RetryAfter: time.Duration(e.start + e.dur - now)}
		}
		if e.count.Add(1) <= limit {
			return Result{Allowed: true}
		}
		return Result{RetryAfter: time.Duration(e.start + e.dur - now)}
	}
}

// sweep drops windows that ended, keeping memory bounded by live keys.
func (l *Local) sweep(now int64) {
	l.m.Range(func(k, v any) bool {
		e := v.(*window).cur.Load()
		if now-e.start >= e.dur && l.m.CompareAndDelete(k, v) {
			l.n.Add(-1)
		}
		return true
	})
	l.sweepN.Store(max(10_000, 2*l.n.Load()))
}
