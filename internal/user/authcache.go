package user

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"time"
)

// authCache remembers recent successful logins so that management clients
// sending HTTP Basic on every call (the API Manager's key-manager connector
// does) pay the deliberately slow password hash once per TTL, not per call.
// Entries are keyed by an HMAC of name and password under a per-process
// random key, and hold the password hash that was verified: a hit counts only
// while the stored hash is unchanged, so a new password (or a rehash) ends it.
type authCache struct {
	mu    sync.Mutex
	key   []byte
	ttl   time.Duration
	limit int
	now   func() time.Time
	m     map[[32]byte]authEntry
}

type authEntry struct {
	userID  string
	hash    string
	expires time.Time
}

func newAuthCache(ttl time.Duration, now func() time.Time) *authCache {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return &authCache{key: key, ttl: ttl, limit: 10_000, now: now, m: map[[32]byte]authEntry{}}
}

func (c *authCache) id(username, password string) [32]byte {
	mac := hmac.New(sha256.New, c.key)
	mac.Write([]byte(username))
	mac.Write([]byte{0})
	mac.Write([]byte(password))
	var out [32]byte
	copy(out[:], mac.Sum(nil))
	return out
}

// get returns the user id and verified hash for these credentials, if fresh.
func (c *authCache) get(k [32]byte) (authEntry, bool) {
	if c.ttl <= 0 {
		return authEntry{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || !c.now().Before(e.expires) {
		delete(c.m, k)
		return authEntry{}, false
	}
	return e, true
}

func (c *authCache) put(k [32]byte, userID, hash string) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if len(c.m) >= c.limit {
		for key, e := range c.m {
			if !now.Before(e.expires) || len(c.m) >= c.limit {
				delete(c.m, key)
			}
		}
	}
	c.m[k] = authEntry{userID: userID, hash: hash, expires: now.Add(c.ttl)}
}

func (c *authCache) drop(k [32]byte) {
	c.mu.Lock()
	delete(c.m, k)
	c.mu.Unlock()
}
