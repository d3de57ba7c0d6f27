package listener

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyway/keyway/internal/config"
	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/db/dbtest"
	"github.com/keyway/keyway/internal/oauth"
	"github.com/keyway/keyway/internal/secret"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// waitLimit only guards against a hung test; nothing asserts on timing.
const waitLimit = 20 * time.Second

// received is one request the fake API Manager saw.
type received struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
	Status int
}

// receiver is a fake /internal/data/v1/notify endpoint whose answers can be
// scripted per call.
type receiver struct {
	mu     sync.Mutex
	got    []received
	status func(n int, body []byte) int // n counts calls from 0
	notify chan struct{}
}

func newReceiver(status func(n int, body []byte) int) *receiver {
	if status == nil {
		status = func(int, []byte) int { return http.StatusOK }
	}
	return &receiver{status: status, notify: make(chan struct{}, 1000)}
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	code := rc.status(len(rc.got), body)
	rc.got = append(rc.got, received{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body, Status: code})
	rc.mu.Unlock()
	w.WriteHeader(code)
	rc.notify <- struct{}{}
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// waitFor blocks until cond holds over the requests seen so far.
func (rc *receiver) waitFor(t *testing.T, what string, cond func([]received) bool) []received {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		if got := rc.requests(); cond(got) {
			return got
		}
		select {
		case <-rc.notify:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; got %d requests", what, len(rc.requests()))
		}
	}
}

func delivered(n int) func([]received) bool {
	return func(got []received) bool {
		ok := 0
		for _, r := range got {
			if r.Status/100 == 2 {
				ok++
			}
		}
		return ok >= n
	}
}

func listenerConfig(endpoint, user, pass string) config.EventListener {
	return config.EventListener{
		ID:    "token_revocation",
		Type:  "org.wso2.carbon.identity.core.handler.AbstractIdentityHandler",
		Name:  "org.wso2.is.notification.ApimOauthEventInterceptor",
		Order: 1,
		Properties: map[string]string{
			"notification_endpoint":     endpoint,
			"username":                  user,
			"password":                  pass,
			"header.X-WSO2-KEY-MANAGER": "WSO2-IS",
		},
	}
}

func newSender(t *testing.T, d *db.DB, cfg config.EventListener, client *http.Client, opts ...Option) *Sender {
	t.Helper()
	opts = append([]Option{WithBackoff(5*time.Millisecond, 40*time.Millisecond), WithPollInterval(50 * time.Millisecond)}, opts...)
	s, err := New(context.Background(), d, cfg, client, slog.New(slog.DiscardHandler), opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, b)
	}
	return m
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var jwtToken = oauth.RevokedAccessToken{
	Kind:       oauth.RevokedByClient,
	Identifier: "3f1c1c7e-jti",
	TokenType:  "JWT",
	ClientID:   "client-abc",
	Username:   "admin",
	IssuedAt:   time.UnixMilli(1713996400000),
	ExpiresAt:  time.UnixMilli(1714000000000),
}

func TestWireFormat(t *testing.T) {
	rc := newReceiver(nil)
	srv := httptest.NewTLSServer(rc)
	defer srv.Close()
	s := newSender(t, dbtest.SQLite(t), listenerConfig(srv.URL+"/internal/data/v1/notify", "admin", "admin"), srv.Client())

	before := time.Now().UnixMilli()
	s.AccessTokenRevoked(context.Background(), jwtToken)
	got := rc.waitFor(t, "one delivery", delivered(1))
	r := got[0]

	if r.Method != http.MethodPost || r.Path != "/internal/data/v1/notify" {
		t.Errorf("request = %s %s, want POST /internal/data/v1/notify", r.Method, r.Path)
	}
	wantHeaders := map[string]string{
		"Authorization":      "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:admin")),
		"Content-Type":       "application/json",
		"X-Wso2-Key-Manager": "WSO2-IS",
	}
	for k, v := range wantHeaders {
		if got := r.Header.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("header %s = %q, want exactly %q", k, got, v)
		}
	}
	m := decode(t, r.Body)
	wantKeys := []string{"accessToken", "consumerKey", "eventId", "expiryTime", "properties", "tenantDomain", "tenantId", "timeStamp", "tokenType", "type", "user"}
	if k := keys(m); strings.Join(k, ",") != strings.Join(wantKeys, ",") {
		t.Errorf("fields = %v, want %v", k, wantKeys)
	}
	want := map[string]string{
		"accessToken": "3f1c1c7e-jti", "expiryTime": "1714000000000", "user": "admin",
		"consumerKey": "client-abc", "tokenType": "JWT", "type": "token_revocation",
		"tenantId": "-1234", "tenantDomain": "carbon.super",
	}
	for k, v := range want {
		if got := toString(m[k]); got != v {
			t.Errorf("%s = %s, want %s", k, got, v)
		}
	}
	if p, ok := m["properties"].(map[string]any); !ok || len(p) != 0 {
		t.Errorf("properties = %v, want {}", m["properties"])
	}
	id, _ := m["eventId"].(string)
	if len(id) != 36 || id[14] != '4' {
		t.Errorf("eventId = %q, want a UUID v4", id)
	}
	ts, err := m["timeStamp"].(json.Number).Int64()
	if err != nil || ts < before || ts > time.Now().UnixMilli() {
		t.Errorf("timeStamp = %v, want epoch ms of the revocation", m["timeStamp"])
	}
}

func toString(v any) string {
	switch x := v.(type) {
	case json.Number:
		return x.String()
	case string:
		return x
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

func TestEventVariants(t *testing.T) {
	maxLong := "9223372036854775807"
	cases := []struct {
		name         string
		tok          oauth.RevokedAccessToken
		user, pass   string
		wantAuth     bool
		wantTenantID string
		wantDomain   bool
		wantExpiry   string
		wantType     string
	}{
		{"client revocation", jwtToken, "admin", "admin", true, "-1234", true, "1714000000000", "JWT"},
		{"owner revocation has no tenant", func() oauth.RevokedAccessToken { t := jwtToken; t.Kind = oauth.RevokedByOwner; return t }(), "admin", "admin", true, "0", false, "1714000000000", "JWT"},
		{"never-expiring token", func() oauth.RevokedAccessToken { t := jwtToken; t.ExpiresAt = time.Time{}; return t }(), "admin", "admin", true, "-1234", true, maxLong, "JWT"},
		{"owner revocation never-expiring keeps guard", func() oauth.RevokedAccessToken {
			t := jwtToken
			t.Kind, t.ExpiresAt = oauth.RevokedByOwner, time.Time{}
			return t
		}(), "admin", "admin", true, "0", false, maxLong, "JWT"},
		{"opaque token", func() oauth.RevokedAccessToken {
			t := jwtToken
			t.TokenType = "Default"
			t.Identifier = "c2a4e6-opaque"
			return t
		}(), "admin", "admin", true, "-1234", true, "1714000000000", "Default"},
		{"blank token type is Default", func() oauth.RevokedAccessToken { t := jwtToken; t.TokenType = ""; return t }(), "admin", "admin", true, "-1234", true, "1714000000000", "Default"},
		{"no password no auth header", jwtToken, "admin", "", false, "-1234", true, "1714000000000", "JWT"},
		{"no username no auth header", jwtToken, "", "admin", false, "-1234", true, "1714000000000", "JWT"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc := newReceiver(nil)
			srv := httptest.NewTLSServer(rc)
			defer srv.Close()
			s := newSender(t, dbtest.SQLite(t), listenerConfig(srv.URL+"/internal/data/v1/notify", c.user, c.pass), srv.Client())
			s.AccessTokenRevoked(context.Background(), c.tok)
			r := rc.waitFor(t, "delivery", delivered(1))[0]
			if has := r.Header.Get("Authorization") != ""; has != c.wantAuth {
				t.Errorf("Authorization present = %v, want %v", has, c.wantAuth)
			}
			m := decode(t, r.Body)
			if got := toString(m["tenantId"]); got != c.wantTenantID {
				t.Errorf("tenantId = %s, want %s", got, c.wantTenantID)
			}
			if _, has := m["tenantDomain"]; has != c.wantDomain {
				t.Errorf("tenantDomain present = %v, want %v", has, c.wantDomain)
			}
			if got := toString(m["expiryTime"]); got != c.wantExpiry {
				t.Errorf("expiryTime = %s, want %s", got, c.wantExpiry)
			}
			if got := toString(m["tokenType"]); got != c.wantType {
				t.Errorf("tokenType = %s, want %s", got, c.wantType)
			}
			if got := toString(m["accessToken"]); got != c.tok.Identifier {
				t.Errorf("accessToken = %s, want %s", got, c.tok.Identifier)
			}
		})
	}
	if expiryMillis(oauth.RevokedAccessToken{}) != math.MaxInt64 {
		t.Error("zero token must expire at Long.MAX_VALUE")
	}
}

// TestRetriedUntil2xx: 4xx and 5xx answers are retried with the same eventId.
func TestRetriedUntil2xx(t *testing.T) {
	script := []int{http.StatusInternalServerError, http.StatusBadRequest, http.StatusUnauthorized, http.StatusServiceUnavailable, http.StatusOK}
	rc := newReceiver(func(n int, _ []byte) int { return script[min(n, len(script)-1)] })
	srv := httptest.NewTLSServer(rc)
	defer srv.Close()
	reg := prometheus.NewRegistry()
	s := newSender(t, dbtest.SQLite(t), listenerConfig(srv.URL+"/internal/data/v1/notify", "admin", "admin"), srv.Client(), WithRegisterer(reg))
	s.AccessTokenRevoked(context.Background(), jwtToken)
	got := rc.waitFor(t, "delivery after failures", delivered(1))
	if len(got) != len(script) {
		t.Fatalf("got %d attempts, want %d", len(got), len(script))
	}
	first := toString(decode(t, got[0].Body)["eventId"])
	for i, r := range got {
		if id := toString(decode(t, r.Body)["eventId"]); id != first {
			t.Errorf("attempt %d eventId = %s, want %s (same across retries)", i, id, first)
		}
	}
	waitPending(t, s, 0)
	if v := metricValue(t, s.m.delivered); v != 1 {
		t.Errorf("delivered = %v, want 1", v)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
	}
	for _, n := range []string{"keyway_identity_revocation_events_pending", "keyway_identity_revocation_events_delivered_total", "keyway_identity_revocation_delivery_failures_total", "keyway_identity_revocation_delivery_seconds"} {
		if !names[n] {
			t.Errorf("metric %s not registered", n)
		}
	}
	fails := metricValue(t, s.m.failed.WithLabelValues("status_4xx")) + metricValue(t, s.m.failed.WithLabelValues("status_5xx"))
	if fails != 4 {
		t.Errorf("failed attempts = %v, want 4", fails)
	}
	if v := metricValue(t, s.m.pending); v != 0 {
		t.Errorf("pending gauge = %v, want 0", v)
	}
}

func waitPending(t *testing.T, s *Sender, want int64) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		n, err := s.Pending(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pending = %d, want %d", n, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// trustHTTPTest returns a client trusting httptest's built-in certificate,
// for a receiver that is not running yet.
func trustHTTPTest(t *testing.T) *http.Client {
	t.Helper()
	tmp := httptest.NewTLSServer(http.NotFoundHandler())
	cert := tmp.Certificate()
	tmp.Close()
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 5 * time.Second}
}

// TestReceiverDownThenUp: connection refused until the API Manager starts;
// the stored event is then delivered with its original eventId.
func TestReceiverDownThenUp(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens: connection refused
	s := newSender(t, dbtest.SQLite(t), listenerConfig("https://"+addr+"/internal/data/v1/notify", "admin", "admin"), trustHTTPTest(t))
	s.AccessTokenRevoked(context.Background(), jwtToken)
	var failed float64
	for deadline := time.Now().Add(waitLimit); failed < 2; failed = metricValue(t, s.m.failed.WithLabelValues("transport")) {
		if time.Now().After(deadline) {
			t.Fatal("sender never tried the unreachable receiver")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n, _ := s.Pending(context.Background()); n != 1 {
		t.Fatalf("pending = %d while the receiver is down, want 1", n)
	}

	rc := newReceiver(nil)
	srv := httptest.NewUnstartedServer(rc)
	if srv.Listener, err = net.Listen("tcp", addr); err != nil {
		t.Skipf("port %s was taken meanwhile: %v", addr, err)
	}
	srv.StartTLS()
	defer srv.Close()
	got := rc.waitFor(t, "delivery once the receiver is up", delivered(1))
	if got[0].Header.Get("Authorization") == "" || toString(decode(t, got[0].Body)["accessToken"]) != jwtToken.Identifier {
		t.Errorf("unexpected delivery %+v", got[0])
	}
	waitPending(t, s, 0)
}

// TestSurvivesRestart: a Sender closed while its receiver fails leaves the
// event stored; a new Sender on the same database delivers it, same eventId.
func TestSurvivesRestart(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, d *db.DB) {
		var mu sync.Mutex
		up := false
		rc := newReceiver(func(int, []byte) int {
			mu.Lock()
			defer mu.Unlock()
			if up {
				return http.StatusOK
			}
			return http.StatusInternalServerError
		})
		srv := httptest.NewTLSServer(rc)
		defer srv.Close()
		cfg := listenerConfig(srv.URL+"/internal/data/v1/notify", "admin", "admin")
		s1, err := New(context.Background(), d, cfg, srv.Client(), slog.New(slog.DiscardHandler), WithBackoff(5*time.Millisecond, 20*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		tokens := []oauth.RevokedAccessToken{jwtToken, func() oauth.RevokedAccessToken { t := jwtToken; t.Identifier = "second-jti"; return t }()}
		for _, tok := range tokens {
			s1.AccessTokenRevoked(context.Background(), tok)
		}
		first := rc.waitFor(t, "a failed attempt", func(g []received) bool { return len(g) >= 1 })
		s1.Close()
		if n, err := s1.Pending(context.Background()); err != nil || n != 2 {
			t.Fatalf("pending after close = %d, %v; want 2", n, err)
		}
		failedID := toString(decode(t, first[0].Body)["eventId"])

		mu.Lock()
		up = true
		mu.Unlock()
		s2 := newSender(t, d, cfg, srv.Client())
		got := rc.waitFor(t, "delivery after restart", delivered(2))
		ids := map[string]bool{}
		for _, r := range got {
			if r.Status == http.StatusOK {
				ids[toString(decode(t, r.Body)["eventId"])] = true
			}
		}
		if !ids[failedID] {
			t.Errorf("eventId %s of the failed attempt was not delivered after restart (delivered %v)", failedID, ids)
		}
		waitPending(t, s2, 0)
	})
}

// TestOrderPerToken: a later event for the same token waits until the
// earlier one is delivered; other tokens are not held up.
func TestOrderPerToken(t *testing.T) {
	var mu sync.Mutex
	rejectedOnce := false
	rc := newReceiver(func(_ int, body []byte) int {
		mu.Lock()
		defer mu.Unlock()
		if !rejectedOnce && bytes.Contains(body, []byte(`"user":"first"`)) {
			rejectedOnce = true
			return http.StatusBadRequest
		}
		return http.StatusOK
	})
	srv := httptest.NewTLSServer(rc)
	defer srv.Close()
	s := newSender(t, dbtest.SQLite(t), listenerConfig(srv.URL+"/internal/data/v1/notify", "admin", "admin"), srv.Client(), WithBackoff(30*time.Millisecond, 60*time.Millisecond))
	a1, a2, b := jwtToken, jwtToken, jwtToken
	a1.Username, a2.Username = "first", "second"
	a2.Kind = oauth.RevokedBySystem
	b.Identifier, b.Username = "other-token", "other"
	s.AccessTokenRevoked(context.Background(), a1)
	s.AccessTokenRevoked(context.Background(), a2)
	s.AccessTokenRevoked(context.Background(), b)
	got := rc.waitFor(t, "three deliveries", delivered(3))
	var order []string
	for _, r := range got {
		if r.Status == http.StatusOK {
			order = append(order, toString(decode(t, r.Body)["user"]))
		}
	}
	pos := map[string]int{}
	for i, u := range order {
		pos[u] = i
	}
	if pos["first"] > pos["second"] {
		t.Errorf("delivery order %v: the second event for a token overtook the first", order)
	}
}

// TestNoSecretsInLogsOrStorage: neither the token nor the password appears in
// the logs, and with a sealer the stored row does not hold the token either.
func TestNoSecretsInLogsOrStorage(t *testing.T) {
	rc := newReceiver(func(n int, _ []byte) int {
		if n < 2 {
			return http.StatusUnauthorized
		}
		return http.StatusOK
	})
	srv := httptest.NewTLSServer(rc)
	defer srv.Close()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sealer, err := secret.NewSealerFromKey(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	d := dbtest.SQLite(t)
	const password = "pw-9c1d-secret"
	tok := jwtToken
	tok.TokenType, tok.Identifier = "Default", "opaque-token-5e2f-secret"

	// Stop the receiver from answering until the row has been inspected.
	s, err := New(context.Background(), d, listenerConfig(srv.URL+"/internal/data/v1/notify", "admin", password), srv.Client(), logger,
		WithSealer(sealer), WithBackoff(5*time.Millisecond, 20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.AccessTokenRevoked(context.Background(), tok)
	rc.waitFor(t, "a rejected attempt", func(g []received) bool { return len(g) >= 1 })
	var payload string
	err = d.QueryRowContext(context.Background(), `SELECT payload FROM idn_event_outbox`).Scan(&payload)
	if err == nil && strings.Contains(payload, tok.Identifier) {
		t.Error("stored payload holds the opaque token in clear")
	}
	got := rc.waitFor(t, "delivery", delivered(1))
	if toString(decode(t, got[len(got)-1].Body)["accessToken"]) != tok.Identifier {
		t.Error("sealed payload not opened before sending")
	}
	s.Close()
	for _, secretValue := range []string{password, tok.Identifier, base64.StdEncoding.EncodeToString([]byte("admin:" + password))} {
		if strings.Contains(logs.String(), secretValue) {
			t.Errorf("logs contain a secret (%q):\n%s", secretValue, logs.String())
		}
	}
	if !strings.Contains(logs.String(), "notify credentials") {
		t.Errorf("the 401 was not explained in the logs:\n%s", logs.String())
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	d := dbtest.SQLite(t)
	client := &http.Client{}
	cases := map[string]config.EventListener{
		"no endpoint":  {ID: "token_revocation", Properties: map[string]string{}},
		"not a URL":    listenerConfig("ftp://x/notify", "a", "b"),
		"missing host": listenerConfig("https:///internal/data/v1/notify", "a", "b"),
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			if s, err := New(context.Background(), d, cfg, client, nil); err == nil {
				s.Close()
				t.Fatal("New accepted a bad configuration")
			}
		})
	}
	if _, err := New(context.Background(), d, listenerConfig("https://apim:9443/internal/data/v1/notify", "a", "b"), nil, nil); err == nil {
		t.Error("New accepted a nil HTTP client")
	}
}

func TestBackoffCappedWithJitter(t *testing.T) {
	s := &Sender{backoffMin: 100 * time.Millisecond, backoffMax: 2 * time.Second}
	for n := 1; n < 40; n++ {
		d := s.backoff(n)
		want := min(s.backoffMin<<min(n-1, 30), s.backoffMax)
		if d < want/2 || d > want {
			t.Errorf("backoff(%d) = %v, want in [%v, %v]", n, d, want/2, want)
		}
	}
}

// metricValue reads a gauge or counter.
func metricValue(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		t.Fatal(err)
	}
	switch {
	case out.Gauge != nil:
		return out.Gauge.GetValue()
	case out.Counter != nil:
		return out.Counter.GetValue()
	}
	t.Fatalf("metric %v is neither gauge nor counter", m.Desc())
	return 0
}
