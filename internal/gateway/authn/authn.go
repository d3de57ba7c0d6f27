package authn

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/keyway/keyway/internal/gateway/fault"
	"github.com/keyway/keyway/internal/gateway/jwks"
	"github.com/keyway/keyway/internal/gateway/revocation"
	"github.com/keyway/keyway/internal/gateway/snapshot"
)

// Config wires an Authenticator.
type Config struct {
	JWKS *jwks.Cache
	// Client calls introspection endpoints (the truststore's client).
	Client  *http.Client
	Revoked *revocation.Set
	// APIKeys verifies apikey headers; nil rejects API keys.
	APIKeys APIKeyVerifier
	// ClockSkew tolerates clock differences on exp/nbf (default 5 min, as
	// APIM's timestamp skew).
	ClockSkew time.Duration
	// CacheSize bounds the verified-token cache (default 100000);
	// CacheTTL caps an entry's life (default 15 min, never past exp).
	CacheSize int
	CacheTTL  time.Duration
	// DisableCache verifies every request (benchmarks only).
	DisableCache bool
	Now          func() time.Time
}

// negativeTTL is how long a token found invalid is remembered, so a flood
// of bad tokens costs neither signature checks nor introspection calls.
const negativeTTL = 30 * time.Second

// Authenticator turns request credentials into a Principal.
type Authenticator struct {
	cfg   Config
	cache *cache
}

// New returns an Authenticator.
func New(cfg Config) *Authenticator {
	if cfg.ClockSkew <= 0 {
		cfg.ClockSkew = 5 * time.Minute
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = 15 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Revoked == nil {
		cfg.Revoked = revocation.NewSet()
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	return &Authenticator{cfg: cfg, cache: newCache(cfg.CacheSize)}
}

// Flush empties the verified-token cache (key manager configuration changed).
func (a *Authenticator) Flush() { a.cache.flush() }

// Errors of the credential parsing step.
var (
	errInvalidJWT = fault.Invalid("Invalid JWT token. Make sure you have provided the correct security credentials")
	errInvalid    = fault.Invalid("Invalid Credentials. Make sure you have provided the correct security credentials")
	errKMNotAllow = fault.Invalid("Key manager of the token is not allowed for this API")
	errAPIKey     = fault.Invalid("Invalid API Key")
)

// Authenticate reads the Authorization (Bearer) or apikey header allowed by
// the API's security schemes and returns the caller.
func (a *Authenticator) Authenticate(ctx context.Context, snap *snapshot.Snapshot, api *snapshot.API, h http.Header) (*Principal, *fault.Fault) {
	if api.OAuth2 {
		if v := h.Get("Authorization"); v != "" {
			token, ok := bearer(v)
			if !ok {
				return nil, fault.ErrMissingCredentials
			}
			return a.token(ctx, snap, api, token)
		}
	}
	if api.APIKey {
		if k := h.Get("apikey"); k != "" {
			return a.apiKey(ctx, k)
		}
	}
	return nil, fault.ErrMissingCredentials
}

func bearer(v string) (string, bool) {
	if len(v) > 7 && strings.EqualFold(v[:7], "Bearer ") {
		t := strings.TrimSpace(v[7:])
		return t, t != ""
	}
	return "", false
}

func (a *Authenticator) token(ctx context.Context, snap *snapshot.Snapshot, api *snapshot.API, token string) (*Principal, *fault.Fault) {
	now := a.cfg.Now()
	var k cacheKey
	if !a.cfg.DisableCache {
		k = a.cache.key(KindJWT, token)
		if e, ok := a.cache.get(k, token, now); ok {
			if e.p == nil {
				return nil, errInvalid
			}
			return a.check(snap, api, e.p, token, now)
		}
	}
	var (
		p   *Principal
		f   *fault.Fault
		neg bool
	)
	if strings.Count(token, ".") == 2 {
		p, f, neg = a.verifyJWT(ctx, snap, api, token, now)
	} else {
		p, f, neg = a.introspect(ctx, snap, api, token, now)
	}
	if a.cfg.DisableCache {
		if f != nil {
			return nil, f
		}
		return a.check(snap, api, p, token, now)
	}
	if f != nil {
		if neg {
			a.cache.put(k, token, nil, now.Add(negativeTTL))
		}
		return nil, f
	}
	exp := now.Add(a.cfg.CacheTTL)
	if !p.Expiry.IsZero() && p.Expiry.Before(exp) {
		exp = p.Expiry
	}
	a.cache.put(k, token, p, exp)
	return a.check(snap, api, p, token, now)
}

// check applies what can change while a principal is cached: expiry,
// revocation, and whether its key manager is still trusted and allowed.
func (a *Authenticator) check(snap *snapshot.Snapshot, api *snapshot.API, p *Principal, token string, now time.Time) (*Principal, *fault.Fault) {
	if !p.Expiry.IsZero() && now.After(p.Expiry.Add(a.cfg.ClockSkew)) {
		return nil, errInvalidJWT
	}
	rv := a.cfg.Revoked
	if rv.Revoked(p.TokenID) || (p.Kind == KindOpaque && rv.Revoked(token)) {
		return nil, errInvalidJWT
	}
	if rv.ClientRevoked(p.ConsumerKey, p.IssuedAt) {
		return nil, errInvalidJWT
	}
	if p.Kind == KindAPIKey {
		return p, nil
	}
	if snap.KeyManagerByName(p.KeyManager) == nil {
		return nil, errInvalid
	}
	if !api.AllowsKeyManager(p.KeyManager) {
		return nil, errKMNotAllow
	}
	return p, nil
}

func (a *Authenticator) apiKey(ctx context.Context, key string) (*Principal, *fault.Fault) {
	if a.cfg.APIKeys == nil {
		return nil, errAPIKey
	}
	now := a.cfg.Now()
	k := a.cache.key(KindAPIKey, key)
	if e, ok := a.cache.get(k, key, now); ok && !a.cfg.DisableCache {
		if e.p == nil {
			return nil, errAPIKey
		}
		if a.cfg.Revoked.Revoked(e.p.TokenID) {
			return nil, errAPIKey
		}
		return e.p, nil
	}
	ak, err := a.cfg.APIKeys.VerifyAPIKey(ctx, key)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			a.cache.put(k, key, nil, now.Add(negativeTTL))
		}
		return nil, errAPIKey
	}
	if !ak.Expiry.IsZero() && now.After(ak.Expiry.Add(a.cfg.ClockSkew)) {
		return nil, errAPIKey
	}
	p := &Principal{Kind: KindAPIKey, Subject: ak.Subject, User: QualifiedUser(ak.Subject), TokenID: ak.ID, Expiry: ak.Expiry, APIKey: ak,
		ApplicationToken: true, IssuedAt: ak.IssuedAt.Unix()}
	if a.cfg.Revoked.Revoked(p.TokenID) {
		return nil, errAPIKey
	}
	exp := now.Add(a.cfg.CacheTTL)
	if !ak.Expiry.IsZero() && ak.Expiry.Before(exp) {
		exp = ak.Expiry
	}
	a.cache.put(k, key, p, exp)
	return p, nil
}
