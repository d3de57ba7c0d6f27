package apiresource

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/keyway/keyway/internal/config"
	"github.com/keyway/keyway/internal/contracttest"
	"github.com/keyway/keyway/internal/db/dbtest"
	"github.com/keyway/keyway/internal/identity/access"
	it "github.com/keyway/keyway/internal/identity/identitytest"
	"github.com/keyway/keyway/internal/user"
)

type fixture struct {
	base   string
	client *http.Client
	store  *Store
	users  *user.Store
	tokens *it.Tokens
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	d := dbtest.SQLite(t)
	users := it.NewUsers(t, d)
	store, err := NewStore(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	tokens := it.NewTokens()
	guard, err := access.NewGuard(access.Options{Users: users, Tokens: tokens, AdminRole: it.AdminRole, Rules: []config.AccessControl{}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	NewHandler(store, guard, nil).Mount(mux)
	srv, client := it.Server(t, mux)
	return &fixture{base: srv.URL, client: client, store: store, users: users, tokens: tokens}
}

// do sends a request and validates the response against the contract when
// c is not nil. asStatus, when non-zero, is the status to validate the body
// under (for answers whose status the contract does not list).
func (f *fixture) do(t *testing.T, c *contracttest.Contract, method, path, auth string, body any, asStatus int) (int, http.Header, []byte) {
	t.Helper()
	req := it.Request(t, method, f.base+path, auth, body)
	status, hdr, b := it.Do(t, f.client, req)
	if c != nil {
		st := status
		if asStatus != 0 {
			st = asStatus
		}
		c.CheckResponse(t, req, st, hdr, b)
	}
	return status, hdr, b
}

const userDefined = "User-defined-oauth2-resource"

func TestAPIResourcesConnectorFlow(t *testing.T) {
	f := newFixture(t)
	c := contracttest.Load(t, "is-api-resource.yaml")
	admin := it.AdminAuth
	filter := "?filter=" + url.QueryEscape("identifier eq "+userDefined)

	// 1. The connector looks the resource up: none yet.
	st, _, b := f.do(t, c, "GET", ResourcesPath+filter, admin, nil, 0)
	if st != 200 {
		t.Fatalf("list: %d %s", st, b)
	}
	var list struct {
		TotalResults int              `json:"totalResults"`
		APIResources []map[string]any `json:"apiResources"`
		Upper        []map[string]any `json:"APIResources"`
		Links        []any            `json:"links"`
	}
	if err := json.Unmarshal(b, &list); err != nil || list.TotalResults != 0 || list.APIResources == nil || list.Links == nil {
		t.Fatalf("empty list %s (%v)", b, err)
	}

	// 2. It creates the resource with a first scope (body exactly as §2.7).
	create := `{"name":"User-defined OAuth2 Resource","description":"This is Default OAuth2 Resource Representation","identifier":"User-defined-oauth2-resource","requiresAuthorization":true,"scopes":[{"name":"apim:read","displayName":"Read","description":"read things"}]}`
	// IS answers 201 Created; the published definition lists 200, so the
	// body is validated under 200.
	st, hdr, b := f.do(t, c, "POST", ResourcesPath, admin, create, 200)
	if st != http.StatusCreated || hdr.Get("Location") == "" {
		t.Fatalf("create: %d %s", st, b)
	}
	created := it.JSON(t, b)
	id, _ := created["id"].(string)
	if id == "" || created["identifier"] != userDefined || created["requiresAuthorization"] != true || created["self"] != ResourcesPath+"/"+id {
		t.Fatalf("created %s", b)
	}

	// 3. Lookup now finds it under apiResources[0].id (and APIResources).
	_, _, b = f.do(t, c, "GET", ResourcesPath+filter, admin, nil, 0)
	if err := json.Unmarshal(b, &list); err != nil || list.TotalResults != 1 || list.APIResources[0]["id"] != id || list.Upper[0]["id"] != id {
		t.Fatalf("lookup %s", b)
	}

	// 4. Scopes not present are added with PATCH addedScopes.
	st, _, b = f.do(t, c, "PATCH", ResourcesPath+"/"+id, admin, `{"addedScopes":[{"name":"apim:write","displayName":"Write","description":"write things"}]}`, 0)
	if st != 204 {
		t.Fatalf("patch: %d %s", st, b)
	}
	st, _, b = f.do(t, c, "GET", ResourcesPath+"/"+id+"/scopes", admin, nil, 0)
	var scopes []map[string]any
	if err := json.Unmarshal(b, &scopes); st != 200 || err != nil || len(scopes) != 2 || scopes[0]["name"] != "apim:read" || scopes[1]["description"] != "write things" {
		t.Fatalf("scopes: %d %s", st, b)
	}

	// 5. updateScope: PATCH the scope's display name.
	st, _, b = f.do(t, c, "PATCH", ResourcesPath+"/"+id+"/scopes/apim:write", admin, `{"displayName":"Write all","description":"d2"}`, 0)
	if st != 204 {
		t.Fatalf("patch scope: %d %s", st, b)
	}
	sc, _ := f.store.GetScope(context.Background(), "apim:write")
	if sc.DisplayName != "Write all" || sc.Description != "d2" {
		t.Fatalf("patched scope %+v", sc)
	}

	// 6. deleteScope. (The definition lists no success status for it; IS answers 204.)
	st, _, b = f.do(t, nil, "DELETE", ResourcesPath+"/"+id+"/scopes/apim:write", admin, nil, 0)
	if st != 204 {
		t.Fatalf("delete scope: %d %s", st, b)
	}
	if st, _, _ = f.do(t, nil, "DELETE", ResourcesPath+"/"+id+"/scopes/apim:write", admin, nil, 0); st != 404 {
		t.Fatalf("delete missing scope: %d", st)
	}

	// 7. PUT replaces the scope list.
	st, _, b = f.do(t, c, "PUT", ResourcesPath+"/"+id+"/scopes", admin, `[{"name":"apim:read","displayName":"Read v2"},{"name":"apim:admin"}]`, 0)
	if st != 204 {
		t.Fatalf("put scopes: %d %s", st, b)
	}
	st, _, b = f.do(t, c, "GET", ResourcesPath+"/"+id, admin, nil, 0)
	res := it.JSON(t, b)
	got := res["scopes"].([]any)
	if st != 200 || len(got) != 2 || got[0].(map[string]any)["name"] != "apim:admin" || got[1].(map[string]any)["displayName"] != "Read v2" {
		t.Fatalf("after put: %s", b)
	}
	// Every scope has a string description (connector 2.0.5 fails on null).
	for _, s := range got {
		if _, ok := s.(map[string]any)["description"].(string); !ok {
			t.Fatalf("scope without string description: %s", b)
		}
	}

	// 8. /api/server/v1/scopes lists every scope.
	st, _, b = f.do(t, c, "GET", ServerScopePath+"?filter="+url.QueryEscape("name sw apim:r"), admin, nil, 0)
	if err := json.Unmarshal(b, &scopes); st != 200 || err != nil || len(scopes) != 1 {
		t.Fatalf("server scopes: %d %s", st, b)
	}

	// 9. Delete the resource.
	if st, _, b = f.do(t, c, "DELETE", ResourcesPath+"/"+id, admin, nil, 0); st != 204 {
		t.Fatalf("delete: %d %s", st, b)
	}
	if st, _, b = f.do(t, c, "GET", ResourcesPath+"/"+id+"/scopes", admin, nil, 0); st != 404 {
		t.Fatalf("scopes of deleted: %d %s", st, b)
	}
	if all, _ := f.store.AllScopes(context.Background(), "", ""); len(all) != 0 {
		t.Fatalf("scopes left after delete: %+v", all)
	}
}

func TestAPIResourcesNegative(t *testing.T) {
	f := newFixture(t)
	c := contracttest.Load(t, "is-api-resource.yaml")
	admin := it.AdminAuth
	_, _, b := f.do(t, nil, "POST", ResourcesPath, admin, `{"name":"R1","identifier":"r1","scopes":[{"name":"s1"}]}`, 0)
	id := it.JSON(t, b)["id"].(string)

	cases := []struct {
		name, method, path, auth string
		body                     any
		status                   int
	}{
		{"no credentials", "GET", ResourcesPath, "", nil, 401},
		{"wrong password", "GET", ResourcesPath, it.Basic(it.AdminName, "nope"), nil, 401},
		{"unknown token", "GET", ResourcesPath, "Bearer nope", nil, 401},
		{"non-admin", "GET", ResourcesPath, it.Basic(it.UserName, it.UserPass), nil, 403},
		{"token without scope", "POST", ResourcesPath, "Bearer view-only", `{"name":"X","identifier":"x"}`, 403},
		{"bad JSON", "POST", ResourcesPath, admin, `{"name":`, 400},
		{"missing identifier", "POST", ResourcesPath, admin, `{"name":"X"}`, 400},
		{"duplicate identifier", "POST", ResourcesPath, admin, `{"name":"X","identifier":"r1"}`, 409},
		{"duplicate scope across resources", "POST", ResourcesPath, admin, `{"name":"X","identifier":"x","scopes":[{"name":"s1"}]}`, 409},
		{"scope listed twice", "POST", ResourcesPath, admin, `{"name":"X","identifier":"x","scopes":[{"name":"a"},{"name":"a"}]}`, 400},
		{"scope with space", "POST", ResourcesPath, admin, `{"name":"X","identifier":"x","scopes":[{"name":"a b"}]}`, 400},
		// The definition declares no 400 for the list; only the shape is checked.
		{"bad filter", "GET", ResourcesPath + "?filter=identifier", admin, nil, 400},
		{"bad filter attribute", "GET", ResourcesPath + "?filter=" + url.QueryEscape("color eq red"), admin, nil, 400},
		{"patch unknown", "PATCH", ResourcesPath + "/nope", admin, `{"name":"Y"}`, 404},
		{"patch duplicate scope", "PATCH", ResourcesPath + "/" + id, admin, `{"name":"Renamed","addedScopes":[{"name":"s1"}]}`, 409},
		{"patch removedScopes", "PATCH", ResourcesPath + "/" + id, admin, `{"removedScopes":["s1"]}`, 501},
		{"put scopes unknown", "PUT", ResourcesPath + "/nope/scopes", admin, `[]`, 404},
	}
	f.tokens.Add("view-only", mustUser(t, f.users, it.AdminName), "c1", "internal_api_resource_view")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cc := c
			if tc.method == "GET" && tc.status == 400 {
				cc = nil
			}
			st, hdr, b := f.do(t, cc, tc.method, tc.path, tc.auth, tc.body, 0)
			if st != tc.status {
				t.Fatalf("status %d, want %d: %s", st, tc.status, b)
			}
			e := it.JSON(t, b)
			if e["code"] == nil || e["message"] == nil || e["description"] == nil || e["traceId"] == nil {
				t.Fatalf("error shape: %s", b)
			}
			if st == 401 && hdr.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
	// No failed request changed anything.
	r, err := f.store.GetResource(context.Background(), id)
	if err != nil || r.Name != "R1" || len(r.Scopes) != 1 {
		t.Fatalf("state changed: %+v %v", r, err)
	}
	list, total, _, _ := f.store.ListResources(context.Background(), ListOptions{})
	if total != 1 || len(list) != 1 {
		t.Fatalf("resources: %d", total)
	}
	// The view token may read.
	if st, _, b := f.do(t, c, "GET", ResourcesPath, "Bearer view-only", nil, 0); st != 200 {
		t.Fatalf("token with view scope: %d %s", st, b)
	}
}

func TestAPIResourcesPaging(t *testing.T) {
	f := newFixture(t)
	c := contracttest.Load(t, "is-api-resource.yaml")
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		if st, _, b := f.do(t, nil, "POST", ResourcesPath, it.AdminAuth, map[string]any{"name": n, "identifier": "id-" + n}, 0); st != 201 {
			t.Fatalf("create %s: %d %s", n, st, b)
		}
	}
	var seen []string
	next := ResourcesPath + "?limit=2"
	for i := 0; next != "" && i < 5; i++ {
		_, _, b := f.do(t, c, "GET", next, it.AdminAuth, nil, 0)
		var page struct {
			Total int `json:"totalResults"`
			Items []struct {
				ID string `json:"id"`
			} `json:"apiResources"`
			Links []struct{ Rel, Href string } `json:"links"`
		}
		if err := json.Unmarshal(b, &page); err != nil || page.Total != 5 {
			t.Fatalf("page %s", b)
		}
		for _, it := range page.Items {
			seen = append(seen, it.ID)
		}
		next = ""
		for _, l := range page.Links {
			if l.Rel == "next" {
				next = l.Href
			}
		}
	}
	if len(seen) != 5 || !slices.IsSorted(seen) {
		t.Fatalf("paged through %v", seen)
	}
}

func mustUser(t *testing.T, s *user.Store, name string) *user.User {
	t.Helper()
	u, err := s.GetUserByName(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
