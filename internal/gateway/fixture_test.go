package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keyway/keyway/internal/events"
	"github.com/keyway/keyway/internal/gateway"
	"github.com/keyway/keyway/internal/gateway/gatewaytest"
	"github.com/keyway/keyway/internal/keystore"
	"github.com/keyway/keyway/internal/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

const (
	kmResident = "Resident Key Manager"
	kmIS       = "WSO2IS7"
)

// fixture is one gateway in front of fake key managers and backends.
type fixture struct {
	t        testing.TB
	km, km2  *gatewaytest.KeyManager
	backendA *httptest.Server
	backendB *httptest.Server
	sandbox  *httptest.Server
	signer   *keystore.KeyStore
	source   *gatewaytest.Static
	snap     *runtime.Snapshot
	bus      events.Bus
	gw       *gateway.Gateway
	srv      *httptest.Server
	reg      *prometheus.Registry
}

type fixtureOpts struct {
	bus     events.Bus
	redis   *redis.Client
	apiKeys gateway.APIKeyVerifier
	shared  *fixture // reuse key managers, backends and snapshot of another node
	source  interface {
		Snapshot(ctx context.Context) (*runtime.Snapshot, error)
	}
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError}))
}

// closedURL returns an http URL on which nothing listens.
func closedURL(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func newFixture(t testing.TB, o fixtureOpts) *fixture {
	t.Helper()
	f := &fixture{t: t}
	if s := o.shared; s != nil {
		f.km, f.km2, f.backendA, f.backendB, f.sandbox, f.signer, f.snap = s.km, s.km2, s.backendA, s.backendB, s.sandbox, s.signer, s.snap
	} else {
		f.km = gatewaytest.NewKeyManager(t, kmResident)
		f.km2 = gatewaytest.NewKeyManager(t, kmIS)
		f.backendA = gatewaytest.Backend(t, "A")
		f.backendB = gatewaytest.Backend(t, "B")
		f.sandbox = gatewaytest.Backend(t, "SB")
		ks, err := keystore.Generate("gateway", []string{"localhost"})
		if err != nil {
			t.Fatal(err)
		}
		f.signer = ks
		f.snap = f.buildSnapshot()
	}
	f.source = gatewaytest.NewStatic(f.snap)
	f.bus = o.bus
	if f.bus == nil {
		f.bus = events.NewLocal()
	}
	f.reg = prometheus.NewRegistry()
	var src interface {
		Snapshot(ctx context.Context) (*runtime.Snapshot, error)
	} = f.source
	if o.source != nil {
		src = o.source
	}
	gw, err := gateway.New(context.Background(), gateway.Config{Source: src, Bus: f.bus, Signer: f.signer,
		Redis: o.redis, Logger: quietLogger(), Metrics: f.reg, APIKeys: o.apiKeys, JWKSMinRefetch: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	f.gw = gw
	f.srv = httptest.NewServer(gw.GatewayHandler())
	t.Cleanup(func() {
		f.srv.Close()
		_ = gw.Close(context.Background())
	})
	return f
}

func ep(urls ...string) []runtime.Endpoint {
	var out []runtime.Endpoint
	for _, u := range urls {
		out = append(out, runtime.Endpoint{URL: u})
	}
	return out
}

func api(uuid, name, ctx, version string, res []runtime.Resource, prod []runtime.Endpoint) runtime.API {
	return runtime.API{UUID: uuid, Name: name, Version: version, Context: ctx, Type: "HTTP", LifecycleState: "PUBLISHED",
		SecuritySchemes: []string{"oauth2"}, KeyManagers: []string{"all"}, Resources: res,
		Endpoints: runtime.EndpointConfig{Type: "http", Production: prod}, Organization: "carbon.super"}
}

func get(tmpl string) runtime.Resource {
	return runtime.Resource{Verb: "GET", URITemplate: tmpl, AuthType: "Any"}
}

func (f *fixture) buildSnapshot() *runtime.Snapshot {
	a, b, sb := f.backendA.URL, f.backendB.URL, f.sandbox.URL
	down := closedURL(f.t)
	pizza := api("api-pizza", "PizzaShackAPI", "/pizzashack", "1.0.0", []runtime.Resource{
		get("/menu"),
		{Verb: "POST", URITemplate: "/order", AuthType: "Any", Scopes: []string{"order:write"}},
		get("/order/{orderId}"),
		{Verb: "DELETE", URITemplate: "/order/{orderId}", AuthType: "Any", Scopes: []string{"admin"}},
		{Verb: "GET", URITemplate: "/open", AuthType: "None"},
		get("/files/*"),
	}, ep(a+"/api"))
	pizza.IsDefaultVersion = true
	pizza.SecuritySchemes = []string{"oauth2", "api_key"}
	pizza.Endpoints.Sandbox = ep(sb)
	pizza.CORS = &runtime.CORS{Enabled: true, AllowOrigins: []string{"https://app.example.com"},
		AllowHeaders: []string{"authorization", "content-type"}, AllowMethods: []string{"GET", "POST"}}

	blocked := api("api-blocked", "Blocked", "/blocked", "v1", []runtime.Resource{get("/*")}, ep(a))
	blocked.LifecycleState = "BLOCKED"
	created := api("api-created", "Created", "/created", "v1", []runtime.Resource{get("/*")}, ep(a))
	created.LifecycleState = "CREATED"
	kmOnly := api("api-km", "KMOnly", "/kmonly", "v1", []runtime.Resource{get("/*")}, ep(a))
	kmOnly.KeyManagers = []string{kmIS}
	subT := api("api-sub", "SubThrottled", "/subthrottle", "v1", []runtime.Resource{get("/*")}, ep(a))
	adv := api("api-adv", "AdvThrottled", "/advthrottle", "v1", []runtime.Resource{get("/*")}, ep(a))
	adv.Policy = "Adv2"
	slow := api("api-slow", "Slow", "/slow", "v1", []runtime.Resource{get("/*")},
		[]runtime.Endpoint{{URL: a + "/slow", TimeoutMillis: 200}})
	dn := api("api-down", "Down", "/down", "v1", []runtime.Resource{get("/*")}, ep(down))
	fo := api("api-fo", "Failover", "/fo", "v1", []runtime.Resource{get("/*"), {Verb: "POST", URITemplate: "/*", AuthType: "Any"}}, ep(down, b))
	fo.Endpoints.Type = "failover"
	lb := api("api-lb", "Balanced", "/lb", "v1", []runtime.Resource{get("/*")}, ep(a, b))
	lb.Endpoints.Type = "load_balance"
	vh := api("api-vh", "VHostB", "/vh", "v1", []runtime.Resource{get("/*")}, ep(b))
	vh.VHost = "api.example.com"
	vh2 := api("api-vh2", "VHostA", "/vh", "v1", []runtime.Resource{get("/*")}, ep(a))
	vh2.VHost = "other.example.com"
	vctx := api("api-vctx", "Weather", "/t/{version}/weather", "2.0", []runtime.Resource{
		get("/today"), {Verb: "GET", URITemplate: "/limited", AuthType: "Any", Policy: "Res1"}}, ep(a))
	keyOnly := api("api-key", "KeyOnly", "/keyonly", "v1", []runtime.Resource{get("/*")}, ep(a))
	keyOnly.SecuritySchemes = []string{"api_key"}

	unlimited := runtime.ThrottlePolicy{Name: "Unlimited", Limit: runtime.Limit{Type: "REQUESTCOUNTLIMIT", RequestCount: 0, UnitTime: 1, TimeUnit: "min"}, StopOnQuotaReach: true}
	perMin := func(name string, n int64, stop bool) runtime.ThrottlePolicy {
		return runtime.ThrottlePolicy{Name: name, Limit: runtime.Limit{Type: "REQUESTCOUNTLIMIT", RequestCount: n, UnitTime: 1, TimeUnit: "min"}, StopOnQuotaReach: stop}
	}
	sub := func(app, api, policy, status string) runtime.Subscription {
		return runtime.Subscription{UUID: app + "/" + api, APIUUID: api, ApplicationUUID: app, Policy: policy, Status: status}
	}
	km := func(ck, app, typ, kmName string) runtime.KeyMapping {
		return runtime.KeyMapping{ApplicationUUID: app, ConsumerKey: ck, KeyType: typ, KeyManager: kmName}
	}
	disabled := f.km.Runtime()
	disabled.Name, disabled.Issuer, disabled.Enabled = "Disabled", "https://disabled.example.com/oauth2/token", false
	return &runtime.Snapshot{
		Revision: 1,
		APIs:     []runtime.API{pizza, blocked, created, kmOnly, subT, adv, slow, dn, fo, lb, vh, vh2, vctx, keyOnly},
		Applications: []runtime.Application{
			{ID: 1, UUID: "app-1", Name: "DefaultApplication", Owner: "alice", Policy: "Unlimited"},
			{ID: 2, UUID: "app-2", Name: "Limited", Owner: "bob", Policy: "App2"},
			{ID: 3, UUID: "app-3", Name: "Lonely", Owner: "carol", Policy: "Unlimited"},
			{ID: 4, UUID: "app-4", Name: "Blocked", Owner: "dave", Policy: "Unlimited"},
			{ID: 5, UUID: "app-5", Name: "ProdBlocked", Owner: "erin", Policy: "Unlimited"},
		},
		KeyMappings: []runtime.KeyMapping{
			km("ck1", "app-1", "PRODUCTION", kmResident), km("ck1sb", "app-1", "SANDBOX", kmResident),
			km("ck2", "app-2", "PRODUCTION", kmResident), km("ck3", "app-3", "PRODUCTION", kmResident),
			km("ckIS", "app-1", "PRODUCTION", kmIS), km("ck4", "app-4", "PRODUCTION", kmResident),
			km("ck5", "app-5", "PRODUCTION", kmResident), km("ck5sb", "app-5", "SANDBOX", kmResident),
		},
		Subscriptions: []runtime.Subscription{
			sub("app-1", "api-pizza", "Unlimited", "UNBLOCKED"), sub("app-1", "api-km", "Unlimited", "UNBLOCKED"),
			sub("app-1", "api-sub", "Sub3", "UNBLOCKED"), sub("app-1", "api-adv", "Unlimited", "UNBLOCKED"),
			sub("app-1", "api-slow", "Unlimited", "UNBLOCKED"), sub("app-1", "api-down", "Unlimited", "UNBLOCKED"),
			sub("app-1", "api-fo", "Unlimited", "UNBLOCKED"), sub("app-1", "api-lb", "NoStop1", "UNBLOCKED"),
			sub("app-1", "api-vh", "Unlimited", "UNBLOCKED"), sub("app-1", "api-vh2", "Unlimited", "UNBLOCKED"),
			sub("app-1", "api-vctx", "Unlimited", "UNBLOCKED"), sub("app-1", "api-key", "Unlimited", "UNBLOCKED"),
			sub("app-1", "api-blocked", "Unlimited", "UNBLOCKED"),
			sub("app-2", "api-pizza", "Unlimited", "UNBLOCKED"),
			sub("app-4", "api-pizza", "Unlimited", "BLOCKED"),
			sub("app-5", "api-pizza", "Unlimited", "PROD_ONLY_BLOCKED"),
		},
		SubscriptionPolicies: []runtime.ThrottlePolicy{unlimited, perMin("Sub3", 3, true), perMin("NoStop1", 1, false), perMin("Cluster100", 100, true)},
		ApplicationPolicies:  []runtime.ThrottlePolicy{unlimited, perMin("App2", 2, true)},
		APIPolicies: []runtime.APIPolicy{
			{Name: "Adv2", ApplyLevel: "apiLevel", Limit: runtime.Limit{Type: "REQUESTCOUNTLIMIT", RequestCount: 2, UnitTime: 1, TimeUnit: "min"}},
			{Name: "Res1", ApplyLevel: "resourceLevel", Limit: runtime.Limit{Type: "REQUESTCOUNTLIMIT", RequestCount: 1, UnitTime: 1, TimeUnit: "min"}},
		},
		KeyManagers: []runtime.KeyManager{f.km.Runtime(), f.km2.Runtime(), disabled},
		BackendJWT:  runtime.BackendJWT{Enabled: true},
	}
}

// token mints a JWT of the resident key manager for consumer key ck.
func (f *fixture) token(ck, scope string) string {
	return f.km.Mint(f.t, gatewaytest.Claims{"azp": ck, "sub": "alice", "scope": scope, "aut": "APPLICATION_USER"})
}

// call is one request with its expectations (Tyk-style).
type call struct {
	name    string
	method  string
	path    string
	host    string
	headers map[string]string
	code    int
	fault   int    // expected fault code, 0 for none
	body    string // substring the body must contain
	header  map[string]string
}

type result struct {
	code   int
	header http.Header
	body   string
	echo   gatewaytest.Echo
	fault  struct {
		Fault struct {
			Code        int    `json:"code"`
			Message     string `json:"message"`
			Description string `json:"description"`
		} `json:"fault"`
	}
}

func (f *fixture) do(t *testing.T, c call) result {
	t.Helper()
	return doAt(t, f.srv.URL, c)
}

func doAt(t *testing.T, base string, c call) result {
	t.Helper()
	method := c.method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequest(method, base+c.path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.host != "" {
		req.Host = c.host
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, c.path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := result{code: resp.StatusCode, header: resp.Header, body: string(b)}
	if resp.StatusCode < 300 {
		_ = json.Unmarshal(b, &r.echo)
	} else {
		_ = json.Unmarshal(b, &r.fault)
	}
	return r
}

func check(t *testing.T, r result, c call) {
	t.Helper()
	if c.code != 0 && r.code != c.code {
		t.Errorf("%s: status %d, want %d; body %s", c.name, r.code, c.code, r.body)
	}
	if c.fault != 0 {
		if r.fault.Fault.Code != c.fault {
			t.Errorf("%s: fault code %d, want %d; body %s", c.name, r.fault.Fault.Code, c.fault, r.body)
		}
		if r.header.Get("Content-Type") != "application/json; charset=UTF-8" {
			t.Errorf("%s: fault content type %q", c.name, r.header.Get("Content-Type"))
		}
	}
	if c.body != "" && !strings.Contains(r.body, c.body) {
		t.Errorf("%s: body %s does not contain %s", c.name, r.body, c.body)
	}
	for k, v := range c.header {
		if got := r.header.Get(k); got != v {
			t.Errorf("%s: header %s = %q, want %q", c.name, k, got, v)
		}
	}
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
