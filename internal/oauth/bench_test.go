package oauth

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2/clientcredentials"
)

// BenchmarkRS256Sign is the floor cost of a JWT access token: one RSA-2048
// PKCS#1 v1.5 signature.
func BenchmarkRS256Sign(b *testing.B) {
	key, _ := testKeystore(b).RSAKey()
	digest := sha256.Sum256([]byte("header.payload"))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// benchToken calls the token handler in-process (no network) so the
// benchmark shows the engine's own cost and allocations.
func benchToken(b *testing.B, tokenType string) { benchTokenPar(b, tokenType, 1) }

// benchTokenPar runs benchToken with par goroutines per core, the load
// under which the token store's group commit has batches to share.
func benchTokenPar(b *testing.B, tokenType string, par int) {
	e := newEnv(b, nil)
	c := e.client(b, &Client{Name: "bench-" + tokenType, TokenType: tokenType, GrantTypes: []string{"client_credentials"}})
	body := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}.Encode()
	b.ReportAllocs()
	b.SetParallelism(par)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(c.ID, c.Secret)
			w := httptest.NewRecorder()
			e.srv.handleToken(w, req)
			if w.Code != http.StatusOK {
				b.Errorf("status %d: %s", w.Code, w.Body)
				return
			}
		}
	})
}

func BenchmarkClientCredentialsJWT(b *testing.B)    { benchToken(b, "JWT") }
func BenchmarkClientCredentialsOpaque(b *testing.B) { benchToken(b, "Default") }

// The Loaded variants keep 16 requests per core in flight, as a busy token
// endpoint does; ns/op is then the engine's throughput on all cores.
func BenchmarkClientCredentialsJWTLoaded(b *testing.B)    { benchTokenPar(b, "JWT", 16) }
func BenchmarkClientCredentialsOpaqueLoaded(b *testing.B) { benchTokenPar(b, "Default", 16) }

// BenchmarkIntrospect introspects an opaque token as an admin user (the
// APIM key-manager call) in-process.
func BenchmarkIntrospect(b *testing.B) {
	e := newEnv(b, nil)
	c := e.client(b, &Client{Name: "bench-introspect", TokenType: "Default"})
	tok, err := (&clientcredentials.Config{ClientID: c.ID, ClientSecret: c.Secret, TokenURL: e.ts.URL + "/oauth2/token"}).Token(e.ctx())
	if err != nil {
		b.Fatal(err)
	}
	body := url.Values{"token": {tok.AccessToken}}.Encode()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, "/oauth2/introspect", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth("admin", "admin-pass")
			w := httptest.NewRecorder()
			e.srv.handleIntrospect(w, req)
			if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"active":true`) {
				b.Errorf("introspect %d: %s", w.Code, w.Body)
				return
			}
		}
	})
}

// BenchmarkValidateAccessTokenJWT is the API Manager's REST-call check.
func BenchmarkValidateAccessTokenJWT(b *testing.B) {
	e := newEnv(b, nil)
	c := e.client(b, &Client{Name: "bench-validate", TokenType: "JWT"})
	tok, err := (&clientcredentials.Config{ClientID: c.ID, ClientSecret: c.Secret, TokenURL: e.ts.URL + "/oauth2/token"}).Token(e.ctx())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.srv.ValidateAccessToken(ctx, tok.AccessToken); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
