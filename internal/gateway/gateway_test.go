package gateway_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/keyway/keyway/internal/events"
	"github.com/keyway/keyway/internal/gateway"
	"github.com/keyway/keyway/internal/gateway/apikey"
	"github.com/keyway/keyway/internal/gateway/gatewaytest"
	"github.com/keyway/keyway/internal/runtime"
	"go.opentelemetry.io/otel/trace/noop"
)

func TestGatewayTable(t *testing.T) {
	ks := mustKeystore(t)
	issuer := apikey.Issuer{Key: ks.Key, KeyID: ks.KeyID(), Name: "https://localhost:9443/oauth2/token"}
	pub, _ := ks.RSAKey()
	f := newFixture(t, fixtureOpts{apiKeys: apikey.Verifier{Key: &pub.PublicKey, Issuer: issuer.Name}})

	good := f.token("ck1", "default")
	otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	forged := gatewaytest.MintWith(t, otherKey, "whatever", jose.RS256, f.km.Issuer, gatewaytest.Claims{"azp": "ck1"})
	hs := gatewaytest.MintWith(t, []byte("0123456789abcdef0123456789abcdef"), "", jose.HS256, f.km.Issuer, gatewaytest.Claims{"azp": "ck1"})
	expired := f.km.Mint(t, gatewaytest.Claims{"azp": "ck1", "exp": time.Now().Add(-time.Hour).Unix()})
	notYet := f.km.Mint(t, gatewaytest.Claims{"azp": "ck1", "nbf": time.Now().Add(time.Hour).Unix()})
	noAzp := f.km.Mint(t, gatewaytest.Claims{"sub": "alice"})
	unknownIss := gatewaytest.MintWith(t, otherKey, "k", jose.RS256, "https://nobody.example.com", gatewaytest.Claims{"azp": "ck1"})
	f.km.IssueOpaque("opaque-good-token", map[string]any{"client_id": "ck1", "scope": "default", "username": "alice@carbon.super"})
	key, _, err := issuer.Issue(apikey.Application{UUID: "app-1", Name: "DefaultApplication", Owner: "alice"}, "alice", "PRODUCTION", nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	lonelyKey, _, _ := issuer.Issue(apikey.Application{UUID: "app-3"}, "carol", "PRODUCTION", nil, time.Hour)
	foreignKey, _, _ := apikey.Issuer{Key: otherKey, KeyID: "x", Name: issuer.Name}.Issue(apikey.Application{UUID: "app-1"}, "alice", "PRODUCTION", nil, time.Hour)
	cors := map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"}

	cases := []call{
		{name: "versioned path", path: "/pizzashack/1.0.0/menu", headers: bearer(good), code: 200, body: `"path":"/api/menu"`},
		{name: "default version", path: "/pizzashack/menu", headers: bearer(good), code: 200, body: `"path":"/api/menu"`},
		{name: "path param", path: "/pizzashack/1.0.0/order/42", headers: bearer(good), code: 200, body: `"path":"/api/order/42"`},
		{name: "query kept", path: "/pizzashack/1.0.0/menu?size=large&x=1", headers: bearer(good), code: 200, body: `"query":"size=large\u0026x=1"`},
		{name: "wildcard", path: "/pizzashack/1.0.0/files/a/b/c.txt", headers: bearer(good), code: 200, body: `"path":"/api/files/a/b/c.txt"`},
		{name: "scope present", method: "POST", path: "/pizzashack/1.0.0/order", headers: bearer(f.token("ck1", "default order:write")), code: 200},
		{name: "one of several scopes", method: "DELETE", path: "/pizzashack/1.0.0/order/1", headers: bearer(f.token("ck1", "x admin")), code: 200, body: `"method":"DELETE"`},
		{name: "scope missing", method: "POST", path: "/pizzashack/1.0.0/order", headers: bearer(good), code: 403, fault: 900910},
		{name: "no credentials", path: "/pizzashack/1.0.0/menu", code: 401, fault: 900902},
		{name: "basic instead of bearer", path: "/pizzashack/1.0.0/menu", headers: map[string]string{"Authorization": "Basic YWRtaW46YWRtaW4="}, code: 401, fault: 900902},
		{name: "garbage jwt", path: "/pizzashack/1.0.0/menu", headers: bearer("abc.def.ghi"), code: 401, fault: 900901},
		{name: "expired", path: "/pizzashack/1.0.0/menu", headers: bearer(expired), code: 401, fault: 900901, body: "expired"},
		{name: "not yet valid", path: "/pizzashack/1.0.0/menu", headers: bearer(notYet), code: 401, fault: 900901},
		{name: "forged signature", path: "/pizzashack/1.0.0/menu", headers: bearer(forged), code: 401, fault: 900901},
		{name: "hs256 refused", path: "/pizzashack/1.0.0/menu", headers: bearer(hs), code: 401, fault: 900901},
		{name: "unknown issuer", path: "/pizzashack/1.0.0/menu", headers: bearer(unknownIss), code: 401, fault: 900901},
		{name: "no azp", path: "/pizzashack/1.0.0/menu", headers: bearer(noAzp), code: 403, fault: 900908},
		{name: "unknown consumer key", path: "/pizzashack/1.0.0/menu", headers: bearer(f.token("nobody", "")), code: 403, fault: 900908},
		{name: "not subscribed", path: "/pizzashack/1.0.0/menu", headers: bearer(f.token("ck3", "")), code: 403, fault: 900908},
		{name: "subscription blocked", path: "/pizzashack/1.0.0/menu", headers: bearer(f.token("ck4", "")), code: 403, fault: 900907, body: "temporarily blocked"},
		{name: "prod-only blocked, prod key", path: "/pizzashack/1.0.0/menu", headers: bearer(f.token("ck5", "")), code: 403, fault: 900907},
		{name: "prod-only blocked, sandbox key", path: "/pizzashack/1.0.0/menu", headers: bearer(f.token("ck5sb", "")), code: 200, body: `"backend":"SB"`},
		{name: "sandbox key", path: "/pizzashack/1.0.0/menu", headers: bearer(f.token("ck1sb", "")), code: 200, body: `"backend":"SB"`},
		{name: "sandbox key, no sandbox endpoint", path: "/subthrottle/v1/x", headers: bearer(f.token("ck1sb", "")), code: 401, fault: 900901},
		{name: "key manager not allowed", path: "/kmonly/v1/x", headers: bearer(good), code: 401, fault: 900901},
		{name: "allowed key manager", path: "/kmonly/v1/x", headers: bearer(f.km2.Mint(t, gatewaytest.Claims{"azp": "ckIS"})), code: 200},
		{name: "api blocked", path: "/blocked/v1/x", headers: bearer(good), code: 503, fault: 700700},
		{name: "api not published", path: "/created/v1/x", headers: bearer(good), code: 404, fault: 404},
		{name: "no api", path: "/nothing/here", headers: bearer(good), code: 404, fault: 404, body: "No matching resource found for given API Request"},
		{name: "no resource", path: "/pizzashack/1.0.0/drinks", headers: bearer(good), code: 404, fault: 404},
		{name: "wrong verb", method: "PUT", path: "/pizzashack/1.0.0/menu", headers: bearer(good), code: 405, fault: 405},
		{name: "open resource", path: "/pizzashack/1.0.0/open", code: 200, body: `"path":"/api/open"`},
		{name: "vhost B", path: "/vh/v1/x", host: "api.example.com:8243", headers: bearer(good), code: 200, body: `"backend":"B"`},
		{name: "vhost A", path: "/vh/v1/x", host: "Other.Example.com", headers: bearer(good), code: 200, body: `"backend":"A"`},
		{name: "vhost fallback", path: "/pizzashack/1.0.0/menu", host: "unknown.example.com", headers: bearer(good), code: 200},
		{name: "version in context", path: "/t/2.0/weather/today", headers: bearer(good), code: 200, body: `"path":"/today"`},
		{name: "opaque token", path: "/pizzashack/1.0.0/menu", headers: bearer("opaque-good-token"), code: 200},
		{name: "opaque unknown", path: "/pizzashack/1.0.0/menu", headers: bearer("opaque-bad-token"), code: 401, fault: 900901},
		{name: "api key", path: "/keyonly/v1/x", headers: map[string]string{"apikey": key}, code: 200},
		{name: "api key on oauth+apikey api", path: "/pizzashack/1.0.0/menu", headers: map[string]string{"apikey": key}, code: 200},
		{name: "bearer on api-key-only api", path: "/keyonly/v1/x", headers: bearer(good), code: 401, fault: 900902},
		{name: "api key forged", path: "/keyonly/v1/x", headers: map[string]string{"apikey": foreignKey}, code: 401, fault: 900901},
		{name: "api key not subscribed", path: "/keyonly/v1/x", headers: map[string]string{"apikey": lonelyKey}, code: 403, fault: 900908},
		{name: "cors preflight", method: "OPTIONS", path: "/pizzashack/1.0.0/order", headers: cors, code: 200,
			header: map[string]string{"Access-Control-Allow-Origin": "https://app.example.com", "Access-Control-Allow-Methods": "GET,POST", "Access-Control-Allow-Headers": "authorization,content-type"}},
		{name: "cors actual", path: "/pizzashack/1.0.0/menu", headers: map[string]string{"Authorization": "Bearer " + good, "Origin": "https://app.example.com"}, code: 200,
			header: map[string]string{"Access-Control-Allow-Origin": "https://app.example.com"}},
		{name: "cors on fault", path: "/pizzashack/1.0.0/menu", headers: map[string]string{"Origin": "https://app.example.com"}, code: 401, fault: 900902,
			header: map[string]string{"Access-Control-Allow-Origin": "https://app.example.com"}},
		{name: "cors other origin", method: "OPTIONS", path: "/pizzashack/1.0.0/order", headers: map[string]string{"Origin": "https://evil.example.com"}, code: 200,
			header: map[string]string{"Access-Control-Allow-Origin": "", "Allow": "POST,OPTIONS"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { check(t, f.do(t, c), c) })
	}
}

func TestBackendRequestShape(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	r := f.do(t, call{path: "/pizzashack/1.0.0/order/a%2Fb?q=1", headers: map[string]string{"Authorization": "Bearer " + f.token("ck1", "default"),
		"Connection": "keep-alive, X-Hop", "X-Hop": "drop-me", "X-Custom": "kept"}})
	if r.code != 200 {
		t.Fatalf("status %d: %s", r.code, r.body)
	}
	e := r.echo
	if len(e.Header["Authorization"]) != 0 {
		t.Error("the caller's Authorization header reached the backend")
	}
	if len(e.Header["X-Hop"]) != 0 {
		t.Error("a hop-by-hop header named in Connection reached the backend")
	}
	if e.Header["X-Custom"][0] != "kept" || e.Header["X-Forwarded-For"] == nil || e.Header["X-Forwarded-Proto"][0] != "http" {
		t.Errorf("headers at backend: %v", e.Header)
	}
	if e.RawPath != "/api/order/a%2Fb" {
		t.Errorf("escaped path at backend %q (path %q)", e.RawPath, e.Path)
	}
	if !strings.HasPrefix(f.backendA.URL, "http://"+e.Host) {
		t.Errorf("backend saw Host %q", e.Host)
	}
	assertion := e.Header["X-Jwt-Assertion"]
	if len(assertion) != 1 {
		t.Fatalf("no X-JWT-Assertion: %v", e.Header)
	}
	jws, err := jose.ParseSignedCompact(assertion[0], []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := f.signer.RSAKey()
	payload, err := jws.Verify(&pub.PublicKey)
	if err != nil {
		t.Fatalf("backend JWT not signed by the gateway key: %v", err)
	}
	for _, want := range []string{`"http://wso2.org/claims/apiname":"PizzaShackAPI"`, `"http://wso2.org/claims/applicationUUId":"app-1"`,
		`"http://wso2.org/claims/keytype":"PRODUCTION"`, `"http://wso2.org/claims/enduser":"alice@carbon.super"`, `"iss":"wso2.org/products/am"`} {
		if !strings.Contains(string(payload), want) {
			t.Errorf("backend JWT lacks %s: %s", want, payload)
		}
	}
}

func TestBackendFaultsAndEndpointLists(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	h := bearer(f.token("ck1", ""))
	check(t, f.do(t, call{path: "/slow/v1/x?sleep=10s", headers: h}), call{name: "timeout", code: 504, fault: 101504})
	check(t, f.do(t, call{path: "/slow/v1/x?sleep=1ms", headers: h}), call{name: "fast enough", code: 200})
	check(t, f.do(t, call{path: "/down/v1/x", headers: h}), call{name: "connection refused", code: 503, fault: 101503})
	check(t, f.do(t, call{path: "/fo/v1/x", headers: h}), call{name: "failover", code: 200, body: `"backend":"B"`})
	seen := map[string]int{}
	for i := 0; i < 4; i++ {
		r := f.do(t, call{path: "/lb/v1/x", headers: h})
		if r.code != 200 {
			t.Fatalf("load balanced call %d: %d (StopOnQuotaReach=false must never block)", i, r.code)
		}
		seen[r.echo.Backend]++
	}
	if seen["A"] != 2 || seen["B"] != 2 {
		t.Errorf("round robin distribution %v", seen)
	}
}

func TestThrottling(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	h := bearer(f.token("ck1", ""))
	cases := []struct {
		name  string
		path  string
		hdr   map[string]string
		limit int
		fault int
	}{
		{"subscription tier", "/subthrottle/v1/x", h, 3, 900802},
		{"api level policy", "/advthrottle/v1/x", h, 2, 900800},
		{"resource level policy", "/t/2.0/weather/limited", h, 1, 900800},
		{"application tier", "/pizzashack/1.0.0/menu", bearer(f.token("ck2", "")), 2, 900801},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for i := 0; i < c.limit; i++ {
				check(t, f.do(t, call{path: c.path, headers: c.hdr}), call{name: "within quota", code: 200})
			}
			r := f.do(t, call{path: c.path, headers: c.hdr})
			check(t, r, call{name: "over quota", code: 429, fault: c.fault, body: "Message throttled out"})
			if ra := r.header.Get("Retry-After"); ra == "" || ra == "0" {
				t.Errorf("Retry-After %q", ra)
			}
		})
	}
	// Another application's quota is separate from app-2's.
	check(t, f.do(t, call{path: "/pizzashack/1.0.0/menu", headers: h}), call{name: "other app", code: 200})
}

func TestJWKSRotationAndCache(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	tok := f.token("ck1", "")
	for i := 0; i < 3; i++ {
		check(t, f.do(t, call{path: "/pizzashack/1.0.0/menu", headers: bearer(tok)}), call{name: "cached", code: 200})
	}
	if n := f.km.JWKSFetches.Load(); n != 1 {
		t.Fatalf("JWKS fetched %d times for one key, want 1", n)
	}
	f.km.Rotate(t)
	check(t, f.do(t, call{path: "/pizzashack/1.0.0/menu", headers: bearer(f.token("ck1", ""))}), call{name: "new kid after rotation", code: 200})
	check(t, f.do(t, call{path: "/pizzashack/1.0.0/menu", headers: bearer(tok)}), call{name: "old kid still valid", code: 200})
	if n := f.km.JWKSFetches.Load(); n != 2 {
		t.Fatalf("JWKS fetched %d times after rotation, want 2", n)
	}
}

func TestSnapshotFollowsEvents(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	h := bearer(f.token("ck1", ""))
	check(t, f.do(t, call{path: "/pizzashack/1.0.0/menu", headers: h}), call{name: "before", code: 200})
	next := *f.snap
	next.Revision = 2
	next.Subscriptions = nil
	f.source.Set(&next)
	if err := f.bus.Publish(context.Background(), eventsNew("SUBSCRIPTIONS_UPDATE")); err != nil {
		t.Fatal(err)
	}
	// An in-process bus: the gateway serves the change once Publish returns.
	if f.gw.Revision() != 2 {
		t.Fatalf("serving revision %d after the event, want 2", f.gw.Revision())
	}
	check(t, f.do(t, call{path: "/pizzashack/1.0.0/menu", headers: h}), call{name: "after unsubscribe", code: 403, fault: 900908})

	// A failing source keeps the last snapshot.
	f.source.Fail(context.DeadlineExceeded)
	if err := f.gw.Reload(context.Background()); err == nil {
		t.Fatal("reload with a failing source reported success")
	}
	check(t, f.do(t, call{path: "/pizzashack/1.0.0/order/1", headers: h}), call{name: "still serving", code: 403, fault: 900908})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestClientCancelIs499AndTracing(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.srv.URL+"/lb/v1/slow?sleep=30s", nil)
	req.Header.Set("Authorization", "Bearer "+f.token("ck1", ""))
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("the slow call returned before the client gave up")
	}
	waitFor(t, func() bool { return metricValue(t, f, "keyway_gateway_api_requests_total", "Balanced", "4xx") == 1 })

	g, err := gateway.New(context.Background(), gateway.Config{Source: f.source, Tracer: noop.NewTracerProvider(), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close(context.Background())
	w := httptest.NewRecorder()
	g.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/pizzashack/1.0.0/open", nil))
	if w.Code != 200 {
		t.Fatalf("with tracing: %d %s", w.Code, w.Body)
	}
}

func metricValue(t *testing.T, f *fixture, name, api, code string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["api"] == api && labels["code"] == code {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// countingSource counts snapshot reads.
type countingSource struct {
	*gatewaytest.Static
	n atomic.Int64
}

func (c *countingSource) Snapshot(ctx context.Context) (*runtime.Snapshot, error) {
	c.n.Add(1)
	return c.Static.Snapshot(ctx)
}

func TestConcurrentEventsCoalesce(t *testing.T) {
	base := newFixture(t, fixtureOpts{})
	src := &countingSource{Static: gatewaytest.NewStatic(base.snap)}
	bus := events.NewLocal()
	g, err := gateway.New(context.Background(), gateway.Config{Source: src, Bus: bus, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close(context.Background())
	next := *base.snap
	next.Revision = 99
	src.Set(&next)
	src.n.Store(0)
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = bus.Publish(context.Background(), events.New(events.APIUpdated, nil))
			if g.Revision() != 99 {
				t.Error("Publish returned before the gateway served the change")
			}
		}()
	}
	wg.Wait()
	if n := src.n.Load(); n < 1 || n > 20 {
		t.Fatalf("%d snapshot reads for 20 events", n)
	}
}
