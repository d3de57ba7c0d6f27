package identity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/keyway/keyway/internal/config"
	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/db/dbtest"
	it "github.com/keyway/keyway/internal/identity/identitytest"
	"github.com/keyway/keyway/internal/keystore"
	"github.com/keyway/keyway/internal/oauth"
	"github.com/keyway/keyway/internal/platform"
	"github.com/keyway/keyway/internal/secret"
	"github.com/keyway/keyway/internal/user"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

type events struct {
	mu   sync.Mutex
	list []oauth.RevokedAccessToken
}

func (e *events) AccessTokenRevoked(_ context.Context, t oauth.RevokedAccessToken) {
	e.mu.Lock()
	e.list = append(e.list, t)
	e.mu.Unlock()
}

func (e *events) n() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.list)
}

type node struct {
	srv    *httptest.Server
	is     *Server
	client *http.Client
}

// start runs an Identity Server on d behind a TLS test server whose URL is
// the issuer's base, as a real listener would be.
func start(t *testing.T, d *db.DB, p *platform.Platform, opts ...Option) *node {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	pp := *p
	pp.BaseURL = srv.URL
	opts = append(opts, WithUserStoreOptions(user.StoreOptions{Argon2: user.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}}))
	is, err := New(context.Background(), &pp, d, opts...)
	if err != nil {
		t.Fatalf("identity.New: %v", err)
	}
	t.Cleanup(func() { _ = is.Close(context.Background()) })
	is.Mount(mux)
	return &node{srv: srv, is: is, client: srv.Client()}
}

func newPlatform(t *testing.T) *platform.Platform {
	t.Helper()
	primary, err := keystore.Generate("wso2carbon", []string{"localhost", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	internal, err := keystore.Generate("internal", []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := secret.NewSealer(internal)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.SuperAdmin.Password = it.AdminPass
	cfg.OAuth.AuthorizeAllScopes = true
	cfg.Resource.AccessControl = []config.AccessControl{{Context: "(.*)/scim2/Me", Secure: true, HTTPMethod: "GET", CrossTenant: true, Permissions: []string{}, Scopes: []string{}}}
	return &platform.Platform{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Primary: primary, TLS: primary, Internal: internal, Sealer: sealer}
}

func (n *node) call(t *testing.T, method, path, auth string, body any) (int, map[string]any) {
	t.Helper()
	st, _, b := it.Do(t, n.client, it.Request(t, method, n.srv.URL+path, auth, body))
	if len(b) == 0 {
		return st, nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s %s: %d %s", method, path, st, b)
	}
	return st, m
}

func jwtClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestPattern6Flow(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		p := newPlatform(t)
		ev := &events{}
		n := start(t, d, p, WithRevocationListener(ev))
		admin := it.AdminAuth
		if n.is.Name() != "identity-server" || n.is.Users() == nil || n.is.OAuth() == nil {
			t.Fatal("accessors")
		}

		// The connector registers an application (DCR) ...
		st, app := n.call(t, "POST", "/api/identity/oauth2/dcr/v1.1/register", admin, map[string]any{
			"client_name": "admin_app1_PRODUCTION", "grant_types": []string{"client_credentials", "password", "refresh_token"},
			"ext_application_display_name": "App1", "token_type_extension": "JWT", "ext_refresh_token_lifetime": 0, "ext_id_token_lifetime": 0,
			"ext_pkce_mandatory": false, "ext_pkce_support_plain": false, "ext_public_client": false, "ext_allowed_audience": "organization"})
		if st != 201 {
			t.Fatalf("DCR: %d %v", st, app)
		}
		clientID, secretValue := app["client_id"].(string), app["client_secret"].(string)
		// ... its scopes in the User-defined resource, bound to a role.
		if st, r := n.call(t, "POST", "/api/server/v1/api-resources", admin, map[string]any{"name": "User-defined OAuth2 Resource",
			"identifier": "User-defined-oauth2-resource", "requiresAuthorization": true,
			"scopes": []map[string]string{{"name": "orders:read", "displayName": "Read"}, {"name": "orders:write", "displayName": "Write"}}}); st != 201 {
			t.Fatalf("api resource: %d %v", st, r)
		}
		plain, err := n.is.Users().GetUserByName(ctx, it.UserName)
		if errors.Is(err, user.ErrNotFound) {
			if err := n.is.Users().CreateUser(ctx, &user.User{Username: it.UserName, Email: "plain@example.org"}, it.UserPass); err != nil {
				t.Fatal(err)
			}
			plain, err = n.is.Users().GetUserByName(ctx, it.UserName)
		}
		if err != nil {
			t.Fatal(err)
		}
		if st, r := n.call(t, "POST", "/scim2/v2/Roles", admin, map[string]any{"displayName": "reader",
			"permissions": []map[string]string{{"value": "orders:read", "display": "Read"}}, "users": []map[string]string{{"value": plain.ID}}}); st != 201 {
			t.Fatalf("role: %d %v", st, r)
		}

		octx := context.WithValue(ctx, oauth2.HTTPClient, n.client)
		// Application token: authorize_all_scopes grants API-resource scopes.
		cc := clientcredentials.Config{ClientID: clientID, ClientSecret: secretValue, TokenURL: n.srv.URL + "/oauth2/token", Scopes: []string{"orders:read", "orders:write", "nope"}}
		tok, err := cc.Token(octx)
		if err != nil {
			t.Fatalf("client_credentials: %v", err)
		}
		if got := tok.Extra("scope"); got != "orders:read orders:write" {
			t.Fatalf("application scopes %q", got)
		}
		// User token: only the role-bound scope.
		pc := oauth2.Config{ClientID: clientID, ClientSecret: secretValue, Endpoint: oauth2.Endpoint{TokenURL: n.srv.URL + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader},
			Scopes: []string{"orders:read", "orders:write"}}
		utok, err := pc.PasswordCredentialsToken(octx, it.UserName, it.UserPass)
		if err != nil {
			t.Fatalf("password grant: %v", err)
		}
		if got := utok.Extra("scope"); got != "orders:read" {
			t.Fatalf("user scopes %q", got)
		}
		claims := jwtClaims(t, utok.AccessToken)

		// The connector's claim lookup: /scim2/Me with the end-user token.
		st, me := n.call(t, "GET", "/scim2/Me", "Bearer "+utok.AccessToken, nil)
		if st != 200 || me["id"] != plain.ID || me["id"] != claims["sub"] {
			t.Fatalf("Me: %d %v (sub %v)", st, me, claims["sub"])
		}
		// The same token cannot manage users.
		if st, e := n.call(t, "GET", "/scim2/Users", "Bearer "+utok.AccessToken, nil); st != 403 {
			t.Fatalf("Users with a user token: %d %v", st, e)
		}

		// Deleting the application revokes its tokens and tells the listener.
		if st, _ := n.call(t, "DELETE", "/api/identity/oauth2/dcr/v1.1/register/"+clientID, admin, nil); st != 204 {
			t.Fatalf("DCR delete: %d", st)
		}
		if st, e := n.call(t, "GET", "/scim2/Me", "Bearer "+utok.AccessToken, nil); st != 401 {
			t.Fatalf("Me after the client was deleted: %d %v", st, e)
		}
		if ev.n() == 0 {
			t.Fatal("no revocation event after deleting the client")
		}

		// A second application and a changed admin password survive a restart.
		st, app = n.call(t, "POST", "/api/identity/oauth2/dcr/v1.1/register", admin, map[string]any{"client_name": "keeper", "grant_types": []string{"client_credentials"}})
		if st != 201 {
			t.Fatalf("DCR 2: %d %v", st, app)
		}
		adminUser, _ := n.is.Users().GetUserByName(ctx, it.AdminName)
		if err := n.is.Users().SetPassword(ctx, adminUser.ID, "new-admin-pass"); err != nil {
			t.Fatal(err)
		}
		_ = n.is.Close(ctx)

		n2 := start(t, d, p)
		newAdmin := it.Basic(it.AdminName, "new-admin-pass")
		if st, _ := n2.call(t, "GET", "/scim2/Users", admin, nil); st != 401 {
			t.Fatalf("old admin password after restart: %d", st)
		}
		st, got := n2.call(t, "GET", "/api/identity/oauth2/dcr/v1.1/register/"+app["client_id"].(string), newAdmin, nil)
		if st != 200 || got["client_secret"] != app["client_secret"] {
			t.Fatalf("client after restart: %d %v", st, got)
		}
		st, list := n2.call(t, "GET", "/api/server/v1/api-resources?filter=identifier+eq+User-defined-oauth2-resource", newAdmin, nil)
		if st != 200 || len(list["apiResources"].([]any)) != 1 {
			t.Fatalf("api resources after restart: %d %v", st, list)
		}
		st, roles := n2.call(t, "POST", "/scim2/v2/Roles/.search", newAdmin, map[string]any{"filter": "displayName eq reader"})
		if st != 200 || roles["totalResults"] != float64(1) {
			t.Fatalf("roles after restart: %d %v", st, roles)
		}
	})
}

func TestSetRevocationListener(t *testing.T) {
	f := &forwardingListener{}
	f.AccessTokenRevoked(context.Background(), oauth.RevokedAccessToken{Identifier: "dropped"})
	a, b := &events{}, &events{}
	f.Set(a)
	f.AccessTokenRevoked(context.Background(), oauth.RevokedAccessToken{Identifier: "1"})
	f.Set(b)
	f.AccessTokenRevoked(context.Background(), oauth.RevokedAccessToken{Identifier: "2"})
	f.Set(nil)
	f.AccessTokenRevoked(context.Background(), oauth.RevokedAccessToken{Identifier: "3"})
	if a.n() != 1 || b.n() != 1 || a.list[0].Identifier != "1" || b.list[0].Identifier != "2" {
		t.Fatalf("a %+v b %+v", a.list, b.list)
	}
}
