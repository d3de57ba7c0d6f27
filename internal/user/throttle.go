package user

import (
	"sync"
	"time"
)

// loginThrottle slows password guessing. Each key (an account or a remote
// address) fails freely free−1 times; the free-th failure locks it for base
// and each further one doubles the lock, capped at max. A success clears the account key. It lives
// in memory: a restart forgets the counters, which only gives an attacker
// back a few free attempts.
type loginThrottle struct {
	mu      sync.Mutex
	entries map[string]*throttleEntry
	base    time.Duration
	max     time.Duration
	now     func() time.Time
	// limit bounds memory under a flood of distinct keys.
	limit int
}

type throttleEntry struct {
	failures    int
	lockedUntil time.Time
	last        time.Time
}

func newLoginThrottle(base, max time.Duration, now func() time.Time) *loginThrottle {
	return &loginThrottle{entries: map[string]*throttleEntry{}, base: base, max: max, now: now, limit: 100_000}
}

// locked reports whether key is locked now.
func (t *loginThrottle) locked(key string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entries[key]
	return e != nil && t.now().Before(e.lockedUntil)
}

// fail records a failure for key and locks it once past the free attempts.
func (t *loginThrottle) fail(key string, free int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	e := t.entries[key]
	if e == nil {
		if len(t.entries) >= t.limit {
			t.sweepLocked(now)
		}
		e = &throttleEntry{}
		t.entries[key] = e
	} else if now.Sub(e.last) > 2*t.max && !now.Before(e.lockedUntil) {
		// A long quiet period forgives old failures.
		e.failures = 0
	}
	e.failures++
	e.last = now
	if over := e.failures - free; over >= 0 {
		d := t.base
		for i := 0; i < over && d < t.max; i++ {
			d *= 2
		}
		if d > t.max {
			d = t.max
		}
		e.lockedUntil = now.Add(d)
	}
}

func (t *loginThrottle) reset(key string) {
	t.mu.Lock()
	delete(t.entries, key)
	t.mu.Unlock()
}

// sweepLocked drops entries that are neither locked nor recent; when that is
// not enough it drops the oldest half.
func (t *loginThrottle) sweepLocked(now time.Time) {
	for k, e := range t.entries {
		if !now.Before(e.lockedUntil) && now.Sub(e.last) > t.max {
			delete(t.entries, k)
		}
	}
	if len(t.entries) < t.limit {
		return
	}
	n := 0
	for k := range t.entries {
		delete(t.entries, k)
		if n++; n >= t.limit/2 {
			break
		}
	}
}
