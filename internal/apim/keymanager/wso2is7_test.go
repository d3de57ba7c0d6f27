package keymanager

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
)

// fakeIS is a WSO2 Identity Server 7 double that checks each request the
// connector makes against PATTERN6-WIRE.md §2 and keeps enough state to
// answer like IS.
type fakeIS struct {
	t        *testing.T
	mu       sync.Mutex
	calls    []string
	clients  map[string]map[string]any
	resource string // API resource id, "" until created
	scopes   []map[string]any
	roles    map[string]map[string]any // id -> role
	bodies   map[string]map[string]any // "METHOD path" -> last JSON body
}

func newFakeIS(t *testing.T) (*fakeIS, *httptest.Server) {
	f := &fakeIS{t: t, clients: map[string]map[string]any{}, roles: map[string]map[string]any{
		"r-sub": {"id": "r-sub", "displayName": "subscriber", "permissions": []any{map[string]any{"value": "old", "display": "Old"}}},
	}, bodies: map[string]map[string]any{}}
	srv := httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeIS) fail(format string, a ...any) { f.t.Errorf("fake IS: "+format, a...) }

func (f *fakeIS) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := r.Method + " " + r.URL.Path
	f.calls = append(f.calls, key)
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	isJSON := strings.HasPrefix(r.Header.Get("Content-Type"), "application/json")
	if isJSON && len(raw) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil {
			f.fail("%s: body is not a JSON object: %s", key, raw)
		}
		f.bodies[key] = body
	}
	user, pass, _ := r.BasicAuth()
	wantAdmin := func() {
		if user != "admin" || pass != "s3cret" {
			f.fail("%s: want Basic admin credentials, got %q", key, r.Header.Get("Authorization"))
		}
	}
	wantJSON := func() {
		if r.Header.Get("Content-Type") != "application/json" {
			f.fail("%s: Content-Type %q, want application/json", key, r.Header.Get("Content-Type"))
		}
	}
	write := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	const dcr = "/api/identity/oauth2/dcr/v1.1/register"
	const res = "/api/server/v1/api-resources"
	switch {
	case r.Method == http.MethodPost && r.URL.Path == dcr:
		wantAdmin()
		wantJSON()
		id := "client-" + body["client_name"].(string)
		out := map[string]any{"client_id": id, "client_secret": "secret-1", "client_name": body["client_name"],
			"grant_types": body["grant_types"], "redirect_uris": body["redirect_uris"], "client_secret_expires_at": 0,
			"ext_pkce_mandatory": body["ext_pkce_mandatory"], "ext_refresh_token_lifetime": 86400}
		f.clients[id] = out
		write(http.StatusCreated, out)
	case strings.HasPrefix(r.URL.Path, dcr+"/"):
		wantAdmin()
		id := strings.TrimPrefix(r.URL.Path, dcr+"/")
		c, ok := f.clients[id]
		if !ok {
			write(http.StatusNotFound, map[string]any{"error": "not_found", "error_description": "Application not found"})
			return
		}
		switch r.Method {
		case http.MethodGet:
			write(http.StatusOK, c)
		case http.MethodPut:
			wantJSON()
			c["grant_types"], c["redirect_uris"] = body["grant_types"], body["redirect_uris"]
			write(http.StatusOK, c)
		case http.MethodDelete:
			delete(f.clients, id)
			w.WriteHeader(http.StatusNoContent)
		}
	case r.Method == http.MethodPost && r.URL.Path == "/oauth2/token":
		if user != "client-x" || pass != "secret-1" {
			f.fail("token: want Basic client credentials, got %q", r.Header.Get("Authorization"))
		}
		if string(raw) != "grant_type=client_credentials&scope=read+write" {
			f.fail("token body = %s", raw)
		}
		write(http.StatusOK, map[string]any{"access_token": "at-1", "expires_in": 3600, "scope": "read write", "token_type": "Bearer"})
	case r.Method == http.MethodPost && r.URL.Path == "/oauth2/introspect":
		wantAdmin()
		if r.Header.Get("X-WSO2-Tenant") != "carbon.super" || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			f.fail("introspect headers = %v", r.Header)
		}
		_ = r.ParseForm()
		tok := r.PostForm.Get("token")
		if tok == "" {
			tok, _ = url.QueryUnescape(strings.TrimPrefix(string(raw), "token="))
		}
		typ := "Bearer"
		if tok == "refresh" {
			typ = "Refresh"
		}
		write(http.StatusOK, map[string]any{"active": true, "token_type": typ, "iat": 100, "exp": 3700, "scope": "a b",
			"client_id": "client-x", "username": "alice@carbon.super", "aut": "APPLICATION"})
	case r.Method == http.MethodGet && r.URL.Path == res:
		wantAdmin()
		if got := r.URL.Query().Get("filter"); got != "identifier eq User-defined-oauth2-resource" {
			f.fail("api-resources filter = %q", got)
		}
		list := []any{}
		if f.resource != "" {
			list = append(list, map[string]any{"id": f.resource, "identifier": "User-defined-oauth2-resource"})
		}
		write(http.StatusOK, map[string]any{"totalResults": len(list), "apiResources": list})
	case r.Method == http.MethodPost && r.URL.Path == res:
		wantAdmin()
		wantJSON()
		if body["identifier"] != "User-defined-oauth2-resource" || body["name"] != "User-defined OAuth2 Resource" ||
			body["description"] != "This is Default OAuth2 Resource Representation" || body["requiresAuthorization"] != true {
			f.fail("create API resource body = %v", body)
		}
		f.resource = "res-1"
		for _, s := range body["scopes"].([]any) {
			f.scopes = append(f.scopes, s.(map[string]any))
		}
		write(http.StatusCreated, map[string]any{"id": f.resource})
	case r.Method == http.MethodGet && r.URL.Path == res+"/res-1/scopes":
		wantAdmin()
		write(http.StatusOK, f.scopes)
	case r.Method == http.MethodPatch && r.URL.Path == res+"/res-1":
		wantAdmin()
		wantJSON()
		added, _ := body["addedScopes"].([]any)
		if len(body) != 1 || len(added) == 0 {
			f.fail("PATCH API resource body = %v", body)
		}
		for _, s := range added {
			f.scopes = append(f.scopes, s.(map[string]any))
		}
		w.WriteHeader(http.StatusOK)
	case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, res+"/res-1/scopes/"):
		wantAdmin()
		name := strings.TrimPrefix(r.URL.Path, res+"/res-1/scopes/")
		f.scopes = slices.DeleteFunc(f.scopes, func(s map[string]any) bool { return s["name"] == name })
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPost && r.URL.Path == "/scim2/v2/Roles/.search":
		wantAdmin()
		wantJSON()
		schemas, _ := body["schemas"].([]any)
		if len(schemas) != 1 || schemas[0] != "urn:ietf:params:scim:api:messages:2.0:SearchRequest" || body["startIndex"] != nil || body["count"] != nil {
			f.fail("roles search body = %v", body)
		}
		name := strings.TrimPrefix(body["filter"].(string), "displayName eq ")
		found := []any{}
		for _, role := range f.roles {
			if role["displayName"] == name {
				found = append(found, map[string]any{"id": role["id"], "displayName": name})
			}
		}
		write(http.StatusOK, map[string]any{"totalResults": len(found), "Resources": found})
	case r.Method == http.MethodPost && r.URL.Path == "/scim2/v2/Roles":
		wantAdmin()
		wantJSON()
		if body["schemas"] != nil || body["audience"] != nil {
			f.fail("create role body = %v", body)
		}
		id := "r-" + body["displayName"].(string)
		body["id"] = id
		f.roles[id] = body
		write(http.StatusCreated, body)
	case strings.HasPrefix(r.URL.Path, "/scim2/v2/Roles/"):
		wantAdmin()
		id := strings.TrimPrefix(r.URL.Path, "/scim2/v2/Roles/")
		role := f.roles[id]
		if role == nil {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		if r.Method == http.MethodGet {
			write(http.StatusOK, role)
			return
		}
		wantJSON()
		ops, _ := body["Operations"].([]any)
		if len(ops) != 1 || body["schemas"] != nil {
			f.fail("PATCH role body = %v", body)
			return
		}
		op := ops[0].(map[string]any)
		if op["op"] != "replace" || op["path"] != nil {
			f.fail("PATCH role op = %v", op)
		}
		role["permissions"] = op["value"].(map[string]any)["permissions"]
		write(http.StatusOK, role)
	case r.Method == http.MethodGet && r.URL.Path == "/scim2/Me":
		if r.Header.Get("Authorization") != "Bearer user-token" || user != "" {
			f.fail("scim2/Me auth = %q", r.Header.Get("Authorization"))
		}
		write(http.StatusOK, map[string]any{"userName": "alice", "emails": []string{"alice@example.com"}})
	default:
		f.fail("unexpected call %s", key)
		w.WriteHeader(http.StatusNotFound)
	}
}

func is7Config(base string, createRoles bool) *Config {
	return &Config{Name: "IS7", Type: TypeWSO2IS7, Enabled: true, UserInfoEndpoint: base + "/scim2/Me",
		ClientRegistrationEndpoint: base + "/api/identity/oauth2/dcr/v1.1/register",
		TokenEndpoint:              base + "/oauth2/token", IntrospectionEndpoint: base + "/oauth2/introspect",
		AdditionalProperties: map[string]any{"Username": "admin", "Password": "s3cret",
			"api_resource_management_endpoint": base + "/api/server/v1/api-resources",
			"is7_roles_endpoint":               base + "/scim2/v2/Roles", "enable_roles_creation": createRoles}}
}

func TestIS7Clients(t *testing.T) {
	f, srv := newFakeIS(t)
	k, err := NewIS7(is7Config(srv.URL, false), srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := k.RegisterClient(ctx, ClientRequest{ClientName: "admin_app1_PRODUCTION", AppName: "MyApp", TokenType: "JWT",
		GrantTypes: []string{"client_credentials", "password", "refresh_token"}, Properties: map[string]any{"ext_pkce_mandatory": "false",
			"ext_application_token_lifetime": "N/A", "ext_user_token_lifetime": "3600"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.ClientID != "client-admin_app1_PRODUCTION" || c.ClientSecret != "secret-1" || c.Properties["ext_refresh_token_lifetime"] != "86400" {
		t.Fatalf("client = %+v", c)
	}
	body := f.bodies["POST /api/identity/oauth2/dcr/v1.1/register"]
	want := map[string]any{"client_name": "admin_app1_PRODUCTION", "ext_application_display_name": "MyApp", "token_type_extension": "JWT",
		"ext_user_token_lifetime": float64(3600), "ext_refresh_token_lifetime": float64(0), "ext_id_token_lifetime": float64(0),
		"ext_pkce_mandatory": false, "ext_pkce_support_plain": false, "ext_public_client": false, "ext_allowed_audience": "organization",
		"backchannel_logout_session_required": false, "require_signed_request_object": false,
		"require_pushed_authorization_requests": false, "tls_client_certificate_bound_access_tokens": false}
	for k, v := range want {
		if body[k] != v {
			t.Errorf("DCR %s = %#v, want %#v", k, body[k], v)
		}
	}
	for _, absent := range []string{"redirect_uris", "ext_application_token_lifetime", "ext_param_client_id", "client_id", "client_secret",
		"application_type", "token_endpoint_auth_method", "jwks_uri", "response_types"} {
		if _, ok := body[absent]; ok {
			t.Errorf("DCR body must not send %s", absent)
		}
	}
	if g := body["grant_types"].([]any); len(g) != 3 || g[0] != "client_credentials" {
		t.Errorf("grant_types = %v", g)
	}
	if _, err := k.RegisterClient(ctx, ClientRequest{ClientName: "x", Properties: map[string]any{"ext_public_client": "yes"}}); !errors.Is(err, ErrInvalidProperties) {
		t.Errorf("invalid property: %v", err)
	}
	if _, err := k.RegisterClient(ctx, ClientRequest{ClientName: "x", Properties: map[string]any{"ext_id_token_lifetime": "-1"}}); !errors.Is(err, ErrInvalidProperties) {
		t.Errorf("negative lifetime: %v", err)
	}

	up, err := k.UpdateClient(ctx, ClientRequest{ClientID: c.ClientID, ClientSecret: "secret-1", ClientName: "admin_app1_PRODUCTION",
		AppName: "MyApp", GrantTypes: []string{"client_credentials"}, CallbackURL: "https://a.example/cb , https://b.example/cb"})
	if err != nil {
		t.Fatal(err)
	}
	if up.CallbackURL != "https://a.example/cb,https://b.example/cb" {
		t.Errorf("callback = %q", up.CallbackURL)
	}
	put := f.bodies["PUT /api/identity/oauth2/dcr/v1.1/register/"+c.ClientID]
	if put["client_id"] != c.ClientID || put["client_secret"] != "secret-1" || put["ext_param_client_id"] != nil {
		t.Errorf("PUT body = %v", put)
	}
	if _, err := k.MapClient(ctx, c.ClientID, "wrong"); !errors.Is(err, ErrInvalid) {
		t.Errorf("map with wrong secret: %v", err)
	}
	if m, err := k.MapClient(ctx, c.ClientID, "secret-1"); err != nil || m.ClientID != c.ClientID {
		t.Errorf("map: %v", err)
	}
	if _, err := k.RegenerateSecret(ctx, c.ClientID); !errors.Is(err, ErrUnsupported) {
		t.Errorf("regenerate: %v", err)
	}
	if err := k.DeleteClient(ctx, c.ClientID); err != nil {
		t.Fatal(err)
	}
	if _, err := k.GetClient(ctx, c.ClientID); !errors.Is(err, ErrClientNotFound) {
		t.Errorf("get deleted: %v", err)
	}
	if err := k.DeleteClient(ctx, c.ClientID); err != nil {
		t.Errorf("delete twice: %v", err)
	}

	tok, err := k.Token(ctx, "client-x", "secret-1", []string{"read", "write"})
	if err != nil || tok.AccessToken != "at-1" || tok.ExpiresIn != 3600 || len(tok.Scopes) != 2 {
		t.Fatalf("token = %+v %v", tok, err)
	}
	in, err := k.Introspect(ctx, "at-1")
	if err != nil || !in.Active || !in.Application || in.ClientID != "client-x" || in.ExpiresAt-in.IssuedAt != 3600 {
		t.Fatalf("introspect = %+v %v", in, err)
	}
	if in, _ := k.Introspect(ctx, "refresh"); in.Active {
		t.Error("a refresh token must not be active for API calls")
	}
	claims, err := k.UserClaims(ctx, "user-token")
	if err != nil || claims["userName"] != "alice" {
		t.Errorf("claims = %v %v", claims, err)
	}
}

func TestIS7Scopes(t *testing.T) {
	f, srv := newFakeIS(t)
	k, err := NewIS7(is7Config(srv.URL, true), srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	err = k.RegisterScopes(ctx, []Scope{{Key: "pizza:order", Name: "Order", Description: "Order pizza", Roles: []string{"Internal/subscriber", "admin"}}})
	if err != nil {
		t.Fatal(err)
	}
	if f.resource != "res-1" || len(f.scopes) != 1 || f.scopes[0]["name"] != "pizza:order" || f.scopes[0]["displayName"] != "Order" {
		t.Fatalf("resource %q scopes %v", f.resource, f.scopes)
	}
	// Internal/subscriber maps to the existing IS role "subscriber", which
	// keeps its old permission; admin becomes system_primary_admin, created.
	sub := f.roles["r-sub"]["permissions"].([]any)
	if len(sub) != 2 || sub[1].(map[string]any)["value"] != "pizza:order" || sub[1].(map[string]any)["display"] != "Order" {
		t.Errorf("subscriber permissions = %v", sub)
	}
	created := f.roles["r-system_primary_admin"]
	if created == nil || created["permissions"].([]any)[0].(map[string]any)["value"] != "pizza:order" {
		t.Errorf("created role = %v (roles %v)", created, f.roles)
	}

	f.calls = nil
	err = k.RegisterScopes(ctx, []Scope{{Key: "pizza:order", Name: "Order"}, {Key: "pizza:menu", Name: "Menu", Roles: []string{"Internal/subscriber"}}})
	if err != nil {
		t.Fatal(err)
	}
	wantCalls := []string{"GET /api/server/v1/api-resources", "GET /api/server/v1/api-resources/res-1/scopes",
		"PATCH /api/server/v1/api-resources/res-1", "POST /scim2/v2/Roles/.search", "GET /scim2/v2/Roles/r-sub", "PATCH /scim2/v2/Roles/r-sub"}
	if !slices.Equal(f.calls, wantCalls) {
		t.Errorf("calls = %v\nwant %v", f.calls, wantCalls)
	}
	added := f.bodies["PATCH /api/server/v1/api-resources/res-1"]["addedScopes"].([]any)
	if len(added) != 1 || added[0].(map[string]any)["name"] != "pizza:menu" {
		t.Errorf("addedScopes = %v", added)
	}
	if err := k.DeleteScopes(ctx, []string{"pizza:menu"}); err != nil {
		t.Fatal(err)
	}
	if len(f.scopes) != 1 {
		t.Errorf("scopes after delete = %v", f.scopes)
	}
}

func TestIS7RolesWithoutCreation(t *testing.T) {
	f, srv := newFakeIS(t)
	k, _ := NewIS7(is7Config(srv.URL, false), srv.Client())
	// Without creation, APIM role names are used unchanged and missing
	// roles are skipped.
	if err := k.RegisterScopes(context.Background(), []Scope{{Key: "s1", Roles: []string{"Internal/subscriber"}}}); err != nil {
		t.Fatal(err)
	}
	if len(f.roles) != 1 {
		t.Errorf("a role was created: %v", f.roles)
	}
	if _, err := k.is7RoleName("Application/x"); err != nil {
		t.Errorf("Application/ roles are only refused when creating: %v", err)
	}
	k.createRoles = true
	if _, err := k.is7RoleName("Application/x"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Application/x: %v", err)
	}
}

func TestIS7NeedsCredentials(t *testing.T) {
	cfg := is7Config("https://is.example", false)
	delete(cfg.AdditionalProperties, "Password")
	if _, err := NewIS7(cfg, http.DefaultClient); !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v", err)
	}
}
