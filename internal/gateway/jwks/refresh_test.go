package jwks_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/keyway/keyway/internal/gateway/jwks"
)

// rotatingJWKS serves a key set that the test swaps, or fails on demand, and
// counts the downloads it has answered.
type rotatingJWKS struct {
	set     atomic.Pointer[[]byte]
	failing atomic.Bool
	served  atomic.Int64 // downloads finished (answer written)
}

func (j *rotatingJWKS) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	defer j.served.Add(1)
	if j.failing.Load() {
		http.Error(w, "key manager down", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(*j.set.Load())
}

func (j *rotatingJWKS) publish(t *testing.T, keys map[string]*rsa.PrivateKey) {
	t.Helper()
	var set jose.JSONWebKeySet
	for kid, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Use: "sig", Algorithm: "RS256"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	j.set.Store(&b)
}

// waitServed waits until the server has answered two more downloads than
// from, so at least one whole background refresh ran after the caller's
// change. The bound is generous: it only guards against a hung test.
func (j *rotatingJWKS) waitServed(t *testing.T, from int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for j.served.Load() < from+2 {
		if time.Now().After(deadline) {
			t.Fatalf("background refresh did not run: %d downloads since the change", j.served.Load()-from)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestBackgroundRefresh(t *testing.T) {
	srv := &rotatingJWKS{}
	oldKey, newKey := rsaKey(t), rsaKey(t)
	srv.publish(t, map[string]*rsa.PrivateKey{"old": oldKey})
	ts := httptest.NewServer(srv)
	defer ts.Close()

	// A frozen clock: the cache never ages the set out, and an unknown kid
	// can never trigger a download after the first one, so only the refresh
	// loop can bring new keys in.
	frozen := time.Now()
	c := jwks.New(ts.Client(), jwks.Options{Refresh: 10 * time.Millisecond, MinRefetch: time.Hour,
		Now: func() time.Time { return frozen }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer c.Close()
	ctx := context.Background()

	if k, err := c.Key(ctx, ts.URL, "", "old"); err != nil || !k.Equal(&oldKey.PublicKey) {
		t.Fatalf("initial key: %v", err)
	}

	// Rotation: "old" leaves the set, "new" enters it.
	srv.publish(t, map[string]*rsa.PrivateKey{"new": newKey})
	srv.waitServed(t, srv.served.Load())
	if k, err := c.Key(ctx, ts.URL, "", "new"); err != nil || !k.Equal(&newKey.PublicKey) {
		t.Fatalf("rotated key not picked up by the refresh: %v", err)
	}
	if _, err := c.Key(ctx, ts.URL, "", "old"); !errors.Is(err, jwks.ErrUnknownKey) {
		t.Fatalf("rotated-out key still served: %v", err)
	}
	// A token without kid uses the set's only key, also the rotated one.
	if k, err := c.Key(ctx, ts.URL, "", ""); err != nil || !k.Equal(&newKey.PublicKey) {
		t.Fatalf("single-key lookup without kid after rotation: %v", err)
	}

	// A failing refresh keeps the keys it had.
	srv.failing.Store(true)
	srv.waitServed(t, srv.served.Load())
	if k, err := c.Key(ctx, ts.URL, "", "new"); err != nil || !k.Equal(&newKey.PublicKey) {
		t.Fatalf("failed refresh dropped the keys: %v", err)
	}

	// And the next good refresh brings the current set back in.
	srv.publish(t, map[string]*rsa.PrivateKey{"new": newKey, "next": oldKey})
	srv.failing.Store(false)
	srv.waitServed(t, srv.served.Load())
	if k, err := c.Key(ctx, ts.URL, "", "next"); err != nil || !k.Equal(&oldKey.PublicKey) {
		t.Fatalf("recovery refresh: %v", err)
	}
}
