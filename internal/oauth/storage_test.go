package oauth

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/db/dbtest"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

func jwksKids(t *testing.T, s *Server) []string {
	t.Helper()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(s.keys.jwksDoc(), &set); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.Kid)
	}
	return out
}

// TestStorageSurvivesRestart issues tokens, rotates the key, then starts a
// new Server on the same database: clients (with secrets), tokens and keys
// must all still work.
func TestStorageSurvivesRestart(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		e := newEnv(t, d)
		jwtClient := e.client(t, &Client{Name: "restart-jwt", TokenType: "JWT", RedirectURIs: []string{callback},
			GrantTypes: []string{"client_credentials", "password", "refresh_token"}, Audiences: []string{"a1"}, Extra: map[string]any{"ext_x": "y"}})
		opaque := e.client(t, &Client{Name: "restart-opaque", TokenType: "Default"})
		if err := e.srv.Clients().CreateClient(ctx, &Client{Name: "restart-jwt"}); err != ErrClientConflict {
			t.Errorf("duplicate name: %v", err)
		}
		tokenURL := e.ts.URL + "/oauth2/token"
		oldJWT, err := (&clientcredentials.Config{ClientID: jwtClient.ID, ClientSecret: jwtClient.Secret, TokenURL: tokenURL, Scopes: []string{"read"}}).Token(e.ctx())
		if err != nil {
			t.Fatal(err)
		}
		opaqueTok, err := (&clientcredentials.Config{ClientID: opaque.ID, ClientSecret: opaque.Secret, TokenURL: tokenURL}).Token(e.ctx())
		if err != nil {
			t.Fatal(err)
		}
		userTok, err := (&oauth2.Config{ClientID: jwtClient.ID, ClientSecret: jwtClient.Secret, Endpoint: oauth2.Endpoint{TokenURL: tokenURL}}).
			PasswordCredentialsToken(e.ctx(), "alice", "alice-pass")
		if err != nil {
			t.Fatal(err)
		}
		firstKid := e.srv.keys.active().kid
		if err := e.srv.RotateKey(ctx); err != nil {
			t.Fatal(err)
		}
		newKid := e.srv.keys.active().kid
		if newKid == firstKid {
			t.Fatal("rotation kept the key")
		}
		newJWT, err := (&clientcredentials.Config{ClientID: jwtClient.ID, ClientSecret: jwtClient.Secret, TokenURL: tokenURL}).Token(e.ctx())
		if err != nil {
			t.Fatal(err)
		}
		if hdr, _ := decodeJWT(t, newJWT.AccessToken); hdr["kid"] != newKid {
			t.Errorf("token after rotation signed by %v", hdr["kid"])
		}
		e.srv.Close()

		// "Restart": a new engine on the same database.
		s2 := e.start()
		got, err := s2.Clients().GetClient(ctx, jwtClient.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Secret != jwtClient.Secret || got.Name != "restart-jwt" || !slices.Equal(got.Audiences, []string{"a1"}) || got.Extra["ext_x"] != "y" || got.TokenType != "JWT" {
			t.Errorf("client after restart: %+v", got)
		}
		if byName, err := s2.Clients().GetClientByName(ctx, "restart-opaque"); err != nil || byName.ID != opaque.ID {
			t.Errorf("by name: %v %v", byName, err)
		}
		if list, err := s2.Clients().ListClients(ctx, ""); err != nil || len(list) != 2 {
			t.Errorf("list: %d %v", len(list), err)
		}
		if s2.keys.active().kid != newKid {
			t.Errorf("active key after restart %s, want %s", s2.keys.active().kid, newKid)
		}
		kids := jwksKids(t, s2)
		if !slices.Contains(kids, firstKid) || !slices.Contains(kids, newKid) {
			t.Errorf("JWKS after rotation and restart: %v", kids)
		}
		for name, tok := range map[string]string{"old-key JWT": oldJWT.AccessToken, "new-key JWT": newJWT.AccessToken,
			"opaque": opaqueTok.AccessToken, "user": userTok.AccessToken} {
			if _, err := s2.ValidateAccessToken(ctx, tok); err != nil {
				t.Errorf("%s after restart: %v", name, err)
			}
		}
		if r, err := s2.introspect(ctx, userTok.RefreshToken, ""); err != nil || !r.Active || r.TokenType != "Refresh" {
			t.Errorf("refresh token after restart: %+v %v", r, err)
		}
		if err := s2.RevokeUserTokens(ctx, "u-alice", RevokedByOwner); err != nil {
			t.Fatal(err)
		}
		if _, err := s2.ValidateAccessToken(ctx, userTok.AccessToken); err == nil {
			t.Error("user token survived RevokeUserTokens")
		}
		if _, err := s2.ValidateAccessToken(ctx, oldJWT.AccessToken); err != nil {
			t.Errorf("application token revoked by RevokeUserTokens: %v", err)
		}
		if err := s2.cleanup(ctx); err != nil {
			t.Fatal(err)
		}
	})
}
