package dcr

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"

	"github.com/keyway/keyway/internal/config"
	"github.com/keyway/keyway/internal/contracttest"
	"github.com/keyway/keyway/internal/db/dbtest"
	"github.com/keyway/keyway/internal/identity/access"
	it "github.com/keyway/keyway/internal/identity/identitytest"
	"github.com/keyway/keyway/internal/oauth"
)

// memClients is an in-memory oauth.ClientStore with the engine's contract:
// unique id and name, generated id and secret for confidential clients, an
// empty Secret on update keeps the old one.
type memClients struct {
	mu      sync.Mutex
	clients map[string]oauth.Client
}

func newMemClients() *memClients { return &memClients{clients: map[string]oauth.Client{}} }

func randHex() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (m *memClients) CreateClient(_ context.Context, c *oauth.Client) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.clients {
		if o.Name == c.Name || o.ID == c.ID {
			return oauth.ErrClientConflict
		}
	}
	if c.ID == "" {
		c.ID = randHex()
	}
	if c.Secret == "" && !c.Public {
		c.Secret = randHex()
	}
	m.clients[c.ID] = clone(*c)
	return nil
}

func clone(c oauth.Client) oauth.Client {
	extra := map[string]any{}
	for k, v := range c.Extra {
		extra[k] = v
	}
	c.Extra = extra
	return c
}

func (m *memClients) GetClient(_ context.Context, id string) (*oauth.Client, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.clients[id]
	if !ok {
		return nil, oauth.ErrClientNotFound
	}
	cp := clone(c)
	return &cp, nil
}

func (m *memClients) GetClientByName(_ context.Context, name string) (*oauth.Client, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.clients {
		if c.Name == name {
			cp := clone(c)
			return &cp, nil
		}
	}
	return nil, oauth.ErrClientNotFound
}

func (m *memClients) UpdateClient(_ context.Context, c *oauth.Client) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.clients[c.ID]
	if !ok {
		return oauth.ErrClientNotFound
	}
	for _, o := range m.clients {
		if o.Name == c.Name && o.ID != c.ID {
			return oauth.ErrClientConflict
		}
	}
	n := clone(*c)
	if n.Secret == "" {
		n.Secret = old.Secret
	}
	m.clients[c.ID] = n
	return nil
}

func (m *memClients) DeleteClient(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.clients[id]; !ok {
		return oauth.ErrClientNotFound
	}
	delete(m.clients, id)
	return nil
}

func (m *memClients) ListClients(_ context.Context, owner string) ([]*oauth.Client, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*oauth.Client
	for _, c := range m.clients {
		if owner == "" || c.Owner == owner {
			cp := clone(c)
			out = append(out, &cp)
		}
	}
	return out, nil
}

type revocations struct {
	mu  sync.Mutex
	ids []string
}

func (r *revocations) RevokeClientTokens(_ context.Context, id string, kind oauth.RevocationKind) error {
	r.mu.Lock()
	r.ids = append(r.ids, id+"/"+string(kind))
	r.mu.Unlock()
	return nil
}

func (r *revocations) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ids)
}

type fixture struct {
	base    string
	client  *http.Client
	clients *memClients
	revoked *revocations
	c       *contracttest.Contract
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	users := it.NewUsers(t, dbtest.SQLite(t))
	guard, err := access.NewGuard(access.Options{Users: users, Tokens: it.NewTokens(), AdminRole: it.AdminRole})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{clients: newMemClients(), revoked: &revocations{}, c: contracttest.Load(t, "is-dcr.yaml")}
	mux := http.NewServeMux()
	NewHandler(Options{Clients: f.clients, Revoker: f.revoked, Guard: guard,
		Defaults: config.TokenExpiry{ApplicationAccessToken: 3600, UserAccessToken: 3600, RefreshToken: 86400, IDToken: 3600}}).Mount(mux)
	srv, client := it.Server(t, mux)
	f.base, f.client = srv.URL, client
	return f
}

func (f *fixture) do(t *testing.T, method, path, auth string, body any, check bool) (int, http.Header, map[string]any) {
	t.Helper()
	req := it.Request(t, method, f.base+path, auth, body)
	st, hdr, b := it.Do(t, f.client, req)
	if check {
		f.c.CheckResponse(t, req, st, hdr, b)
	}
	if len(b) == 0 {
		return st, hdr, nil
	}
	return st, hdr, it.JSON(t, b)
}

// connectorBody is the APIM WSO2-IS-7 connector's create body (§2.3).
const connectorBody = `{"client_name":"admin_7c1e_PRODUCTION",
 "grant_types":["client_credentials","password","refresh_token"],
 "redirect_uris":["https://app.example.com/cb"],
 "ext_application_display_name":"MyApp","token_type_extension":"JWT",
 "ext_refresh_token_lifetime":0,"ext_id_token_lifetime":0,
 "ext_pkce_mandatory":false,"ext_pkce_support_plain":false,"ext_public_client":false,
 "ext_allowed_audience":"organization",
 "backchannel_logout_session_required":false,"require_signed_request_object":false,
 "require_pushed_authorization_requests":false,"tls_client_certificate_bound_access_tokens":false}`

func TestConnectorLifecycle(t *testing.T) {
	f := newFixture(t)
	st, hdr, app := f.do(t, "POST", Path, it.AdminAuth, connectorBody, true)
	if st != http.StatusCreated || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("create: %d %v", st, app)
	}
	id, _ := app["client_id"].(string)
	secret, _ := app["client_secret"].(string)
	if id == "" || secret == "" || app["client_secret_expires_at"] != float64(0) {
		t.Fatalf("create response %v", app)
	}
	want := map[string]any{"client_name": "admin_7c1e_PRODUCTION", "ext_application_display_name": "MyApp", "token_type_extension": "JWT",
		"ext_application_token_lifetime": float64(3600), "ext_user_token_lifetime": float64(3600), "ext_refresh_token_lifetime": float64(86400),
		"ext_id_token_lifetime": float64(3600), "ext_pkce_mandatory": false, "ext_pkce_support_plain": false, "ext_public_client": false,
		"ext_allowed_audience": "organization", "ext_application_owner": it.AdminName}
	for k, v := range want {
		if app[k] != v {
			t.Errorf("%s = %v, want %v", k, app[k], v)
		}
	}
	if g := app["grant_types"].([]any); len(g) != 3 || app["redirect_uris"].([]any)[0] != "https://app.example.com/cb" {
		t.Fatalf("grants/redirects %v", app)
	}
	stored, _ := f.clients.GetClient(context.Background(), id)
	if stored.TokenType != "JWT" || stored.AuthMethod != "client_secret_basic" || stored.Owner != it.AdminName || stored.Extra["ext_allowed_audience"] != "organization" {
		t.Fatalf("stored client %+v", stored)
	}

	// Retrieve by id returns the plaintext secret the connector compares.
	st, _, got := f.do(t, "GET", Path+"/"+id, it.AdminAuth, nil, true)
	if st != 200 || got["client_secret"] != secret || got["client_id"] != id {
		t.Fatalf("get: %d %v", st, got)
	}
	st, _, got = f.do(t, "GET", Path+"?client_name="+url.QueryEscape("admin_7c1e_PRODUCTION"), it.AdminAuth, nil, true)
	if st != 200 || got["client_id"] != id {
		t.Fatalf("get by name: %d %v", st, got)
	}

	// Update as the connector does: client_id and client_secret in the body.
	upd := map[string]any{"client_name": "admin_7c1e_PRODUCTION", "client_id": id, "client_secret": secret,
		"grant_types": []string{"client_credentials"}, "redirect_uris": []string{}, "ext_application_token_lifetime": 600,
		"ext_refresh_token_lifetime": 0, "ext_id_token_lifetime": 0, "ext_pkce_mandatory": true, "ext_pkce_support_plain": false,
		"ext_public_client": false, "token_type_extension": "Default"}
	st, _, got = f.do(t, "PUT", Path+"/"+id, it.AdminAuth, upd, true)
	if st != 200 || got["ext_application_token_lifetime"] != float64(600) || got["ext_pkce_mandatory"] != true || got["token_type_extension"] != "Default" || got["client_secret"] != secret {
		t.Fatalf("update: %d %v", st, got)
	}
	if r := f.revoked.list(); len(r) != 0 {
		t.Fatalf("same secret revoked tokens: %v", r)
	}
	// A new secret revokes the client's tokens.
	upd["client_secret"] = "brand-new-secret"
	if st, _, got = f.do(t, "PUT", Path+"/"+id, it.AdminAuth, upd, true); st != 200 || got["client_secret"] != "brand-new-secret" {
		t.Fatalf("rotate: %d %v", st, got)
	}
	if r := f.revoked.list(); !slices.Equal(r, []string{id + "/system"}) {
		t.Fatalf("revocations after rotation %v", r)
	}

	st, _, _ = f.do(t, "DELETE", Path+"/"+id, it.AdminAuth, nil, true)
	if st != 204 {
		t.Fatalf("delete: %d", st)
	}
	if r := f.revoked.list(); len(r) != 2 {
		t.Fatalf("delete did not revoke: %v", r)
	}
	if st, _, e := f.do(t, "GET", Path+"/"+id, it.AdminAuth, nil, true); st != 404 || e["error"] == nil {
		t.Fatalf("get deleted: %d %v", st, e)
	}
}

func TestPresetKeysAndPublicClients(t *testing.T) {
	f := newFixture(t)
	st, _, app := f.do(t, "POST", Path, it.AdminAuth, map[string]any{"client_name": "preset", "grant_types": []string{"password"},
		"ext_param_client_id": "provided_client_id0001", "ext_param_client_secret": "provided_client_secret0001"}, true)
	if st != 201 || app["client_id"] != "provided_client_id0001" || app["client_secret"] != "provided_client_secret0001" {
		t.Fatalf("preset: %d %v", st, app)
	}
	st, _, app = f.do(t, "POST", Path, it.AdminAuth, map[string]any{"client_name": "spa", "grant_types": []string{"authorization_code", "refresh_token"},
		"redirect_uris": []string{"https://spa.example.com/cb", "com.example.app:/cb"}, "ext_public_client": true, "ext_pkce_support_plain": false,
		"ext_user_token_lifetime": 120, "jwks_uri": "https://spa.example.com/jwks", "ext_allowed_audience": "application",
		"post_logout_redirect_uris": []string{"https://spa.example.com/bye"}, "backchannel_logout_uri": "https://spa.example.com/bc"}, true)
	if st != 201 || app["client_secret"] != nil || app["client_secret_expires_at"] != nil || app["ext_public_client"] != true || app["ext_pkce_mandatory"] != true ||
		app["ext_user_token_lifetime"] != float64(120) || app["ext_allowed_audience"] != "application" || app["jwks_uri"] != "https://spa.example.com/jwks" {
		t.Fatalf("public: %d %v", st, app)
	}
	c, _ := f.clients.GetClientByName(context.Background(), "spa")
	if !c.Public || c.AuthMethod != "none" || c.Secret != "" || len(c.PostLogoutRedirectURIs) != 1 || c.Extra["backchannel_logout_uri"] != "https://spa.example.com/bc" {
		t.Fatalf("stored public client %+v", c)
	}
}

func TestRegistrationErrors(t *testing.T) {
	f := newFixture(t)
	if st, _, _ := f.do(t, "POST", Path, it.AdminAuth, map[string]any{"client_name": "taken", "grant_types": []string{"client_credentials"}}, true); st != 201 {
		t.Fatal("setup")
	}
	cases := []struct {
		name   string
		auth   string
		body   any
		status int
		code   string
	}{
		{"no credentials", "", `{"client_name":"a"}`, 401, "invalid_client"},
		{"wrong password", it.Basic(it.AdminName, "x"), `{"client_name":"a"}`, 401, "invalid_client"},
		{"non-admin", it.Basic(it.UserName, it.UserPass), `{"client_name":"a","grant_types":["password"]}`, 403, "access_denied"},
		{"bad JSON", it.AdminAuth, `{"client_name":`, 400, errMetadata},
		{"missing name", it.AdminAuth, `{"grant_types":["password"]}`, 400, errMetadata},
		{"duplicate name", it.AdminAuth, `{"client_name":"taken","grant_types":["password"]}`, 409, errMetadata},
		{"unknown grant", it.AdminAuth, `{"client_name":"a","grant_types":["magic"]}`, 400, errMetadata},
		{"code without redirect", it.AdminAuth, `{"client_name":"a","grant_types":["authorization_code"]}`, 400, errRedirectURI},
		{"relative redirect", it.AdminAuth, `{"client_name":"a","grant_types":["authorization_code"],"redirect_uris":["/cb"]}`, 400, errRedirectURI},
		{"redirect with fragment", it.AdminAuth, `{"client_name":"a","grant_types":["authorization_code"],"redirect_uris":["https://a/cb#x"]}`, 400, errRedirectURI},
		{"regexp redirect", it.AdminAuth, `{"client_name":"a","grant_types":["authorization_code"],"redirect_uris":["regexp=(https://a|https://b)"]}`, 400, errRedirectURI},
		{"negative lifetime", it.AdminAuth, `{"client_name":"a","grant_types":["password"],"ext_user_token_lifetime":-1}`, 400, errMetadata},
		{"string lifetime", it.AdminAuth, `{"client_name":"a","grant_types":["password"],"ext_user_token_lifetime":"N/A"}`, 400, errMetadata},
		{"bad token type", it.AdminAuth, `{"client_name":"a","grant_types":["password"],"token_type_extension":"SAML"}`, 400, errMetadata},
		{"public with secret", it.AdminAuth, `{"client_name":"a","grant_types":["password"],"ext_public_client":true,"ext_param_client_secret":"s"}`, 400, errMetadata},
		{"public client_credentials", it.AdminAuth, `{"client_name":"a","grant_types":["client_credentials"],"ext_public_client":true}`, 400, errMetadata},
		{"http jwks_uri", it.AdminAuth, `{"client_name":"a","grant_types":["password"],"jwks_uri":"http://x/jwks"}`, 400, errMetadata},
		{"bad audience", it.AdminAuth, `{"client_name":"a","grant_types":["password"],"ext_allowed_audience":"tenant"}`, 400, errMetadata},
		{"PAR required", it.AdminAuth, `{"client_name":"a","grant_types":["password"],"require_pushed_authorization_requests":true}`, 400, errMetadata},
		{"bad preset id", it.AdminAuth, `{"client_name":"a","grant_types":["password"],"ext_param_client_id":"a:b"}`, 400, errMetadata},
		{"private_key_jwt without keys", it.AdminAuth, `{"client_name":"a","grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt"}`, 400, errMetadata},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// 401/403 are not declared for POST in the definition: shape only.
			st, hdr, e := f.do(t, "POST", Path, tc.auth, tc.body, tc.status != 401 && tc.status != 403)
			if st != tc.status || e["error"] != tc.code || e["error_description"] == "" {
				t.Fatalf("got %d %v, want %d %s", st, e, tc.status, tc.code)
			}
			if hdr.Get("Cache-Control") != "no-store" {
				t.Fatalf("Cache-Control %q", hdr.Get("Cache-Control"))
			}
		})
	}
	all, _ := f.clients.ListClients(context.Background(), "")
	if len(all) != 1 {
		t.Fatalf("failed registrations left %d clients", len(all))
	}

	// Update and read errors.
	c := all[0]
	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
	}{
		{"update unknown", "PUT", Path + "/nope", `{"client_name":"x"}`, 404},
		{"update mismatched id", "PUT", Path + "/" + c.ID, map[string]any{"client_id": "other"}, 400},
		{"update bad grant", "PUT", Path + "/" + c.ID, `{"grant_types":["magic"]}`, 400},
		{"get by name without name", "GET", Path, nil, 400},
		{"get by unknown name", "GET", Path + "?client_name=nope", nil, 404},
		{"delete unknown", "DELETE", Path + "/nope", nil, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, _, e := f.do(t, tc.method, tc.path, it.AdminAuth, tc.body, false)
			if st != tc.status || e["error"] == nil {
				t.Fatalf("got %d %v, want %d", st, e, tc.status)
			}
		})
	}
	after, _ := f.clients.GetClient(context.Background(), c.ID)
	b1, _ := json.Marshal(c)
	b2, _ := json.Marshal(after)
	if string(b1) != string(b2) {
		t.Fatalf("failed updates changed the client:\n%s\n%s", b1, b2)
	}
}
