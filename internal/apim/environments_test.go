package apim

import (
	"net/http"
	"slices"
	"testing"

	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/db/dbtest"
	"github.com/keyway/keyway/internal/events"
	"github.com/keyway/keyway/internal/runtime"
)

func envNames(list map[string]any) []string {
	var out []string
	for _, e := range list["list"].([]any) {
		out = append(out, e.(map[string]any)["name"].(string))
	}
	return out
}

// wantAPIMError checks a response the contract does not declare (409, or
// 400 on DELETE) still has APIM's error shape.
func wantAPIMError(t *testing.T, what string, status, want int, body map[string]any) {
	t.Helper()
	if status != want || body["code"] == nil || body["message"] == nil || body["description"] == nil || body["error"] == nil {
		t.Errorf("%s: %d %v, want %d in the APIM error shape", what, status, body, want)
	}
}

// TestAdminEnvironmentCRUD manages a gateway environment through the admin
// API, deploys an API revision to it from the publisher and checks that the
// gateway snapshot carries it there.
func TestAdminEnvironmentCRUD(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		admin := basicAuth("admin", "admin")
		const c = "admin-api.yaml"

		status, list, raw := e.call(http.MethodGet, A+"/environments", admin, nil, c)
		if status != http.StatusOK || !slices.Equal(envNames(list), []string{"Default"}) {
			t.Fatalf("list: %d %s", status, raw)
		}
		def := list["list"].([]any)[0].(map[string]any)
		if def["isReadOnly"] != true {
			t.Errorf("Default is not read-only: %v", def)
		}

		in := map[string]any{"name": "us-east", "displayName": "US East", "description": "east coast",
			"vhosts":               []any{map[string]any{"host": "us.example.com", "httpContext": "", "httpsPort": 8443}},
			"additionalProperties": []any{map[string]any{"key": "region", "value": "us-east-1"}}}
		status, created, raw := e.call(http.MethodPost, A+"/environments", admin, in, c)
		if status != http.StatusCreated || created["isReadOnly"] != false || created["type"] != "hybrid" {
			t.Fatalf("create: %d %s", status, raw)
		}
		id := created["id"].(string)
		vh := created["vhosts"].([]any)[0].(map[string]any)
		if vh["httpsPort"] != 8443.0 || vh["httpPort"] != 80.0 || vh["wsPort"] != 9099.0 {
			t.Errorf("vhost = %v", vh)
		}
		if !slices.ContainsFunc(e.events, func(ev events.Event) bool { return ev.Type == events.EnvironmentChanged }) {
			t.Errorf("no %s event", events.EnvironmentChanged)
		}
		if status, got, raw := e.call(http.MethodGet, A+"/environments/"+id, admin, nil, c); status != http.StatusOK || got["name"] != "us-east" {
			t.Errorf("get: %d %s", status, raw)
		}

		// Bad input is refused and stores nothing.
		for name, bad := range map[string]any{
			"bad name":  map[string]any{"name": "us east", "vhosts": []any{map[string]any{"host": "a.example.com"}}},
			"no vhosts": map[string]any{"name": "x", "vhosts": []any{}},
			"no host":   map[string]any{"name": "x", "vhosts": []any{map[string]any{"host": ""}}},
			"port":      map[string]any{"name": "x", "vhosts": []any{map[string]any{"host": "a.example.com", "httpPort": 70000}}},
			"json":      `{"name":`,
		} {
			status, body, _ := e.call(http.MethodPost, A+"/environments", admin, bad, c)
			if status != http.StatusBadRequest || body["code"] == nil {
				t.Errorf("%s: %d %v", name, status, body)
			}
		}
		// Names are unique across deployment.toml's and the admin's.
		for _, name := range []string{"us-east", "Default"} {
			dup := map[string]any{"name": name, "vhosts": []any{map[string]any{"host": "b.example.com"}}}
			status, body, _ := e.call(http.MethodPost, A+"/environments", admin, dup, "")
			wantAPIMError(t, "duplicate "+name, status, http.StatusConflict, body)
		}
		// Configured environments are read-only.
		status, body, _ := e.call(http.MethodPut, A+"/environments/"+def["id"].(string), admin, in, c)
		wantAPIMError(t, "update Default", status, http.StatusBadRequest, body)
		status, body, _ = e.call(http.MethodDelete, A+"/environments/"+def["id"].(string), admin, nil, "")
		wantAPIMError(t, "delete Default", status, http.StatusBadRequest, body)
		if status, _, _ := e.call(http.MethodGet, A+"/environments/nowhere", admin, nil, c); status != http.StatusNotFound {
			t.Errorf("get unknown: %d", status)
		}
		// Without the admin scopes nothing changes.
		e.createUser("sub", "sub-pass", "Internal/subscriber")
		if status, _, _ := e.call(http.MethodPost, A+"/environments", basicAuth("sub", "sub-pass"), in, ""); status != http.StatusForbidden {
			t.Errorf("subscriber create: %d", status)
		}
		if status, list, _ := e.call(http.MethodGet, A+"/environments", admin, nil, c); status != http.StatusOK || !slices.Equal(envNames(list), []string{"Default", "us-east"}) {
			t.Errorf("after refusals: %v", envNames(list))
		}

		// Update: a second vhost.
		in["vhosts"] = append(in["vhosts"].([]any), map[string]any{"host": "us2.example.com"})
		in["displayName"] = "US East 1"
		status, upd, raw := e.call(http.MethodPut, A+"/environments/"+id, admin, in, c)
		if status != http.StatusOK || upd["displayName"] != "US East 1" || len(upd["vhosts"].([]any)) != 2 || upd["id"] != id {
			t.Fatalf("update: %d %s", status, raw)
		}

		// The publisher sees it and deploys there; the gateway gets it.
		status, penvs, raw := e.call(http.MethodGet, P+"/environments", admin, nil, "")
		if status != http.StatusOK || !slices.Equal(envNames(penvs), []string{"Default", "us-east"}) {
			t.Fatalf("publisher environments: %d %s", status, raw)
		}
		apiID := e.publishAPI("Weather")
		status, rev, raw := e.call(http.MethodPost, P+"/apis/"+apiID+"/revisions", admin, map[string]any{"description": "first"}, "")
		if status != http.StatusCreated {
			t.Fatalf("revision: %d %s", status, raw)
		}
		revID := rev["id"].(string)
		target := []map[string]any{{"name": "us-east", "vhost": "us2.example.com", "displayOnDevportal": true}}
		if status, _, raw := e.call(http.MethodPost, P+"/apis/"+apiID+"/deploy-revision?revisionId="+revID, admin, target, ""); status != http.StatusCreated {
			t.Fatalf("deploy: %d %s", status, raw)
		}
		snap, err := e.apim.Source().Snapshot(t0())
		if err != nil {
			t.Fatal(err)
		}
		if i := slices.IndexFunc(snap.APIs, func(a runtime.API) bool { return a.UUID == apiID }); i < 0 ||
			snap.APIs[i].Environment != "us-east" || snap.APIs[i].VHost != "us2.example.com" {
			t.Fatalf("snapshot APIs = %+v", snap.APIs)
		}

		// In use: neither deleted nor stripped of the used vhost.
		status, body, _ = e.call(http.MethodDelete, A+"/environments/"+id, admin, nil, "")
		wantAPIMError(t, "delete while deployed", status, http.StatusConflict, body)
		in["vhosts"] = in["vhosts"].([]any)[:1]
		status, body, _ = e.call(http.MethodPut, A+"/environments/"+id, admin, in, "")
		wantAPIMError(t, "remove used vhost", status, http.StatusConflict, body)

		if status, _, raw := e.call(http.MethodPost, P+"/apis/"+apiID+"/undeploy-revision?revisionId="+revID, admin, target, ""); status != http.StatusCreated {
			t.Fatalf("undeploy: %d %s", status, raw)
		}
		if status, _, raw := e.call(http.MethodDelete, A+"/environments/"+id, admin, nil, c); status != http.StatusOK {
			t.Fatalf("delete: %d %s", status, raw)
		}
		if status, list, _ := e.call(http.MethodGet, A+"/environments", admin, nil, c); status != http.StatusOK || !slices.Equal(envNames(list), []string{"Default"}) {
			t.Errorf("after delete: %v", envNames(list))
		}
	})
}
