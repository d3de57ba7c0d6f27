package oauth

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/db/dbtest"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

func TestIntrospectionAndRevocation(t *testing.T) { dbtest.ForEach(t, testIntrospectionAndRevocation) }

func testIntrospectionAndRevocation(t *testing.T, d *db.DB) {
	e := newEnv(t, d)
	for _, tokenType := range []string{"JWT", "Default"} {
		t.Run(tokenType, func(t *testing.T) {
			c := e.client(t, &Client{Name: "intro-" + tokenType, TokenType: tokenType, GrantTypes: []string{"password", "refresh_token", "client_credentials"}})
			other := e.client(t, &Client{Name: "other-" + tokenType})
			conf := oauth2.Config{ClientID: c.ID, ClientSecret: c.Secret, Endpoint: oauth2.Endpoint{TokenURL: e.ts.URL + "/oauth2/token"}, Scopes: []string{"read"}}
			tok, err := conf.PasswordCredentialsToken(e.ctx(), "alice", "alice-pass")
			if err != nil {
				t.Fatal(err)
			}
			app, err := (&clientcredentials.Config{ClientID: c.ID, ClientSecret: c.Secret, TokenURL: conf.Endpoint.TokenURL}).Token(e.ctx())
			if err != nil {
				t.Fatal(err)
			}
			introspect := func(token, id, secret string) map[string]any {
				t.Helper()
				resp, body := e.postForm(t, "/oauth2/introspect", url.Values{"token": {token}}, id, secret)
				checkNoStore(t, resp)
				if resp.StatusCode != 200 {
					t.Fatalf("introspect: %d %v", resp.StatusCode, body)
				}
				if _, ok := body["active"].(bool); !ok {
					t.Fatalf("active is not a boolean: %v", body)
				}
				return body
			}
			got := introspect(tok.AccessToken, "admin", "admin-pass")
			want := map[string]any{"active": true, "aut": "APPLICATION_USER", "token_type": "Bearer", "scope": "read",
				"client_id": c.ID, "username": "alice", "sub": "u-alice", "iss": e.cfg.Issuer}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
			for _, k := range []string{"exp", "iat", "nbf"} {
				if _, ok := got[k].(float64); !ok {
					t.Errorf("%s missing: %v", k, got)
				}
			}
			if a := introspect(app.AccessToken, "introspector", "intro-pass"); a["aut"] != "APPLICATION" || a["username"] != nil {
				t.Errorf("application token: %v", a)
			}
			if r := introspect(tok.RefreshToken, other.ID, other.Secret); r["token_type"] != "Refresh" || r["active"] != true {
				t.Errorf("refresh token as a client: %v", r)
			}
			if resp, body := e.postForm(t, "/oauth2/introspect", url.Values{"token": {tok.AccessToken}}, "alice", "alice-pass"); resp.StatusCode != 403 {
				t.Errorf("user without permission: %d %v", resp.StatusCode, body)
			}
			if resp, _ := e.postForm(t, "/oauth2/introspect", url.Values{"token": {tok.AccessToken}}, "admin", "wrong"); resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("bad password: %d", resp.StatusCode)
			}
			if r := introspect("garbage-token", "admin", "admin-pass"); len(r) != 1 || r["active"] != false {
				t.Errorf("unknown token: %v", r)
			}

			// Revocation: 200 for unknown tokens, only own tokens, listener told.
			for _, form := range []url.Values{{"token": {"unknown"}}, {"token": {"unknown"}, "token_type_hint": {"refresh_token"}}} {
				if resp, _ := e.postForm(t, "/oauth2/revoke", form, c.ID, c.Secret); resp.StatusCode != 200 {
					t.Errorf("revoke unknown: %d", resp.StatusCode)
				}
			}
			if resp, _ := e.postForm(t, "/oauth2/revoke", url.Values{"token": {tok.AccessToken}}, c.ID, "bad"); resp.StatusCode != 401 {
				t.Errorf("revoke without client auth: %d", resp.StatusCode)
			}
			e.postForm(t, "/oauth2/revoke", url.Values{"token": {tok.AccessToken}}, other.ID, other.Secret)
			if r := introspect(tok.AccessToken, "admin", "admin-pass"); r["active"] != true {
				t.Error("another client revoked the token")
			}
			resp, _ := e.postForm(t, "/oauth2/revoke", url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}}, c.ID, c.Secret)
			checkNoStore(t, resp)
			if resp.StatusCode != 200 {
				t.Fatalf("revoke: %d", resp.StatusCode)
			}
			if r := introspect(tok.AccessToken, "admin", "admin-pass"); r["active"] != false {
				t.Errorf("revoked token still active: %v", r)
			}
			id := tok.AccessToken
			if tokenType == "JWT" {
				_, claims := decodeJWT(t, tok.AccessToken)
				id = claims["jti"].(string)
			}
			if !e.listener.has(RevokedByClient, id) {
				t.Errorf("listener not told about %s", id)
			}
			if r := introspect(tok.RefreshToken, "admin", "admin-pass"); r["active"] != true {
				t.Error("revoking the access token revoked the refresh token")
			}
			// Revoking the refresh token revokes its family.
			fresh, err := conf.TokenSource(e.ctx(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
			if err != nil {
				t.Fatal(err)
			}
			e.postForm(t, "/oauth2/revoke", url.Values{"token": {fresh.RefreshToken}, "token_type_hint": {"refresh_token"}}, c.ID, c.Secret)
			if r := introspect(fresh.AccessToken, "admin", "admin-pass"); r["active"] != false {
				t.Error("family access token active after refresh-token revocation")
			}
			if r := introspect(fresh.RefreshToken, "admin", "admin-pass"); r["active"] != false {
				t.Error("revoked refresh token active")
			}
		})
	}
}

func TestClientLifecycleRevokes(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	c := e.client(t, &Client{Name: "life", TokenType: "Default"})
	cc := clientcredentials.Config{ClientID: c.ID, ClientSecret: c.Secret, TokenURL: e.ts.URL + "/oauth2/token"}
	tok, err := cc.Token(e.ctx())
	if err != nil {
		t.Fatal(err)
	}
	upd, _ := e.srv.Clients().GetClient(ctx, c.ID)
	upd.Secret = "new-secret-value"
	if err := e.srv.Clients().UpdateClient(ctx, upd); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.ValidateAccessToken(ctx, tok.AccessToken); err == nil {
		t.Error("token survived a secret change")
	}
	if !e.listener.has(RevokedBySystem, hashToken(tok.AccessToken)) {
		t.Error("system revocation of an opaque token must report its hash")
	}
	if _, err := cc.Token(e.ctx()); err == nil {
		t.Error("old secret still accepted after update")
	}
	cc.ClientSecret = "new-secret-value"
	tok, err = cc.Token(e.ctx())
	if err != nil {
		t.Fatal(err)
	}
	expired := e.client(t, &Client{Name: "expired-secret", SecretExpiresAt: time.Now().Add(-time.Minute).Unix()})
	if _, err := (&clientcredentials.Config{ClientID: expired.ID, ClientSecret: expired.Secret, TokenURL: cc.TokenURL}).Token(e.ctx()); err == nil {
		t.Error("expired client secret accepted")
	}
	if err := e.srv.Clients().DeleteClient(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.ValidateAccessToken(ctx, tok.AccessToken); err == nil {
		t.Error("token survived client deletion")
	}
	if _, err := cc.Token(e.ctx()); err == nil {
		t.Error("deleted client still gets tokens")
	}
	if err := e.srv.Clients().DeleteClient(ctx, c.ID); err != ErrClientNotFound {
		t.Errorf("second delete: %v", err)
	}
}
