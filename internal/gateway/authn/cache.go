package authn

import (
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// cache maps a token's 64-bit seeded hash (no token is kept in memory as a
// key) to its verified principal, or to nil for a token known to be invalid.
// The entry also keeps the token's length and last 16 characters (part of the
// signature), so that even a hash collision cannot return another caller's
// principal. Reads are lock-free (sync.Map); the size is bounded by
// sweeping expired entries and then arbitrary ones when it grows too large.
type cache struct {
	m       sync.Map // cacheKey -> *cacheEntry
	n       atomic.Int64
	max     int64
	seed    maphash.Seed
	sweepMu sync.Mutex
}

type cacheKey struct {
	h    uint64
	kind Kind
}

type cacheEntry struct {
	p       *Principal
	expires int64 // unix nanos
	size    int
	tail    string
}

const tailLen = 16

func tailOf(token string) string { return token[max(0, len(token)-tailLen):] }

func newCache(max int) *cache {
	if max <= 0 {
		max = 100_000
	}
	return &cache{max: int64(max), seed: maphash.MakeSeed()}
}

func (c *cache) key(kind Kind, token string) cacheKey {
	return cacheKey{h: maphash.String(c.seed, token), kind: kind}
}

// get returns the entry and whether it exists and is live.
func (c *cache) get(k cacheKey, token string, now time.Time) (*cacheEntry, bool) {
	v, ok := c.m.Load(k)
	if !ok {
		return nil, false
	}
	e := v.(*cacheEntry)
	if e.size != len(token) || e.tail != tailOf(token) {
		return nil, false
	}
	if e.expires <= now.UnixNano() {
		if c.m.CompareAndDelete(k, v) {
			c.n.Add(-1)
		}
		return nil, false
	}
	return e, true
}

func (c *cache) put(k cacheKey, token string, p *Principal, expires time.Time) {
	e := &cacheEntry{p: p, expires: expires.UnixNano(), size: len(token), tail: strings.Clone(tailOf(token))}
	if _, loaded := c.m.Swap(k, e); !loaded {
		if c.n.Add(1) > c.max {
			c.sweep()
		}
	}
}

func (c *cache) sweep() {
	if !c.sweepMu.TryLock() {
		return
	}
	defer c.sweepMu.Unlock()
	now := time.Now().UnixNano()
	c.m.Range(func(k, v any) bool {
		if v.(*cacheEntry).expires <= now && c.m.CompareAndDelete(k, v) {
			c.n.Add(-1)
		}
		return true
	})
	// Still too big: drop arbitrary entries down to 90 %.
	target := c.max * 9 / 10
	c.m.Range(func(k, v any) bool {
		if c.n.Load() <= target {
			return false
		}
		if c.m.CompareAndDelete(k, v) {
			c.n.Add(-1)
		}
		return true
	})
}

func (c *cache) flush() {
	c.m.Range(func(k, v any) bool {
		if c.m.CompareAndDelete(k, v) {
			c.n.Add(-1)
		}
		return true
	})
}
