package apim

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/keyway/keyway/internal/db/dbtest"
	"github.com/keyway/keyway/internal/runtime"
)

type revoked []runtime.RevokedToken

func (r revoked) List(context.Context) ([]runtime.RevokedToken, error) { return r, nil }

func TestInternalAPI(t *testing.T) {
	e := newEnv(t, dbtest.SQLite(t), WithRevocations(revoked{{Token: "jti-1", ExpiryMillis: 99, TokenType: "JWT"}}))
	e.publishAPI("Stock")
	e.getKeys("Stock")
	admin := basicAuth("admin", "admin")

	status, _, raw := e.call(http.MethodGet, "/internal/data/v1/runtime-snapshot", admin, nil, "")
	if status != http.StatusOK {
		t.Fatalf("snapshot: %d %s", status, raw)
	}
	var snap runtime.Snapshot
	if err := json.Unmarshal(raw, &snap); err != nil {
		t.Fatal(err)
	}
	if len(snap.Applications) != 1 || len(snap.KeyMappings) != 1 || len(snap.Subscriptions) != 1 || len(snap.RevokedTokens) != 1 ||
		snap.RevokedTokens[0].Token != "jti-1" || len(snap.KeyManagers) != 1 {
		t.Errorf("snapshot = %s", raw)
	}
	if status, _, _ := e.call(http.MethodGet, "/internal/data/v1/runtime-snapshot", basicAuth("admin", "wrong"), nil, ""); status != http.StatusUnauthorized {
		t.Errorf("bad credentials: %d", status)
	}
	e.createUser("dev", "devpass1", "Internal/subscriber")
	if status, _, _ := e.call(http.MethodGet, "/internal/data/v1/runtime-snapshot", basicAuth("dev", "devpass1"), nil, ""); status != http.StatusForbidden {
		t.Errorf("non-admin: %d", status)
	}
	for _, path := range []string{"/keymanagers", "/applications", "/subscriptions", "/application-key-mappings",
		"/subscription-policies", "/application-policies", "/api-policies", "/subscription-policies?policyName=Gold"} {
		status, _, raw := e.call(http.MethodGet, "/internal/data/v1"+path, admin, nil, "internal-api.yaml")
		if status != http.StatusOK {
			t.Errorf("%s: %d %s", path, status, raw)
		}
	}
	_, gold, _ := e.call(http.MethodGet, "/internal/data/v1/subscription-policies?policyName=Gold", admin, nil, "")
	if gold["count"].(float64) != 1 {
		t.Errorf("policy filter: %v", gold)
	}
	ck := snap.KeyMappings[0].ConsumerKey
	_, km, _ := e.call(http.MethodGet, "/internal/data/v1/application-key-mappings?consumerKey="+ck, admin, nil, "")
	if km["count"].(float64) != 1 {
		t.Errorf("key mapping filter: %v", km)
	}
}
