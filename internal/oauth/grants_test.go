package oauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/db/dbtest"
	"golang.org/x/oauth2"
)

// signedAssertion signs claims with an ES256 key (kid "k1").
func signedAssertion(t *testing.T, key *ecdsa.PrivateKey, claims jwt.Claims) string {
	t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func publicJWKS(t *testing.T, key *ecdsa.PrivateKey) string {
	t.Helper()
	raw, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Use: "sig", Algorithm: "ES256"}}})
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func TestPrivateKeyJWTAndJWTBearer(t *testing.T) { dbtest.ForEach(t, testPrivateKeyJWTAndJWTBearer) }

func testPrivateKeyJWTAndJWTBearer(t *testing.T, d *db.DB) {
	e := newEnv(t, d)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	c := e.client(t, &Client{Name: "pkjwt", AuthMethod: "private_key_jwt", JWKS: publicJWKS(t, key), TokenType: "JWT"})
	tokenURL := e.ts.URL + "/oauth2/token"
	now := time.Now()
	assertion := func(sub, jti string, aud string) string {
		return signedAssertion(t, key, jwt.Claims{Issuer: c.ID, Subject: sub, Audience: jwt.Audience{aud}, ID: jti,
			IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Minute))})
	}
	clientAuth := func(jti string) url.Values {
		return url.Values{"client_assertion_type": {clientAssertionType}, "client_assertion": {assertion(c.ID, jti, tokenURL)}}
	}
	form := clientAuth("jti-1")
	form.Set("grant_type", "client_credentials")
	resp, body := e.postForm(t, "/oauth2/token", form, "", "")
	if resp.StatusCode != 200 {
		t.Fatalf("private_key_jwt: %d %v", resp.StatusCode, body)
	}
	resp, body = e.postForm(t, "/oauth2/token", form, "", "")
	if resp.StatusCode != 401 || body["error"] != "invalid_client" {
		t.Errorf("replayed client assertion: %d %v", resp.StatusCode, body)
	}
	wrongAud := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {clientAssertionType},
		"client_assertion": {assertion(c.ID, "jti-2", "https://elsewhere/token")}}
	if resp, _ := e.postForm(t, "/oauth2/token", wrongAud, "", ""); resp.StatusCode != 401 {
		t.Errorf("assertion for another audience: %d", resp.StatusCode)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	forged := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {clientAssertionType},
		"client_assertion": {signedAssertion(t, other, jwt.Claims{Issuer: c.ID, Subject: c.ID, Audience: jwt.Audience{tokenURL}, ID: "jti-3",
			Expiry: jwt.NewNumericDate(now.Add(time.Minute))})}}
	if resp, _ := e.postForm(t, "/oauth2/token", forged, "", ""); resp.StatusCode != 401 {
		t.Errorf("assertion signed by another key: %d", resp.StatusCode)
	}

	// jwt-bearer grant naming the user by username.
	form = clientAuth("jti-4")
	form.Set("grant_type", grantJWTBearer)
	form.Set("assertion", assertion("alice", "grant-1", tokenURL))
	form.Set("scope", "read openid")
	resp, body = e.postForm(t, "/oauth2/token", form, "", "")
	if resp.StatusCode != 200 || body["scope"] != "openid read" || body["id_token"] == nil {
		t.Fatalf("jwt-bearer: %d %v", resp.StatusCode, body)
	}
	_, claims := decodeJWT(t, body["access_token"].(string))
	if claims["sub"] != "u-alice" || claims["aut"] != "APPLICATION_USER" {
		t.Errorf("jwt-bearer claims %v", claims)
	}

	// token exchange of that user token for another client's token.
	ex := e.client(t, &Client{Name: "exchanger", TokenType: "Default"})
	resp, body = e.postForm(t, "/oauth2/token", url.Values{"grant_type": {grantTokenExchange}, "client_id": {ex.ID}, "client_secret": {ex.Secret},
		"subject_token": {body["access_token"].(string)}, "subject_token_type": {tokenTypeJWT}, "scope": {"write read"}}, "", "")
	if resp.StatusCode != 200 || body["issued_token_type"] != tokenTypeAccess || body["scope"] != "write read" {
		t.Fatalf("token exchange: %d %v", resp.StatusCode, body)
	}
	info, err := e.srv.ValidateAccessToken(t.Context(), body["access_token"].(string))
	if err != nil || info.Subject != "u-alice" || info.ClientID != ex.ID {
		t.Errorf("exchanged token %+v %v", info, err)
	}
	resp, body = e.postForm(t, "/oauth2/token", url.Values{"grant_type": {grantTokenExchange},
		"subject_token": {"a.b.c"}, "subject_token_type": {tokenTypeJWT}}, ex.ID, ex.Secret)
	if resp.StatusCode != 400 || body["error"] != "invalid_grant" {
		t.Errorf("foreign subject token: %d %v", resp.StatusCode, body)
	}
}

func TestDeviceFlow(t *testing.T) { dbtest.ForEach(t, testDeviceFlow) }

func testDeviceFlow(t *testing.T, d *db.DB) {
	e := newEnv(t, d)
	c := e.client(t, &Client{Name: "tv", Public: true, TokenType: "JWT", GrantTypes: []string{grantDeviceCode, "refresh_token"}})
	conf := oauth2.Config{ClientID: c.ID, Endpoint: oauth2.Endpoint{DeviceAuthURL: e.ts.URL + "/oauth2/device_authorize", TokenURL: e.ts.URL + "/oauth2/token",
		AuthStyle: oauth2.AuthStyleInParams}, Scopes: []string{"openid", "read"}}
	da, err := conf.DeviceAuth(e.ctx())
	if err != nil {
		t.Fatal(err)
	}
	if da.VerificationURI != e.ts.URL+"/oauth2/device" || len(da.UserCode) != 9 {
		t.Fatalf("device auth %+v", da)
	}
	poll := url.Values{"grant_type": {grantDeviceCode}, "device_code": {da.DeviceCode}, "client_id": {c.ID}}
	if resp, body := e.postForm(t, "/oauth2/token", poll, "", ""); resp.StatusCode != 400 || body["error"] != "authorization_pending" {
		t.Errorf("first poll: %d %v", resp.StatusCode, body)
	}
	if _, body := e.postForm(t, "/oauth2/token", poll, "", ""); body["error"] != "slow_down" {
		t.Errorf("fast poll: %v", body)
	}

	// The user signs in on the device page and approves.
	b := e.browser()
	resp, err := b.Get(da.VerificationURIComplete)
	if err != nil {
		t.Fatal(err)
	}
	form := formFields(t, readBody(t, resp))
	form.Set("kw_action", "login")
	form.Set("user_code", strings.ToLower(da.UserCode))
	form.Set("username", "alice")
	form.Set("password", "alice-pass")
	resp, err = b.PostForm(e.ts.URL+"/oauth2/device", form)
	if err != nil {
		t.Fatal(err)
	}
	page := readBody(t, resp)
	form = formFields(t, page)
	form.Set("kw_action", "device")
	form.Set("user_code", da.UserCode)
	form.Set("consent", "approve")
	resp, err = b.PostForm(e.ts.URL+"/oauth2/device", form)
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); resp.StatusCode != http.StatusOK || !strings.Contains(body, "Device connected") {
		t.Fatalf("approve: %d %s", resp.StatusCode, body)
	}
	resp2, body := e.postForm(t, "/oauth2/token", poll, "", "")
	if resp2.StatusCode != 200 || body["scope"] != "openid read" || body["refresh_token"] == nil || body["id_token"] == nil {
		t.Fatalf("device token: %d %v", resp2.StatusCode, body)
	}
	if _, body := e.postForm(t, "/oauth2/token", poll, "", ""); body["error"] != "invalid_grant" {
		t.Errorf("device code reuse: %v", body)
	}
}

// TestClientJWKSURI: private_key_jwt with keys fetched from the client's
// jwks_uri through the configured (truststore) HTTP client.
func TestClientJWKSURI(t *testing.T) {
	e := newEnv(t, nil)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	doc := publicJWKS(t, key)
	e.mux.HandleFunc("GET /test-client/jwks", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(doc))
	})
	c := e.client(t, &Client{Name: "jwks-uri", AuthMethod: "private_key_jwt", JWKSURI: e.ts.URL + "/test-client/jwks"})
	now := time.Now()
	form := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {clientAssertionType},
		"client_assertion": {signedAssertion(t, key, jwt.Claims{Issuer: c.ID, Subject: c.ID, Audience: jwt.Audience{e.cfg.Issuer},
			ID: "once", Expiry: jwt.NewNumericDate(now.Add(time.Minute))})}}
	if resp, body := e.postForm(t, "/oauth2/token", form, "", ""); resp.StatusCode != 200 {
		t.Fatalf("jwks_uri client: %d %v", resp.StatusCode, body)
	}
	// A secret is no substitute for the registered method.
	if resp, _ := e.postForm(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, c.ID, "anything"); resp.StatusCode != 401 {
		t.Errorf("private_key_jwt client authenticated with a secret: %d", resp.StatusCode)
	}
}
