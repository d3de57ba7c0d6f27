package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/keyway/keyway/internal/db/dbtest"
	"github.com/keyway/keyway/internal/events"
	"github.com/keyway/keyway/internal/gateway"
	"github.com/keyway/keyway/internal/gateway/revocation"
	"github.com/keyway/keyway/internal/runtime"
	"github.com/keyway/keyway/internal/user"
	"github.com/redis/go-redis/v9"
)

// redisAddr is KEYWAY_TEST_REDIS when set, else a fresh miniredis.
func redisAddr(t *testing.T) (addr string, stop func()) {
	if a := os.Getenv("KEYWAY_TEST_REDIS"); a != "" {
		return a, nil
	}
	m := miniredis.RunT(t)
	return m.Addr(), m.Close
}

func newRedisClient(t *testing.T, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	return c
}

// TestClusterThrottling: two gateway nodes share one 100-per-minute
// subscription quota through Redis; after Redis stops, traffic still flows.
func TestClusterThrottling(t *testing.T) {
	addr, stop := redisAddr(t)
	clientA, clientB := newRedisClient(t, addr), newRedisClient(t, addr)
	a := newFixture(t, fixtureOpts{redis: clientA})
	// A policy name unique to this run keeps a shared real Redis clean.
	unique := "Cluster100-" + time.Now().Format("150405.000000000")
	snap := *a.snap
	snap.Revision = 7
	snap.SubscriptionPolicies = append([]runtime.ThrottlePolicy{}, a.snap.SubscriptionPolicies...)
	for i := range snap.SubscriptionPolicies {
		if snap.SubscriptionPolicies[i].Name == "Cluster100" {
			snap.SubscriptionPolicies[i].Name = unique
		}
	}
	snap.Subscriptions = append([]runtime.Subscription{}, a.snap.Subscriptions...)
	for i := range snap.Subscriptions {
		if snap.Subscriptions[i].APIUUID == "api-sub" {
			snap.Subscriptions[i].Policy = unique
		}
	}
	a.source.Set(&snap)
	if err := a.gw.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	b := newFixture(t, fixtureOpts{redis: clientB, shared: a, source: a.source})

	h := bearer(a.token("ck1", ""))
	admitted, throttled := 0, 0
	for i := 0; i < 150; i++ {
		base := a.srv.URL
		if i%2 == 1 {
			base = b.srv.URL
		}
		r := doAt(t, base, call{path: "/subthrottle/v1/x", headers: h})
		switch r.code {
		case 200:
			admitted++
		case 429:
			throttled++
			if r.fault.Fault.Code != 900802 {
				t.Fatalf("throttle fault %d", r.fault.Fault.Code)
			}
		default:
			t.Fatalf("unexpected status %d: %s", r.code, r.body)
		}
	}
	if admitted < 98 || admitted > 102 {
		t.Fatalf("two nodes admitted %d of 150 on a 100/min policy, want 100±2", admitted)
	}
	if stop == nil {
		// Real Redis: point node B at a closed port instead of stopping Redis.
		dead := newRedisClient(t, strings.TrimPrefix(closedURL(t), "http://"))
		b = newFixture(t, fixtureOpts{redis: dead, shared: a, source: a.source})
	} else {
		stop()
	}
	for i := 0; i < 5; i++ {
		r := doAt(t, b.srv.URL, call{path: "/pizzashack/1.0.0/menu", headers: h})
		if r.code != 200 {
			t.Fatalf("with Redis down: status %d: %s", r.code, r.body)
		}
	}
	// The fallback is counted (pizza's Unlimited tiers skip the limiter, so
	// use an API with a limited policy).
	r := doAt(t, b.srv.URL, call{path: "/advthrottle/v1/x", headers: h})
	if r.code != 200 {
		t.Fatalf("limited API with Redis down: %d %s", r.code, r.body)
	}
	mfs, err := b.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() == "keyway_gateway_throttle_redis_fallback_total" {
			found = mf.GetMetric()[0].GetCounter().GetValue() > 0
		}
	}
	if !found {
		t.Error("keyway_gateway_throttle_redis_fallback_total did not count the fallback")
	}
}

// admin authenticates the IS admin for the notify endpoint.
type admin struct{}

func (admin) Authenticate(_ context.Context, u, p, _ string) (*user.User, error) {
	if u == "admin" && p == "admin" {
		return &user.User{Username: "admin"}, nil
	}
	return nil, user.ErrInvalidCredentials
}

// withRevocations adds the service's persisted revocations to a snapshot,
// as the control plane does.
type withRevocations struct {
	base runtime.Source
	svc  *revocation.Service
}

func (w withRevocations) Snapshot(ctx context.Context) (*runtime.Snapshot, error) {
	s, err := w.base.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	list, err := w.svc.List(ctx)
	if err != nil {
		return nil, err
	}
	out := *s
	out.RevokedTokens = list
	return &out, nil
}

func TestRevocationOnEveryNodeAndAfterRestart(t *testing.T) {
	ctx := context.Background()
	addr, _ := redisAddr(t)
	channel := "keyway:test:" + time.Now().Format("150405.000000000")
	busA, err := events.NewRedis(ctx, newRedisClient(t, addr), channel, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer busA.Close()
	busB, err := events.NewRedis(ctx, newRedisClient(t, addr), channel, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer busB.Close()
	d := dbtest.SQLite(t)
	svc, err := revocation.NewService(ctx, d, busA, admin{}, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	a := newFixture(t, fixtureOpts{bus: busA})
	b := newFixture(t, fixtureOpts{bus: busB, shared: a})
	mux := http.NewServeMux()
	svc.Mount(mux)
	cp := httptest.NewServer(mux)
	defer cp.Close()

	tok := a.token("ck1", "")
	jti := jtiOf(t, tok)
	opaque := "opaque-to-revoke"
	a.km.IssueOpaque(opaque, map[string]any{"client_id": "ck1"})
	for _, n := range []*fixture{a, b} {
		check(t, n.do(t, call{path: "/pizzashack/1.0.0/menu", headers: bearer(tok)}), call{name: "before", code: 200})
		check(t, n.do(t, call{path: "/pizzashack/1.0.0/menu", headers: bearer(opaque)}), call{name: "opaque before", code: 200})
	}
	notify := func(body string) int {
		req, _ := http.NewRequest(http.MethodPost, cp.URL+"/internal/data/v1/notify", strings.NewReader(body))
		req.SetBasicAuth("admin", "admin")
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-WSO2-KEY-MANAGER", "WSO2-IS")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	exp := time.Now().Add(time.Hour).UnixMilli()
	body := `{"accessToken":"` + jti + `","expiryTime":` + itoa(exp) + `,"user":"alice","consumerKey":"ck1","tokenType":"JWT",` +
		`"eventId":"ev-1","timeStamp":1,"type":"token_revocation","tenantId":-1234,"tenantDomain":"carbon.super","properties":{}}`
	if code := notify(body); code != 200 {
		t.Fatalf("notify: %d", code)
	}
	if code := notify(body); code != 200 {
		t.Fatalf("duplicate notify: %d", code)
	}
	opaqueBody := `{"accessToken":"` + opaque + `","expiryTime":` + itoa(exp) + `,"consumerKey":"ck1","tokenType":"Default","eventId":"ev-2","type":"token_revocation","tenantId":-1234,"properties":{}}`
	if code := notify(opaqueBody); code != 200 {
		t.Fatalf("notify opaque: %d", code)
	}
	waitFor(t, func() bool { return b.gw.Revoked().Len() == 2 })
	for i, n := range []*fixture{a, b} {
		check(t, n.do(t, call{path: "/pizzashack/1.0.0/menu", headers: bearer(tok)}), call{name: "revoked jwt node " + itoa(int64(i)), code: 401, fault: 900901})
		check(t, n.do(t, call{path: "/pizzashack/1.0.0/menu", headers: bearer(opaque)}), call{name: "revoked opaque node " + itoa(int64(i)), code: 401, fault: 900901})
		check(t, n.do(t, call{path: "/pizzashack/1.0.0/menu", headers: bearer(a.token("ck1", ""))}), call{name: "other token", code: 200})
	}

	// Restart: a new service on the same database, a new gateway whose
	// source carries the persisted revocations.
	_ = svc.Close()
	svc2, err := revocation.NewService(ctx, d, events.NewLocal(), admin{}, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer svc2.Close()
	list, err := svc2.List(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("persisted revocations %v, %v", list, err)
	}
	for _, r := range list {
		if r.Token == opaque {
			t.Fatal("an opaque token was stored in clear")
		}
	}
	c := newFixture(t, fixtureOpts{shared: a, source: withRevocations{base: a.source, svc: svc2}})
	check(t, c.do(t, call{path: "/pizzashack/1.0.0/menu", headers: bearer(tok)}), call{name: "after restart", code: 401, fault: 900901})
	check(t, c.do(t, call{path: "/pizzashack/1.0.0/menu", headers: bearer(opaque)}), call{name: "opaque after restart", code: 401, fault: 900901})
}

func jtiOf(t *testing.T, tok string) string {
	parts := strings.Split(tok, ".")
	var c struct {
		Jti string `json:"jti"`
	}
	raw, err := decodeSegment(parts[1])
	if err != nil || json.Unmarshal(raw, &c) != nil || c.Jti == "" {
		t.Fatalf("no jti in token: %v", err)
	}
	return c.Jti
}

// TestRemoteSourceKeepsLastSnapshot: a gateway-only node pulls from the
// control plane and keeps serving when it goes away.
func TestRemoteSourceKeepsLastSnapshot(t *testing.T) {
	a := newFixture(t, fixtureOpts{})
	var hits atomic.Int64
	cp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != gateway.SnapshotPath {
			http.NotFound(w, r)
			return
		}
		if u, p, ok := r.BasicAuth(); !ok || u != "admin" || p != "secret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		hits.Add(1)
		if r.Header.Get("If-None-Match") == `"1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"1"`)
		_ = json.NewEncoder(w).Encode(a.snap)
	}))
	src := gateway.NewRemoteSource(cp.URL+"/", nil, "admin", "secret")
	n := newFixture(t, fixtureOpts{shared: a, source: src})
	h := bearer(a.token("ck1", ""))
	check(t, n.do(t, call{path: "/pizzashack/1.0.0/menu", headers: h}), call{name: "pulled", code: 200})
	if err := n.gw.Reload(context.Background()); err != nil {
		t.Fatalf("304 reload: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { gateway.FollowRemote(ctx, n.gw, 5*time.Millisecond); close(done) }()
	waitFor(t, func() bool { return hits.Load() >= 4 })
	cp.Close()
	if err := n.gw.Reload(context.Background()); err == nil {
		t.Fatal("reload with the control plane down reported success")
	}
	check(t, n.do(t, call{path: "/pizzashack/1.0.0/menu", headers: h}), call{name: "control plane down", code: 200})
	cancel()
	<-done
}
