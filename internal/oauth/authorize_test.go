package oauth

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/db/dbtest"
	"golang.org/x/oauth2"
)

const callback = "https://rp.example/cb"

// codeFlow drives /oauth2/authorize like a browser: login form, consent
// page, and returns the final redirect to the relying party.
func codeFlow(t *testing.T, e *env, browser *http.Client, authURL, username, password string) *url.URL {
	t.Helper()
	resp, err := browser.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	for step := 0; step < 4; step++ {
		if resp.StatusCode == http.StatusFound {
			loc, err := url.Parse(resp.Header.Get("Location"))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return loc
		}
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("authorize step %d: %d %s", step, resp.StatusCode, body)
		}
		form := formFields(t, body)
		switch {
		case strings.Contains(body, `name="password"`):
			form.Set("username", username)
			form.Set("password", password)
			form.Set("kw_action", "login")
		case strings.Contains(body, `value="consent"`):
			form.Set("kw_action", "consent")
			form.Set("consent", "approve")
		default:
			t.Fatalf("unexpected page: %s", body)
		}
		if form.Get("csrf") == "" {
			t.Fatal("page has no CSRF token")
		}
		resp, err = browser.PostForm(e.ts.URL+"/oauth2/authorize", form)
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("authorization did not finish")
	return nil
}

func TestAuthorizationCodePKCEWithOIDC(t *testing.T) {
	dbtest.ForEach(t, testAuthorizationCodePKCEWithOIDC)
}

func testAuthorizationCodePKCEWithOIDC(t *testing.T, d *db.DB) {
	e := newEnv(t, d)
	c := e.client(t, &Client{Name: "web", TokenType: "JWT", RedirectURIs: []string{callback},
		GrantTypes: []string{"authorization_code", "refresh_token"}, PostLogoutRedirectURIs: []string{"https://rp.example/bye"}})
	ctx := e.ctx()
	provider, err := oidc.NewProvider(ctx, e.cfg.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	conf := oauth2.Config{ClientID: c.ID, ClientSecret: c.Secret, Endpoint: provider.Endpoint(), RedirectURL: callback,
		Scopes: []string{oidc.ScopeOpenID, "profile", "email", "read"}}
	verifier := oauth2.GenerateVerifier()
	browser := e.browser()
	loc := codeFlow(t, e, browser, conf.AuthCodeURL("st-1", oauth2.S256ChallengeOption(verifier), oidc.Nonce("n-1")), "alice", "alice-pass")
	q := loc.Query()
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != callback {
		t.Fatalf("redirected to %s", loc)
	}
	if q.Get("state") != "st-1" || q.Get("iss") != e.cfg.Issuer || q.Get("code") == "" {
		t.Fatalf("authorization response %v", q)
	}

	t.Run("wrong verifier", func(t *testing.T) {
		loc := codeFlow(t, e, browser, conf.AuthCodeURL("st-2", oauth2.S256ChallengeOption(verifier)), "", "")
		_, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier()))
		if re, ok := err.(*oauth2.RetrieveError); !ok || re.ErrorCode != "invalid_grant" {
			t.Fatalf("want invalid_grant, got %v", err)
		}
	})

	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: c.ID}).Verify(ctx, rawID)
	if err != nil {
		t.Fatalf("ID token rejected by go-oidc: %v", err)
	}
	if idt.Nonce != "n-1" || idt.Subject != "u-alice" {
		t.Errorf("id token nonce %q sub %q", idt.Nonce, idt.Subject)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	hdr, claims := decodeJWT(t, rawID)
	if hdr["kid"] == nil || claims["azp"] != c.ID || claims["auth_time"] == nil || claims["sid"] == nil {
		t.Errorf("id token header %v claims %v", hdr, claims)
	}
	ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	var uc map[string]any
	_ = ui.Claims(&uc)
	if ui.Subject != idt.Subject || ui.Email != "alice@example.com" || uc["preferred_username"] != "alice" {
		t.Errorf("userinfo %+v %v", ui, uc)
	}

	t.Run("code reuse revokes tokens", func(t *testing.T) {
		_, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if re, ok := err.(*oauth2.RetrieveError); !ok || re.ErrorCode != "invalid_grant" {
			t.Fatalf("want invalid_grant, got %v", err)
		}
		if _, err := e.srv.ValidateAccessToken(context.Background(), tok.AccessToken); err == nil {
			t.Error("token issued from a replayed code is still valid")
		}
	})

	t.Run("SSO session and prompt=none", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		resp, err := browser.Get(conf.AuthCodeURL("st-3", oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("prompt", "none")))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || loc.Query().Get("code") == "" || loc.Query().Get("state") != "st-3" {
			t.Fatalf("silent authorization: %d %s", resp.StatusCode, loc)
		}
		fresh := e.browser()
		resp, err = fresh.Get(conf.AuthCodeURL("st-4", oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("prompt", "none")))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ = url.Parse(resp.Header.Get("Location"))
		if loc.Query().Get("error") != "login_required" || loc.Query().Get("iss") != e.cfg.Issuer || loc.Query().Get("state") != "st-4" {
			t.Fatalf("prompt=none without session: %s", loc)
		}
	})

	t.Run("logout", func(t *testing.T) {
		resp, err := browser.Get(e.ts.URL + "/oauth2/logout?" + url.Values{"id_token_hint": {rawID},
			"post_logout_redirect_uri": {"https://rp.example/bye"}, "state": {"s"}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "https://rp.example/bye?state=s" {
			t.Fatalf("logout: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		resp, err = browser.Get(conf.AuthCodeURL("st-5", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "none")))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc, _ := url.Parse(resp.Header.Get("Location")); loc.Query().Get("error") != "login_required" {
			t.Errorf("session survived logout: %s", loc)
		}
		resp, err = browser.Get(e.ts.URL + "/oauth2/logout?" + url.Values{"id_token_hint": {rawID},
			"post_logout_redirect_uri": {"https://evil.example/"}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("unregistered post_logout_redirect_uri: %d", resp.StatusCode)
		}
	})
}

func TestAuthorizeRejections(t *testing.T) {
	e := newEnv(t, nil)
	conf := e.client(t, &Client{Name: "spa", Public: true, RedirectURIs: []string{callback, "https://rp.example/other"}})
	first := e.client(t, &Client{Name: "first", RedirectURIs: []string{callback}, FirstParty: true})
	challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	base := func(c *Client, extra url.Values) string {
		v := url.Values{"client_id": {c.ID}, "response_type": {"code"}, "redirect_uri": {callback}, "state": {"xyz"},
			"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
		for k, x := range extra {
			if x[0] == "" {
				v.Del(k)
			} else {
				v[k] = x
			}
		}
		return e.ts.URL + "/oauth2/authorize?" + v.Encode()
	}
	cases := []struct {
		name    string
		url     string
		status  int
		errCode string // on the redirect
	}{
		{"unregistered redirect_uri", base(conf, url.Values{"redirect_uri": {"https://evil.example/cb"}}), 400, ""},
		{"unknown client", base(&Client{ID: "nope"}, nil), 400, ""},
		{"missing redirect with several registered", base(conf, url.Values{"redirect_uri": {""}}), 400, ""},
		{"public client without PKCE", base(conf, url.Values{"code_challenge": {""}, "code_challenge_method": {""}}), 302, "invalid_request"},
		{"plain PKCE not allowed", base(conf, url.Values{"code_challenge_method": {"plain"}}), 302, "invalid_request"},
		{"token response type", base(conf, url.Values{"response_type": {"token"}}), 302, "unsupported_response_type"},
		{"repeated parameter", base(conf, nil) + "&scope=a&scope=b", 302, "invalid_request"},
	}
	browser := e.browser()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := browser.Get(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			body := readBody(t, resp)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if tt.status == 302 {
				loc, _ := url.Parse(resp.Header.Get("Location"))
				q := loc.Query()
				if q.Get("error") != tt.errCode || q.Get("state") != "xyz" || q.Get("iss") != e.cfg.Issuer || !strings.HasPrefix(loc.String(), callback) {
					t.Errorf("redirect %s", loc)
				}
			} else if resp.Header.Get("Location") != "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
				t.Errorf("error must be an HTML page without redirect")
			}
		})
	}

	t.Run("first party skips consent and CSRF is enforced", func(t *testing.T) {
		b := e.browser()
		resp, err := b.Get(base(first, nil))
		if err != nil {
			t.Fatal(err)
		}
		form := formFields(t, readBody(t, resp))
		form.Set("username", "alice")
		form.Set("password", "alice-pass")
		form.Set("kw_action", "login")
		bad := url.Values{}
		for k, v := range form {
			bad[k] = v
		}
		bad.Set("csrf", "forged")
		resp, err = b.PostForm(e.ts.URL+"/oauth2/authorize", bad)
		if err != nil {
			t.Fatal(err)
		}
		if body := readBody(t, resp); resp.StatusCode != 400 || !strings.Contains(body, "expired") {
			t.Fatalf("forged CSRF: %d", resp.StatusCode)
		}
		resp, err = b.PostForm(e.ts.URL+"/oauth2/authorize", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != 302 || loc.Query().Get("code") == "" {
			t.Fatalf("first-party login: %d %s", resp.StatusCode, loc)
		}
		var secure, httpOnly bool
		for _, ck := range resp.Cookies() {
			if ck.Name == sessionCookie {
				secure, httpOnly = ck.Secure, ck.HttpOnly
			}
		}
		if !secure || !httpOnly {
			t.Error("session cookie must be Secure and HttpOnly")
		}
	})

	t.Run("wrong password shows the form again", func(t *testing.T) {
		b := e.browser()
		resp, err := b.Get(base(first, nil))
		if err != nil {
			t.Fatal(err)
		}
		form := formFields(t, readBody(t, resp))
		form.Set("username", "alice")
		form.Set("password", "bad")
		form.Set("kw_action", "login")
		resp, err = b.PostForm(e.ts.URL+"/oauth2/authorize", form)
		if err != nil {
			t.Fatal(err)
		}
		if body := readBody(t, resp); resp.StatusCode != 200 || !strings.Contains(body, "Invalid username or password") {
			t.Fatalf("bad login: %d %s", resp.StatusCode, body)
		}
	})
}
