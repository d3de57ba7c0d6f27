// Package revocation owns revoked tokens on the gateway side: the receiver of
// the Identity Server's token_revocation notifications
// (POST /internal/data/v1/notify), their storage until the tokens expire, the
// startup pull (GET /internal/data/v1/revokedjwt), and the in-memory Set every
// request is checked against.
package revocation

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyway/keyway/internal/runtime"
)

// Set is the gateway's revoked-token set. Reads are a map lookup through an
// atomic pointer (no lock); writers copy the map, which is cheap because
// revocations are rare and pruned when they expire.
type Set struct {
	mu      sync.Mutex
	tokens  atomic.Pointer[map[string]int64]
	clients atomic.Pointer[map[string]int64]
	now     func() time.Time
}

// NewSet returns an empty set.
func NewSet() *Set {
	s := &Set{now: time.Now}
	empty, emptyC := map[string]int64{}, map[string]int64{}
	s.tokens.Store(&empty)
	s.clients.Store(&emptyC)
	return s
}

// Add records revocations; expired ones are dropped at the same time.
func (s *Set) Add(rs ...runtime.RevokedToken) {
	if len(rs) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UnixMilli()
	old := *s.tokens.Load()
	next := make(map[string]int64, len(old)+len(rs))
	for k, exp := range old {
		if exp > now {
			next[k] = exp
		}
	}
	for _, r := range rs {
		if r.Token == "" || r.ExpiryMillis != 0 && r.ExpiryMillis <= now {
			continue
		}
		exp := r.ExpiryMillis
		if exp == 0 {
			exp = 1<<63 - 1
		}
		if exp > next[r.Token] {
			next[r.Token] = exp
		}
	}
	s.tokens.Store(&next)
}

// AddConsumerKey revokes every token of a client issued before revokedAt
// (epoch ms), as WSO2's consumer_app_revocation_event does.
func (s *Set) AddConsumerKey(consumerKey string, revokedAt int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.clients.Load()
	next := make(map[string]int64, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	if revokedAt > next[consumerKey] {
		next[consumerKey] = revokedAt
	}
	s.clients.Store(&next)
}

// Revoked reports whether the identifier (a jti, a JWT signature, an opaque
// token or its hex SHA-256) is revoked and not yet expired.
func (s *Set) Revoked(id string) bool {
	m := *s.tokens.Load()
	if len(m) == 0 {
		return false
	}
	exp, ok := m[id]
	return ok && exp > s.now().UnixMilli()
}

// ClientRevoked reports whether a token of consumerKey issued at issuedAt
// (epoch seconds) predates a consumer-key revocation.
func (s *Set) ClientRevoked(consumerKey string, issuedAt int64) bool {
	m := *s.clients.Load()
	if len(m) == 0 {
		return false
	}
	t, ok := m[consumerKey]
	return ok && issuedAt*1000 <= t
}

// Len returns the number of live entries (for metrics and tests).
func (s *Set) Len() int { return len(*s.tokens.Load()) }

// HashOpaque is how opaque tokens are keyed at rest: hex SHA-256.
func HashOpaque(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
