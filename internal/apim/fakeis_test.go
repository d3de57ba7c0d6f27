package apim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeIS is a small WSO2 Identity Server 7 double for the composition
// tests: discovery, DCR, token, API resources and roles. The connector's
// exact wire behaviour is tested in package keymanager.
type fakeIS struct {
	t       *testing.T
	srv     *httptest.Server
	mu      sync.Mutex
	calls   []string
	clients map[string]map[string]any
	scopes  []string
	roles   map[string][]string // display name -> permission values
	dcrBody map[string]any
}

func newFakeIS(t *testing.T) *fakeIS {
	f := &fakeIS{t: t, clients: map[string]map[string]any{}, roles: map[string][]string{}}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeIS) called(prefix string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			return true
		}
	}
	return false
}

func (f *fakeIS) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	write := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	base := f.srv.URL
	admin := func() bool {
		u, p, _ := r.BasicAuth()
		if u != "isadmin" || p != "ispass" {
			write(http.StatusUnauthorized, map[string]any{"error": "unauthorized", "error_description": "bad credentials"})
			return false
		}
		return true
	}
	const dcr = "/api/identity/oauth2/dcr/v1.1/register"
	switch {
	case r.URL.Path == "/oauth2/token/.well-known/openid-configuration":
		write(http.StatusOK, map[string]any{"issuer": base + "/oauth2/token", "token_endpoint": base + "/oauth2/token",
			"authorization_endpoint": base + "/oauth2/authorize", "jwks_uri": base + "/oauth2/jwks", "revocation_endpoint": base + "/oauth2/revoke",
			"introspection_endpoint": base + "/oauth2/introspect", "userinfo_endpoint": base + "/oauth2/userinfo",
			"registration_endpoint": base + dcr, "grant_types_supported": []string{"client_credentials", "password", "refresh_token", "authorization_code"}})
	case r.Method == http.MethodPost && r.URL.Path == dcr:
		if !admin() {
			return
		}
		f.dcrBody = body
		id := "is-client-" + strings.ToLower(body["client_name"].(string)[:5])
		c := map[string]any{"client_id": id, "client_secret": "is-secret", "client_name": body["client_name"], "grant_types": body["grant_types"]}
		f.clients[id] = c
		write(http.StatusCreated, c)
	case strings.HasPrefix(r.URL.Path, dcr+"/"):
		if !admin() {
			return
		}
		id := strings.TrimPrefix(r.URL.Path, dcr+"/")
		c, ok := f.clients[id]
		switch {
		case !ok:
			write(http.StatusNotFound, map[string]any{"error": "not_found", "error_description": "no such client"})
		case r.Method == http.MethodDelete:
			delete(f.clients, id)
			w.WriteHeader(http.StatusNoContent)
		default:
			write(http.StatusOK, c)
		}
	case r.URL.Path == "/oauth2/token":
		u, p, _ := r.BasicAuth()
		if c, ok := f.clients[u]; !ok || c["client_secret"] != p {
			write(http.StatusUnauthorized, map[string]any{"error": "invalid_client", "error_description": "Client authentication failed"})
			return
		}
		write(http.StatusOK, map[string]any{"access_token": "is-token-" + u, "expires_in": 3600, "token_type": "Bearer", "scope": r.FormValue("scope")})
	case r.URL.Path == "/api/server/v1/api-resources" && r.Method == http.MethodGet:
		if !admin() {
			return
		}
		list := []any{}
		if f.scopes != nil {
			list = append(list, map[string]any{"id": "res"})
		}
		write(http.StatusOK, map[string]any{"apiResources": list})
	case r.URL.Path == "/api/server/v1/api-resources" && r.Method == http.MethodPost:
		f.scopes = []string{}
		for _, s := range body["scopes"].([]any) {
			f.scopes = append(f.scopes, s.(map[string]any)["name"].(string))
		}
		write(http.StatusCreated, map[string]any{"id": "res"})
	case r.URL.Path == "/api/server/v1/api-resources/res/scopes":
		out := []any{}
		for _, s := range f.scopes {
			out = append(out, map[string]any{"name": s, "displayName": s, "description": ""})
		}
		write(http.StatusOK, out)
	case r.URL.Path == "/api/server/v1/api-resources/res" && r.Method == http.MethodPatch:
		for _, s := range body["addedScopes"].([]any) {
			f.scopes = append(f.scopes, s.(map[string]any)["name"].(string))
		}
		w.WriteHeader(http.StatusOK)
	case r.URL.Path == "/scim2/v2/Roles/.search":
		name := strings.TrimPrefix(body["filter"].(string), "displayName eq ")
		res := []any{}
		if _, ok := f.roles[name]; ok {
			res = append(res, map[string]any{"id": name})
		}
		write(http.StatusOK, map[string]any{"Resources": res})
	case strings.HasPrefix(r.URL.Path, "/scim2/v2/Roles/") && r.Method == http.MethodGet:
		perms := []any{}
		for _, p := range f.roles[strings.TrimPrefix(r.URL.Path, "/scim2/v2/Roles/")] {
			perms = append(perms, map[string]any{"value": p})
		}
		write(http.StatusOK, map[string]any{"permissions": perms})
	case strings.HasPrefix(r.URL.Path, "/scim2/v2/Roles/") && r.Method == http.MethodPatch:
		var perms []string
		for _, p := range body["Operations"].([]any)[0].(map[string]any)["value"].(map[string]any)["permissions"].([]any) {
			perms = append(perms, p.(map[string]any)["value"].(string))
		}
		f.roles[strings.TrimPrefix(r.URL.Path, "/scim2/v2/Roles/")] = perms
		write(http.StatusOK, map[string]any{})
	case r.URL.Path == "/scim2/v2/Roles" && r.Method == http.MethodPost:
		var perms []string
		for _, p := range body["permissions"].([]any) {
			perms = append(perms, p.(map[string]any)["value"].(string))
		}
		f.roles[body["displayName"].(string)] = perms
		write(http.StatusCreated, body)
	case r.URL.Path == "/nothing-here":
		http.NotFound(w, r)
	default:
		f.t.Errorf("fake IS: unexpected %s %s", r.Method, r.URL.Path)
		w.WriteHeader(http.StatusNotFound)
	}
}
