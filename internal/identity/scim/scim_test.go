package scim

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/keyway/keyway/internal/config"
	"github.com/keyway/keyway/internal/db/dbtest"
	"github.com/keyway/keyway/internal/identity/access"
	"github.com/keyway/keyway/internal/identity/apiresource"
	it "github.com/keyway/keyway/internal/identity/identitytest"
	"github.com/keyway/keyway/internal/oauth"
	"github.com/keyway/keyway/internal/user"
)

type revoked struct {
	mu  sync.Mutex
	ids []string
}

func (r *revoked) RevokeUserTokens(_ context.Context, id string, _ oauth.RevocationKind) error {
	r.mu.Lock()
	r.ids = append(r.ids, id)
	r.mu.Unlock()
	return nil
}

func (r *revoked) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ids)
}

type fixture struct {
	base    string
	client  *http.Client
	users   *user.Store
	scopes  *apiresource.Store
	tokens  *it.Tokens
	revoked *revoked
}

// seedRule is the seed's [[resource.access_control]] block for /scim2/Me.
var seedRule = config.AccessControl{Context: "(.*)/scim2/Me", Secure: true, HTTPMethod: "GET", CrossTenant: true, Permissions: []string{}, Scopes: []string{}}

func newFixture(t *testing.T, rules ...config.AccessControl) *fixture {
	t.Helper()
	ctx := context.Background()
	d := dbtest.SQLite(t)
	f := &fixture{users: it.NewUsers(t, d), tokens: it.NewTokens(), revoked: &revoked{}}
	var err error
	if f.scopes, err = apiresource.NewStore(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := f.scopes.CreateResource(ctx, &apiresource.Resource{Name: "User-defined OAuth2 Resource", Identifier: "User-defined-oauth2-resource",
		RequiresAuthorization: true, Scopes: []apiresource.Scope{{Name: "apim:read", DisplayName: "Read"}, {Name: "apim:write", DisplayName: "Write"}}}); err != nil {
		t.Fatal(err)
	}
	guard, err := access.NewGuard(access.Options{Users: f.users, Tokens: f.tokens, AdminRole: it.AdminRole, Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	NewHandler(Options{Users: f.users, Guard: guard, Revoker: f.revoked, Permissions: f.scopes, AdminRole: it.AdminRole}).Mount(mux)
	srv, client := it.Server(t, mux)
	f.base, f.client = srv.URL, client
	return f
}

func (f *fixture) do(t *testing.T, method, path, auth string, body any) (int, http.Header, map[string]any) {
	t.Helper()
	req := it.Request(t, method, f.base+path, auth, body)
	if method != "GET" && method != "DELETE" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	st, hdr, b := it.Do(t, f.client, req)
	if len(b) == 0 {
		return st, hdr, nil
	}
	if ct := hdr.Get("Content-Type"); ct != access.SCIMContentType {
		t.Fatalf("%s %s: Content-Type %q", method, path, ct)
	}
	return st, hdr, it.JSON(t, b)
}

func (f *fixture) user(t *testing.T, name string) *user.User {
	t.Helper()
	u, err := f.users.GetUserByName(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// checkError asserts the RFC 7644 §3.12 error shape.
func checkError(t *testing.T, body map[string]any, status int, scimType string) {
	t.Helper()
	s, _ := body["schemas"].([]any)
	if len(s) != 1 || s[0] != access.SCIMErrorSchema || body["status"] != strings.TrimSpace(itoa(status)) || body["detail"] == "" {
		t.Fatalf("error shape: %v", body)
	}
	if scimType != "" && body["scimType"] != scimType {
		t.Fatalf("scimType %v, want %s", body["scimType"], scimType)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func checkList(t *testing.T, body map[string]any, total, start, items int) []map[string]any {
	t.Helper()
	s, _ := body["schemas"].([]any)
	if len(s) != 1 || s[0] != SchemaListResponse {
		t.Fatalf("list schemas: %v", body)
	}
	if body["totalResults"] != float64(total) || body["startIndex"] != float64(start) || body["itemsPerPage"] != float64(items) {
		t.Fatalf("list counters: total %v start %v items %v, want %d %d %d", body["totalResults"], body["startIndex"], body["itemsPerPage"], total, start, items)
	}
	res, _ := body["Resources"].([]any)
	if len(res) != items {
		t.Fatalf("Resources has %d items, want %d", len(res), items)
	}
	out := make([]map[string]any, len(res))
	for i, r := range res {
		out[i] = r.(map[string]any)
	}
	return out
}

func TestUsers(t *testing.T) {
	f := newFixture(t)
	admin := it.AdminAuth
	st, hdr, u := f.do(t, "POST", UsersPath, admin, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"kim","password":"kim-pass-1",
		"name":{"givenName":"Kim","familyName":"Berry"},"emails":[{"value":"kim@example.com","primary":true}],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R&D"}}`)
	if st != 201 {
		t.Fatalf("create: %d %v", st, u)
	}
	id, _ := u["id"].(string)
	if hdr.Get("Location") != f.base+UsersPath+"/"+id {
		t.Fatalf("Location %q", hdr.Get("Location"))
	}
	m := u["meta"].(map[string]any)
	if u["userName"] != "kim" || u["active"] != true || u["password"] != nil || m["resourceType"] != "User" || m["location"] != f.base+UsersPath+"/"+id || m["created"] == nil {
		t.Fatalf("user resource %v", u)
	}
	if u["name"].(map[string]any)["familyName"] != "Berry" || u["emails"].([]any)[0].(map[string]any)["value"] != "kim@example.com" {
		t.Fatalf("name/emails %v", u)
	}
	if ent, _ := u[SchemaEnterprise].(map[string]any); ent["department"] != "R&D" || !slices.Contains(u["schemas"].([]any), any(SchemaEnterprise)) {
		t.Fatalf("enterprise extension %v", u)
	}
	// The password works.
	if _, err := f.users.Authenticate(context.Background(), "kim", "kim-pass-1", ""); err != nil {
		t.Fatalf("login with the SCIM password: %v", err)
	}
	for _, n := range []string{"kimberly", "bob"} {
		if st, _, b := f.do(t, "POST", UsersPath, admin, map[string]any{"userName": n, "password": "secret-pass", "emails": []string{n + "@example.org"}}); st != 201 {
			t.Fatalf("create %s: %d %v", n, st, b)
		}
	}

	// Filters and pagination (admin, plain, kim, kimberly, bob).
	for _, tc := range []struct {
		q            string
		total, items int
		start        int
		first        string
	}{
		{"", 5, 5, 1, "admin"},
		{"?filter=" + url.QueryEscape(`userName eq "kim"`), 1, 1, 1, "kim"},
		{"?filter=" + url.QueryEscape(`userName sw "ki"`), 2, 2, 1, "kim"},
		{"?filter=" + url.QueryEscape(`userName co "erl"`), 1, 1, 1, "kimberly"},
		{"?filter=" + url.QueryEscape(`emails eq "bob@example.org"`), 1, 1, 1, "bob"},
		{"?filter=" + url.QueryEscape(`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "KIM"`), 1, 1, 1, "kim"},
		{"?startIndex=2&count=2", 5, 2, 2, "bob"},
		{"?startIndex=0&count=1", 5, 1, 1, "admin"},
		{"?count=0", 5, 0, 1, ""},
		{"?startIndex=9", 5, 0, 9, ""},
	} {
		st, _, body := f.do(t, "GET", UsersPath+tc.q, admin, nil)
		if st != 200 {
			t.Fatalf("list %s: %d %v", tc.q, st, body)
		}
		items := checkList(t, body, tc.total, tc.start, tc.items)
		if tc.first != "" && items[0]["userName"] != tc.first {
			t.Errorf("list %s: first %v, want %s", tc.q, items[0]["userName"], tc.first)
		}
	}
	st, _, body := f.do(t, "POST", UsersPath+"/.search", admin, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"userName sw k","startIndex":1,"count":10}`)
	if st != 200 {
		t.Fatalf("search: %d %v", st, body)
	}
	checkList(t, body, 2, 1, 2)

	// PATCH: replace a name part, add an email, lock the account.
	st, _, u = f.do(t, "PATCH", UsersPath+"/"+id, admin, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"replace","path":"name.givenName","value":"Kimmy"},
		{"op":"Replace","value":{"emails":[{"value":"kimmy@example.com"}],"active":false}}]}`)
	if st != 200 || u["name"].(map[string]any)["givenName"] != "Kimmy" || u["emails"].([]any)[0].(map[string]any)["value"] != "kimmy@example.com" || u["active"] != false {
		t.Fatalf("patch: %d %v", st, u)
	}
	if r := f.revoked.list(); !slices.Equal(r, []string{id}) {
		t.Fatalf("locking did not revoke tokens: %v", r)
	}
	// PUT replaces: the family name goes, a new password is set.
	st, _, u = f.do(t, "PUT", UsersPath+"/"+id, admin, `{"userName":"kim","name":{"givenName":"K"},"password":"another-pass","active":true}`)
	if st != 200 || u["name"].(map[string]any)["familyName"] != nil || u["emails"] != nil || u["active"] != true {
		t.Fatalf("put: %d %v", st, u)
	}
	if _, err := f.users.Authenticate(context.Background(), "kim", "another-pass", ""); err != nil {
		t.Fatalf("password after PUT: %v", err)
	}
	if len(f.revoked.list()) != 2 {
		t.Fatal("a new password did not revoke tokens")
	}
	if st, _, _ = f.do(t, "DELETE", UsersPath+"/"+id, admin, nil); st != 204 {
		t.Fatalf("delete: %d", st)
	}
	if st, _, body = f.do(t, "GET", UsersPath+"/"+id, admin, nil); st != 404 {
		t.Fatalf("get deleted: %d", st)
	}
	checkError(t, body, 404, "")
}

func TestUserErrors(t *testing.T) {
	f := newFixture(t)
	admin := it.AdminAuth
	plain := f.user(t, it.UserName)
	cases := []struct {
		name, method, path, auth string
		body                     any
		status                   int
		scimType                 string
	}{
		{"unauthenticated", "GET", UsersPath, "", nil, 401, ""},
		{"bad password", "GET", UsersPath, it.Basic(it.AdminName, "wrong"), nil, 401, ""},
		{"non-admin", "GET", UsersPath, it.Basic(it.UserName, it.UserPass), nil, 403, ""},
		{"bad filter operator", "GET", UsersPath + "?filter=" + url.QueryEscape(`userName gt "a"`), admin, nil, 400, "invalidFilter"},
		{"bad filter attribute", "GET", UsersPath + "?filter=" + url.QueryEscape(`password eq "a"`), admin, nil, 400, "invalidFilter"},
		{"compound filter", "GET", UsersPath + "?filter=" + url.QueryEscape(`userName eq a and userName eq b`), admin, nil, 400, "invalidFilter"},
		{"bad count", "GET", UsersPath + "?count=x", admin, nil, 400, "invalidValue"},
		{"bad JSON", "POST", UsersPath, admin, `{"userName":`, 400, "invalidSyntax"},
		{"no userName", "POST", UsersPath, admin, `{"password":"abcdefg"}`, 400, "invalidValue"},
		{"no password", "POST", UsersPath, admin, `{"userName":"x"}`, 400, "invalidValue"},
		{"weak password", "POST", UsersPath, admin, `{"userName":"x","password":"ab"}`, 400, "invalidValue"},
		{"duplicate", "POST", UsersPath, admin, `{"userName":"PLAIN","password":"abcdefg"}`, 409, "uniqueness"},
		{"bad email", "POST", UsersPath, admin, `{"userName":"x","password":"abcdefg","emails":["nope"]}`, 400, "invalidValue"},
		{"rename", "PUT", UsersPath + "/" + plain.ID, admin, `{"userName":"other"}`, 400, "mutability"},
		{"patch unknown attribute", "PATCH", UsersPath + "/" + plain.ID, admin, `{"Operations":[{"op":"replace","path":"nickName","value":"x"}]}`, 400, "invalidValue"},
		{"patch bad op", "PATCH", UsersPath + "/" + plain.ID, admin, `{"Operations":[{"op":"move","path":"name.givenName","value":"x"}]}`, 400, "invalidValue"},
		{"patch weak password", "PATCH", UsersPath + "/" + plain.ID, admin, `{"Operations":[{"op":"replace","value":{"password":"ab","name":{"givenName":"Changed"}}}]}`, 400, "invalidValue"},
		{"patch missing", "PATCH", UsersPath + "/nope", admin, `{"Operations":[{"op":"replace","path":"active","value":false}]}`, 404, ""},
		{"delete missing", "DELETE", UsersPath + "/nope", admin, nil, 404, ""},
		{"delete self", "DELETE", UsersPath + "/" + f.user(t, it.AdminName).ID, admin, nil, 400, "mutability"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, hdr, body := f.do(t, tc.method, tc.path, tc.auth, tc.body)
			if st != tc.status {
				t.Fatalf("status %d, want %d: %v", st, tc.status, body)
			}
			checkError(t, body, tc.status, tc.scimType)
			if st == 401 && hdr.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
	after := f.user(t, it.UserName)
	if after.GivenName != "Plain" || after.Username != it.UserName || after.Locked {
		t.Fatalf("failed requests changed the user: %+v", after)
	}
	if _, total, _ := f.users.ListUsers(context.Background(), user.Filter{}); total != 2 {
		t.Fatalf("users: %d", total)
	}
	if len(f.revoked.list()) != 0 {
		t.Fatalf("failed requests revoked tokens: %v", f.revoked.list())
	}
}

func TestGroups(t *testing.T) {
	f := newFixture(t)
	admin := it.AdminAuth
	plain := f.user(t, it.UserName)
	adm := f.user(t, it.AdminName)
	st, _, g := f.do(t, "POST", GroupsPath, admin, map[string]any{"schemas": []string{SchemaGroup}, "displayName": "engineers", "members": []map[string]string{{"value": plain.ID}}})
	if st != 201 || g["displayName"] != "engineers" || g["meta"].(map[string]any)["resourceType"] != "Group" {
		t.Fatalf("create: %d %v", st, g)
	}
	id := g["id"].(string)
	members := g["members"].([]any)
	if len(members) != 1 || members[0].(map[string]any)["display"] != it.UserName || members[0].(map[string]any)["value"] != plain.ID {
		t.Fatalf("members %v", members)
	}
	// The user resource lists the group.
	_, _, u := f.do(t, "GET", UsersPath+"/"+plain.ID, admin, nil)
	if gs := u["groups"].([]any); len(gs) != 1 || gs[0].(map[string]any)["value"] != id || gs[0].(map[string]any)["display"] != "engineers" {
		t.Fatalf("user groups %v", u["groups"])
	}
	st, _, g = f.do(t, "PATCH", GroupsPath+"/"+id, admin, `{"Operations":[{"op":"add","path":"members","value":[{"value":"`+adm.ID+`"}]},{"op":"replace","path":"displayName","value":"engineering"}]}`)
	if st != 200 || len(g["members"].([]any)) != 2 || g["displayName"] != "engineering" {
		t.Fatalf("patch add: %d %v", st, g)
	}
	st, _, g = f.do(t, "PATCH", GroupsPath+"/"+id, admin, `{"Operations":[{"op":"remove","path":"members[value eq \"`+plain.ID+`\"]"}]}`)
	if st != 200 || len(g["members"].([]any)) != 1 {
		t.Fatalf("patch remove: %d %v", st, g)
	}
	_, _, body := f.do(t, "GET", GroupsPath+"?filter="+url.QueryEscape(`displayName sw "eng"`), admin, nil)
	checkList(t, body, 1, 1, 1)
	st, _, body = f.do(t, "PATCH", GroupsPath+"/"+id, admin, `{"Operations":[{"op":"add","path":"members","value":[{"value":"ghost"}]}]}`)
	if st != 400 {
		t.Fatalf("unknown member: %d %v", st, body)
	}
	checkError(t, body, 400, "invalidValue")
	if st, _, body = f.do(t, "POST", GroupsPath, admin, `{"displayName":"ENGINEERING"}`); st != 409 {
		t.Fatalf("duplicate group: %d %v", st, body)
	}
	st, _, g = f.do(t, "PUT", GroupsPath+"/"+id, admin, `{"displayName":"eng","members":[]}`)
	if st != 200 || len(g["members"].([]any)) != 0 {
		t.Fatalf("put: %d %v", st, g)
	}
	if st, _, _ = f.do(t, "DELETE", GroupsPath+"/"+id, admin, nil); st != 204 {
		t.Fatalf("delete: %d", st)
	}
	if st, _, _ = f.do(t, "GET", GroupsPath+"/"+id, admin, nil); st != 404 {
		t.Fatalf("get deleted: %d", st)
	}
}

func TestRolesConnectorFlow(t *testing.T) {
	f := newFixture(t)
	admin := it.AdminAuth
	plain := f.user(t, it.UserName)

	// §2.8 step 3: create without schemas and audience, as application/json.
	req := it.Request(t, "POST", f.base+RolesPath, admin, `{"displayName":"system_primary_creator","permissions":[{"value":"apim:read","display":"Read"}]}`)
	st, hdr, b := it.Do(t, f.client, req)
	if st != 201 || hdr.Get("Location") == "" {
		t.Fatalf("create: %d %s", st, b)
	}
	role := it.JSON(t, b)
	id := role["id"].(string)
	aud := role["audience"].(map[string]any)
	if role["displayName"] != "system_primary_creator" || aud["type"] != "organization" || aud["value"] == "" || role["schemas"].([]any)[0] != SchemaRole ||
		role["meta"].(map[string]any)["resourceType"] != "Role" {
		t.Fatalf("created role %s", b)
	}

	// §2.8 step 1: search by displayName, no startIndex/count.
	st, _, body := f.do(t, "POST", RolesPath+"/.search", admin, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"displayName eq system_primary_creator"}`)
	if st != 200 {
		t.Fatalf("search: %d %v", st, body)
	}
	found := checkList(t, body, 1, 1, 1)
	if found[0]["id"] != id {
		t.Fatalf("search found %v", found[0])
	}

	// Step 2: GET then PATCH replace with the existing permissions plus one.
	_, _, role = f.do(t, "GET", RolesPath+"/"+id, admin, nil)
	perms := role["permissions"].([]any)
	if len(perms) != 1 || perms[0].(map[string]any)["value"] != "apim:read" || perms[0].(map[string]any)["display"] != "Read" {
		t.Fatalf("permissions %v", role)
	}
	for _, k := range []string{"users", "groups", "associatedApplications", "properties"} {
		if _, ok := role[k].([]any); !ok {
			t.Fatalf("%s missing: %v", k, role)
		}
	}
	st, _, role = f.do(t, "PATCH", RolesPath+"/"+id, admin, `{"Operations":[{"op":"replace","value":{"permissions":[{"value":"apim:read","display":"Read"},{"value":"apim:write","display":"Write"}]}}]}`)
	if st != 200 || len(role["permissions"].([]any)) != 2 {
		t.Fatalf("patch replace: %d %v", st, role)
	}

	// The connector's scope listing: .search without filter carries permissions.
	_, _, body = f.do(t, "POST", RolesPath+"/.search", admin, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}`)
	all := checkList(t, body, 2, 1, 2) // admin and the new role
	var withWrite []string
	for _, r := range all {
		for _, p := range r["permissions"].([]any) {
			if p.(map[string]any)["value"] == "apim:write" {
				withWrite = append(withWrite, r["displayName"].(string))
			}
		}
	}
	if !slices.Equal(withWrite, []string{"system_primary_creator"}) {
		t.Fatalf("roles holding apim:write: %v", withWrite)
	}

	// Unbinding (updateScope step 5): permissions with value only.
	st, _, role = f.do(t, "PATCH", RolesPath+"/"+id, admin, `{"Operations":[{"op":"replace","value":{"permissions":[{"value":"apim:read"}]}}]}`)
	if st != 200 || len(role["permissions"].([]any)) != 1 {
		t.Fatalf("unbind: %d %v", st, role)
	}

	// A scope deleted from its resource (bindings untouched, as the connector
	// does) may still be re-sent with the role's permissions.
	if err := f.scopes.DeleteScope(context.Background(), "apim:read"); err != nil {
		t.Fatal(err)
	}
	st, _, role = f.do(t, "PATCH", RolesPath+"/"+id, admin, `{"Operations":[{"op":"replace","value":{"permissions":[{"value":"apim:read"},{"value":"apim:write"}]}}]}`)
	if st != 200 || len(role["permissions"].([]any)) != 2 {
		t.Fatalf("stale permission re-sent: %d %v", st, role)
	}

	// Members: add and remove users.
	st, _, role = f.do(t, "PATCH", RolesPath+"/"+id, admin, `{"schemas":["`+SchemaPatchOp+`"],"Operations":[{"op":"add","path":"users","value":[{"value":"`+plain.ID+`"}]}]}`)
	if st != 200 || len(role["users"].([]any)) != 1 || role["users"].([]any)[0].(map[string]any)["display"] != it.UserName {
		t.Fatalf("add user: %d %v", st, role)
	}
	if rs, _ := f.users.RolesOf(context.Background(), plain.ID); len(rs) != 1 || rs[0].ID != id {
		t.Fatalf("user roles after PATCH: %+v", rs)
	}
	st, _, role = f.do(t, "PATCH", RolesPath+"/"+id, admin, `{"Operations":[{"op":"remove","path":"users[value eq \"`+plain.ID+`\"]"}]}`)
	if st != 200 || len(role["users"].([]any)) != 0 {
		t.Fatalf("remove user: %d %v", st, role)
	}

	// An unquoted name with a space, as the connector would send it.
	if st, _, r := f.do(t, "POST", RolesPath, admin, `{"displayName":"api publisher"}`); st != 201 {
		t.Fatalf("create: %d %v", st, r)
	}
	_, _, body = f.do(t, "POST", RolesPath+"/.search", admin, `{"filter":"displayName eq api publisher"}`)
	if found := checkList(t, body, 1, 1, 1); found[0]["displayName"] != "api publisher" {
		t.Fatalf("search by unquoted name with a space: %v", found)
	}

	// GET list with a filter, PUT, DELETE.
	_, _, body = f.do(t, "GET", RolesPath+"?filter="+url.QueryEscape("displayName sw system_"), admin, nil)
	checkList(t, body, 1, 1, 1)
	st, _, role = f.do(t, "PUT", RolesPath+"/"+id, admin, `{"displayName":"creator","permissions":[{"value":"apim:write"}],"users":[{"value":"`+plain.ID+`"}]}`)
	if st != 200 || role["displayName"] != "creator" || len(role["users"].([]any)) != 1 {
		t.Fatalf("put: %d %v", st, role)
	}
	if st, _, _ = f.do(t, "DELETE", RolesPath+"/"+id, admin, nil); st != 204 {
		t.Fatalf("delete: %d", st)
	}
	if st, _, _ = f.do(t, "GET", RolesPath+"/"+id, admin, nil); st != 404 {
		t.Fatalf("get deleted: %d", st)
	}
}

func TestRoleErrors(t *testing.T) {
	f := newFixture(t)
	admin := it.AdminAuth
	adminRole, _ := f.users.GetRoleByName(context.Background(), it.AdminRole)
	st, _, r := f.do(t, "POST", RolesPath, admin, `{"displayName":"viewer","permissions":[{"value":"apim:read"}]}`)
	if st != 201 {
		t.Fatalf("setup: %d %v", st, r)
	}
	id := r["id"].(string)
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		scimType                 string
	}{
		{"duplicate", "POST", RolesPath, `{"displayName":"VIEWER"}`, 409, "uniqueness"},
		{"no name", "POST", RolesPath, `{"permissions":[]}`, 400, "invalidValue"},
		{"unknown permission", "POST", RolesPath, `{"displayName":"x","permissions":[{"value":"nope:scope"}]}`, 400, "invalidValue"},
		{"unknown user", "POST", RolesPath, `{"displayName":"x","users":[{"value":"ghost"}]}`, 400, "invalidValue"},
		{"bad audience", "POST", RolesPath, `{"displayName":"x","audience":{"type":"tenant","value":"t"}}`, 400, "invalidValue"},
		{"patch unknown permission", "PATCH", RolesPath + "/" + id, `{"Operations":[{"op":"replace","value":{"permissions":[{"value":"nope"}]}}]}`, 400, "invalidValue"},
		{"patch no operations", "PATCH", RolesPath + "/" + id, `{"Operations":[]}`, 400, "invalidValue"},
		{"patch bad path", "PATCH", RolesPath + "/" + id, `{"Operations":[{"op":"replace","path":"color","value":"red"}]}`, 400, "invalidValue"},
		{"patch missing role", "PATCH", RolesPath + "/nope", `{"Operations":[{"op":"replace","value":{"displayName":"y"}}]}`, 404, ""},
		{"delete admin role", "DELETE", RolesPath + "/" + adminRole.ID, "", 400, "mutability"},
		{"rename admin role", "PATCH", RolesPath + "/" + adminRole.ID, `{"Operations":[{"op":"replace","path":"displayName","value":"boss"}]}`, 400, "mutability"},
		{"bad search filter", "POST", RolesPath + "/.search", `{"filter":"displayName lt x"}`, 400, "invalidFilter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			st, _, e := f.do(t, tc.method, tc.path, admin, body)
			if st != tc.status {
				t.Fatalf("status %d, want %d: %v", st, tc.status, e)
			}
			checkError(t, e, tc.status, tc.scimType)
		})
	}
	r2, _ := f.users.GetRole(context.Background(), id)
	if r2.Name != "viewer" || !slices.Equal(r2.Permissions, []string{"apim:read"}) {
		t.Fatalf("failed requests changed the role: %+v", r2)
	}
	if _, total, _ := f.users.ListRoles(context.Background(), user.Filter{}); total != 2 {
		t.Fatalf("roles: %d", total)
	}
	// A non-admin cannot manage roles; a token with the role scope can read.
	if st, _, e := f.do(t, "GET", RolesPath, it.Basic(it.UserName, it.UserPass), nil); st != 403 {
		t.Fatalf("non-admin: %d %v", st, e)
	}
	f.tokens.Add("role-view", f.user(t, it.UserName), "c", "internal_role_mgt_view")
	if st, _, e := f.do(t, "POST", RolesPath+"/.search", "Bearer role-view", `{}`); st != 200 {
		t.Fatalf("search with view scope: %d %v", st, e)
	}
	if st, _, e := f.do(t, "DELETE", RolesPath+"/"+id, "Bearer role-view", nil); st != 403 {
		t.Fatalf("delete with view scope: %d %v", st, e)
	}
}

func TestMe(t *testing.T) {
	t.Run("seed rule opens Me to any authenticated user", func(t *testing.T) {
		f := newFixture(t, seedRule)
		plain := f.user(t, it.UserName)
		// A user token with no scope at all, as APIM applications hold.
		f.tokens.Add("user-token", plain, "app-1")
		st, _, me := f.do(t, "GET", MePath, "Bearer user-token", nil)
		if st != 200 || me["id"] != plain.ID || me["userName"] != it.UserName || me["emails"].([]any)[0].(map[string]any)["value"] != "plain@example.org" {
			t.Fatalf("me: %d %v", st, me)
		}
		if me["schemas"].([]any)[0] != SchemaUser || me["meta"].(map[string]any)["resourceType"] != "User" {
			t.Fatalf("me shape %v", me)
		}
		// Basic works too; the rule does not open other paths.
		if st, _, me = f.do(t, "GET", MePath, it.Basic(it.UserName, it.UserPass), nil); st != 200 || me["id"] != plain.ID {
			t.Fatalf("me with Basic: %d %v", st, me)
		}
		if st, _, e := f.do(t, "GET", UsersPath, "Bearer user-token", nil); st != 403 {
			t.Fatalf("Users with a scopeless token: %d %v", st, e)
		}
		st, hdr, e := f.do(t, "GET", MePath, "Bearer revoked-or-unknown", nil)
		if st != 401 || hdr.Get("WWW-Authenticate") == "" {
			t.Fatalf("unknown token: %d %v", st, e)
		}
		checkError(t, e, 401, "")
		if st, _, e = f.do(t, "GET", MePath, "", nil); st != 401 {
			t.Fatalf("anonymous: %d %v", st, e)
		}
		// An application token has no user.
		f.tokens.Add("app-token", nil, "app-1")
		if st, _, e = f.do(t, "GET", MePath, "Bearer app-token", nil); st != 404 {
			t.Fatalf("application token: %d %v", st, e)
		}
	})
	t.Run("without the rule Me needs internal_login", func(t *testing.T) {
		f := newFixture(t)
		plain := f.user(t, it.UserName)
		f.tokens.Add("no-scope", plain, "app-1")
		f.tokens.Add("login", plain, "app-1", "internal_login")
		if st, _, e := f.do(t, "GET", MePath, "Bearer no-scope", nil); st != 403 {
			t.Fatalf("scopeless token: %d %v", st, e)
		}
		if st, _, me := f.do(t, "GET", MePath, "Bearer login", nil); st != 200 || me["id"] != plain.ID {
			t.Fatalf("internal_login token: %d %v", st, me)
		}
	})
}
