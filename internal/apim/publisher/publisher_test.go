package publisher

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/keyway/keyway/internal/apim/catalog"
	"github.com/keyway/keyway/internal/apim/restapi"
	"github.com/keyway/keyway/internal/contracttest"
	"github.com/keyway/keyway/internal/db/dbtest"
	"github.com/keyway/keyway/internal/oauth"
	"github.com/keyway/keyway/internal/user"
)

// apictlScopes are the 19 scopes apictl requests (APICTL-FLOW.md §3.3).
var apictlScopes = strings.Fields(`apim:app_import_export apim:api_import_export apim:api_product_import_export apim:app_manage
apim:sub_manage apim:api_view apim:api_delete apim:app_owner_change apim:subscribe apim:api_publish apim:admin
apim:policies_import_export apim:mcp_server_view apim:mcp_server_list_view apim:mcp_server_create apim:mcp_server_delete
apim:mcp_server_publish apim:mcp_server_manage apim:mcp_server_import_export`)

type tokens map[string]*oauth.TokenInfo

func (t tokens) ValidateAccessToken(_ context.Context, tok string) (*oauth.TokenInfo, error) {
	if ti, ok := t[tok]; ok {
		return ti, nil
	}
	return nil, errors.New("invalid token")
}

type users struct{ user.Directory }

func (users) Authenticate(_ context.Context, name, pw, _ string) (*user.User, error) {
	if name == "admin" && pw == "admin" {
		return &user.User{ID: "1", Username: "admin", Roles: []string{"admin"}}, nil
	}
	if name == "sub" && pw == "sub" {
		return &user.User{ID: "2", Username: "sub", Roles: []string{restapi.RoleSubscriber}}, nil
	}
	return nil, user.ErrInvalidCredentials
}

func (users) RolesOf(context.Context, string) ([]*user.Role, error) { return nil, nil }

type fixture struct {
	t        *testing.T
	srv      *httptest.Server
	client   *http.Client
	contract *contracttest.Contract
	svc      *catalog.Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	d := dbtest.SQLite(t)
	svc, err := catalog.New(context.Background(), d, catalog.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	auth := restapi.NewAuth(tokens{
		"apictl":  {Active: true, Username: "admin", Scopes: apictlScopes},
		"creator": {Active: true, Username: "carol", Scopes: restapi.ScopesForRoles([]string{restapi.RoleCreator})},
		"viewer":  {Active: true, Username: "olive", Scopes: []string{"apim:api_view"}},
	}, users{})
	h := New(svc, auth, nil)
	mux := http.NewServeMux()
	h.Mount(mux)
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	return &fixture{t: t, srv: srv, client: srv.Client(), contract: contracttest.Load(t, "publisher-api.yaml"), svc: svc}
}

type req struct {
	method, path, token string
	body                any    // JSON-encoded unless []byte
	contentType         string // for []byte bodies
	accept              string
	noContract          bool // the response departs from the definition on purpose
}

func (f *fixture) do(r req) (*http.Response, []byte) {
	f.t.Helper()
	var body io.Reader
	ct := r.contentType
	switch b := r.body.(type) {
	case nil:
	case []byte:
		body = bytes.NewReader(b)
	default:
		js, _ := json.Marshal(b)
		body, ct = bytes.NewReader(js), "application/json"
	}
	hr, _ := http.NewRequest(r.method, f.srv.URL+BasePath+r.path, body)
	if ct != "" {
		hr.Header.Set("Content-Type", ct)
	}
	if r.accept != "" {
		hr.Header.Set("Accept", r.accept)
	}
	switch {
	case r.token == "basic-admin":
		hr.SetBasicAuth("admin", "admin")
	case r.token == "basic-sub":
		hr.SetBasicAuth("sub", "sub")
	case r.token != "":
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	if r.noContract {
		resp, err := f.client.Do(hr)
		if err != nil {
			f.t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, err := f.client.Do(hr)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	f.contract.CheckResponse(f.t, hr, resp.StatusCode, resp.Header, contractView(b))
	return resp, b
}

// contractView adapts the one field where WSO2's server and its own
// definition disagree: the API DTO's keyManagers is declared an object but
// sent (by WSO2 and by Keyway) as a list of names.
func contractView(b []byte) []byte {
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return b
	}
	if km, ok := m["keyManagers"].([]any); ok {
		m["keyManagers"] = map[string]any{"list": km}
		out, _ := json.Marshal(m)
		return out
	}
	return b
}

func (f *fixture) expect(r req, status int) []byte {
	f.t.Helper()
	resp, b := f.do(r)
	if resp.StatusCode != status {
		f.t.Fatalf("%s %s: status %d, want %d: %s", r.method, r.path, resp.StatusCode, status, b)
	}
	return b
}

func multipartBody(t *testing.T, files map[string][]byte, fields map[string]string) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for name, data := range files {
		fw, _ := mw.CreateFormFile(name, name+".bin")
		fw.Write(data)
	}
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	mw.Close()
	return buf.Bytes(), mw.FormDataContentType()
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

func readFile(t *testing.T, name string) []byte {
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const endpointProps = `"endpointConfig":{"endpoint_type":"http","production_endpoints":{"url":"https://backend.example.com"},"sandbox_endpoints":{"url":"https://sandbox.example.com"}}`

func TestPublisherEndToEnd(t *testing.T) {
	f := newFixture(t)

	// Create from an OpenAPI 3 file.
	body, ct := multipartBody(t, map[string][]byte{"file": readFile(t, "petstore-oas3.yaml")},
		map[string]string{"additionalProperties": `{"name":"PetStore","version":"1.0.0","context":"/pets","policies":["Gold"],` + endpointProps + `}`})
	pet := decode[catalog.API](t, f.expect(req{method: "POST", path: "/apis/import-openapi", token: "creator", body: body, contentType: ct}, 201))
	if pet.LifeCycleStatus != "CREATED" || pet.Provider != "carol" || len(pet.Operations) != 3 || len(pet.Scopes) != 2 {
		t.Fatalf("created %+v", pet)
	}

	// Create from a Swagger 2 URL.
	defSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(readFile(t, "pizza-swagger2.yaml")) }))
	defer defSrv.Close()
	body, ct = multipartBody(t, nil, map[string]string{"url": defSrv.URL + "/swagger.yaml", "additionalProperties": `{` + endpointProps + `}`})
	pizza := decode[catalog.API](t, f.expect(req{method: "POST", path: "/apis/import-openapi", token: "creator", body: body, contentType: ct}, 201))
	if pizza.Name != "PizzaShackAPI" || pizza.Context != "/pizzashack" || len(pizza.Operations) != 2 {
		t.Fatalf("pizza %+v", pizza)
	}

	// Plain JSON create; bad input is refused and stores nothing.
	mk := func(name, ctx string, extra string) []byte {
		return []byte(fmt.Sprintf(`{"name":%q,"version":"1.0.0","context":%q,%s%s}`, name, ctx, endpointProps, extra))
	}
	plain := decode[catalog.API](t, f.expect(req{method: "POST", path: "/apis", token: "creator", body: mk("Plain", "/plain", ""), contentType: "application/json"}, 201))
	if len(plain.Operations) != 5 || plain.Policies[0] != "Unlimited" {
		t.Errorf("defaults %+v", plain)
	}
	for _, bad := range []struct {
		body   []byte
		status int
	}{
		{mk("Plain", "/plain", ""), 409},
		{mk("Other", "/plain", ""), 409},
		{mk("Bad", "/bad", `,"policies":["Platinum"]`), 400},
		{mk("Bad", "/bad", `,"operations":[{"target":"/x","verb":"FETCH"}]`), 400},
		{mk("Bad", "/bad", `,"operations":[{"target":"/x","verb":"GET","scopes":["nope"]}]`), 400},
		{[]byte(`{"name":`), 400},
	} {
		// The definition declares no 409 for POST /apis; WSO2 sends it for duplicates.
		b := f.expect(req{method: "POST", path: "/apis", token: "creator", body: bad.body, contentType: "application/json", noContract: bad.status == 409}, bad.status)
		if e := decode[restapi.Error](t, b); e.Code == 0 || e.Message == "" {
			t.Errorf("error envelope %s", b)
		}
	}
	body, ct = multipartBody(t, map[string][]byte{"file": []byte("openapi: 3.0.1\ninfo: {title: x}\npaths: {}")}, nil)
	f.expect(req{method: "POST", path: "/apis/import-openapi", token: "creator", body: body, contentType: ct}, 400)

	list := decode[restapi.List[apiInfo]](t, f.expect(req{method: "GET", path: "/apis?limit=2", token: "apictl"}, 200))
	if list.Count != 2 || list.Pagination.Total != 3 || list.Pagination.Next == "" {
		t.Errorf("list %+v", list)
	}
	list = decode[restapi.List[apiInfo]](t, f.expect(req{method: "GET", path: "/apis?query=" + url.QueryEscape("name:PetStore version:1.0.0"), token: "apictl"}, 200))
	if list.Count != 1 || list.List[0].ID != pet.ID {
		t.Errorf("query %+v", list)
	}

	// apictl's name lookup.
	search := func(q string) restapi.List[searchResult] {
		return decode[restapi.List[searchResult]](t, f.expect(req{method: "GET", path: "/search?query=" + url.QueryEscape(q), token: "apictl"}, 200))
	}
	if s := search(`name:"PetStore" version:"1.0.0"`); s.Count != 1 || s.List[0].ID != pet.ID || s.List[0].Type != "API" || s.List[0].Status != "CREATED" {
		t.Errorf("search %+v", s)
	}
	if s := search(`name:"Pet" version:"1.0.0"`); s.Count != 0 {
		t.Errorf("quoted name must match exactly: %+v", s)
	}
	if s := search(`name:"PetStore" version:"1.0.0" type:"APIProduct"`); s.Count != 0 {
		t.Errorf("product search %+v", s)
	}

	// Lifecycle.
	lc := func(action string, status int) {
		t.Helper()
		f.expect(req{method: "POST", path: "/apis/change-lifecycle?action=" + url.QueryEscape(action) + "&apiId=" + pet.ID, token: "apictl", contentType: "application/json"}, status)
	}
	lc("Retire", 400)
	lc("Deploy as a Prototype", 200)
	lc("Publish", 200)
	lc("Re-Publish", 400)
	st := decode[catalog.LifecycleState](t, f.expect(req{method: "GET", path: "/apis/" + pet.ID + "/lifecycle-state", token: "apictl"}, 200))
	if st.State != "Published" || len(st.AvailableTransitions) != 5 {
		t.Errorf("state %+v", st)
	}
	hist := decode[struct{ Count int }](t, f.expect(req{method: "GET", path: "/apis/" + pet.ID + "/lifecycle-history", token: "apictl"}, 200))
	if hist.Count != 2 {
		t.Errorf("history %+v", hist)
	}

	// Revisions: at most five.
	var revIDs []string
	for i := 1; i <= 5; i++ {
		rev := decode[catalog.Revision](t, f.expect(req{method: "POST", path: "/apis/" + pet.ID + "/revisions", token: "apictl", body: map[string]string{"description": ""}}, 201))
		if rev.DisplayName != fmt.Sprintf("Revision %d", i) {
			t.Errorf("display name %q", rev.DisplayName)
		}
		revIDs = append(revIDs, rev.ID)
	}
	if e := decode[restapi.Error](t, f.expect(req{method: "POST", path: "/apis/" + pet.ID + "/revisions", token: "apictl", body: map[string]string{}}, 400)); e.Code != 900351 {
		t.Errorf("6th revision code %d", e.Code)
	}
	deps := decode[[]catalog.Deployment](t, f.expect(req{method: "POST", path: "/apis/" + pet.ID + "/deploy-revision?revisionId=" + revIDs[2], token: "creator",
		body: []map[string]any{{"name": "Default", "vhost": "localhost", "displayOnDevportal": true}}, noContract: true}, 201))
	if len(deps) != 1 || deps[0].RevisionUUID != revIDs[2] {
		t.Errorf("deploy %+v", deps)
	}
	f.expect(req{method: "POST", path: "/apis/" + pet.ID + "/deploy-revision?revisionId=" + revIDs[2], token: "creator", body: []map[string]any{{"name": "Mars"}}}, 400)
	revs := decode[revisionList](t, f.expect(req{method: "GET", path: "/apis/" + pet.ID + "/revisions?query=deployed:true", token: "apictl"}, 200))
	if revs.Count != 1 || revs.List[0].DisplayName != "Revision 3" || len(revs.List[0].Deployments) != 1 {
		t.Errorf("deployed revisions %+v", revs)
	}
	f.expect(req{method: "GET", path: "/apis/" + pet.ID + "/deployments", token: "apictl", noContract: false}, 200)
	// A deployed revision cannot go (WSO2's 900348; the definition declares no 400 here).
	f.expect(req{method: "DELETE", path: "/apis/" + pet.ID + "/revisions/" + revIDs[2], token: "apictl", noContract: true}, 400)
	f.expect(req{method: "GET", path: "/apis/" + pet.ID + "/revisions/" + revIDs[0], token: "apictl"}, 200)
	f.expect(req{method: "POST", path: "/apis/" + pet.ID + "/restore-revision?revisionId=" + revIDs[0], token: "creator"}, 201)

	// Export (apictl's query), duplicate import 409, delete, import, overwrite.
	zipData := f.expect(req{method: "GET", path: "/apis/export?name=PetStore&version=1.0.0&providerName=&preserveStatus=true&preserveCredentials=false&format=YAML", token: "apictl", accept: "application/zip"}, 200)
	zr, err := zip.NewReader(bytes.NewReader(zipData), int64(len(zipData)))
	if err != nil || len(zr.File) < 3 || !strings.HasPrefix(zr.File[0].Name, "PetStore-1.0.0/") {
		t.Fatalf("export zip: %v", err)
	}
	body, ct = multipartBody(t, map[string][]byte{"file": zipData}, nil)
	f.expect(req{method: "POST", path: "/apis/import?preserveProvider=true&rotateRevision=false", token: "apictl", body: body, contentType: ct, accept: "application/json"}, 409)
	// Undeploy as apictl does, by revision number: 201.
	left := decode[[]catalog.Deployment](t, f.expect(req{method: "POST", path: "/apis/" + pet.ID + "/undeploy-revision?revisionNumber=3", token: "apictl",
		body: []map[string]any{{"name": "Default", "displayOnDevportal": true}}}, 201))
	if len(left) != 0 {
		t.Errorf("after undeploy %+v", left)
	}
	f.expect(req{method: "DELETE", path: "/apis/" + pet.ID, token: "apictl"}, 200)
	f.expect(req{method: "GET", path: "/apis/" + pet.ID, token: "apictl"}, 404)
	res := decode[catalog.ImportResult](t, f.expect(req{method: "POST", path: "/apis/import?preserveProvider=true&rotateRevision=false", token: "apictl", body: body, contentType: ct, accept: "application/json"}, 200))
	imp := decode[catalog.API](t, f.expect(req{method: "GET", path: "/apis/" + res.ID, token: "apictl"}, 200))
	if imp.LifeCycleStatus != "PUBLISHED" || imp.Provider != "carol" || len(imp.Policies) == 0 || imp.Policies[0] != "Gold" {
		t.Errorf("imported %+v", imp)
	}
	body, ct = multipartBody(t, map[string][]byte{"file": zipData}, nil)
	res2 := decode[catalog.ImportResult](t, f.expect(req{method: "POST", path: "/apis/import?overwrite=true&preserveProvider=true&rotateRevision=true", token: "apictl", body: body, contentType: ct, accept: "application/json"}, 200))
	if res2.ID != res.ID {
		t.Errorf("overwrite made a new API")
	}

	// Copy to a new version.
	v2 := decode[catalog.API](t, f.expect(req{method: "POST", path: "/apis/copy-api?newVersion=2.0.0&apiId=" + res.ID + "&defaultVersion=true", token: "creator"}, 201))
	if v2.Version != "2.0.0" || v2.LifeCycleStatus != "CREATED" || !v2.IsDefaultVersion {
		t.Errorf("copy %+v", v2)
	}

	// Update and the definition endpoints.
	v2.Description = "second"
	v2.Tags = []string{"pets"}
	upd := decode[catalog.API](t, f.expect(req{method: "PUT", path: "/apis/" + v2.ID, token: "creator", body: v2}, 200))
	if upd.Description != "second" || upd.Tags[0] != "pets" {
		t.Errorf("update %+v", upd)
	}
	defJSON := f.expect(req{method: "GET", path: "/apis/" + v2.ID + "/swagger", token: "apictl", noContract: true}, 200)
	if !strings.Contains(string(defJSON), `"2.0.0"`) {
		t.Errorf("copied definition keeps the old version")
	}
	// The pizza definition's scope belongs to PizzaShackAPI: refused, nothing changes.
	body, ct = multipartBody(t, nil, map[string]string{"apiDefinition": string(readFile(t, "pizza-swagger2.yaml"))})
	f.expect(req{method: "PUT", path: "/apis/" + v2.ID + "/swagger", token: "creator", body: body, contentType: ct}, 400)
	slim := strings.Replace(string(readFile(t, "pizza-swagger2.yaml")), "order:read", "pets:order", -1)
	body, ct = multipartBody(t, nil, map[string]string{"apiDefinition": slim})
	f.expect(req{method: "PUT", path: "/apis/" + v2.ID + "/swagger", token: "creator", body: body, contentType: ct, noContract: true}, 200)
	if a, _ := f.svc.GetAPI(context.Background(), v2.ID); len(a.Operations) != 2 || len(a.Scopes) != 1 || a.Scopes[0].Scope.Name != "pets:order" {
		t.Errorf("after swagger update: %+v %+v", a.Operations, a.Scopes)
	}

	// Validation endpoint.
	body, ct = multipartBody(t, map[string][]byte{"file": readFile(t, "petstore-oas3.yaml")}, nil)
	vr := decode[validationResponse](t, f.expect(req{method: "POST", path: "/apis/validate-openapi", token: "creator", body: body, contentType: ct}, 200))
	if !vr.IsValid || vr.Info.Name != "PetStore" || vr.Info.OpenAPIVersion != "3.0.1" {
		t.Errorf("validate %+v", vr)
	}
	body, ct = multipartBody(t, nil, map[string]string{"inlineAPIDefinition": "swagger: '2.0'\ninfo: {title: x}"})
	if vr := decode[validationResponse](t, f.expect(req{method: "POST", path: "/apis/validate-openapi", token: "creator", body: body, contentType: ct}, 200)); vr.IsValid || len(vr.Errors) == 0 {
		t.Errorf("invalid definition accepted: %+v", vr)
	}
}

func TestPublisherScopesAndMisc(t *testing.T) {
	f := newFixture(t)
	// The definition declares no 401/403 for most operations; WSO2's
	// gateway-level security sends them all the same.
	f.expect(req{method: "GET", path: "/apis", noContract: true}, 401)
	f.expect(req{method: "GET", path: "/apis", token: "nope", noContract: true}, 401)
	f.expect(req{method: "GET", path: "/apis", token: "viewer"}, 200)
	f.expect(req{method: "GET", path: "/apis", token: "basic-admin"}, 200)
	f.expect(req{method: "GET", path: "/apis", token: "basic-sub", noContract: true}, 403)
	body := []byte(`{"name":"A","version":"1","context":"/a"}`)
	if e := decode[restapi.Error](t, f.expect(req{method: "POST", path: "/apis", token: "viewer", body: body, contentType: "application/json", noContract: true}, 403)); e.Code != 900910 {
		t.Errorf("403 code %d", e.Code)
	}
	// apictl never holds apim:api_create, so it cannot create through POST /apis.
	f.expect(req{method: "POST", path: "/apis", token: "apictl", body: body, contentType: "application/json", noContract: true}, 403)
	if _, n, _ := f.svc.ListAPIs(context.Background(), catalog.Query{}); n != 0 {
		t.Errorf("a forbidden request stored an API")
	}
	a := decode[catalog.API](t, f.expect(req{method: "POST", path: "/apis", token: "basic-admin", body: body, contentType: "application/json"}, 201))

	tiers := decode[restapi.List[catalog.ThrottlingPolicy]](t, f.expect(req{method: "GET", path: "/throttling-policies/subscription", token: "apictl"}, 200))
	if tiers.Count != 4 || tiers.List[0].Name != "Gold" {
		t.Errorf("tiers %+v", tiers)
	}
	if api := decode[restapi.List[catalog.ThrottlingPolicy]](t, f.expect(req{method: "GET", path: "/throttling-policies/api", token: "apictl"}, 200)); api.List[0].Name != "10KPerMin" {
		t.Errorf("api tiers %+v", api)
	}
	f.expect(req{method: "GET", path: "/throttling-policies/galaxy", token: "apictl", noContract: true}, 400)
	subs := decode[[]catalog.ThrottlingPolicy](t, f.expect(req{method: "GET", path: "/apis/" + a.ID + "/subscription-policies", token: "apictl", noContract: true}, 200))
	if len(subs) != 1 || subs[0].Name != "Unlimited" {
		t.Errorf("API subscription policies %+v", subs)
	}
	envs := decode[struct {
		Count int
		List  []catalog.Environment
	}](t, f.expect(req{method: "GET", path: "/environments", token: "apictl", noContract: true}, 200))
	if envs.Count != 1 || envs.List[0].Name != "Default" || envs.List[0].VHosts[0].Host != "localhost" {
		t.Errorf("environments %+v", envs)
	}
	f.expect(req{method: "GET", path: "/settings", token: "apictl"}, 200)

	// Shared scopes.
	sc := decode[catalog.Scope](t, f.expect(req{method: "POST", path: "/scopes", token: "basic-admin", body: map[string]any{"name": "shared:read", "bindings": []string{"admin"}}}, 201))
	f.expect(req{method: "POST", path: "/scopes", token: "basic-admin", body: map[string]any{"name": "shared:read"}, noContract: true}, 409)
	f.expect(req{method: "HEAD", path: "/scopes/shared:read", token: "basic-admin", noContract: true}, 200)
	f.expect(req{method: "HEAD", path: "/scopes/missing", token: "basic-admin", noContract: true}, 404)
	a.Operations = []catalog.Operation{{Target: "/r", Verb: "GET", Scopes: []string{"shared:read"}}}
	f.expect(req{method: "PUT", path: "/apis/" + a.ID, token: "basic-admin", body: a}, 200)
	got := decode[catalog.Scope](t, f.expect(req{method: "GET", path: "/scopes/" + sc.ID, token: "apictl"}, 200))
	if got.UsageCount != 1 {
		t.Errorf("usage %+v", got)
	}
	f.expect(req{method: "DELETE", path: "/scopes/" + sc.ID, token: "basic-admin", noContract: true}, 409)
	if l := decode[restapi.List[catalog.Scope]](t, f.expect(req{method: "GET", path: "/scopes", token: "apictl"}, 200)); l.Count != 1 {
		t.Errorf("scopes %+v", l)
	}

	// Subscription blocking needs APIM-B's service.
	f.expect(req{method: "POST", path: "/subscriptions/block-subscription?subscriptionId=x&blockState=BLOCKED", token: "basic-admin", noContract: true}, 501)
	f.expect(req{method: "POST", path: "/subscriptions/block-subscription?subscriptionId=x&blockState=MAYBE", token: "basic-admin"}, 400)
}
