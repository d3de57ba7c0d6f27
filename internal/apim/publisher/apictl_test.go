package publisher

import (
	"archive/zip"
	"bytes"
	"context"
	"net/url"

	"github.com/keyway/keyway/internal/apim/catalog"
	"testing"
)

// apictlProject builds a project zip the way apictl does (one top-level
// directory, directory entries ending in "/"), from an `apictl init`-style
// api.yaml without operations.
func apictlProject(t *testing.T, status string) []byte {
	t.Helper()
	files := []struct{ name, body string }{
		{"SampleAPI/", ""},
		{"SampleAPI/api.yaml", `type: api
version: v4.7.0
data:
  name: SampleAPI
  context: /sample
  version: 1.0.0
  provider: admin
  lifeCycleStatus: ` + status + `
  type: HTTP
  transport: [http, https]
  policies: [Unlimited]
  visibility: PUBLIC
  endpointConfig:
    endpoint_type: http
    production_endpoints:
      url: https://backend.example.com/sample
    sandbox_endpoints:
      url: https://sandbox.example.com/sample
  endpointImplementationType: ENDPOINT
`},
		{"SampleAPI/Definitions/", ""},
		{"SampleAPI/Definitions/swagger.yaml", `openapi: 3.0.1
info: {title: SampleAPI, version: 1.0.0}
paths:
  /items:
    get:
      responses: {'200': {description: ok}}
`},
		{"SampleAPI/deployment_environments.yaml", `type: deployment_environments
version: v4.7.0
data:
  - displayOnDevportal: true
    deploymentEnvironment: Default
`},
		{"SampleAPI/api_meta.yaml", "name: SampleAPI\nversion: 1.0.0\n"},
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.Create(f.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(f.body))
	}
	zw.Close()
	return buf.Bytes()
}

// TestApictlSequence replays apictl's publisher calls (APICTL-FLOW.md §4-§5):
// import api, get apis, change-status, get keys' API read, revisions,
// undeploy, export and delete, with the statuses apictl accepts.
func TestApictlSequence(t *testing.T) {
	f := newFixture(t)
	body, ct := multipartBody(t, map[string][]byte{"file": apictlProject(t, "CREATED")}, nil)
	// --dry-run checks without storing.
	dry := f.expect(req{method: "POST", path: "/apis/import?preserveProvider=true&rotateRevision=false&dryRun=true", token: "apictl", body: body, contentType: ct, accept: "application/json"}, 200)
	if !bytes.Contains(dry, []byte(`"result":"pass"`)) {
		t.Errorf("dry run answer %s", dry)
	}
	if _, n, _ := f.svc.ListAPIs(context.Background(), catalog.Query{}); n != 0 {
		t.Fatalf("dry run stored an API")
	}
	res := decode[struct{ ID, Revision string }](t, f.expect(req{method: "POST", path: "/apis/import?preserveProvider=true&rotateRevision=false", token: "apictl", body: body, contentType: ct, accept: "application/json"}, 200))

	// The import deployed a first revision to Default (localhost).
	rt, err := f.svc.RuntimeAPIs(context.Background())
	if err != nil || len(rt) != 1 || rt[0].VHost != "localhost" || rt[0].Context != "/sample" || rt[0].LifecycleState != "CREATED" || rt[0].Resources[0].URITemplate != "/items" {
		t.Fatalf("runtime after import: %v %+v", err, rt)
	}

	apis := decode[struct {
		Count int
		List  []apiInfo
	}](t, f.expect(req{method: "GET", path: "/apis?limit=25", token: "apictl"}, 200))
	if apis.Count != 1 || apis.List[0].LifeCycleStatus != "CREATED" || apis.List[0].Provider != "admin" {
		t.Fatalf("get apis %+v", apis)
	}

	lookup := func() string {
		s := decode[struct {
			Count int
			List  []searchResult
		}](t, f.expect(req{method: "GET", path: "/search?query=" + url.QueryEscape(`name:"SampleAPI" version:"1.0.0"`), token: "apictl"}, 200))
		if s.Count == 0 {
			t.Fatal("Requested API is not available in the Publisher")
		}
		return s.List[0].ID
	}
	id := lookup()
	if id != res.ID {
		t.Fatalf("lookup %s, import %s", id, res.ID)
	}
	f.expect(req{method: "POST", path: "/apis/change-lifecycle?action=Publish&apiId=" + id, token: "apictl", contentType: "application/json"}, 200)
	api := decode[struct{ Policies []string }](t, f.expect(req{method: "GET", path: "/apis/" + id, token: "apictl"}, 200))
	if len(api.Policies) == 0 || api.Policies[0] != "Unlimited" {
		t.Fatalf("get keys reads policies[0]: %+v", api)
	}
	if rt, _ := f.svc.RuntimeAPIs(context.Background()); rt[0].LifecycleState != "PUBLISHED" {
		t.Errorf("gateway view not published: %+v", rt[0])
	}

	// Re-import with --update --rotate-revision: a second revision, same API.
	body, ct = multipartBody(t, map[string][]byte{"file": apictlProject(t, "PUBLISHED")}, nil)
	f.expect(req{method: "POST", path: "/apis/import?overwrite=true&preserveProvider=true&rotateRevision=true", token: "apictl", body: body, contentType: ct, accept: "application/json"}, 200)
	revs := decode[revisionList](t, f.expect(req{method: "GET", path: "/apis/" + lookup() + "/revisions", token: "apictl"}, 200))
	if revs.Count != 2 || revs.List[1].DisplayName != "Revision 2" || len(revs.List[1].Deployments) != 1 || len(revs.List[0].Deployments) != 0 {
		t.Fatalf("revisions after update %+v", revs)
	}

	// undeploy api --rev 2 -g Default: 201 only.
	f.expect(req{method: "POST", path: "/apis/" + id + "/undeploy-revision?revisionNumber=2", token: "apictl", body: []map[string]any{{"name": "Default", "displayOnDevportal": true}}}, 201)
	if rt, _ := f.svc.RuntimeAPIs(context.Background()); len(rt) != 0 {
		t.Errorf("still deployed after undeploy: %+v", rt)
	}

	// export api --rev 2, then delete api (200 or 204).
	zipData := f.expect(req{method: "GET", path: "/apis/export?name=SampleAPI&version=1.0.0&providerName=&preserveStatus=true&preserveCredentials=false&format=YAML&revisionNumber=2", token: "apictl", accept: "application/zip"}, 200)
	if _, err := zip.NewReader(bytes.NewReader(zipData), int64(len(zipData))); err != nil {
		t.Fatalf("export is not a zip: %v", err)
	}
	f.expect(req{method: "GET", path: "/apis/export?name=SampleAPI&version=1.0.0&revisionNumber=9", token: "apictl"}, 404)
	f.expect(req{method: "DELETE", path: "/apis/" + lookup(), token: "apictl"}, 200)
	s := decode[struct{ Count int }](t, f.expect(req{method: "GET", path: "/search?query=" + url.QueryEscape(`name:"SampleAPI" version:"1.0.0"`), token: "apictl"}, 200))
	if s.Count != 0 {
		t.Errorf("deleted API still found")
	}
	// A project whose target state cannot be reached is refused and stores nothing.
	body, ct = multipartBody(t, map[string][]byte{"file": apictlProject(t, "SLEEPING")}, nil)
	f.expect(req{method: "POST", path: "/apis/import", token: "apictl", body: body, contentType: ct, accept: "application/json", noContract: true}, 400)
	if _, n, _ := f.svc.ListAPIs(context.Background(), struct2query()); n != 0 {
		t.Errorf("a refused import stored an API")
	}
}

func struct2query() catalog.Query { return catalog.Query{} }
