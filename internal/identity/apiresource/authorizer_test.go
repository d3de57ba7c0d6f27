package apiresource

import (
	"context"
	"slices"
	"testing"

	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/db/dbtest"
	it "github.com/keyway/keyway/internal/identity/identitytest"
	"github.com/keyway/keyway/internal/oauth"
	"github.com/keyway/keyway/internal/user"
)

func TestAuthorizer(t *testing.T) {
	ctx := context.Background()
	d := dbtest.SQLite(t)
	users := it.NewUsers(t, d)
	store, err := NewStore(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate := func(r *Resource) {
		if err := store.CreateResource(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	mustCreate(&Resource{Name: "Orders", Identifier: "orders", RequiresAuthorization: true, Scopes: []Scope{{Name: "orders:read"}, {Name: "orders:write"}}})
	mustCreate(&Resource{Name: "Open", Identifier: "open", RequiresAuthorization: false, Scopes: []Scope{{Name: "open:read"}}})

	plain, _ := users.GetUserByName(ctx, it.UserName)
	admin, _ := users.GetUserByName(ctx, it.AdminName)
	reader := &user.Role{Name: "order-reader", Permissions: []string{"orders:read", "internal_user_mgt_view"}, Users: []string{plain.ID}}
	if err := users.CreateRole(ctx, reader); err != nil {
		t.Fatal(err)
	}
	appRole := &user.Role{Name: "app-writer", AudienceType: user.AudienceApplication, AudienceValue: "app-aud", Permissions: []string{"orders:write"}, Users: []string{plain.ID}}
	if err := users.CreateRole(ctx, appRole); err != nil {
		t.Fatal(err)
	}

	client := &oauth.Client{ID: "c1", Owner: it.AdminName}
	appAud := &oauth.Client{ID: "app-aud", Extra: map[string]any{ExtAllowedAudience: "application"}}
	firstParty := &oauth.Client{ID: "console", FirstParty: true}
	plainOwned := &oauth.Client{ID: "c2", Owner: it.UserName}
	req := []string{"openid", "orders:read", "orders:write", "open:read", "unknown", "internal_user_mgt_view", "internal_dcr_create", "orders:read"}

	cases := []struct {
		name   string
		all    bool
		client *oauth.Client
		user   *user.User
		want   []string
	}{
		{"user, role-bound scopes only", false, client, plain, []string{"openid", "open:read"}},
		{"user, authorize_all", true, client, plain, []string{"openid", "orders:read", "open:read", "internal_user_mgt_view"}},
		{"user, application audience", true, appAud, plain, []string{"openid", "orders:write", "open:read"}},
		{"admin user, authorize_all", true, client, admin, []string{"openid", "orders:read", "orders:write", "open:read", "internal_user_mgt_view", "internal_dcr_create"}},
		{"admin user, first-party client", false, firstParty, admin, []string{"openid", "orders:read", "orders:write", "open:read", "internal_user_mgt_view", "internal_dcr_create"}},
		{"app token, no authorization", false, client, nil, []string{"openid", "open:read"}},
		{"app token, authorize_all, admin owner", true, client, nil, []string{"openid", "orders:read", "orders:write", "open:read", "internal_user_mgt_view", "internal_dcr_create"}},
		{"app token, authorize_all, plain owner", true, plainOwned, nil, []string{"openid", "orders:read", "orders:write", "open:read", "internal_user_mgt_view"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAuthorizer(store, users, tc.all, it.AdminRole)
			got, err := a.AuthorizeScopes(ctx, tc.client, tc.user, req)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	if got, err := NewAuthorizer(store, users, true, "").AuthorizeScopes(ctx, client, nil, nil); err != nil || len(got) != 0 || got == nil {
		t.Fatalf("no scopes requested: %v %v", got, err)
	}
}

func TestStoreSurvivesRestart(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, err := NewStore(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		r := &Resource{Name: "Greetings", Identifier: "greetings", Description: "hello", RequiresAuthorization: true,
			Scopes: []Scope{{Name: "greet:read", DisplayName: "Read", Description: "read"}, {Name: "greet_50%"}}}
		if err := s.CreateResource(ctx, r); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateResource(ctx, &Resource{Name: "Dup", Identifier: "greetings"}); err == nil {
			t.Fatal("duplicate identifier accepted")
		}
		if err := s.CreateScope(ctx, &Scope{Name: "legacy", DisplayName: "Legacy", Bindings: []string{"r1"}}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateScope(ctx, &Scope{Name: "greet:read", DisplayName: "x"}); err == nil {
			t.Fatal("duplicate scope accepted")
		}
		s2, err := NewStore(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s2.GetResource(ctx, r.ID)
		if err != nil || got.Description != "hello" || len(got.Scopes) != 2 || got.Scopes[1].Name != "greet_50%" {
			t.Fatalf("after restart: %+v %v", got, err)
		}
		list, total, _, err := s2.ListResources(ctx, ListOptions{Attribute: "identifier", Op: "sw", Value: "greet"})
		if err != nil || total != 1 || len(list) != 1 {
			t.Fatalf("list: %d %v", total, err)
		}
		if _, total, _, _ = s2.ListResources(ctx, ListOptions{Attribute: "name", Op: "co", Value: "%"}); total != 0 {
			t.Fatalf("%% matched as a wildcard: %d", total)
		}
		scopes, err := s2.AllScopes(ctx, "co", "50%")
		if err != nil || len(scopes) != 1 {
			t.Fatalf("scope filter: %+v %v", scopes, err)
		}
		leg, err := s2.GetScope(ctx, "legacy")
		if err != nil || !slices.Equal(leg.Bindings, []string{"r1"}) || leg.ResourceID != "" || !leg.RequiresAuthorization {
			t.Fatalf("legacy scope: %+v %v", leg, err)
		}
		known, err := s2.Lookup(ctx, []string{"greet:read", "legacy", "nope"})
		if err != nil || len(known) != 2 || !known["greet:read"].RequiresAuthorization {
			t.Fatalf("lookup: %+v %v", known, err)
		}
	})
}
