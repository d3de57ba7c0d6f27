package access_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/keyway/keyway/internal/config"
	"github.com/keyway/keyway/internal/db/dbtest"
	"github.com/keyway/keyway/internal/identity/access"
	it "github.com/keyway/keyway/internal/identity/identitytest"
	"github.com/keyway/keyway/internal/user"
)

func TestGuard(t *testing.T) {
	ctx := context.Background()
	users := it.NewUsers(t, dbtest.SQLite(t))
	plain, _ := users.GetUserByName(ctx, it.UserName)
	admin, _ := users.GetUserByName(ctx, it.AdminName)
	if err := users.CreateRole(ctx, &user.Role{Name: "auditor", Permissions: []string{"/permission/audit", "internal_user_mgt_view"}, Users: []string{plain.ID}}); err != nil {
		t.Fatal(err)
	}
	tokens := it.NewTokens()
	tokens.Add("plain-none", plain, "c")
	tokens.Add("plain-view", plain, "c", "internal_user_mgt_view")
	tokens.Add("admin-none", admin, "c")
	tokens.Add("app-view", nil, "c", "internal_user_mgt_view")
	rules := []config.AccessControl{
		{Context: "(.*)/open/.*", Secure: false, HTTPMethod: "GET"},
		{Context: "(.*)/audit", Secure: true, HTTPMethod: "GET,POST", Permissions: []string{"/permission/audit"}},
		{Context: "/scoped", Secure: true, HTTPMethod: "all", Scopes: []string{"custom_scope"}},
		{Context: "(.*)/scim2/Me", Secure: true, HTTPMethod: "GET", Permissions: []string{}, Scopes: []string{}},
	}
	g, err := access.NewGuard(access.Options{Users: users, Tokens: tokens, Rules: rules, AdminRole: it.AdminRole})
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := "anonymous"
		if p := access.FromContext(r.Context()); p != nil {
			name = p.Username()
		}
		w.Header().Set("X-Caller", name)
		w.WriteHeader(200)
	})
	mux := http.NewServeMux()
	mux.Handle("/", g.Protect(access.REST, access.ByMethod(access.UserScopes), ok))
	srv, client := it.Server(t, mux)

	plainBasic := it.Basic(it.UserName, it.UserPass)
	cases := []struct {
		name, method, path, auth string
		status                   int
		caller                   string
	}{
		{"anonymous default", "GET", "/users", "", 401, ""},
		{"admin Basic default", "DELETE", "/users", it.AdminAuth, 200, it.AdminName},
		{"plain Basic with permission for the scope", "GET", "/users", plainBasic, 200, it.UserName},
		{"plain Basic without it", "POST", "/users", plainBasic, 403, ""},
		{"token with the operation scope", "GET", "/users", "Bearer plain-view", 200, it.UserName},
		{"token without the scope", "GET", "/users", "Bearer plain-none", 403, ""},
		{"admin's token without the scope", "GET", "/users", "Bearer admin-none", 403, ""},
		{"application token with the scope", "GET", "/users", "Bearer app-view", 200, ""},
		{"unknown token", "GET", "/users", "Bearer nope", 401, ""},
		{"bad scheme", "GET", "/users", "Digest x", 401, ""},
		{"malformed Basic", "GET", "/users", "Basic !!!", 401, ""},
		{"open rule, anonymous", "GET", "/t/x/open/thing", "", 200, "anonymous"},
		{"open rule, wrong method", "POST", "/t/x/open/thing", "", 401, ""},
		{"open rule, bad credentials still pass", "GET", "/t/x/open/thing", "Bearer nope", 200, "anonymous"},
		{"permission rule, holder", "POST", "/t/a/audit", plainBasic, 200, it.UserName},
		{"permission rule, admin", "GET", "/audit", it.AdminAuth, 200, it.AdminName},
		{"permission rule, application token", "GET", "/audit", "Bearer app-view", 403, ""},
		{"scope rule, Basic admin", "PUT", "/scoped", it.AdminAuth, 200, it.AdminName},
		{"scope rule, token lacking it", "PUT", "/scoped", "Bearer plain-view", 403, ""},
		{"Me rule, any user token", "GET", "/scim2/Me", "Bearer plain-none", 200, it.UserName},
		{"Me rule, anonymous", "GET", "/scim2/Me", "", 401, ""},
		{"regex anchored: /scim2/Me/x is not Me", "GET", "/scim2/Me/x", "Bearer plain-none", 403, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, hdr, b := it.Do(t, client, it.Request(t, tc.method, srv.URL+tc.path, tc.auth, nil))
			if st != tc.status {
				t.Fatalf("status %d, want %d: %s", st, tc.status, b)
			}
			if st == 200 && tc.caller != "" && hdr.Get("X-Caller") != tc.caller {
				t.Fatalf("caller %q, want %q", hdr.Get("X-Caller"), tc.caller)
			}
			if st >= 400 {
				var e access.RESTError
				if err := json.Unmarshal(b, &e); err != nil || e.Code == "" || e.Message == "" || e.Description == "" || e.TraceID == "" {
					t.Fatalf("REST error shape: %s", b)
				}
			}
		})
	}

	// Brute force through the guard: the sixth attempt is throttled.
	for i := 0; i < 5; i++ {
		it.Do(t, client, it.Request(t, "GET", srv.URL+"/users", it.Basic(it.UserName, "wrong"), nil))
	}
	_, _, b := it.Do(t, client, it.Request(t, "GET", srv.URL+"/users", plainBasic, nil))
	var e access.RESTError
	if err := json.Unmarshal(b, &e); err != nil || e.Description != "too many failed attempts, try again later" {
		t.Fatalf("throttled: %s", b)
	}
}

func TestBadRule(t *testing.T) {
	_, err := access.NewGuard(access.Options{Rules: []config.AccessControl{{Context: "(unclosed"}}})
	if err == nil {
		t.Fatal("a bad context regex must be an error")
	}
}

func TestErrorShapes(t *testing.T) {
	for _, tc := range []struct {
		fam  access.Family
		ct   string
		keys []string
	}{
		{access.SCIM, access.SCIMContentType, []string{"schemas", "detail", "status"}},
		{access.OAuth, "application/json", []string{"error", "error_description"}},
		{access.REST, "application/json", []string{"code", "message", "description", "traceId"}},
	} {
		rec := newRecorder()
		access.WriteError(rec, nil, tc.fam, 404, "", "missing")
		if rec.status != 404 || rec.h.Get("Content-Type") != tc.ct {
			t.Fatalf("family %d: %d %q", tc.fam, rec.status, rec.h.Get("Content-Type"))
		}
		var m map[string]any
		if err := json.Unmarshal(rec.body, &m); err != nil {
			t.Fatal(err)
		}
		for _, k := range tc.keys {
			if m[k] == nil || m[k] == "" {
				t.Fatalf("family %d: %s missing in %s", tc.fam, k, rec.body)
			}
		}
		if tc.fam == access.SCIM && m["status"] != "404" {
			t.Fatalf("SCIM status must be the string \"404\": %s", rec.body)
		}
	}
}

type recorder struct {
	h      http.Header
	status int
	body   []byte
}

func newRecorder() *recorder            { return &recorder{h: http.Header{}} }
func (r *recorder) Header() http.Header { return r.h }
func (r *recorder) WriteHeader(s int)   { r.status = s }
func (r *recorder) Write(b []byte) (int, error) {
	r.body = append(r.body, b...)
	return len(b), nil
}
