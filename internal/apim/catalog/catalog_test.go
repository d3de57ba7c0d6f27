package catalog

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/keyway/keyway/internal/config"
	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/db/dbtest"
	"github.com/keyway/keyway/internal/events"
)

// fakeRegistrar records scope calls and fails when fail is set.
type fakeRegistrar struct {
	mu         sync.Mutex
	registered map[string]Scope
	deleted    []string
	fail       error
}

func (f *fakeRegistrar) RegisterScopes(_ context.Context, kms []string, scopes []Scope) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	for _, s := range scopes {
		f.registered[s.Name] = s
	}
	return nil
}

func (f *fakeRegistrar) DeleteScopes(_ context.Context, kms []string, names []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = append(f.deleted, names...)
	for _, n := range names {
		delete(f.registered, n)
	}
	return nil
}

type recorder struct {
	mu     sync.Mutex
	events []events.Event
}

func (r *recorder) types() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		out = append(out, e.Type)
	}
	return out
}

func newService(t *testing.T, d *db.DB) (*Service, *fakeRegistrar, *recorder) {
	t.Helper()
	bus := events.NewLocal()
	rec := &recorder{}
	bus.Subscribe(func(e events.Event) {
		rec.mu.Lock()
		rec.events = append(rec.events, e)
		rec.mu.Unlock()
	})
	reg := &fakeRegistrar{registered: map[string]Scope{}}
	s, err := New(context.Background(), d, Options{Bus: bus, Scopes: reg,
		Environments: []config.GatewayEnvironment{{Name: "Edge", HTTPSEndpoint: "https://edge.example.com:8243", VHosts: []string{"edge.example.com", "alt.example.com"}}}})
	if err != nil {
		t.Fatalf("new catalog: %v", err)
	}
	return s, reg, rec
}

func mustDef(t *testing.T, file string) *Definition {
	t.Helper()
	b, err := os.ReadFile("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	d, err := ParseDefinition(context.Background(), b)
	if err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
	return d
}

func petAPI() *API {
	return &API{Name: "PetStore", Version: "1.0.0", Context: "/pets", Policies: []string{"Gold", "Unlimited"},
		EndpointConfig: map[string]any{"endpoint_type": "http",
			"production_endpoints": map[string]any{"url": "https://backend.example.com/v1", "config": map[string]any{"actionDuration": "3000"}},
			"sandbox_endpoints":    map[string]any{"url": "https://sandbox.example.com/v1"}}}
}

func wantStatus(t *testing.T, err error, status int) {
	t.Helper()
	var ce *Error
	if !errors.As(err, &ce) || ce.Status != status {
		t.Fatalf("err = %v, want status %d", err, status)
	}
}

func TestCatalogLifecycleOnEveryEngine(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, reg, rec := newService(t, d)

		api, err := s.CreateAPI(ctx, "alice", petAPI(), mustDef(t, "petstore-oas3.yaml"))
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		if api.LifeCycleStatus != StatusCreated || api.Provider != "alice" || len(api.Operations) != 3 || len(api.Scopes) != 2 {
			t.Fatalf("created API %+v", api)
		}
		if _, ok := reg.registered["read:pets"]; !ok || !slices.Equal(reg.registered["read:pets"].Bindings, []string{"Internal/subscriber", "admin"}) {
			t.Errorf("scopes not registered with bindings: %+v", reg.registered)
		}
		// Duplicate name/version and context conflicts change nothing.
		_, err = s.CreateAPI(ctx, "alice", petAPI(), nil)
		wantStatus(t, err, 409)
		other := petAPI()
		other.Name, other.Version = "Other", "2.0.0"
		_, err = s.CreateAPI(ctx, "alice", other, nil)
		wantStatus(t, err, 409)
		bad := petAPI()
		bad.Name, bad.Context, bad.Policies = "Bad", "/bad", []string{"Platinum"}
		_, err = s.CreateAPI(ctx, "alice", bad, nil)
		wantStatus(t, err, 400)
		// A key manager failure stores nothing.
		reg.fail = errors.New("IS said no")
		scoped := petAPI()
		scoped.Name, scoped.Context = "Scoped", "/scoped"
		scoped.Scopes = []APIScope{{Scope: Scope{Name: "scoped:x"}}}
		_, err = s.CreateAPI(ctx, "alice", scoped, nil)
		if !errors.Is(err, ErrKeyManager) || !strings.Contains(err.Error(), "IS said no") {
			t.Fatalf("registrar failure: %v", err)
		}
		reg.fail = nil
		if _, n, _ := s.ListAPIs(ctx, Query{}); n != 1 {
			t.Fatalf("after rejected creates: %d APIs, want 1", n)
		}

		// Lifecycle: illegal transition rejected, legal ones recorded.
		_, err = s.ChangeLifecycle(ctx, "alice", api.ID, ActionRetire, nil)
		wantStatus(t, err, 400)
		st, err := s.ChangeLifecycle(ctx, "alice", api.ID, ActionPublish, nil)
		if err != nil || st.State != "Published" {
			t.Fatalf("publish: %v %+v", err, st)
		}

		// Revisions: five allowed, the sixth refused.
		var revs []*Revision
		for i := 0; i < 5; i++ {
			r, err := s.CreateRevision(ctx, api.ID, "r")
			if err != nil {
				t.Fatalf("revision %d: %v", i+1, err)
			}
			revs = append(revs, r)
		}
		if revs[4].DisplayName != "Revision 5" {
			t.Errorf("display name %q", revs[4].DisplayName)
		}
		_, err = s.CreateRevision(ctx, api.ID, "r")
		wantStatus(t, err, 400)

		// Deploy revision 2 to Default and Edge; undeploy from Edge.
		deps, err := s.DeployRevision(ctx, api.ID, revs[1].ID, []DeploymentRequest{{Name: "Default"}, {Name: "Edge", VHost: "alt.example.com"}})
		if err != nil || len(deps) != 2 {
			t.Fatalf("deploy: %v %+v", err, deps)
		}
		_, err = s.DeployRevision(ctx, api.ID, revs[1].ID, []DeploymentRequest{{Name: "Nowhere"}})
		wantStatus(t, err, 400)
		wantStatus(t, s.DeleteRevision(ctx, api.ID, revs[1].ID), 400)
		rt, err := s.RuntimeAPIs(ctx)
		if err != nil || len(rt) != 2 {
			t.Fatalf("runtime: %v %d", err, len(rt))
		}
		r0 := rt[0]
		if r0.LifecycleState != StatusPublished || r0.Endpoints.Production[0].URL != "https://backend.example.com/v1" || r0.Endpoints.Production[0].TimeoutMillis != 3000 || len(r0.Resources) != 3 {
			t.Errorf("runtime API %+v", r0)
		}
		left, err := s.UndeployRevision(ctx, api.ID, "", 2, false, []DeploymentRequest{{Name: "Edge"}})
		if err != nil || len(left) != 1 || left[0].Name != "Default" {
			t.Fatalf("undeploy: %v %+v", err, left)
		}
		if err := s.DeleteRevision(ctx, api.ID, revs[0].ID); err != nil {
			t.Fatalf("delete undeployed revision: %v", err)
		}
		r6, err := s.CreateRevision(ctx, api.ID, "after delete")
		if err != nil || r6.DisplayName != "Revision 6" {
			t.Fatalf("revision after delete: %v %+v", err, r6)
		}
		for _, typ := range []string{events.APILifecycleChanged, events.APIDeployed, events.APIUndeployed} {
			if !slices.Contains(rec.types(), typ) {
				t.Errorf("no %s event in %v", typ, rec.types())
			}
		}

		// Update changes operations and definition; restore brings back the revision.
		upd := *api
		upd.Operations = append(upd.Operations, Operation{Target: "/stores", Verb: "GET"})
		upd.Description = "changed"
		got, err := s.UpdateAPI(ctx, api.ID, &upd)
		if err != nil || len(got.Operations) != 4 || got.LifeCycleStatus != StatusPublished {
			t.Fatalf("update: %v %+v", err, got)
		}
		defJSON, _ := s.Definition(ctx, api.ID)
		if !strings.Contains(string(defJSON), "/stores") {
			t.Error("definition not synced with operations")
		}
		restored, err := s.RestoreRevision(ctx, api.ID, revs[4].ID)
		if err != nil || len(restored.Operations) != 3 {
			t.Fatalf("restore: %v", err)
		}

		// Copy to a new version.
		v2, err := s.CopyAPI(ctx, api.ID, "2.0.0", true)
		if err != nil || v2.Version != "2.0.0" || v2.LifeCycleStatus != StatusCreated || !v2.IsDefaultVersion {
			t.Fatalf("copy: %v %+v", err, v2)
		}

		// Everything survives a new Service on the same database.
		s2, _, rec2 := newService(t, d)
		list, total, err := s2.ListAPIs(ctx, Query{Text: `name:"PetStore" version:"1.0.0"`})
		if err != nil || total != 1 || list[0].ID != api.ID || list[0].LifeCycleStatus != StatusPublished {
			t.Fatalf("search after reopen: %v %d", err, total)
		}
		hist, _ := s2.LifecycleHistory(ctx, api.ID)
		if len(hist) != 1 || hist[0].PreviousState != StatusCreated || hist[0].PostState != StatusPublished || hist[0].User != "alice" {
			t.Errorf("history %+v", hist)
		}
		revList, _ := s2.Revisions(ctx, api.ID, true)
		if len(revList) != 1 || revList[0].DisplayName != "Revision 2" {
			t.Errorf("deployed revisions %+v", revList)
		}
		if rt, _ := s2.RuntimeAPIs(ctx); len(rt) != 1 {
			t.Errorf("runtime after reopen: %d", len(rt))
		}

		// Export, delete, import (with deployment) and the 409 duplicate.
		zipData, name, err := s2.Export(ctx, ExportRequest{Name: "PetStore", Version: "1.0.0", PreserveStatus: true})
		if err != nil || name != "PetStore-1.0.0.zip" {
			t.Fatalf("export: %v %s", err, name)
		}
		zr, _ := zip.NewReader(bytes.NewReader(zipData), int64(len(zipData)))
		var names []string
		for _, f := range zr.File {
			names = append(names, f.Name)
		}
		for _, want := range []string{"PetStore-1.0.0/api.yaml", "PetStore-1.0.0/Definitions/swagger.yaml", "PetStore-1.0.0/deployment_environments.yaml"} {
			if !slices.Contains(names, want) {
				t.Errorf("export lacks %s: %v", want, names)
			}
		}
		_, err = s2.Import(ctx, "bob", zipData, ImportOptions{PreserveProvider: true})
		wantStatus(t, err, 409)
		if err := s2.DeleteAPI(ctx, api.ID); err != nil {
			t.Fatalf("delete: %v", err)
		}
		if !slices.Contains(rec2.types(), events.APIDeleted) {
			t.Error("no delete event")
		}
		res, err := s2.Import(ctx, "bob", zipData, ImportOptions{PreserveProvider: true})
		if err != nil || res.Revision == "" {
			t.Fatalf("import: %v %+v", err, res)
		}
		imp, _ := s2.GetAPI(ctx, res.ID)
		if imp.LifeCycleStatus != StatusPublished || imp.Provider != "alice" || len(imp.Scopes) != 2 {
			t.Errorf("imported %+v", imp)
		}
		deps, _ = s2.Deployments(ctx, res.ID)
		if len(deps) != 1 || deps[0].Name != "Default" {
			t.Errorf("imported deployments %+v", deps)
		}
		// Overwrite keeps the id and adds a revision.
		res2, err := s2.Import(ctx, "bob", zipData, ImportOptions{Overwrite: true, PreserveProvider: true})
		if err != nil || res2.ID != res.ID {
			t.Fatalf("overwrite import: %v %+v", err, res2)
		}
	})
}

func TestLifecycleTable(t *testing.T) {
	cases := []struct{ from, action, to string }{
		{StatusCreated, ActionPublish, StatusPublished},
		{StatusCreated, ActionPrototype, StatusPrototyped},
		{StatusPrototyped, ActionPublish, StatusPublished},
		{StatusPrototyped, ActionDemote, StatusCreated},
		{StatusPrototyped, ActionPrototype, StatusPrototyped},
		{StatusPublished, ActionBlock, StatusBlocked},
		{StatusPublished, ActionPrototype, StatusPrototyped},
		{StatusPublished, ActionDemote, StatusCreated},
		{StatusPublished, ActionDeprecate, StatusDeprecated},
		{StatusPublished, ActionPublish, StatusPublished},
		{StatusBlocked, ActionDeprecate, StatusDeprecated},
		{StatusBlocked, ActionRepublish, StatusPublished},
		{StatusDeprecated, ActionRetire, StatusRetired},
		{StatusCreated, ActionRetire, ""},
		{StatusCreated, ActionRepublish, ""},
		{StatusPublished, ActionRepublish, ""},
		{StatusRetired, ActionPublish, ""},
	}
	for _, c := range cases {
		got, ok := NextState(c.from, c.action)
		if (c.to == "") == ok || got != c.to {
			t.Errorf("%s --%s--> %q (%v), want %q", c.from, c.action, got, ok, c.to)
		}
	}
	if acts, ok := PathTo(StatusCreated, StatusRetired); !ok || !slices.Equal(acts, []string{ActionPublish, ActionDeprecate, ActionRetire}) {
		t.Errorf("path to retired: %v", acts)
	}
}

func TestParseDefinition(t *testing.T) {
	ctx := context.Background()
	d := mustDef(t, "pizza-swagger2.yaml")
	if !d.Swagger2 {
		t.Fatal("not detected as swagger 2")
	}
	info := d.Info()
	if info.Name != "PizzaShackAPI" || info.Context != "/pizzashack" || info.OpenAPIVersion != "2.0" || info.Endpoints[0] != "https://pizza.example.com/pizzashack" {
		t.Errorf("info %+v", info)
	}
	ops := d.Operations()
	if len(ops) != 2 || ops[1].Target != "/order/{orderId}" || !slices.Equal(ops[1].Scopes, []string{"order:read"}) {
		t.Errorf("ops %+v", ops)
	}
	if sc := d.Scopes(); len(sc) != 1 || sc[0].Name != "order:read" {
		t.Errorf("scopes %+v", sc)
	}
	for _, bad := range []string{"", "not: [valid", "openapi: 3.0.1\ninfo: {}\npaths: {}", "swagger: '1.2'\ninfo: {title: x, version: 1}", "hello: world"} {
		if _, err := ParseDefinition(ctx, []byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	// Sync adds operations with path parameters and stays valid.
	a := &API{Name: "PizzaShackAPI", Version: "1.0.0", Operations: append(ops, Operation{Target: "/x/{id}", Verb: "DELETE"})}
	d.Sync(a)
	if _, err := ParseDefinition(ctx, d.JSON()); err != nil {
		t.Errorf("synced definition invalid: %v", err)
	}
	gen := NewDefinition(&API{Name: "Gen", Version: "1", Operations: defaultOperations(), Scopes: []APIScope{{Scope: Scope{Name: "s1", Bindings: []string{"admin"}}}}})
	g2, err := ParseDefinition(ctx, gen.YAML())
	if err != nil {
		t.Fatalf("generated definition invalid: %v", err)
	}
	if sc := g2.Scopes(); len(sc) != 1 || sc[0].Bindings[0] != "admin" {
		t.Errorf("generated scopes %+v", sc)
	}
}
