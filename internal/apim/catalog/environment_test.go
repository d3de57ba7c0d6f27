package catalog

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/db/dbtest"
	"github.com/keyway/keyway/internal/events"
)

func usEast() Environment {
	return Environment{Name: "us-east", DisplayName: "US East", Description: "east coast",
		VHosts:               []VHost{{Host: "us.example.com", HTTPContext: "gw"}, {Host: "us2.example.com", HTTPSPort: 8443}},
		AdditionalProperties: []Property{{Key: "region", Value: "us-east-1"}},
		EndpointURIs:         []EndpointURI{{Protocol: "https", EndpointURI: "https://us.example.com"}},
		Permissions:          &Permissions{PermissionType: "allow", Roles: []string{"Internal/publisher"}}}
}

func names(envs []Environment) []string {
	var out []string
	for _, e := range envs {
		out = append(out, e.Name)
	}
	return out
}

func TestEnvironmentStorageOnEveryEngine(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, _, rec := newService(t, d)

		e, err := s.CreateEnvironment(ctx, usEast())
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		if e.ID == "" || e.IsReadOnly || e.Type != "hybrid" || e.GatewayType != "Regular" || e.Provider != "wso2" {
			t.Errorf("created %+v", e)
		}
		if v := e.VHosts[0]; v.HTTPPort != 80 || v.HTTPSPort != 443 || v.WSPort != 9099 || v.WSSPort != 8099 || v.WebsubHTTPPort != 9021 || v.HTTPContext != "gw" {
			t.Errorf("vhost defaults %+v", v)
		}
		if e.VHosts[1].HTTPSPort != 8443 || e.Permissions.PermissionType != "ALLOW" {
			t.Errorf("given values lost: %+v", e)
		}
		if !slices.Contains(rec.types(), events.EnvironmentChanged) {
			t.Errorf("no %s event: %v", events.EnvironmentChanged, rec.types())
		}

		// Both sources, configured ones first and read-only.
		list, err := s.ListEnvironments(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := names(list); !slices.Equal(got, []string{"Default", "Edge", "us-east"}) {
			t.Fatalf("environments = %v", got)
		}
		if !list[0].IsReadOnly || !list[1].IsReadOnly || list[2].IsReadOnly {
			t.Errorf("read-only flags: %+v", list)
		}
		if got := names(s.Environments()); !slices.Equal(got, []string{"Default", "Edge", "us-east"}) {
			t.Errorf("Environments() = %v", got)
		}
		for _, key := range []string{e.ID, "us-east", "US-EAST"} {
			if g, err := s.GetEnvironment(ctx, key); err != nil || g.ID != e.ID || len(g.AdditionalProperties) != 1 {
				t.Errorf("get %s: %+v %v", key, g, err)
			}
		}
		_, err = s.GetEnvironment(ctx, "nowhere")
		wantStatus(t, err, 404)

		// Unique names across both sources, regardless of case.
		for _, name := range []string{"us-east", "US-East", "Default", "edge"} {
			in := usEast()
			in.Name = name
			_, err := s.CreateEnvironment(ctx, in)
			wantStatus(t, err, 409)
		}

		// Configured environments cannot change.
		for _, key := range []string{"Default", "Edge", list[0].ID} {
			_, err := s.UpdateEnvironment(ctx, key, usEast())
			wantStatus(t, err, 400)
			wantStatus(t, s.DeleteEnvironment(ctx, key), 400)
		}

		// Update keeps the id and name; renaming is refused.
		upd := usEast()
		upd.Name, upd.DisplayName = "", "US East (new)"
		upd.VHosts = append(upd.VHosts, VHost{Host: "us3.example.com"})
		u, err := s.UpdateEnvironment(ctx, e.ID, upd)
		if err != nil || u.ID != e.ID || u.Name != "us-east" || u.DisplayName != "US East (new)" || len(u.VHosts) != 3 {
			t.Fatalf("update: %+v %v", u, err)
		}
		upd.Name = "renamed"
		_, err = s.UpdateEnvironment(ctx, e.ID, upd)
		wantStatus(t, err, 400)

		// Deploy to it; then deleting it, or removing the used vhost, is refused.
		api, err := s.CreateAPI(ctx, "alice", petAPI(), mustDef(t, "petstore-oas3.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		rev, err := s.CreateRevision(ctx, api.ID, "r1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.DeployRevision(ctx, api.ID, rev.ID, []DeploymentRequest{{Name: "us-east", VHost: "us2.example.com"}}); err != nil {
			t.Fatalf("deploy to us-east: %v", err)
		}
		rts, err := s.RuntimeAPIs(ctx)
		if err != nil || len(rts) != 1 || rts[0].Environment != "us-east" || rts[0].VHost != "us2.example.com" {
			t.Fatalf("runtime APIs: %+v %v", rts, err)
		}
		wantStatus(t, s.DeleteEnvironment(ctx, e.ID), 409)
		shrink := usEast()
		shrink.VHosts = shrink.VHosts[:1]
		_, err = s.UpdateEnvironment(ctx, e.ID, shrink)
		wantStatus(t, err, 409)
		if g, _ := s.GetEnvironment(ctx, e.ID); g == nil || len(g.VHosts) != 3 {
			t.Errorf("refused update changed the environment: %+v", g)
		}

		// A new Service on the same database sees it.
		s2, _, _ := newService(t, d)
		if got := names(s2.Environments()); !slices.Equal(got, []string{"Default", "Edge", "us-east"}) {
			t.Errorf("after restart: %v", got)
		}

		// Undeploy, then delete.
		if _, err := s.UndeployRevision(ctx, api.ID, rev.ID, 0, true, nil); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteEnvironment(ctx, "us-east"); err != nil {
			t.Fatalf("delete: %v", err)
		}
		wantStatus(t, s.DeleteEnvironment(ctx, "us-east"), 404)
		if got := names(s.Environments()); !slices.Equal(got, []string{"Default", "Edge"}) {
			t.Errorf("after delete: %v", got)
		}
		_, err = s.DeployRevision(ctx, api.ID, rev.ID, []DeploymentRequest{{Name: "us-east"}})
		wantStatus(t, err, 400)
	})
}

// TestEnvironmentEventReloadsOtherNodes: two services on one database and
// one bus, as two API Manager nodes; a change on one is seen on the other.
func TestEnvironmentEventReloadsOtherNodes(t *testing.T) {
	d := dbtest.SQLite(t)
	ctx := context.Background()
	bus := events.NewLocal()
	a, err := New(ctx, d, Options{Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(ctx, d, Options{Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateEnvironment(ctx, usEast()); err != nil {
		t.Fatal(err)
	}
	if got := names(b.Environments()); !slices.Equal(got, []string{"Default", "us-east"}) {
		t.Errorf("other node sees %v", got)
	}
	if err := a.DeleteEnvironment(ctx, "us-east"); err != nil {
		t.Fatal(err)
	}
	if got := names(b.Environments()); !slices.Equal(got, []string{"Default"}) {
		t.Errorf("other node after delete sees %v", got)
	}
}

func TestEnvironmentValidation(t *testing.T) {
	s, _, _ := newService(t, dbtest.SQLite(t))
	ctx := context.Background()
	cases := map[string]func(e *Environment){
		"no name":          func(e *Environment) { e.Name = "" },
		"bad name":         func(e *Environment) { e.Name = "us east" },
		"long name":        func(e *Environment) { e.Name = strings.Repeat("a", 256) },
		"no vhosts":        func(e *Environment) { e.VHosts = nil },
		"empty host":       func(e *Environment) { e.VHosts[0].Host = " " },
		"host with scheme": func(e *Environment) { e.VHosts[0].Host = "https://us.example.com" },
		"duplicate host":   func(e *Environment) { e.VHosts[1].Host = "US.example.com" },
		"port too big":     func(e *Environment) { e.VHosts[0].HTTPSPort = 70000 },
		"negative port":    func(e *Environment) { e.VHosts[0].WSPort = -1 },
		"bad context":      func(e *Environment) { e.VHosts[0].HTTPContext = "a_b" },
		"bad type":         func(e *Environment) { e.Type = "mixed" },
		"gateway type":     func(e *Environment) { e.GatewayType = "APK" },
		"bad permission":   func(e *Environment) { e.Permissions.PermissionType = "MAYBE" },
		"endpoint URI":     func(e *Environment) { e.EndpointURIs = []EndpointURI{{Protocol: "https"}} },
		"property key":     func(e *Environment) { e.AdditionalProperties = []Property{{Value: "v"}} },
		"long description": func(e *Environment) { e.Description = strings.Repeat("d", 1024) },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			in := usEast()
			mutate(&in)
			before, _ := json.Marshal(in)
			_, err := s.CreateEnvironment(ctx, in)
			wantStatus(t, err, 400)
			if after, _ := json.Marshal(in); string(after) != string(before) {
				t.Errorf("input changed: %s", after)
			}
		})
	}
	if list, _ := s.ListEnvironments(ctx); len(list) != 2 {
		t.Errorf("rejected environments stored: %v", names(list))
	}
}
