package oauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/db/dbtest"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

func decodeJWT(t testing.TB, tok string) (hdr, claims map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	for i, dst := range []*map[string]any{&hdr, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatal(err)
		}
	}
	return hdr, claims
}

func TestDiscoveryWithGoOIDC(t *testing.T) {
	e := newEnv(t, nil)
	p, err := oidc.NewProvider(e.ctx(), e.cfg.Issuer)
	if err != nil {
		t.Fatalf("oidc.NewProvider with the exact issuer: %v", err)
	}
	var doc map[string]any
	if err := p.Claims(&doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint", "registration_endpoint",
		"introspection_endpoint", "revocation_endpoint", "end_session_endpoint", "device_authorization_endpoint"} {
		v, _ := doc[k].(string)
		if !strings.HasPrefix(v, "https://") {
			t.Errorf("%s = %q, want an https URL", k, v)
		}
	}
	if doc["registration_endpoint"] != e.ts.URL+"/api/identity/oauth2/dcr/v1.1/register" {
		t.Errorf("registration_endpoint = %v", doc["registration_endpoint"])
	}
	if doc["authorization_response_iss_parameter_supported"] != true {
		t.Error("authorization_response_iss_parameter_supported must be true")
	}
	if m, _ := doc["code_challenge_methods_supported"].([]any); !slices.Contains(m, any("S256")) {
		t.Errorf("code_challenge_methods_supported = %v", m)
	}
	for _, path := range []string{"/.well-known/openid-configuration", "/oauth2/oidcdiscovery/.well-known/openid-configuration"} {
		resp, err := e.ts.Client().Get(e.ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || !strings.Contains(body, `"issuer":"`+e.cfg.Issuer+`"`) {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
}

func TestJWKSPublicKeysOnly(t *testing.T) {
	e := newEnv(t, nil)
	resp, err := e.ts.Client().Get(e.ts.URL + "/oauth2/jwks")
	if err != nil {
		t.Fatal(err)
	}
	var set struct{ Keys []map[string]any }
	if err := json.Unmarshal([]byte(readBody(t, resp)), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) == 0 {
		t.Fatal("no keys")
	}
	kids := map[string]bool{}
	for _, k := range set.Keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := k[private]; ok {
				t.Errorf("key %v has private member %s", k["kid"], private)
			}
		}
		kid, _ := k["kid"].(string)
		if kid == "" || kids[kid] {
			t.Errorf("missing or duplicate kid %q", kid)
		}
		kids[kid] = true
		if k["kty"] != "RSA" || k["use"] != "sig" || k["alg"] == nil || k["x5t"] == nil || k["x5c"] == nil {
			t.Errorf("incomplete key %v", k)
		}
	}
	if !kids[e.cfg.Signer.KeyID()] {
		t.Errorf("primary key id %s not published", e.cfg.Signer.KeyID())
	}
}

func TestClientCredentials(t *testing.T) {
	e := newEnv(t, nil)
	for _, tt := range []struct{ tokenType string }{{"JWT"}, {"Default"}} {
		t.Run(tt.tokenType, func(t *testing.T) {
			c := e.client(t, &Client{Name: "cc-" + tt.tokenType, TokenType: tt.tokenType, GrantTypes: []string{"client_credentials"}, Audiences: []string{"extra-aud"}})
			cc := clientcredentials.Config{ClientID: c.ID, ClientSecret: c.Secret, TokenURL: e.ts.URL + "/oauth2/token", Scopes: []string{"read", "unknown-scope"}}
			tok, err := cc.Token(e.ctx())
			if err != nil {
				t.Fatal(err)
			}
			if got := tok.Extra("scope"); got != "read" {
				t.Errorf("scope = %v, want read (unknown scopes dropped)", got)
			}
			if tok.TokenType != "Bearer" || tok.Expiry.IsZero() {
				t.Errorf("token = %+v", tok)
			}
			info, err := e.srv.ValidateAccessToken(context.Background(), tok.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			if info.AuthorizedUserType != "APPLICATION" || info.ClientID != c.ID || !slices.Equal(info.Scopes, []string{"read"}) {
				t.Errorf("info = %+v", info)
			}
			if tt.tokenType == "Default" {
				if strings.Count(tok.AccessToken, ".") != 0 || len(tok.AccessToken) < 43 {
					t.Errorf("opaque token %q", tok.AccessToken)
				}
				var n int
				if err := e.db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM oauth_access_tokens WHERE k = ?`, tok.AccessToken).Scan(&n); err != nil || n != 0 {
					t.Error("opaque token stored in plaintext")
				}
				return
			}
			hdr, claims := decodeJWT(t, tok.AccessToken)
			if hdr["typ"] != "at+jwt" || hdr["kid"] != e.cfg.Signer.KeyID() || hdr["alg"] != "RS256" {
				t.Errorf("header = %v", hdr)
			}
			for _, k := range []string{"iss", "sub", "aud", "azp", "client_id", "scope", "aut", "jti", "iat", "nbf", "exp", "org_id", "org_name"} {
				if _, ok := claims[k]; !ok {
					t.Errorf("claim %s missing", k)
				}
			}
			if claims["iss"] != e.cfg.Issuer || claims["aut"] != "APPLICATION" || claims["azp"] != c.ID || claims["client_id"] != c.ID {
				t.Errorf("claims = %v", claims)
			}
			if aud, _ := claims["aud"].([]any); !slices.Contains(aud, any(c.ID)) || !slices.Contains(aud, any("extra-aud")) {
				t.Errorf("aud = %v", claims["aud"])
			}
			ks := oidc.NewRemoteKeySet(e.ctx(), e.ts.URL+"/oauth2/jwks")
			if _, err := ks.VerifySignature(e.ctx(), tok.AccessToken); err != nil {
				t.Errorf("signature does not verify against jwks_uri: %v", err)
			}
		})
	}
}

func TestTokenEndpointErrors(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(t, &Client{Name: "errs", Secret: "s3cr+t/=:% x", GrantTypes: []string{"client_credentials", "password", "refresh_token"}})
	tokenURL := e.ts.URL + "/oauth2/token"

	t.Run("secret with reserved characters in Basic", func(t *testing.T) {
		cc := clientcredentials.Config{ClientID: c.ID, ClientSecret: c.Secret, TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInHeader}
		if _, err := cc.Token(e.ctx()); err != nil {
			t.Fatalf("URL-encoded Basic credentials rejected: %v", err)
		}
		cc.AuthStyle = oauth2.AuthStyleInParams
		if _, err := cc.Token(e.ctx()); err != nil {
			t.Fatalf("client_secret_post rejected: %v", err)
		}
	})
	t.Run("success is JSON and not cacheable", func(t *testing.T) {
		resp, body := e.postForm(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
		checkNoStore(t, resp)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || body["token_type"] != "Bearer" {
			t.Errorf("%d %v", resp.StatusCode, body)
		}
		if _, ok := body["expires_in"].(float64); !ok {
			t.Errorf("expires_in is not a number: %v", body)
		}
	})
	t.Run("userinfo rejects application tokens and bad tokens", func(t *testing.T) {
		tok, err := (&clientcredentials.Config{ClientID: c.ID, ClientSecret: c.Secret, TokenURL: tokenURL}).Token(e.ctx())
		if err != nil {
			t.Fatal(err)
		}
		for tokVal, want := range map[string]int{tok.AccessToken: 403, "bogus": 401} {
			req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/oauth2/userinfo", nil)
			req.Header.Set("Authorization", "Bearer "+tokVal)
			resp, err := e.ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer error=") {
				t.Errorf("userinfo: %d %q, want %d", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), want)
			}
		}
	})
	cases := []struct {
		name    string
		form    url.Values
		basic   [2]string
		status  int
		code    string
		wwwAuth bool
	}{
		{"wrong secret basic", url.Values{"grant_type": {"client_credentials"}}, [2]string{c.ID, "wrong"}, 401, "invalid_client", true},
		{"wrong secret post", url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ID}, "client_secret": {"wrong"}}, [2]string{}, 401, "invalid_client", false},
		{"unknown client", url.Values{"grant_type": {"client_credentials"}}, [2]string{"nobody", "x"}, 401, "invalid_client", true},
		{"no client auth", url.Values{"grant_type": {"client_credentials"}}, [2]string{}, 401, "invalid_client", true},
		{"missing grant type", url.Values{}, [2]string{c.ID, c.Secret}, 400, "invalid_request", false},
		{"unsupported grant", url.Values{"grant_type": {"implicit"}}, [2]string{c.ID, c.Secret}, 400, "unsupported_grant_type", false},
		{"grant not allowed", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}}, [2]string{c.ID, c.Secret}, 400, "unauthorized_client", false},
		{"bad password", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"nope"}}, [2]string{c.ID, c.Secret}, 400, "invalid_grant", false},
		{"unknown refresh", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}}, [2]string{c.ID, c.Secret}, 400, "invalid_grant", false},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.postForm(t, "/oauth2/token", tt.form, tt.basic[0], url.QueryEscape(tt.basic[1]))
			checkNoStore(t, resp)
			if resp.StatusCode != tt.status || body["error"] != tt.code {
				t.Errorf("got %d %v, want %d %s", resp.StatusCode, body, tt.status, tt.code)
			}
			if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Errorf("Content-Type = %q", resp.Header.Get("Content-Type"))
			}
			if got := resp.Header.Get("WWW-Authenticate") != ""; got != tt.wwwAuth {
				t.Errorf("WWW-Authenticate present = %v, want %v", got, tt.wwwAuth)
			}
		})
	}
}

func TestPasswordAndRefreshRotation(t *testing.T) { dbtest.ForEach(t, testPasswordAndRefreshRotation) }

func testPasswordAndRefreshRotation(t *testing.T, d *db.DB) {
	e := newEnv(t, d)
	c := e.client(t, &Client{Name: "pw", TokenType: "JWT", GrantTypes: []string{"password", "refresh_token"}})
	conf := oauth2.Config{ClientID: c.ID, ClientSecret: c.Secret, Endpoint: oauth2.Endpoint{TokenURL: e.ts.URL + "/oauth2/token"}, Scopes: []string{"openid", "read"}}
	tok, err := conf.PasswordCredentialsToken(e.ctx(), "alice", "alice-pass")
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" || tok.Extra("id_token") == nil {
		t.Fatalf("want refresh and id tokens, got %+v", tok)
	}
	_, claims := decodeJWT(t, tok.AccessToken)
	if claims["sub"] != "u-alice" || claims["aut"] != "APPLICATION_USER" || claims["scope"] != "openid read" {
		t.Errorf("claims = %v", claims)
	}
	first := tok.AccessToken

	// Refresh through x/oauth2 (expired token forces the refresh).
	tok.Expiry = tok.Expiry.Add(-2 * 3600e9)
	fresh, err := conf.TokenSource(e.ctx(), tok).Token()
	if err != nil {
		t.Fatal(err)
	}
	if fresh.RefreshToken == tok.RefreshToken || fresh.AccessToken == first {
		t.Fatal("refresh did not rotate")
	}
	if _, err := e.srv.ValidateAccessToken(context.Background(), first); err == nil {
		t.Error("previous access token still valid after refresh")
	}
	_, firstClaims := decodeJWT(t, first)
	if !e.listener.has(RevokedByRenew, firstClaims["jti"].(string)) {
		t.Error("renewal not reported to the listener")
	}
	if _, err := e.srv.ValidateAccessToken(context.Background(), fresh.AccessToken); err != nil {
		t.Fatalf("refreshed token invalid: %v", err)
	}

	// Reusing the old refresh token revokes the whole family.
	resp, body := e.postForm(t, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, c.ID, c.Secret)
	if resp.StatusCode != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("reuse: %d %v", resp.StatusCode, body)
	}
	if _, err := e.srv.ValidateAccessToken(context.Background(), fresh.AccessToken); err == nil {
		t.Error("family access token survived refresh-token reuse")
	}
	resp, body = e.postForm(t, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {fresh.RefreshToken}}, c.ID, c.Secret)
	if resp.StatusCode != 400 || body["error"] != "invalid_grant" {
		t.Errorf("newest refresh token of a revoked family: %d %v", resp.StatusCode, body)
	}
}
