// Package authn authenticates gateway requests: JWT access tokens verified
// against the issuing key manager's keys, opaque tokens introspected at the
// key manager, and WSO2-style API keys, with a bounded cache of verified
// tokens so a repeated token costs no signature check or introspection.
package authn

import (
	"context"
	"strings"
	"sync"
	"time"
)

// Kind says how a caller authenticated.
type Kind uint8

const (
	KindJWT Kind = iota + 1
	KindOpaque
	KindAPIKey
)

// Principal is an authenticated caller. Principals are cached and shared
// between requests; they are never modified after creation except for the
// BackendJWT memo.
type Principal struct {
	Kind Kind
	// KeyManager is the name of the issuing key manager (tokens only).
	KeyManager  string
	ConsumerKey string
	Scopes      []string
	// ApplicationToken is true when aut is APPLICATION (client credentials).
	ApplicationToken bool
	Subject          string
	// User is Subject qualified with the tenant domain (alice@carbon.super),
	// the end user of user tokens; computed once per principal.
	User     string
	Issuer   string
	IssuedAt int64 // epoch seconds, 0 when unknown
	Expiry   time.Time
	// TokenID is the revocation identifier: the jti, else the signature
	// segment; for opaque tokens the hex SHA-256 of the token; for API keys
	// their jti.
	TokenID string
	// Claims are the verified JWT claims (nil for opaque tokens).
	Claims map[string]any
	// APIKey is set for API-key callers.
	APIKey *APIKey

	// BackendJWT memoises the X-JWT-Assertion per API UUID.
	BackendJWT sync.Map
}

// HasAnyScope reports whether the principal holds at least one of scopes.
func (p *Principal) HasAnyScope(scopes []string) bool {
	for _, want := range scopes {
		for _, have := range p.Scopes {
			if have == want {
				return true
			}
		}
	}
	return false
}

// APIKey is what a verified API key says about its caller.
type APIKey struct {
	ID              string
	ApplicationUUID string
	// KeyType is PRODUCTION or SANDBOX.
	KeyType  string
	Subject  string
	IssuedAt time.Time
	Expiry   time.Time
	// AllowedAPIs optionally restricts the key to these API UUIDs; empty
	// means every API the application subscribes to.
	AllowedAPIs []string
}

// APIKeyVerifier checks the value of the apikey header. Implementations
// return an error for keys that are malformed, not signed by the control
// plane, or expired.
type APIKeyVerifier interface {
	VerifyAPIKey(ctx context.Context, key string) (*APIKey, error)
}

// QualifiedUser appends the super tenant's domain to a user name that has none.
func QualifiedUser(sub string) string {
	if sub == "" || strings.Contains(sub, "@") {
		return sub
	}
	return sub + "@carbon.super"
}
