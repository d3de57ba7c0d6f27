package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/keyway/keyway/internal/events"
	"github.com/keyway/keyway/internal/gateway"
	"github.com/keyway/keyway/internal/gateway/apikey"
	"github.com/keyway/keyway/internal/runtime"
)

const apiKeyIssuer = "https://cp.example.com:9443/apikey"

// withAPIKeyIssuers returns a copy of snap (a newer revision) trusting the
// given API-key issuers.
func withAPIKeyIssuers(snap *runtime.Snapshot, revision int64, issuers ...runtime.APIKeyIssuer) *runtime.Snapshot {
	next := *snap
	next.Revision = revision
	next.APIKeyIssuers = issuers
	return &next
}

// TestAPIKeysFromSnapshot: with no APIKeys override, the gateway trusts
// exactly the API-key issuers of the snapshot it serves.
func TestAPIKeysFromSnapshot(t *testing.T) {
	ks := mustKeystore(t)
	issuer := apikey.Issuer{Key: ks.Key, KeyID: ks.KeyID(), Name: apiKeyIssuer}
	f := newFixture(t, fixtureOpts{})
	ctx := context.Background()
	issue := func(app string, permitted ...string) (string, string) {
		t.Helper()
		key, jti, err := issuer.Issue(apikey.Application{UUID: app, Name: "DefaultApplication", Owner: "alice", Tier: "Unlimited"},
			"alice@carbon.super", "PRODUCTION", permitted, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return key, jti
	}
	key, _ := issue("app-1", "api-key", "api-pizza", "api-sub")
	pizzaOnly, _ := issue("app-1", "api-pizza")
	revokedByEvent, jtiEvent := issue("app-1", "api-key")
	revokedBySnapshot, jtiSnapshot := issue("app-1", "api-key")
	otherName, _, _ := apikey.Issuer{Key: ks.Key, KeyID: ks.KeyID(), Name: "https://elsewhere.example.com/apikey"}.Issue(
		apikey.Application{UUID: "app-1"}, "alice", "PRODUCTION", nil, time.Hour)
	apiKey := func(k string) map[string]string { return map[string]string{"apikey": k} }

	// No issuer in the snapshot: no API key is trusted.
	check(t, f.do(t, call{path: "/keyonly/v1/x", headers: apiKey(key)}), call{name: "no issuer", code: 401, fault: 900901})

	f.source.Set(withAPIKeyIssuers(f.snap, 2, runtime.APIKeyIssuer{Issuer: apiKeyIssuer, CertificatePEM: string(ks.CertificatePEM())},
		runtime.APIKeyIssuer{Issuer: "https://broken.example.com/apikey", CertificatePEM: "not a certificate"}))
	if err := f.gw.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []call{
		{name: "api key only api", path: "/keyonly/v1/x", headers: apiKey(key), code: 200},
		{name: "oauth2 and api_key api", path: "/pizzashack/1.0.0/menu", headers: apiKey(key), code: 200, body: `"path":"/api/menu"`},
		{name: "api without api_key scheme", path: "/subthrottle/v1/x", headers: apiKey(key), code: 401, fault: 900902},
		{name: "api not permitted by the key", path: "/keyonly/v1/x", headers: apiKey(pizzaOnly), code: 403, fault: 900908},
		{name: "permitted api", path: "/pizzashack/1.0.0/menu", headers: apiKey(pizzaOnly), code: 200},
		{name: "issuer not in snapshot", path: "/keyonly/v1/x", headers: apiKey(otherName), code: 401, fault: 900901},
		{name: "garbage", path: "/keyonly/v1/x", headers: apiKey("a.b.c"), code: 401, fault: 900901},
		{name: "before revocation (event)", path: "/keyonly/v1/x", headers: apiKey(revokedByEvent), code: 200},
	} {
		t.Run(c.name, func(t *testing.T) { check(t, f.do(t, c), c) })
	}

	// Revocation by event (what the devportal's revoke fans out), with the
	// key already in the verified cache.
	if err := f.bus.Publish(ctx, events.New(events.TokenRevoked,
		runtime.RevokedToken{Token: jtiEvent, TokenType: "API_KEY", ExpiryMillis: time.Now().Add(time.Hour).UnixMilli()})); err != nil {
		t.Fatal(err)
	}
	check(t, f.do(t, call{path: "/keyonly/v1/x", headers: apiKey(revokedByEvent)}), call{name: "revoked by event", code: 401, fault: 900901})

	// Revocation carried by the snapshot (a gateway that missed the event).
	next := withAPIKeyIssuers(f.snap, 3, runtime.APIKeyIssuer{Issuer: apiKeyIssuer, CertificatePEM: string(ks.CertificatePEM())})
	next.RevokedTokens = []runtime.RevokedToken{{Token: jtiSnapshot, TokenType: "API_KEY"}}
	f.source.Set(next)
	if err := f.gw.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	check(t, f.do(t, call{path: "/keyonly/v1/x", headers: apiKey(revokedBySnapshot)}), call{name: "revoked by snapshot", code: 401, fault: 900901})
	check(t, f.do(t, call{path: "/keyonly/v1/x", headers: apiKey(key)}), call{name: "others still valid", code: 200})

	// The issuer leaves the snapshot: even a cached key stops working.
	f.source.Set(withAPIKeyIssuers(f.snap, 4))
	if err := f.gw.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	check(t, f.do(t, call{path: "/keyonly/v1/x", headers: apiKey(key)}), call{name: "issuer removed", code: 401, fault: 900901})
}

// TestAPIKeysOnGatewayOnlyNode: the issuers travel in the snapshot JSON a
// gateway-only node pulls, so it verifies keys without configuration.
func TestAPIKeysOnGatewayOnlyNode(t *testing.T) {
	ks := mustKeystore(t)
	issuer := apikey.Issuer{Key: ks.Key, KeyID: ks.KeyID(), Name: apiKeyIssuer}
	base := newFixture(t, fixtureOpts{})
	snap := withAPIKeyIssuers(base.snap, 7, runtime.APIKeyIssuer{Issuer: apiKeyIssuer, CertificatePEM: string(ks.CertificatePEM())})
	cp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != gateway.SnapshotPath {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(snap)
	}))
	t.Cleanup(cp.Close)
	node := newFixture(t, fixtureOpts{shared: base, source: gateway.NewRemoteSource(cp.URL, cp.Client(), "", "")})
	if node.gw.Revision() != 7 {
		t.Fatalf("remote snapshot not loaded: revision %d", node.gw.Revision())
	}
	key, _, err := issuer.Issue(apikey.Application{UUID: "app-1"}, "alice@carbon.super", "PRODUCTION", []string{"api-key"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	check(t, node.do(t, call{path: "/keyonly/v1/x", headers: map[string]string{"apikey": key}}), call{name: "remote node", code: 200})
}
