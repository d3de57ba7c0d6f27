// Package gatewaytest provides the fakes gateway tests and benchmarks need:
// a key manager (RSA signing key, JWKS endpoint, token minting, RFC 7662
// introspection) and an echoing backend, all on real 127.0.0.1 listeners.
package gatewaytest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
	"github.com/keyway/keyway/internal/runtime"
)

// KeyManager is a fake token issuer.
type KeyManager struct {
	Name   string
	Issuer string
	Server *httptest.Server
	// JWKSFetches counts JWKS downloads.
	JWKSFetches atomic.Int64
	// IntrospectionUser/Password protect the introspection endpoint.
	IntrospectionUser, IntrospectionPassword string

	mu     sync.Mutex
	keys   map[string]*rsa.PrivateKey
	kid    string
	opaque map[string]map[string]any
}

// NewKeyManager starts a key manager with one 2048-bit RSA key.
func NewKeyManager(t testing.TB, name string) *KeyManager {
	t.Helper()
	km := &KeyManager{Name: name, keys: map[string]*rsa.PrivateKey{}, opaque: map[string]map[string]any{},
		IntrospectionUser: "admin", IntrospectionPassword: "admin"}
	km.Rotate(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth2/jwks", km.serveJWKS)
	mux.HandleFunc("POST /oauth2/introspect", km.serveIntrospect)
	km.Server = httptest.NewServer(mux)
	t.Cleanup(km.Server.Close)
	km.Issuer = km.Server.URL + "/oauth2/token"
	return km
}

// Rotate adds a new signing key and makes it current (old keys stay in the
// JWKS, as during a real rotation).
func (k *KeyManager) Rotate(t testing.TB) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	kid := uuid.NewString()[:8] + "_RS256"
	k.mu.Lock()
	k.keys[kid], k.kid = key, kid
	k.mu.Unlock()
	return kid
}

// Runtime returns the key manager's runtime configuration.
func (k *KeyManager) Runtime() runtime.KeyManager {
	return runtime.KeyManager{UUID: uuid.NewString(), Name: k.Name, Type: "WSO2-IS-7", Enabled: true,
		Issuer: k.Issuer, JWKSURL: k.Server.URL + "/oauth2/jwks",
		IntrospectionEndpoint: k.Server.URL + "/oauth2/introspect",
		IntrospectionUsername: k.IntrospectionUser, IntrospectionPassword: k.IntrospectionPassword,
		ConsumerKeyClaim: "azp", ScopesClaim: "scope", ValidateJWT: true, ValidateOpaque: true}
}

// Claims is a convenience for minting: standard claims are filled in when
// absent (iss, iat, exp in one hour, jti).
type Claims map[string]any

// Mint signs claims with the current key (RS256).
func (k *KeyManager) Mint(t testing.TB, c Claims) string {
	t.Helper()
	k.mu.Lock()
	key, kid := k.keys[k.kid], k.kid
	k.mu.Unlock()
	return MintWith(t, key, kid, jose.RS256, k.Issuer, c)
}

// MintWith signs claims with any key and algorithm (for negative tests).
func MintWith(t testing.TB, key any, kid string, alg jose.SignatureAlgorithm, iss string, c Claims) string {
	t.Helper()
	now := time.Now()
	out := map[string]any{"iss": iss, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": uuid.NewString()}
	for k, v := range c {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(out)
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// IssueOpaque registers an opaque token with its introspection answer
// (active is added).
func (k *KeyManager) IssueOpaque(token string, fields map[string]any) {
	k.mu.Lock()
	defer k.mu.Unlock()
	f := map[string]any{"active": true, "token_type": "Bearer", "exp": time.Now().Add(time.Hour).Unix()}
	for n, v := range fields {
		f[n] = v
	}
	k.opaque[token] = f
}

// RevokeOpaque makes introspection answer active:false.
func (k *KeyManager) RevokeOpaque(token string) {
	k.mu.Lock()
	delete(k.opaque, token)
	k.mu.Unlock()
}

func (k *KeyManager) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	k.JWKSFetches.Add(1)
	k.mu.Lock()
	set := jose.JSONWebKeySet{}
	for kid, key := range k.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &key.PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"})
	}
	k.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(set)
}

func (k *KeyManager) serveIntrospect(w http.ResponseWriter, r *http.Request) {
	u, p, ok := r.BasicAuth()
	if !ok || u != k.IntrospectionUser || p != k.IntrospectionPassword {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	_ = r.ParseForm()
	k.mu.Lock()
	f, found := k.opaque[r.PostForm.Get("token")]
	k.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if !found {
		_, _ = io.WriteString(w, `{"active":false}`)
		return
	}
	_ = json.NewEncoder(w).Encode(f)
}

// Echo is what the echo backend answers.
type Echo struct {
	Backend string              `json:"backend"`
	Method  string              `json:"method"`
	Path    string              `json:"path"`
	RawPath string              `json:"rawPath"`
	Query   string              `json:"query"`
	Host    string              `json:"host"`
	Header  map[string][]string `json:"header"`
	Body    string              `json:"body"`
}

// Backend starts an HTTP server that answers every request with its Echo
// (JSON), named name. Paths under /slow sleep for the duration in the
// "sleep" query parameter first.
func Backend(t testing.TB, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/slow") {
			d, _ := time.ParseDuration(r.URL.Query().Get("sleep"))
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Backend", name)
		_ = json.NewEncoder(w).Encode(Echo{Backend: name, Method: r.Method, Path: r.URL.Path, RawPath: r.URL.RawPath,
			Query: r.URL.RawQuery, Host: r.Host, Header: r.Header, Body: string(body)})
	}))
	t.Cleanup(s.Close)
	return s
}

// Static is a runtime.Source that returns a snapshot set by the test.
type Static struct {
	mu   sync.Mutex
	snap *runtime.Snapshot
	err  error
}

// NewStatic returns a source serving s.
func NewStatic(s *runtime.Snapshot) *Static { return &Static{snap: s} }

// Set replaces the snapshot (and clears any error).
func (s *Static) Set(snap *runtime.Snapshot) {
	s.mu.Lock()
	s.snap, s.err = snap, nil
	s.mu.Unlock()
}

// Fail makes Snapshot return err until Set is called.
func (s *Static) Fail(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

// Snapshot implements runtime.Source.
func (s *Static) Snapshot(context.Context) (*runtime.Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snap, s.err
}
