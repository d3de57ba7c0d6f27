package oauth

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

func TestPS256IDTokenAndMaxAge(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(t, &Client{Name: "ps", FirstParty: true, RedirectURIs: []string{callback},
		Extra: map[string]any{"id_token_signed_response_alg": "PS256"}})
	ctx := e.ctx()
	p, err := oidc.NewProvider(ctx, e.cfg.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	conf := oauth2.Config{ClientID: c.ID, ClientSecret: c.Secret, Endpoint: p.Endpoint(), RedirectURL: callback, Scopes: []string{"openid"}}
	tok, err := conf.PasswordCredentialsToken(ctx, "alice", "alice-pass")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	hdr, _ := decodeJWT(t, raw)
	if hdr["alg"] != "PS256" || !strings.HasSuffix(hdr["kid"].(string), psSuffix) {
		t.Fatalf("header %v", hdr)
	}
	if _, err := p.Verifier(&oidc.Config{ClientID: c.ID, SupportedSigningAlgs: []string{"PS256"}}).Verify(ctx, raw); err != nil {
		t.Errorf("PS256 ID token rejected: %v", err)
	}

	b := e.browser()
	v := oauth2.GenerateVerifier()
	codeFlow(t, e, b, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), "alice", "alice-pass")
	resp, err := b.Get(conf.AuthCodeURL("s", oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("max_age", "0")))
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); resp.StatusCode != 200 || !strings.Contains(body, `name="password"`) {
		t.Errorf("max_age=0 must ask to sign in again: %d", resp.StatusCode)
	}
}

// TestConcurrentRefreshIsReuse: two parallel uses of one refresh token
// are a replay; at most one wins and the family ends up revoked.
func TestConcurrentRefreshIsReuse(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(t, &Client{Name: "race", TokenType: "Default"})
	tok, err := (&oauth2.Config{ClientID: c.ID, ClientSecret: c.Secret, Endpoint: oauth2.Endpoint{TokenURL: e.ts.URL + "/oauth2/token"}}).
		PasswordCredentialsToken(e.ctx(), "alice", "alice-pass")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var wins []string
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, body := e.postForm(t, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, c.ID, c.Secret)
			if resp.StatusCode == 200 {
				mu.Lock()
				wins = append(wins, body["access_token"].(string))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(wins) > 1 {
		t.Fatalf("%d parallel refreshes succeeded", len(wins))
	}
	for _, w := range wins {
		if _, err := e.srv.ValidateAccessToken(context.Background(), w); err == nil {
			t.Error("the winning token survived the detected replay")
		}
	}
}

func keysOf(m map[string]any) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return strings.Join(ks, ",")
}

// TestWireShapes freezes the member names of the token and introspection
// responses that the API Manager's connector and gateways read.
func TestWireShapes(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(t, &Client{Name: "wire", TokenType: "JWT"})
	_, user := e.postForm(t, "/oauth2/token", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-pass"}, "scope": {"openid read"}}, c.ID, c.Secret)
	_, app := e.postForm(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}, c.ID, c.Secret)
	_, intro := e.postForm(t, "/oauth2/introspect", url.Values{"token": {user["access_token"].(string)}}, "admin", "admin-pass")
	_, introApp := e.postForm(t, "/oauth2/introspect", url.Values{"token": {app["access_token"].(string)}}, "admin", "admin-pass")
	_, introRefresh := e.postForm(t, "/oauth2/introspect", url.Values{"token": {user["refresh_token"].(string)}}, "admin", "admin-pass")
	_, jwtClaims := decodeJWT(t, user["access_token"].(string))
	for name, tt := range map[string]struct {
		got  map[string]any
		want string
	}{
		"user token response":        {user, "access_token,expires_in,id_token,refresh_token,scope,token_type"},
		"application token response": {app, "access_token,expires_in,scope,token_type"},
		"introspection user":         {intro, "active,aud,aut,client_id,exp,iat,iss,jti,nbf,scope,sub,token_type,username"},
		"introspection application":  {introApp, "active,aud,aut,client_id,exp,iat,iss,jti,nbf,scope,sub,token_type"},
		"introspection refresh":      {introRefresh, "active,aud,client_id,exp,iat,iss,nbf,scope,sub,token_type,username"},
		"JWT access token claims":    {jwtClaims, "aud,aut,auth_time,azp,client_id,exp,iat,iss,jti,nbf,org_id,org_name,scope,sub"},
	} {
		if got := keysOf(tt.got); got != tt.want {
			t.Errorf("%s members\n got %s\nwant %s", name, got, tt.want)
		}
	}
}

func TestPublicClientPKCE(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(t, &Client{Name: "native", Public: true, FirstParty: true, PKCESupportPlain: true, RedirectURIs: []string{callback}})
	conf := oauth2.Config{ClientID: c.ID, Endpoint: oauth2.Endpoint{AuthURL: e.ts.URL + "/oauth2/authorize", TokenURL: e.ts.URL + "/oauth2/token"},
		RedirectURL: callback, Scopes: []string{"openid"}}
	b := e.browser()
	v := oauth2.GenerateVerifier()
	loc := codeFlow(t, e, b, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), "alice", "alice-pass")
	if _, err := conf.Exchange(e.ctx(), loc.Query().Get("code")); err == nil {
		t.Fatal("code redeemed without its verifier")
	}
	loc = codeFlow(t, e, b, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), "", "")
	tok, err := conf.Exchange(e.ctx(), loc.Query().Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatalf("public client exchange: %v", err)
	}
	if tok.Extra("id_token") == nil || tok.RefreshToken == "" {
		t.Errorf("token %+v", tok)
	}
	// plain is accepted only because this client allows it.
	loc = codeFlow(t, e, b, conf.AuthCodeURL("s", oauth2.SetAuthURLParam("code_challenge", v), oauth2.SetAuthURLParam("code_challenge_method", "plain")), "", "")
	if _, err := conf.Exchange(e.ctx(), loc.Query().Get("code"), oauth2.VerifierOption(v)); err != nil {
		t.Errorf("plain PKCE: %v", err)
	}
}
