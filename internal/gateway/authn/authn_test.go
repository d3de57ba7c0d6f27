package authn_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/keyway/keyway/internal/gateway/authn"
	"github.com/keyway/keyway/internal/gateway/gatewaytest"
	"github.com/keyway/keyway/internal/gateway/jwks"
	"github.com/keyway/keyway/internal/gateway/revocation"
	"github.com/keyway/keyway/internal/gateway/snapshot"
	"github.com/keyway/keyway/internal/runtime"
)

func setup(tb testing.TB, disableCache bool) (*authn.Authenticator, *snapshot.Snapshot, *snapshot.API, *gatewaytest.KeyManager, *revocation.Set) {
	km := gatewaytest.NewKeyManager(tb, "Resident Key Manager")
	snap, err := snapshot.Compile(&runtime.Snapshot{
		APIs:        []runtime.API{{UUID: "a", Name: "A", Version: "v1", Context: "/a", KeyManagers: []string{"all"}}},
		KeyManagers: []runtime.KeyManager{km.Runtime()},
	})
	if err != nil {
		tb.Fatal(err)
	}
	cache := jwks.New(http.DefaultClient, jwks.Options{})
	tb.Cleanup(cache.Close)
	set := revocation.NewSet()
	a := authn.New(authn.Config{JWKS: cache, Revoked: set, DisableCache: disableCache})
	return a, snap, snap.APIs[0], km, set
}

func TestPrincipalClaims(t *testing.T) {
	a, snap, api, km, set := setup(t, false)
	tok := km.Mint(t, gatewaytest.Claims{"azp": "ck", "sub": "bob", "scope": "a b", "aut": "APPLICATION", "jti": "j1"})
	h := http.Header{"Authorization": {"Bearer " + tok}}
	p, f := a.Authenticate(context.Background(), snap, api, h)
	if f != nil {
		t.Fatal(f)
	}
	if p.ConsumerKey != "ck" || p.Subject != "bob" || !p.ApplicationToken || p.TokenID != "j1" || p.KeyManager != "Resident Key Manager" ||
		len(p.Scopes) != 2 || !p.HasAnyScope([]string{"x", "b"}) {
		t.Fatalf("principal %+v", p)
	}
	// A cached principal is still checked against revocations.
	set.Add(runtime.RevokedToken{Token: "j1", ExpiryMillis: time.Now().Add(time.Hour).UnixMilli()})
	if _, f := a.Authenticate(context.Background(), snap, api, h); f == nil || f.Code != 900901 {
		t.Fatalf("revoked cached token: %v", f)
	}
	// No jti: the signature segment identifies the token; no scope claim: ["default"].
	tok = km.Mint(t, gatewaytest.Claims{"azp": "ck", "jti": nil})
	p, f = a.Authenticate(context.Background(), snap, api, http.Header{"Authorization": {"Bearer " + tok}})
	if f != nil || p.TokenID != tok[len(tok)-len(p.TokenID):] || len(p.TokenID) < 300 || p.Scopes[0] != "default" {
		t.Fatalf("principal %+v %v", p, f)
	}
}

func benchmarkVerify(b *testing.B, disableCache bool) {
	a, snap, api, km, _ := setup(b, disableCache)
	tok := km.Mint(b, gatewaytest.Claims{"azp": "ck", "scope": "default"})
	h := http.Header{"Authorization": {"Bearer " + tok}}
	ctx := context.Background()
	if _, f := a.Authenticate(ctx, snap, api, h); f != nil {
		b.Fatal(f)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, f := a.Authenticate(ctx, snap, api, h); f != nil {
			b.Fatal(f)
		}
	}
}

// BenchmarkJWTVerifyCached is a repeated token: a hash and a map lookup.
func BenchmarkJWTVerifyCached(b *testing.B) { benchmarkVerify(b, false) }

// BenchmarkJWTVerifyUncached parses, verifies RS256 and decodes claims every time.
func BenchmarkJWTVerifyUncached(b *testing.B) { benchmarkVerify(b, true) }
