package oauth

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"
)

func TestKeyRotationLifecycle(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	c := e.client(t, &Client{Name: "rot", TokenType: "JWT"})
	cc := clientcredentials.Config{ClientID: c.ID, ClientSecret: c.Secret, TokenURL: e.ts.URL + "/oauth2/token"}
	old, err := cc.Token(e.ctx())
	if err != nil {
		t.Fatal(err)
	}
	first := e.srv.keys.active().kid

	// Automatic rotation only when the active key is older than KeyRotation.
	e.srv.cfg.KeyRotation = time.Hour
	if err := e.srv.rotateIfDue(ctx); err != nil || e.srv.keys.active().kid != first {
		t.Fatalf("rotated a fresh key: %v", err)
	}
	e.srv.cfg.KeyRotation = time.Millisecond
	time.Sleep(5 * time.Millisecond)
	if err := e.srv.rotateIfDue(ctx); err != nil {
		t.Fatal(err)
	}
	second := e.srv.keys.active().kid
	if second == first {
		t.Fatal("due rotation did not happen")
	}
	// The retired key stays published and keeps validating its tokens.
	if kids := jwksKids(t, e.srv); !slices.Contains(kids, first) || !slices.Contains(kids, first+psSuffix) {
		t.Errorf("retired key missing from JWKS: %v", kids)
	}
	if _, err := e.srv.ValidateAccessToken(ctx, old.AccessToken); err != nil {
		t.Errorf("token of the retired key: %v", err)
	}
	var until int64
	if err := e.db.QueryRowContext(ctx, `SELECT retire_until FROM oauth_keys WHERE kid = ?`, first).Scan(&until); err != nil {
		t.Fatal(err)
	}
	if min := time.Now().Add(time.Hour).UnixMilli(); until < min {
		t.Errorf("retired key published until %d, before its last token expires (%d)", until, min)
	}

	// Once its last token has expired the retired key leaves the JWKS.
	if _, err := e.db.ExecContext(ctx, `UPDATE oauth_keys SET retire_until = ? WHERE kid = ?`, nowMS()-1, first); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.keys.reload(ctx); err != nil {
		t.Fatal(err)
	}
	if kids := jwksKids(t, e.srv); slices.Contains(kids, first) || !slices.Contains(kids, second) {
		t.Errorf("JWKS after expiry: %v", kids)
	}
	if _, err := e.srv.ValidateAccessToken(ctx, old.AccessToken); err == nil {
		t.Error("token signed by an unpublished key still validates")
	}
	for _, k := range jwksKids(t, e.srv) {
		if !strings.HasPrefix(k, second) {
			t.Errorf("unexpected kid %s", k)
		}
	}
}

// TestOtherNodeSeesRotation: a second engine on the same database picks
// up a key rotated by the first when it meets the new kid.
func TestOtherNodeSeesRotation(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	other := e.start()
	c := e.client(t, &Client{Name: "nodes", TokenType: "JWT"})
	if err := e.srv.RotateKey(ctx); err != nil {
		t.Fatal(err)
	}
	tok, err := (&clientcredentials.Config{ClientID: c.ID, ClientSecret: c.Secret, TokenURL: e.ts.URL + "/oauth2/token"}).Token(e.ctx())
	if err != nil {
		t.Fatal(err)
	}
	other.keys.lastReload.Store(0)
	if _, err := other.ValidateAccessToken(ctx, tok.AccessToken); err != nil {
		t.Errorf("other node rejects a token of the rotated key: %v", err)
	}
	// A node that rotates while holding a stale active key adopts the key
	// the other node created instead of adding a second active one.
	stale := e.start()
	if err := e.srv.RotateKey(ctx); err != nil {
		t.Fatal(err)
	}
	if err := stale.RotateKey(ctx); err != nil {
		t.Fatal(err)
	}
	if stale.keys.active().kid != e.srv.keys.active().kid {
		t.Error("nodes disagree on the active key")
	}
	var active int
	if err := e.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM oauth_keys WHERE active = 1`).Scan(&active); err != nil || active != 1 {
		t.Errorf("%d active keys (%v)", active, err)
	}
}
