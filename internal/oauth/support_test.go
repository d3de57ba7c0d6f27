package oauth

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/db/dbtest"
	"github.com/keyway/keyway/internal/keystore"
	"github.com/keyway/keyway/internal/secret"
	"github.com/keyway/keyway/internal/user"
	"golang.org/x/oauth2"
)

// fakeDirectory is a minimal in-memory user.Directory for the engine's
// tests (plaintext passwords: test data only).
type fakeDirectory struct {
	mu        sync.Mutex
	users     map[string]*user.User
	passwords map[string]string
	roles     map[string]*user.Role
	failures  int
}

func newFakeDirectory() *fakeDirectory {
	return &fakeDirectory{users: map[string]*user.User{}, passwords: map[string]string{}, roles: map[string]*user.Role{}}
}

func (f *fakeDirectory) add(id, name, password string, roles ...string) *user.User {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := &user.User{ID: id, Username: name, Email: name + "@example.com", GivenName: "Given" + name, FamilyName: "Family", Roles: roles}
	f.users[id], f.passwords[id] = u, password
	return u
}

func (f *fakeDirectory) Authenticate(_ context.Context, username, password, _ string) (*user.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, u := range f.users {
		if u.Username == username && f.passwords[id] == password {
			cp := *u
			return &cp, nil
		}
	}
	f.failures++
	return nil, user.ErrInvalidCredentials
}

func (f *fakeDirectory) GetUser(_ context.Context, id string) (*user.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u, ok := f.users[id]; ok {
		cp := *u
		return &cp, nil
	}
	return nil, user.ErrNotFound
}

func (f *fakeDirectory) GetUserByName(_ context.Context, name string) (*user.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, u := range f.users {
		if u.Username == name {
			cp := *u
			return &cp, nil
		}
	}
	return nil, user.ErrNotFound
}

func (f *fakeDirectory) RolesOf(_ context.Context, userID string) ([]*user.Role, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[userID]
	if !ok {
		return nil, user.ErrNotFound
	}
	var out []*user.Role
	for _, name := range u.Roles {
		if r, ok := f.roles[name]; ok {
			out = append(out, r)
		}
	}
	return out, nil
}

var errUnused = errors.New("not used by the engine tests")

func (f *fakeDirectory) CreateUser(context.Context, *user.User, string) error { return errUnused }
func (f *fakeDirectory) UpdateUser(context.Context, *user.User) error         { return errUnused }
func (f *fakeDirectory) SetPassword(context.Context, string, string) error    { return errUnused }
func (f *fakeDirectory) DeleteUser(context.Context, string) error             { return errUnused }
func (f *fakeDirectory) ListUsers(context.Context, user.Filter) ([]*user.User, int, error) {
	return nil, 0, errUnused
}
func (f *fakeDirectory) GetRole(context.Context, string) (*user.Role, error) { return nil, errUnused }
func (f *fakeDirectory) GetRoleByName(context.Context, string) (*user.Role, error) {
	return nil, errUnused
}
func (f *fakeDirectory) CreateRole(context.Context, *user.Role) error { return errUnused }
func (f *fakeDirectory) UpdateRole(context.Context, *user.Role) error { return errUnused }
func (f *fakeDirectory) DeleteRole(context.Context, string) error     { return errUnused }
func (f *fakeDirectory) ListRoles(context.Context, user.Filter) ([]*user.Role, int, error) {
	return nil, 0, errUnused
}
func (f *fakeDirectory) GetGroup(context.Context, string) (*user.Group, error) { return nil, errUnused }
func (f *fakeDirectory) CreateGroup(context.Context, *user.Group) error        { return errUnused }
func (f *fakeDirectory) UpdateGroup(context.Context, *user.Group) error        { return errUnused }
func (f *fakeDirectory) DeleteGroup(context.Context, string) error             { return errUnused }
func (f *fakeDirectory) ListGroups(context.Context, user.Filter) ([]*user.Group, int, error) {
	return nil, 0, errUnused
}

// knownScopes grants the scopes it knows and drops the others.
type knownScopes map[string]bool

func (k knownScopes) AuthorizeScopes(_ context.Context, _ *Client, _ *user.User, requested []string) ([]string, error) {
	var out []string
	for _, s := range requested {
		if k[s] {
			out = append(out, s)
		}
	}
	return out, nil
}

// recordingListener keeps revocation events.
type recordingListener struct {
	mu     sync.Mutex
	events []RevokedAccessToken
}

func (l *recordingListener) AccessTokenRevoked(_ context.Context, t RevokedAccessToken) {
	l.mu.Lock()
	l.events = append(l.events, t)
	l.mu.Unlock()
}

func (l *recordingListener) has(kind RevocationKind, id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.events {
		if e.Kind == kind && e.Identifier == id {
			return true
		}
	}
	return false
}

var (
	primaryOnce sync.Once
	primaryKS   *keystore.KeyStore
	sealerKey   = func() []byte { b := make([]byte, 32); _, _ = rand.Read(b); return b }()
)

func testKeystore(t testing.TB) *keystore.KeyStore {
	primaryOnce.Do(func() {
		ks, err := keystore.Generate("wso2carbon", []string{"127.0.0.1", "localhost"})
		if err != nil {
			t.Fatal(err)
		}
		primaryKS = ks
	})
	return primaryKS
}

// env is one engine behind a real HTTPS server on 127.0.0.1:0.
type env struct {
	t        testing.TB
	srv      *Server
	ts       *httptest.Server
	mux      *http.ServeMux
	users    *fakeDirectory
	listener *recordingListener
	db       *db.DB
	cfg      Config
}

func newEnv(t testing.TB, d *db.DB) *env {
	t.Helper()
	if d == nil {
		d = dbtest.SQLite(t)
	}
	mux := http.NewServeMux()
	ts := httptest.NewUnstartedServer(mux)
	ts.StartTLS()
	t.Cleanup(ts.Close)
	sealer, err := secret.NewSealerFromKey(sealerKey)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ts: ts, mux: mux, users: newFakeDirectory(), listener: &recordingListener{}, db: d}
	e.users.add("u-admin", "admin", "admin-pass", "admin")
	e.users.add("u-alice", "alice", "alice-pass", "Internal/subscriber")
	e.users.add("u-intro", "introspector", "intro-pass", "introspect-role")
	e.users.roles["introspect-role"] = &user.Role{Name: "introspect-role", Permissions: []string{"internal_oauth2_introspect"}}
	e.cfg = Config{
		Issuer: ts.URL + "/oauth2/token", BaseURL: ts.URL, DB: d, Signer: testKeystore(t), Sealer: sealer,
		Users: e.users, Scopes: knownScopes{"read": true, "write": true, "profile": true, "email": true},
		Listener: e.listener, HTTPClient: ts.Client(), Logger: slog.New(slog.DiscardHandler),
	}
	e.srv = e.start()
	e.srv.Mount(mux)
	return e
}

func (e *env) start() *Server {
	e.t.Helper()
	s, err := New(context.Background(), e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { s.Close() })
	return s
}

func (e *env) client(t testing.TB, c *Client) *Client {
	t.Helper()
	if err := e.srv.Clients().CreateClient(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c
}

// browser is an HTTPS client with a cookie jar that does not follow
// redirects to the relying party.
func (e *env) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	c := *e.ts.Client()
	c.Jar = jar
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

func (e *env) ctx() context.Context {
	return context.WithValue(context.Background(), oauth2.HTTPClient, e.ts.Client())
}

func (e *env) postForm(t testing.TB, path string, form url.Values, basicID, basicSecret string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8")
	if basicID != "" {
		req.SetBasicAuth(basicID, basicSecret)
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Fatalf("%s answered non-JSON %q (%d)", path, raw, resp.StatusCode)
		}
	}
	return resp, body
}

var inputRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// formFields extracts the hidden inputs of an engine page.
func formFields(t testing.TB, html string) url.Values {
	t.Helper()
	out := url.Values{}
	for _, m := range inputRE.FindAllStringSubmatch(html, -1) {
		out.Set(m[1], unescapeHTML(m[2]))
	}
	return out
}

func unescapeHTML(s string) string {
	r := strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&#34;", `"`, "&#39;", "'", "&quot;", `"`)
	return r.Replace(s)
}

func readBody(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func checkNoStore(t testing.TB, resp *http.Response) {
	t.Helper()
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	if p := resp.Header.Get("Pragma"); p != "no-cache" {
		t.Errorf("Pragma = %q, want no-cache", p)
	}
}
