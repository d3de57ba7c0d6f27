package restapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"

	"github.com/keyway/keyway/internal/oauth"
	"github.com/keyway/keyway/internal/user"
)

type fakeValidator map[string]*oauth.TokenInfo

func (f fakeValidator) ValidateAccessToken(_ context.Context, tok string) (*oauth.TokenInfo, error) {
	if ti, ok := f[tok]; ok {
		return ti, nil
	}
	return nil, errors.New("unknown token")
}

type fakeUsers struct {
	user.Directory // unused methods panic
	users          map[string]*user.User
	passwords      map[string]string
	groupRoles     map[string][]string
}

func (f *fakeUsers) Authenticate(_ context.Context, username, password, _ string) (*user.User, error) {
	u, ok := f.users[username]
	if !ok || f.passwords[username] != password {
		return nil, user.ErrInvalidCredentials
	}
	return u, nil
}

func (f *fakeUsers) RolesOf(_ context.Context, id string) ([]*user.Role, error) {
	var out []*user.Role
	for _, n := range f.groupRoles[id] {
		out = append(out, &user.Role{Name: n})
	}
	return out, nil
}

func TestRequire(t *testing.T) {
	v := fakeValidator{
		"pub":      {Active: true, Username: "alice", Scopes: []string{"apim:api_view", "apim:api_publish"}},
		"inactive": {Active: false, Username: "alice", Scopes: []string{"apim:api_view"}},
	}
	users := &fakeUsers{
		users: map[string]*user.User{
			"admin":  {ID: "1", Username: "admin", Roles: []string{"admin"}},
			"sub":    {ID: "2", Username: "sub", Roles: []string{RoleSubscriber}},
			"viaGrp": {ID: "3", Username: "viaGrp"},
		},
		passwords:  map[string]string{"admin": "admin", "sub": "pw", "viaGrp": "pw"},
		groupRoles: map[string][]string{"3": {RoleCreator}},
	}
	a := NewAuth(v, users)
	var seen *Caller
	h := a.Require("apim:api_create", "apim:api_publish")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, _ = CallerFrom(r.Context())
		w.WriteHeader(http.StatusNoContent)
	}))
	cases := []struct {
		name       string
		setup      func(r *http.Request)
		want       int
		wantCaller string
		wantCode   int64
	}{
		{"no credentials", func(r *http.Request) {}, 401, "", 900902},
		{"unknown token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope") }, 401, "", 900901},
		{"inactive token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer inactive") }, 401, "", 900901},
		{"bearer with scope", func(r *http.Request) { r.Header.Set("Authorization", "Bearer pub") }, 204, "alice", 0},
		{"basic admin", func(r *http.Request) { r.SetBasicAuth("admin", "admin") }, 204, "admin", 0},
		{"basic wrong password", func(r *http.Request) { r.SetBasicAuth("admin", "x") }, 401, "", 900901},
		{"basic subscriber lacks scope", func(r *http.Request) { r.SetBasicAuth("sub", "pw") }, 403, "", 900910},
		{"basic role through group", func(r *http.Request) { r.SetBasicAuth("viaGrp", "pw") }, 204, "viaGrp", 0},
		{"unknown scheme", func(r *http.Request) { r.Header.Set("Authorization", "Digest x") }, 401, "", 900901},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			seen = nil
			r := httptest.NewRequest("GET", "/apis", nil)
			tc.setup(r)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.want, w.Body)
			}
			if tc.want == 401 && w.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if tc.wantCode != 0 {
				var e Error
				if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Code != tc.wantCode || e.Errors == nil {
					t.Errorf("error body %s (err %v), want code %d", w.Body, err, tc.wantCode)
				}
			}
			if tc.wantCaller != "" && (seen == nil || seen.Username != tc.wantCaller) {
				t.Errorf("caller %+v, want %s", seen, tc.wantCaller)
			}
		})
	}
}

func TestScopesForRoles(t *testing.T) {
	admin := ScopesForRoles([]string{"admin"})
	if len(admin) != len(ScopeRoles) {
		t.Errorf("admin has %d scopes, want all %d", len(admin), len(ScopeRoles))
	}
	sub := ScopesForRoles([]string{"internal/subscriber"})
	for _, s := range []string{"apim:subscribe", "apim:app_manage", "apim:sub_manage", "apim:store_settings", "apim:api_key"} {
		if !slices.Contains(sub, s) {
			t.Errorf("subscriber lacks %s", s)
		}
	}
	if slices.Contains(sub, "apim:api_create") {
		t.Error("subscriber must not create APIs")
	}
	pub := ScopesForRoles([]string{RolePublisher})
	if !slices.Contains(pub, "apim:api_publish") || slices.Contains(pub, "apim:api_create") {
		t.Errorf("publisher scopes %v", pub)
	}
	if got := ScopesForRoles([]string{"nobody"}); len(got) != 0 {
		t.Errorf("unknown role got %v", got)
	}
}

func TestParsePage(t *testing.T) {
	cases := []struct {
		q          string
		off, limit int
		bad        bool
	}{
		{"", 0, 25, false},
		{"limit=10&offset=20", 20, 10, false},
		{"limit=-1", 0, 0, true},
		{"offset=x", 0, 0, true},
		{"limit=100000", 0, MaxLimit, false},
	}
	for _, tc := range cases {
		q, _ := url.ParseQuery(tc.q)
		p, err := ParsePage(q, 0)
		if tc.bad {
			var pr *Problem
			if !errors.As(err, &pr) || pr.Status != 400 {
				t.Errorf("%q: err %v, want 400 problem", tc.q, err)
			}
			continue
		}
		if err != nil || p.Offset != tc.off || p.Limit != tc.limit {
			t.Errorf("%q: %+v %v", tc.q, p, err)
		}
	}
	q, _ := url.ParseQuery("query=x&limit=2&offset=2")
	p, _ := ParsePage(q, 0)
	l := NewList([]int{3, 4}, "/apis", q, p, 5)
	if l.Count != 2 || l.Pagination.Next != "/apis?limit=2&offset=4&query=x" || l.Pagination.Previous != "/apis?limit=2&offset=0&query=x" {
		t.Errorf("pagination %+v", l.Pagination)
	}
	if got := Slice([]int{1, 2, 3}, Page{Offset: 5, Limit: 2}); len(got) != 0 {
		t.Errorf("slice past end %v", got)
	}
}

func TestRespond(t *testing.T) {
	w := httptest.NewRecorder()
	Respond(w, nil, ErrConflict("dup").WithCode(900300, "The API already exists."))
	var e Error
	_ = json.Unmarshal(w.Body.Bytes(), &e)
	if w.Code != 409 || e.Code != 900300 || e.Description != "dup" {
		t.Errorf("got %d %s", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	Respond(w, nil, errors.New("db down"))
	if w.Code != 500 || json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Code != 900967 {
		t.Errorf("got %d %s", w.Code, w.Body)
	}
}
