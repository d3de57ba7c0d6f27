package identity

import (
	"context"
	"net/http"
	"testing"

	"github.com/keyway/keyway/internal/contracttest"
	"github.com/keyway/keyway/internal/db/dbtest"
	it "github.com/keyway/keyway/internal/identity/identitytest"
)

// TestDCRWithEngine drives DCR over the engine's SQL client store: every
// ext_* member must survive storage and come back on reads.
func TestDCRWithEngine(t *testing.T) {
	n := start(t, dbtest.SQLite(t), newPlatform(t))
	c := contracttest.Load(t, "is-dcr.yaml")
	do := func(method, path string, body any) (int, map[string]any) {
		t.Helper()
		req := it.Request(t, method, n.srv.URL+path, it.AdminAuth, body)
		st, hdr, b := it.Do(t, n.client, req)
		c.CheckResponse(t, req, st, hdr, b)
		if len(b) == 0 {
			return st, nil
		}
		return st, it.JSON(t, b)
	}
	const reg = "/api/identity/oauth2/dcr/v1.1/register"
	st, app := do("POST", reg, map[string]any{"client_name": "full", "grant_types": []string{"authorization_code", "refresh_token", "password"},
		"redirect_uris": []string{"https://app.example.com/cb"}, "ext_param_client_id": "preset-id", "ext_param_client_secret": "preset-secret",
		"ext_application_display_name": "Full App", "token_type_extension": "JWT", "ext_application_token_lifetime": 100,
		"ext_user_token_lifetime": 200, "ext_refresh_token_lifetime": 300, "ext_id_token_lifetime": 400, "ext_pkce_mandatory": true,
		"ext_pkce_support_plain": true, "ext_public_client": false, "ext_allowed_audience": "application",
		"post_logout_redirect_uris": []string{"https://app.example.com/bye"}, "jwks_uri": "https://app.example.com/jwks"})
	if st != 201 {
		t.Fatalf("create: %d %v", st, app)
	}
	st, got := do("GET", reg+"/preset-id", nil)
	want := map[string]any{"client_id": "preset-id", "client_secret": "preset-secret", "client_name": "full", "ext_application_display_name": "Full App",
		"token_type_extension": "JWT", "ext_application_token_lifetime": float64(100), "ext_user_token_lifetime": float64(200),
		"ext_refresh_token_lifetime": float64(300), "ext_id_token_lifetime": float64(400), "ext_pkce_mandatory": true, "ext_pkce_support_plain": true,
		"ext_public_client": false, "ext_allowed_audience": "application", "jwks_uri": "https://app.example.com/jwks", "client_secret_expires_at": float64(0),
		"ext_application_owner": it.AdminName}
	if st != 200 {
		t.Fatalf("get: %d %v", st, got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	stored, err := n.is.OAuth().Clients().GetClient(context.Background(), "preset-id")
	if err != nil || stored.Secret != "preset-secret" || len(stored.PostLogoutRedirectURIs) != 1 || stored.Extra["ext_allowed_audience"] != "application" {
		t.Fatalf("stored %+v %v", stored, err)
	}
	// The tenant-qualified path reaches the same API.
	req := it.Request(t, "GET", n.srv.URL+"/t/carbon.super"+reg+"?client_name=full", it.AdminAuth, nil)
	if st, _, b := it.Do(t, n.client, req); st != http.StatusOK || it.JSON(t, b)["client_id"] != "preset-id" {
		t.Fatalf("tenant path: %d %s", st, b)
	}
	if st, e := do("POST", reg, map[string]any{"client_name": "other", "grant_types": []string{"password"}, "ext_param_client_id": "preset-id"}); st != 409 {
		t.Fatalf("duplicate preset id: %d %v", st, e)
	}
	st, second := do("POST", reg, map[string]any{"client_name": "second", "grant_types": []string{"client_credentials"}})
	if st != 201 {
		t.Fatalf("second: %d %v", st, second)
	}
	if st, e := do("PUT", reg+"/"+second["client_id"].(string), map[string]any{"client_name": "full"}); st != 409 {
		t.Fatalf("rename onto an existing name: %d %v", st, e)
	}
	if st, _ := do("DELETE", reg+"/preset-id", nil); st != 204 {
		t.Fatalf("delete: %d", st)
	}
	if st, _ := do("GET", reg+"/preset-id", nil); st != 404 {
		t.Fatalf("get deleted: %d", st)
	}
}
