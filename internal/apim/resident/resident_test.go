package resident

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/keyway/keyway/internal/apim/keymanager"
	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/db/dbtest"
	"github.com/keyway/keyway/internal/keystore"
	"github.com/keyway/keyway/internal/secret"
	"github.com/keyway/keyway/internal/user"
)

// The 19 scopes apictl asks for, in its order (APICTL-FLOW.md §3.3).
var apictlScopes = []string{"apim:app_import_export", "apim:api_import_export", "apim:api_product_import_export", "apim:app_manage",
	"apim:sub_manage", "apim:api_view", "apim:api_delete", "apim:app_owner_change", "apim:subscribe", "apim:api_publish", "apim:admin",
	"apim:policies_import_export", "apim:mcp_server_view", "apim:mcp_server_list_view", "apim:mcp_server_create",
	"apim:mcp_server_delete", "apim:mcp_server_publish", "apim:mcp_server_manage", "apim:mcp_server_import_export"}

type fixture struct {
	srv   *httptest.Server
	km    *KeyManager
	users *user.Store
}

type staticScopes map[string][]string

func (s staticScopes) ScopeRoles(_ context.Context, scopes []string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, sc := range scopes {
		if r, ok := s[sc]; ok {
			out[sc] = r
		}
	}
	return out, nil
}

func newFixture(t *testing.T, d *db.DB) *fixture {
	t.Helper()
	ctx := context.Background()
	users, err := user.NewStore(ctx, d, user.StoreOptions{Argon2: user.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := users.EnsureSuperAdmin(ctx, "admin", "admin", "admin"); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"Internal/subscriber"} {
		if err := users.CreateRole(ctx, &user.Role{Name: r, AudienceType: "organization"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := users.CreateUser(ctx, &user.User{Username: "dev", Roles: []string{"Internal/subscriber"}}, "devpass1"); err != nil {
		t.Fatal(err)
	}
	ks, err := keystore.Generate("wso2carbon", []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	sealer, _ := secret.NewSealerFromKey(make([]byte, 32))
	mux := http.NewServeMux()
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	km, err := New(ctx, Config{BaseURL: srv.URL, DB: d, Signer: ks, Sealer: sealer, Users: users, HTTPClient: srv.Client(),
		APIScopes: staticScopes{"pizza:order": {"Internal/subscriber"}, "pizza:admin": {"admin"}, "open:scope": nil}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = km.Close() })
	km.Mount(mux)
	return &fixture{srv: srv, km: km, users: users}
}

func (f *fixture) post(t *testing.T, path, user, pass, ctype string, body []byte) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+path, bytes.NewReader(body))
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Accept", "application/json")
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func (f *fixture) register(t *testing.T, user, pass, name string) (int, map[string]any) {
	body := `{
		"clientName": "` + name + `",
		"callbackUrl": "www.google.lk",
		"grantType": "password refresh_token",
		"saasApp": true,
		"owner": "` + user + `",
		"tokenScope": "Production"
	}`
	return f.post(t, RegistrationPath, user, pass, "application/json", []byte(body))
}

func (f *fixture) passwordGrant(t *testing.T, clientID, secret, user, pass string, scopes []string) (int, map[string]any) {
	// apictl joins scopes with a literal '+' and does not escape the user name.
	body := "grant_type=password&username=" + user + "&password=" + url.QueryEscape(pass) + "&scope=" + strings.Join(scopes, "+")
	return f.post(t, "/oauth2/token", clientID, secret, "application/x-www-form-urlencoded", []byte(body))
}

func TestApictlLogin(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		status, reg := f.register(t, "admin", "admin", "rest_api_import_export_admin")
		if status != http.StatusOK {
			t.Fatalf("register: %d %v", status, reg)
		}
		for _, k := range []string{"clientId", "clientSecret", "clientName", "callBackURL", "jsonString", "appOwner"} {
			if s, _ := reg[k].(string); s == "" {
				t.Errorf("registration response lacks %s: %v", k, reg)
			}
		}
		if reg["isSaasApplication"] != true || reg["callBackURL"] != "www.google.lk" || reg["appOwner"] != "admin" {
			t.Errorf("registration = %v", reg)
		}
		// A second login returns the same client.
		_, again := f.register(t, "admin", "admin", "rest_api_import_export_admin")
		if again["clientId"] != reg["clientId"] || again["clientSecret"] != reg["clientSecret"] {
			t.Errorf("re-registration gave another client: %v", again)
		}
		id, sec := reg["clientId"].(string), reg["clientSecret"].(string)
		status, tok := f.passwordGrant(t, id, sec, "admin", "admin", apictlScopes)
		if status != http.StatusOK {
			t.Fatalf("password grant: %d %v", status, tok)
		}
		granted := strings.Fields(tok["scope"].(string))
		for _, s := range apictlScopes {
			if !slices.Contains(granted, s) {
				t.Errorf("admin did not get %s", s)
			}
		}
		if tok["access_token"] == "" || tok["refresh_token"] == nil {
			t.Errorf("token response = %v", tok)
		}
		ti, err := f.km.Engine().ValidateAccessToken(context.Background(), tok["access_token"].(string))
		if err != nil || !ti.Active || ti.Username == "" {
			t.Fatalf("validate: %+v %v", ti, err)
		}

		// A subscriber gets only the developer-portal scopes.
		_, dreg := f.register(t, "dev", "devpass1", "rest_api_devportal_dev")
		status, dtok := f.passwordGrant(t, dreg["clientId"].(string), dreg["clientSecret"].(string), "dev", "devpass1",
			append(slices.Clone(apictlScopes), "pizza:order", "pizza:admin", "open:scope", "unknown:scope"))
		if status != http.StatusOK {
			t.Fatalf("dev password grant: %d %v", status, dtok)
		}
		got := strings.Fields(dtok["scope"].(string))
		slices.Sort(got)
		want := []string{"apim:app_manage", "apim:sub_manage", "apim:subscribe", "open:scope", "pizza:order"}
		if !slices.Equal(got, want) {
			t.Errorf("subscriber scopes = %v, want %v", got, want)
		}
	})
}

func TestRegistrationRejects(t *testing.T) {
	f := newFixture(t, dbtest.SQLite(t))
	if status, body := f.register(t, "admin", "wrong", "x"); status != http.StatusUnauthorized || body["code"] == nil {
		t.Errorf("bad password: %d %v", status, body)
	}
	if status, _ := f.post(t, RegistrationPath, "admin", "admin", "application/json", []byte(`{"clientName":"x","owner":"dev"}`)); status != http.StatusForbidden {
		t.Errorf("other owner: %d", status)
	}
	if status, body := f.post(t, RegistrationPath, "admin", "admin", "application/json", []byte(`{"clientName":""}`)); status != http.StatusBadRequest || body["message"] == nil {
		t.Errorf("no name: %d %v", status, body)
	}
	if status, _ := f.post(t, RegistrationPath, "admin", "admin", "application/json", []byte(`{`)); status != http.StatusBadRequest {
		t.Errorf("bad JSON: %d", status)
	}
	_, reg := f.register(t, "admin", "admin", "shared")
	if status, _ := f.register(t, "dev", "devpass1", "shared"); status != http.StatusForbidden && status != http.StatusConflict {
		t.Errorf("taking another user's client name: %d", status)
	}
	if clients, _ := f.km.Engine().Clients().ListClients(context.Background(), ""); len(clients) != 1 || clients[0].ID != reg["clientId"] {
		t.Errorf("clients after rejected calls = %d", len(clients))
	}
}

func TestResidentConnector(t *testing.T) {
	f := newFixture(t, dbtest.SQLite(t))
	ctx := context.Background()
	conn, err := f.km.Factory()(f.km.Config(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := conn.RegisterClient(ctx, keymanager.ClientRequest{ClientName: "dev_app_PRODUCTION", AppName: "App", Owner: "dev",
		KeyType: "PRODUCTION", GrantTypes: []string{"client_credentials", "password"}, TokenType: "JWT",
		Properties: map[string]any{"application_access_token_expiry_time": "600"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.ClientID == "" || c.ClientSecret == "" || c.Properties["application_access_token_expiry_time"] != "600" {
		t.Fatalf("client = %+v", c)
	}
	tok, err := conn.Token(ctx, c.ClientID, c.ClientSecret, []string{"pizza:order", "apim:admin"})
	if err != nil {
		t.Fatal(err)
	}
	// The application's owner is a subscriber: the API scope bound to
	// Internal/subscriber is granted, the admin REST scope is not.
	if !slices.Equal(tok.Scopes, []string{"pizza:order"}) || tok.ExpiresIn != 600 {
		t.Errorf("token = %+v", tok)
	}
	in, err := conn.Introspect(ctx, tok.AccessToken)
	if err != nil || !in.Active || in.ClientID != c.ClientID {
		t.Errorf("introspect = %+v %v", in, err)
	}
	secret, err := conn.RegenerateSecret(ctx, c.ClientID)
	if err != nil || secret == c.ClientSecret {
		t.Fatalf("regenerate: %v", err)
	}
	if _, err := conn.Token(ctx, c.ClientID, c.ClientSecret, nil); err == nil {
		t.Error("the old secret still works")
	}
	if _, err := conn.Token(ctx, c.ClientID, secret, nil); err != nil {
		t.Errorf("new secret: %v", err)
	}
	upd, err := conn.UpdateClient(ctx, keymanager.ClientRequest{ClientID: c.ClientID, GrantTypes: []string{"client_credentials"},
		CallbackURL: "https://cb.example/x", AppName: "App", Owner: "dev"})
	if err != nil || upd.CallbackURL != "https://cb.example/x" || len(upd.GrantTypes) != 1 || upd.ClientName != "dev_app_PRODUCTION" {
		t.Fatalf("update = %+v %v", upd, err)
	}
	if err := conn.DeleteClient(ctx, c.ClientID); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.GetClient(ctx, c.ClientID); err != keymanager.ErrClientNotFound {
		t.Errorf("get deleted: %v", err)
	}
}
