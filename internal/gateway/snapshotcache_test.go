package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyway/keyway/internal/gateway"
	"github.com/keyway/keyway/internal/gateway/gatewaytest"
	"github.com/keyway/keyway/internal/runtime"
	"github.com/keyway/keyway/internal/secret"
)

func newSealer(t *testing.T, fill byte) *secret.Sealer {
	t.Helper()
	s, err := secret.NewSealerFromKey(bytes.Repeat([]byte{fill}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newCache(t *testing.T, path string, s *secret.Sealer) *gateway.SnapshotCache {
	t.Helper()
	c, err := gateway.NewSnapshotCache(path, s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// controlPlane serves whatever snapshot it holds, or 503 while down.
type controlPlane struct {
	*httptest.Server
	snap  atomic.Pointer[runtime.Snapshot]
	down  atomic.Bool
	pulls atomic.Int64
}

func newControlPlane(t *testing.T, snap *runtime.Snapshot) *controlPlane {
	t.Helper()
	cp := &controlPlane{}
	cp.snap.Store(snap)
	cp.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		cp.pulls.Add(1)
		if cp.down.Load() {
			http.Error(w, "control plane down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(cp.snap.Load())
	}))
	t.Cleanup(cp.Close)
	return cp
}

// TestSnapshotCacheWrittenAfterPull: a pull that changes the snapshot
// rewrites the file (sealed, 0600); an unchanged pull leaves it alone.
func TestSnapshotCacheWrittenAfterPull(t *testing.T) {
	dir := t.TempDir()
	path := gateway.SnapshotCachePath(dir)
	cache := newCache(t, path, newSealer(t, 1))
	cp := newControlPlane(t, &runtime.Snapshot{Revision: 1, APIs: []runtime.API{{UUID: "a1", Name: "Pizza", Version: "1.0.0"}},
		KeyManagers: []runtime.KeyManager{{Name: "IS", IntrospectionUsername: "km-admin", IntrospectionPassword: "km-secret-password"}}})
	src := gateway.NewRemoteSource(cp.URL, cp.Client(), "admin", "admin", gateway.WithSnapshotCache(cache), gateway.WithRemoteLogger(quietLogger()))
	ctx := context.Background()

	if _, _, err := cache.Load(ctx); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("before any pull: %v, want not exist", err)
	}
	if _, err := src.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatalf("no snapshot file after a pull: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("snapshot file mode %v, want 0600", st.Mode().Perm())
	}
	if dst, err := os.Stat(filepath.Dir(path)); err != nil || dst.Mode().Perm() != 0o700 {
		t.Errorf("snapshot directory: %v %v, want 0700", dst.Mode().Perm(), err)
	}
	got, savedAt, err := cache.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Revision != 1 || len(got.APIs) != 1 || got.KeyManagers[0].IntrospectionPassword != "km-secret-password" {
		t.Fatalf("persisted snapshot: %+v", got)
	}

	// Same content under a new revision: no rewrite.
	cp.snap.Store(&runtime.Snapshot{Revision: 2, APIs: got.APIs, KeyManagers: got.KeyManagers})
	if _, err := src.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	if _, again, err := cache.Load(ctx); err != nil || !again.Equal(savedAt) {
		t.Fatalf("unchanged pull rewrote the file: saved %v then %v (%v)", savedAt, again, err)
	}

	// Changed content: rewritten, and no temp file is left behind.
	cp.snap.Store(&runtime.Snapshot{Revision: 3, APIs: append(got.APIs, runtime.API{UUID: "a2", Name: "Pasta", Version: "1.0.0"})})
	if _, err := src.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _, err := cache.Load(ctx); err != nil || got.Revision != 3 || len(got.APIs) != 2 {
		t.Fatalf("after a change: %+v %v", got, err)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil || len(entries) != 1 {
		t.Fatalf("snapshot directory holds %v (%v), want only %s", entries, err, gateway.SnapshotCacheFile)
	}
}

// TestSnapshotCacheSealed: the file does not show the credentials it holds
// and another key cannot open it.
func TestSnapshotCacheSealed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "last-snapshot")
	ctx := context.Background()
	snap := &runtime.Snapshot{Revision: 7, KeyManagers: []runtime.KeyManager{{Name: "IS",
		IntrospectionUsername: "km-admin", IntrospectionPassword: "km-secret-password"}}}
	if err := newCache(t, path, newSealer(t, 1)).Save(ctx, snap); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, plain := range []string{"km-secret-password", "km-admin", "introspectionPassword"} {
		if bytes.Contains(raw, []byte(plain)) {
			t.Errorf("snapshot file shows %q in clear", plain)
		}
	}
	if _, _, err := newCache(t, path, newSealer(t, 2)).Load(ctx); !errors.Is(err, secret.ErrUnsealable) {
		t.Fatalf("load with another key: %v, want ErrUnsealable", err)
	}
	if got, _, err := newCache(t, path, newSealer(t, 1)).Load(ctx); err != nil || got.Revision != 7 {
		t.Fatalf("load with the key: %+v %v", got, err)
	}
}

// TestGatewayStartsFromPersistedSnapshot: a node restarted while its
// control plane is down serves the persisted snapshot (revocations
// included), keeps asking the control plane and takes fresh data when it
// answers.
func TestGatewayStartsFromPersistedSnapshot(t *testing.T) {
	base := newFixture(t, fixtureOpts{})
	snap := *base.snap
	snap.RevokedTokens = []runtime.RevokedToken{{Token: "revoked-jti", ExpiryMillis: time.Now().Add(time.Hour).UnixMilli(), TokenType: "JWT"}}
	path := gateway.SnapshotCachePath(t.TempDir())
	sealer := newSealer(t, 3)
	cp := newControlPlane(t, &snap)

	// The first run pulls and persists.
	first := newFixture(t, fixtureOpts{shared: base, source: gateway.NewRemoteSource(cp.URL, cp.Client(), "", "",
		gateway.WithSnapshotCache(newCache(t, path, sealer)), gateway.WithRemoteLogger(quietLogger()))})
	tok := base.token("ck1", "")
	check(t, first.do(t, call{path: "/pizzashack/1.0.0/menu", headers: bearer(tok)}), call{name: "first run", code: 200})

	// The restart finds its control plane down.
	cp.down.Store(true)
	src := gateway.NewRemoteSource(cp.URL, cp.Client(), "", "",
		gateway.WithSnapshotCache(newCache(t, path, sealer)), gateway.WithRemoteLogger(quietLogger()))
	node := newFixture(t, fixtureOpts{shared: base, source: src})
	check(t, node.do(t, call{path: "/pizzashack/1.0.0/menu", headers: bearer(tok)}), call{name: "persisted snapshot", code: 200})
	revoked := base.km.Mint(t, gatewaytest.Claims{"azp": "ck1", "sub": "alice", "jti": "revoked-jti"})
	check(t, node.do(t, call{path: "/pizzashack/1.0.0/menu", headers: bearer(revoked)}), call{name: "revoked in persisted snapshot", code: 401, fault: 900901})

	// Later failures are reported (the gateway keeps what it serves).
	pulls := cp.pulls.Load()
	if err := node.gw.Reload(context.Background()); err == nil {
		t.Fatal("reload with the control plane down succeeded")
	}
	if cp.pulls.Load() == pulls {
		t.Fatal("the reload did not ask the control plane")
	}
	check(t, node.do(t, call{path: "/pizzashack/1.0.0/menu", headers: bearer(tok)}), call{name: "still persisted", code: 200})

	// The control plane answers with a change: fresh data serves.
	fresh := snap
	fresh.Revision = 42
	fresh.APIs = fresh.APIs[1:] // drop PizzaShackAPI
	cp.snap.Store(&fresh)
	cp.down.Store(false)
	if err := node.gw.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if node.gw.Revision() != 42 {
		t.Fatalf("revision %d after the control plane came back, want 42", node.gw.Revision())
	}
	check(t, node.do(t, call{path: "/pizzashack/1.0.0/menu", headers: bearer(tok)}), call{name: "fresh snapshot", code: 404})
}

// TestSnapshotCacheUnusableFileIgnored: a corrupt, foreign or empty file is
// logged and ignored; the pull error comes back and the gateway serves
// nothing (instead of crashing).
func TestSnapshotCacheUnusableFileIgnored(t *testing.T) {
	ctx := context.Background()
	sealed, err := newSealer(t, 9).Seal(`{"savedAt":"2026-01-01T00:00:00Z","snapshot":{"revision":5}}`)
	if err != nil {
		t.Fatal(err)
	}
	good, err := newSealer(t, 1).Seal(`{"savedAt":"2026-01-01T00:00:00Z","snapshot":{"revision":5}}`)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		content string
	}{
		{"garbage", "this is not a snapshot"},
		{"empty", ""},
		{"truncated", good[:len(good)/2]},
		{"another key", sealed},
		{"not json inside", mustSeal(t, newSealer(t, 1), "{not json")},
		{"no snapshot inside", mustSeal(t, newSealer(t, 1), `{"savedAt":"2026-01-01T00:00:00Z"}`)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "last-snapshot")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			src := gateway.NewRemoteSource(closedURL(t), nil, "", "",
				gateway.WithSnapshotCache(newCache(t, path, newSealer(t, 1))), gateway.WithRemoteLogger(quietLogger()))
			snap, err := src.Snapshot(ctx)
			if err == nil || snap != nil {
				t.Fatalf("unusable file gave snapshot %+v, err %v", snap, err)
			}
			gw, err := gateway.New(ctx, gateway.Config{Source: src, Logger: quietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			defer gw.Close(ctx)
			if gw.Revision() != 0 {
				t.Fatalf("gateway serves revision %d from an unusable file", gw.Revision())
			}
		})
	}
}

func mustSeal(t *testing.T, s *secret.Sealer, plain string) string {
	t.Helper()
	out, err := s.Seal(plain)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestNewSnapshotCacheNeedsPathAndSealer(t *testing.T) {
	if _, err := gateway.NewSnapshotCache("", newSealer(t, 1)); err == nil {
		t.Error("no path accepted")
	}
	if _, err := gateway.NewSnapshotCache("x", nil); err == nil {
		t.Error("no sealer accepted")
	}
}

// TestKeySetCacheCarriesKeysAcrossRestart: a gateway restarted while its
// key manager is down still verifies tokens with the persisted key set;
// without the cache it could not.
func TestKeySetCacheCarriesKeysAcrossRestart(t *testing.T) {
	base := newFixture(t, fixtureOpts{})
	dir := filepath.Join(t.TempDir(), "keysets")
	ctx := context.Background()
	tok := base.token("ck1", "")
	serve := func(client *http.Client) int {
		t.Helper()
		gw, err := gateway.New(ctx, gateway.Config{Source: gatewaytest.NewStatic(base.snap), Logger: quietLogger(),
			KeyManagerClient: client})
		if err != nil {
			t.Fatal(err)
		}
		defer gw.Close(ctx)
		srv := httptest.NewServer(gw.GatewayHandler())
		defer srv.Close()
		return doAt(t, srv.URL, call{path: "/pizzashack/1.0.0/menu", headers: bearer(tok)}).code
	}
	withCache := func() *http.Client {
		return &http.Client{Transport: gateway.NewKeySetCache(nil, dir, quietLogger())}
	}
	if code := serve(withCache()); code != 200 {
		t.Fatalf("key manager up: %d", code)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("persisted key sets: %v %v, want one file", entries, err)
	}
	if info, err := entries[0].Info(); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key set file mode: %v %v", info, err)
	}

	base.km.Server.Close()
	if code := serve(&http.Client{}); code != 401 {
		t.Fatalf("key manager down, no persisted keys: %d, want 401", code)
	}
	if code := serve(withCache()); code != 200 {
		t.Fatalf("key manager down, persisted keys: %d, want 200", code)
	}
}

// TestKeySetCacheTransport: only key sets are persisted; other answers and
// methods pass through; a corrupt file is not served.
func TestKeySetCacheTransport(t *testing.T) {
	var status atomic.Int64
	status.Store(200)
	var body atomic.Value
	body.Store(`{"keys":[{"kty":"RSA","kid":"k1","n":"AQAB","e":"AQAB"}]}`)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(int(status.Load()))
		_, _ = w.Write([]byte(body.Load().(string)))
	}))
	defer up.Close()
	dir := t.TempDir()
	client := &http.Client{Transport: gateway.NewKeySetCache(nil, dir, quietLogger())}
	get := func(method string) (int, string, error) {
		t.Helper()
		req, _ := http.NewRequest(method, up.URL+"/jwks", nil)
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String(), nil
	}
	files := func() int {
		entries, _ := os.ReadDir(dir)
		return len(entries)
	}

	// A non-key-set answer is not persisted, and with nothing on disk a
	// failure comes through as it is.
	body.Store(`{"not":"keys"}`)
	if code, _, err := get("GET"); err != nil || code != 200 || files() != 0 {
		t.Fatalf("non key set: %d %v, %d files", code, err, files())
	}
	status.Store(503)
	if code, _, err := get("GET"); err != nil || code != 503 {
		t.Fatalf("503 without a persisted set: %d %v", code, err)
	}

	keys := `{"keys":[{"kty":"RSA","kid":"k1","n":"AQAB","e":"AQAB"}]}`
	status.Store(200)
	body.Store(keys)
	if code, got, err := get("GET"); err != nil || code != 200 || got != keys || files() != 1 {
		t.Fatalf("key set: %d %q %v, %d files", code, got, err, files())
	}
	// 5xx: the persisted set; 404 and POST: as they are.
	status.Store(502)
	if code, got, err := get("GET"); err != nil || code != 200 || got != keys {
		t.Fatalf("502 with a persisted set: %d %q %v", code, got, err)
	}
	if code, _, err := get("POST"); err != nil || code != 502 {
		t.Fatalf("POST: %d %v", code, err)
	}
	status.Store(404)
	if code, _, err := get("GET"); err != nil || code != 404 {
		t.Fatalf("404: %d %v", code, err)
	}

	// A corrupt file is not served.
	entries, _ := os.ReadDir(dir)
	if err := os.WriteFile(filepath.Join(dir, entries[0].Name()), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	up.Close()
	if _, _, err := get("GET"); err == nil {
		t.Fatal("corrupt persisted set served")
	}
}
