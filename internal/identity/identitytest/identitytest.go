// Package identitytest holds helpers for the Identity Server's HTTP tests:
// a user store with an admin and an ordinary user, a fake token validator,
// and a TLS test server with a client that speaks to it.
package identitytest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/oauth"
	"github.com/keyway/keyway/internal/user"
)

// Credentials of the users NewUsers creates.
const (
	AdminName    = "admin"
	AdminPass    = "admin-pass"
	UserName     = "plain"
	UserPass     = "plain-pass"
	AdminRole    = "admin"
	fastArgonMem = 64
)

// NewUsers returns a user store on d with the super admin and one ordinary user.
func NewUsers(t testing.TB, d *db.DB) *user.Store {
	t.Helper()
	ctx := context.Background()
	s, err := user.NewStore(ctx, d, user.StoreOptions{Argon2: user.Argon2Params{MemoryKiB: fastArgonMem, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatalf("user store: %v", err)
	}
	if _, err := s.EnsureSuperAdmin(ctx, AdminName, AdminPass, AdminRole); err != nil {
		t.Fatalf("super admin: %v", err)
	}
	if err := s.CreateUser(ctx, &user.User{Username: UserName, Email: "plain@example.org", GivenName: "Plain", FamilyName: "User"}, UserPass); err != nil {
		t.Fatalf("plain user: %v", err)
	}
	return s
}

// Tokens is a fake oauth.TokenValidator keyed by token string.
type Tokens struct {
	mu     sync.Mutex
	tokens map[string]*oauth.TokenInfo
}

// NewTokens returns an empty fake validator.
func NewTokens() *Tokens { return &Tokens{tokens: map[string]*oauth.TokenInfo{}} }

// Add registers an active token for u (nil for an application token) with scopes.
func (f *Tokens) Add(token string, u *user.User, clientID string, scopes ...string) {
	ti := &oauth.TokenInfo{Active: true, Token: token, ClientID: clientID, Scopes: scopes, TokenType: "Bearer",
		IssuedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
	if u != nil {
		ti.Subject, ti.Username, ti.AuthorizedUserType = u.ID, u.Username, "APPLICATION_USER"
	} else {
		ti.Subject, ti.AuthorizedUserType = clientID, "APPLICATION"
	}
	f.mu.Lock()
	f.tokens[token] = ti
	f.mu.Unlock()
}

// ValidateAccessToken implements oauth.TokenValidator.
func (f *Tokens) ValidateAccessToken(_ context.Context, token string) (*oauth.TokenInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ti, ok := f.tokens[token]; ok {
		cp := *ti
		return &cp, nil
	}
	return nil, oauth.ErrClientNotFound
}

// Server starts a TLS test server for mux and returns it with a client that trusts it.
func Server(t testing.TB, mux http.Handler) (*httptest.Server, *http.Client) {
	t.Helper()
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	return srv, srv.Client()
}

// Basic returns an Authorization header value.
func Basic(name, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(name+":"+pass))
}

// AdminAuth is Basic admin credentials.
var AdminAuth = Basic(AdminName, AdminPass)

// Request builds a request with an optional JSON body (string, []byte or a
// value to marshal) and Authorization header.
func Request(t testing.TB, method, url, auth string, body any) *http.Request {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("marshal body: %v", err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return req
}

// Do sends req and returns the status, headers and body.
func Do(t testing.TB, c *http.Client, req *http.Request) (int, http.Header, []byte) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp.StatusCode, resp.Header, b
}

// JSON decodes b into a generic value, failing the test on bad JSON.
func JSON(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return m
}
