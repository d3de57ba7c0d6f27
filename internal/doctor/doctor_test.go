package doctor

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/keyway/keyway/internal/config"
	"github.com/keyway/keyway/internal/keystore"
)

// fakeIS is a minimal Identity Server 7: discovery, JWKS, DCR, token, and
// the other endpoints the key manager names (answering 401 like IS does to
// an unauthenticated GET).
type fakeIS struct {
	srv      *httptest.Server
	ks       *keystore.KeyStore
	signer   jose.Signer
	key      *rsa.PrivateKey
	kid      string
	admin    [2]string
	mu       sync.Mutex
	clients  map[string]string // id → secret
	deleted  []string
	issuer   string // what discovery says
	tokenIss string // what tokens say
	skew     time.Duration
}

func newFakeIS(t *testing.T, hosts ...string) *fakeIS {
	t.Helper()
	if len(hosts) == 0 {
		hosts = []string{"localhost", "127.0.0.1"}
	}
	ks, err := keystore.Generate("wso2is", hosts)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ks.RSAKey()
	f := &fakeIS{ks: ks, key: key, kid: "is-key-1", admin: [2]string{"admin", "admin"}, clients: map[string]string{}}
	f.signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: f.kid}}, (&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth2/token/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		f.json(w, 200, map[string]any{"issuer": f.issuer, "jwks_uri": f.srv.URL + "/oauth2/jwks", "token_endpoint": f.srv.URL + "/oauth2/token"})
	})
	mux.HandleFunc("GET /oauth2/jwks", func(w http.ResponseWriter, r *http.Request) {
		f.json(w, 200, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: f.kid, Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("POST /api/identity/oauth2/dcr/v1.1/register", func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != f.admin[0] || p != f.admin[1] {
			f.json(w, 401, map[string]string{"error": "invalid_client"})
			return
		}
		id := fmt.Sprintf("client-%d", time.Now().UnixNano())
		f.mu.Lock()
		f.clients[id] = "secret-" + id
		f.mu.Unlock()
		f.json(w, 201, map[string]any{"client_id": id, "client_secret": "secret-" + id, "client_secret_expires_at": 0})
	})
	mux.HandleFunc("DELETE /api/identity/oauth2/dcr/v1.1/register/{id}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.clients, r.PathValue("id"))
		f.deleted = append(f.deleted, r.PathValue("id"))
		w.WriteHeader(204)
	})
	mux.HandleFunc("POST /oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		id, secret, _ := r.BasicAuth()
		f.mu.Lock()
		want, ok := f.clients[id]
		f.mu.Unlock()
		if !ok || want != secret {
			f.json(w, 401, map[string]string{"error": "invalid_client"})
			return
		}
		tok, err := jwt.Signed(f.signer).Claims(jwt.Claims{Issuer: f.tokenIss, Subject: id, ID: "jti-1", Expiry: jwt.NewNumericDate(time.Now().Add(time.Hour))}).Serialize()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		f.json(w, 200, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600})
	})
	unauth := func(w http.ResponseWriter, r *http.Request) {
		f.json(w, 401, map[string]string{"error": "unauthorized"})
	}
	for _, p := range []string{"/oauth2/introspect", "/oauth2/revoke", "/scim2/Me", "/oauth2/authorize", "/api/identity/oauth2/v1.0/scopes", "/api/server/v1/api-resources", "/scim2/v2/Roles"} {
		mux.HandleFunc(p, unauth)
	}
	f.srv = httptest.NewUnstartedServer(mux)
	f.srv.TLS = &tls.Config{Certificates: []tls.Certificate{ks.TLSCertificate()}}
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // rejected handshakes are the point of some tests
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	f.issuer = f.srv.URL + "/oauth2/token"
	f.tokenIss = f.issuer
	return f
}

func (f *fakeIS) json(w http.ResponseWriter, code int, v any) {
	if f.skew != 0 {
		w.Header().Set("Date", time.Now().Add(f.skew).UTC().Format(http.TimeFormat))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// fakeAPIM serves the admin API's key manager resources and the notify endpoint.
type fakeAPIM struct {
	srv         *httptest.Server
	ks          *keystore.KeyStore
	km          map[string]any
	notifyUser  [2]string
	noNotify    bool
	mu          sync.Mutex
	notifyCalls []*http.Request
	notifyBody  [][]byte
}

func newFakeAPIM(t *testing.T, is *fakeIS) *fakeAPIM {
	t.Helper()
	ks, err := keystore.Generate("wso2carbon", []string{"localhost", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	a := &fakeAPIM{ks: ks, notifyUser: [2]string{"admin", "admin"}}
	base := is.srv.URL
	// The seed's table of values, hosts adjusted.
	a.km = map[string]any{
		"id": "km-1", "name": "WSO2IS7", "displayName": "WSO2 Identity Server 7", "type": "WSO2-IS-7", "enabled": true,
		"wellKnownEndpoint":          base + "/oauth2/token/.well-known/openid-configuration",
		"issuer":                     base + "/oauth2/token",
		"clientRegistrationEndpoint": base + "/api/identity/oauth2/dcr/v1.1/register",
		"introspectionEndpoint":      base + "/oauth2/introspect",
		"tokenEndpoint":              base + "/oauth2/token",
		"displayTokenEndpoint":       base + "/oauth2/token",
		"revokeEndpoint":             base + "/oauth2/revoke",
		"displayRevokeEndpoint":      base + "/oauth2/revoke",
		"userInfoEndpoint":           base + "/scim2/Me",
		"authorizeEndpoint":          base + "/oauth2/authorize",
		"scopeManagementEndpoint":    base + "/api/identity/oauth2/v1.0/scopes",
		"certificates":               map[string]any{"type": "JWKS", "value": base + "/oauth2/jwks"},
		"enableSelfValidationJWT":    true,
		"additionalProperties": map[string]any{
			"Username": "admin", "Password": "admin",
			"api_resource_management_endpoint": base + "/api/server/v1/api-resources",
			"is7_roles_endpoint":               base + "/scim2/v2/Roles",
			"enable_roles_creation":            true,
		},
	}
	adminOK := func(r *http.Request) bool { u, p, ok := r.BasicAuth(); return ok && u == "admin" && p == "admin" }
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	mux.HandleFunc("GET /api/am/admin/v4/key-managers", func(w http.ResponseWriter, r *http.Request) {
		if !adminOK(r) {
			w.WriteHeader(401)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"count": 2, "list": []map[string]any{
			{"id": "resident", "name": "Resident Key Manager", "type": "default"},
			{"id": a.km["id"], "name": a.km["name"], "type": a.km["type"], "enabled": a.km["enabled"]},
		}})
	})
	mux.HandleFunc("GET /api/am/admin/v4/key-managers/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !adminOK(r) {
			w.WriteHeader(401)
			return
		}
		if r.PathValue("id") != a.km["id"] {
			w.WriteHeader(404)
			return
		}
		_ = json.NewEncoder(w).Encode(a.km)
	})
	mux.HandleFunc("POST /internal/data/v1/notify", func(w http.ResponseWriter, r *http.Request) {
		if a.noNotify {
			http.NotFound(w, r)
			return
		}
		body := new(bytes.Buffer)
		_, _ = body.ReadFrom(r.Body)
		a.mu.Lock()
		a.notifyCalls = append(a.notifyCalls, r)
		a.notifyBody = append(a.notifyBody, body.Bytes())
		a.mu.Unlock()
		if u, p, ok := r.BasicAuth(); !ok || u != a.notifyUser[0] || p != a.notifyUser[1] {
			w.WriteHeader(401)
			return
		}
		w.WriteHeader(200)
	})
	a.srv = httptest.NewUnstartedServer(mux)
	a.srv.TLS = &tls.Config{Certificates: []tls.Certificate{ks.TLSCertificate()}}
	a.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	a.srv.StartTLS()
	t.Cleanup(a.srv.Close)
	return a
}

// setup is one Pattern 6 wiring under test.
type setup struct {
	is      *fakeIS
	apim    *fakeAPIM
	opts    Options
	isToml  string
	isTrust *keystore.TrustStore
}

func newSetup(t *testing.T) *setup {
	t.Helper()
	is := newFakeIS(t)
	apim := newFakeAPIM(t, is)
	apimTrust := keystore.NewTrustStore("")
	apimTrust.Add("wso2carbon", apim.ks.Certificate)
	apimTrust.Add("wso2is", is.ks.Certificate)
	isTrust := keystore.NewTrustStore("")
	isTrust.Add("wso2am", apim.ks.Certificate)
	s := &setup{is: is, apim: apim, isTrust: isTrust}
	s.isToml = seedISBlock(apim.srv.URL + NotifyPath)
	s.opts = Options{
		APIMURL: apim.srv.URL, KeyManager: "WSO2IS7", Username: "admin", Password: "admin",
		Trust: apimTrust, TrustSource: "test truststore", NotifyCheck: true,
		ISAdminUsername: "admin", ISAdminPassword: "admin", Timeout: 5 * time.Second,
	}
	return s
}

// seedISBlock is the seed's IS deployment.toml block, verbatim except the
// notification endpoint.
func seedISBlock(endpoint string) string {
	return `[oauth]
authorize_all_scopes = true

[[resource.access_control]]
context="(.*)/scim2/Me"
secure=true
http_method="GET"
cross_tenant=true
permissions=[]
scopes=[]

[[event_listener]]
id = "token_revocation"
type = "org.wso2.carbon.identity.core.handler.AbstractIdentityHandler"
name = "org.wso2.is.notification.ApimOauthEventInterceptor"
order = 1
[event_listener.properties]
notification_endpoint = "` + endpoint + `"
username = "${admin.username}"
password = "${admin.password}"
'header.X-WSO2-KEY-MANAGER' = "WSO2-IS"
`
}

func (s *setup) run(t *testing.T) Report {
	t.Helper()
	o := s.opts
	if s.isToml != "" {
		c, err := config.Parse("is-deployment.toml", []byte(s.isToml), config.Options{})
		if err != nil {
			t.Fatalf("parse IS config: %v", err)
		}
		o.ISConfig, o.ISConfigSource, o.ISTrust, o.ISTrustSource = c, "is-deployment.toml", s.isTrust, "test IS truststore"
	}
	r := Run(context.Background(), o)
	var b strings.Builder
	_ = r.WriteText(&b)
	t.Log("\n" + b.String())
	return r
}

func expect(t *testing.T, r Report, id string, want Status, contains ...string) {
	t.Helper()
	c, ok := r.Find(id)
	if !ok {
		t.Fatalf("no check %q in the report", id)
	}
	if c.Status != want {
		t.Errorf("check %s = %s (%s), want %s", id, c.Status, c.Message, want)
	}
	for _, s := range contains {
		if !strings.Contains(c.Message+" "+c.Fix, s) {
			t.Errorf("check %s says %q / %q; want it to mention %q", id, c.Message, c.Fix, s)
		}
	}
}

func TestGoodSetupPasses(t *testing.T) {
	s := newSetup(t)
	r := s.run(t)
	if r.Failed() {
		t.Fatal("doctor failed a good setup")
	}
	for _, c := range r.Checks {
		if c.Status != Pass {
			t.Errorf("check %s = %s: %s", c.ID, c.Status, c.Message)
		}
	}
	for _, id := range []string{"apim-tls", "key-manager", "endpoint.well-known", "endpoint.token", "endpoint.introspection", "endpoint.dcr", "endpoint.jwks",
		"endpoint.revoke", "endpoint.userinfo", "endpoint.authorize", "endpoint.scopes", "endpoint.api-resources", "endpoint.roles",
		"issuer", "dcr", "token", "notify", "is-listener", "is-trust", "clock"} {
		if _, ok := r.Find(id); !ok {
			t.Errorf("check %s missing", id)
		}
	}
	// The temporary DCR client was deleted again.
	s.is.mu.Lock()
	left, deleted := len(s.is.clients), len(s.is.deleted)
	s.is.mu.Unlock()
	if left != 0 || deleted != 1 {
		t.Errorf("temporary clients left %d, deleted %d; want 0 and 1", left, deleted)
	}
	// The notify probe had IS's exact shape and headers.
	s.apim.mu.Lock()
	defer s.apim.mu.Unlock()
	if len(s.apim.notifyBody) != 1 {
		t.Fatalf("notify calls = %d, want 1", len(s.apim.notifyBody))
	}
	req := s.apim.notifyCalls[0]
	if req.Header.Get("X-WSO2-KEY-MANAGER") != "WSO2-IS" || req.Header.Get("Content-Type") != "application/json" {
		t.Errorf("notify headers = %v", req.Header)
	}
	var ev map[string]any
	if err := json.Unmarshal(s.apim.notifyBody[0], &ev); err != nil {
		t.Fatal(err)
	}
	if ev["type"] != "token_revocation" || !strings.HasPrefix(ev["accessToken"].(string), "keyway-doctor-") {
		t.Errorf("notify body = %v", ev)
	}
	if exp := int64(ev["expiryTime"].(float64)); exp > time.Now().Add(61*time.Second).UnixMilli() {
		t.Errorf("probe expiry %d is more than a minute ahead", exp)
	}
}

// TestBrokenLinks: each deliberately broken wiring is named by the check
// responsible, in plain words, and fails the run.
func TestBrokenLinks(t *testing.T) {
	cases := []struct {
		name     string
		breakIt  func(t *testing.T, s *setup)
		id       string
		status   Status
		contains []string
	}{
		{"IS certificate not trusted by APIM", func(t *testing.T, s *setup) {
			ts := keystore.NewTrustStore("")
			ts.Add("wso2carbon", s.apim.ks.Certificate)
			s.opts.Trust = ts
		}, "endpoint.token", Fail, []string{"APIM does not trust IS's certificate: import it with `keyway truststore import --alias wso2is --cert is.crt`"}},
		{"APIM certificate not trusted", func(t *testing.T, s *setup) {
			ts := keystore.NewTrustStore("")
			ts.Add("wso2is", s.is.ks.Certificate)
			s.opts.Trust = ts
		}, "apim-tls", Fail, []string{"does not trust APIM's certificate"}},
		{"wrong DCR password", func(t *testing.T, s *setup) {
			s.apim.km["additionalProperties"].(map[string]any)["Password"] = "wrong"
		}, "dcr", Fail, []string{"the key manager's connector username/password are wrong"}},
		{"wrong issuer in the key manager", func(t *testing.T, s *setup) {
			s.apim.km["issuer"] = s.is.srv.URL + "/oauth2/token/"
		}, "issuer", Fail, []string{"IS says its issuer is", "set the key manager's Issuer to"}},
		{"IS tokens carry another issuer", func(t *testing.T, s *setup) {
			s.is.tokenIss = "https://wso2is.km:9443/oauth2/token"
		}, "token", Fail, []string{"IS issues tokens with iss \"https://wso2is.km:9443/oauth2/token\""}},
		{"JWKS of another IS", func(t *testing.T, s *setup) {
			s.is.kid = "rotated-away"
			signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: s.is.key, KeyID: "other-kid"}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			s.is.signer = signer
		}, "token", Fail, []string{"other-kid", "does not publish"}},
		{"notify endpoint missing", func(t *testing.T, s *setup) { s.apim.noNotify = true }, "notify", Fail, []string{"has no notify endpoint"}},
		{"notify endpoint unreachable from IS", func(t *testing.T, s *setup) {
			s.isToml = seedISBlock("https://127.0.0.1:" + closedPort(t) + NotifyPath)
		}, "is-trust", Fail, []string{"Nothing listens"}},
		{"IS does not trust APIM", func(t *testing.T, s *setup) { s.isTrust = keystore.NewTrustStore("") }, "is-trust", Fail, []string{"IS does not trust APIM's certificate: import it with `keyway truststore import --alias wso2am --cert apim.crt --config is-deployment.toml`"}},
		{"no event listener in IS", func(t *testing.T, s *setup) { s.isToml = "[oauth]\nauthorize_all_scopes = true\n" }, "is-listener", Fail, []string{"no enabled [[event_listener]]"}},
		{"wrong notify credentials", func(t *testing.T, s *setup) { s.apim.notifyUser = [2]string{"admin", "other"} }, "notify", Fail, []string{"rejected IS's admin credentials"}},
		{"IS clock two minutes behind", func(t *testing.T, s *setup) { s.is.skew = -2 * time.Minute }, "clock", Fail, []string{"Identity Server clock is off by 2m0s", "NTP"}},
		{"IS clock 20 s ahead", func(t *testing.T, s *setup) { s.is.skew = 20 * time.Second }, "clock", Warn, []string{"NTP"}},
		{"key manager missing", func(t *testing.T, s *setup) { s.opts.KeyManager = "IS7" }, "key-manager", Fail, []string{"no key manager named \"IS7\"", "WSO2IS7"}},
		{"key manager disabled", func(t *testing.T, s *setup) { s.apim.km["enabled"] = false }, "key-manager", Fail, []string{"disabled"}},
		{"wrong APIM admin password", func(t *testing.T, s *setup) { s.opts.Password = "nope" }, "key-manager", Fail, []string{"rejected the admin credentials"}},
		{"roles endpoint not configured", func(t *testing.T, s *setup) {
			delete(s.apim.km["additionalProperties"].(map[string]any), "is7_roles_endpoint")
		}, "endpoint.roles", Fail, []string{"not configured"}},
		{"endpoint on a closed port", func(t *testing.T, s *setup) {
			s.apim.km["introspectionEndpoint"] = "https://127.0.0.1:" + closedPort(t) + "/oauth2/introspect"
		}, "endpoint.introspection", Fail, []string{"Nothing listens"}},
		{"endpoint host does not resolve", func(t *testing.T, s *setup) {
			s.apim.km["userInfoEndpoint"] = "https://wso2is.km.invalid:9443/scim2/Me"
		}, "endpoint.userinfo", Fail, []string{"does not resolve", "/etc/hosts"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSetup(t)
			c.breakIt(t, s)
			r := s.run(t)
			expect(t, r, c.id, c.status, c.contains...)
			if c.status == Fail && !r.Failed() {
				t.Error("report does not fail")
			}
		})
	}
}

func TestHostnameMismatch(t *testing.T) {
	is := newFakeIS(t, "wso2is.km")
	apim := newFakeAPIM(t, is)
	ts := keystore.NewTrustStore("")
	ts.Add("wso2carbon", apim.ks.Certificate)
	ts.Add("wso2is", is.ks.Certificate)
	r := Run(context.Background(), Options{APIMURL: apim.srv.URL, Username: "admin", Password: "admin", Trust: ts})
	expect(t, r, "endpoint.token", Fail, "not valid for the host name \"127.0.0.1\"", "wso2is.km")
}

func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	return port
}

// TestCommand runs `keyway doctor` on configuration files as a user would.
func TestCommand(t *testing.T) {
	s := newSetup(t)
	dir := t.TempDir()
	trust := filepath.Join(dir, "client-truststore.pem")
	pemOf := func(ks ...*keystore.KeyStore) []byte {
		var b []byte
		for _, k := range ks {
			b = append(b, k.CertificatePEM()...)
		}
		return b
	}
	if err := os.WriteFile(trust, pemOf(s.apim.ks, s.is.ks), 0o600); err != nil {
		t.Fatal(err)
	}
	isTrust := filepath.Join(dir, "is-truststore.pem")
	if err := os.WriteFile(isTrust, pemOf(s.apim.ks), 0o600); err != nil {
		t.Fatal(err)
	}
	apimConf := filepath.Join(dir, "apim.toml")
	if err := os.WriteFile(apimConf, []byte(fmt.Sprintf("[super_admin]\nusername = \"admin\"\npassword = \"admin\"\n\n[truststore]\nfile_name = %q\ntype = \"PEM\"\n", trust)), 0o600); err != nil {
		t.Fatal(err)
	}
	isConf := filepath.Join(dir, "is.toml")
	if err := os.WriteFile(isConf, []byte(fmt.Sprintf("[server]\noffset = 1\n\n[truststore]\nfile_name = %q\ntype = \"PEM\"\n\n", isTrust)+seedISBlock(s.apim.srv.URL+NotifyPath)), 0o600); err != nil {
		t.Fatal(err)
	}
	runCmd := func(args ...string) (string, error) {
		cmd := NewCommand()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(args)
		err := cmd.ExecuteContext(context.Background())
		return out.String(), err
	}
	out, err := runCmd("--config", apimConf, "--apim", s.apim.srv.URL, "--is-config", isConf, "--json")
	if err != nil {
		t.Fatalf("doctor on a good setup: %v\n%s", err, out)
	}
	var r Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("--json output is not a report: %v\n%s", err, out)
	}
	if c, ok := r.Find("is-trust"); !ok || c.Status != Pass {
		t.Errorf("is-trust = %+v", c)
	}
	s.apim.km["additionalProperties"].(map[string]any)["Password"] = "wrong"
	out, err = runCmd("--config", apimConf, "--apim", s.apim.srv.URL)
	if err != ErrChecksFailed {
		t.Fatalf("doctor on a broken setup returned %v, want ErrChecksFailed\n%s", err, out)
	}
	if !strings.Contains(out, "[FAIL] Connector credentials") || !strings.Contains(out, "connector username/password are wrong") {
		t.Errorf("text output does not name the broken link:\n%s", out)
	}
	// --km-password overrides the stored (wrong) connector password.
	if out, err = runCmd("--config", apimConf, "--apim", s.apim.srv.URL, "--km-password", "admin"); err != nil {
		t.Errorf("--km-password not used: %v\n%s", err, out)
	}
}

func TestBasicHeader(t *testing.T) {
	if got, want := basic("admin", "admin"), "Basic "+base64.StdEncoding.EncodeToString([]byte("admin:admin")); got != want {
		t.Errorf("basic = %q, want %q", got, want)
	}
}
