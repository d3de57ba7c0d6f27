package authz

import (
	"testing"

	"github.com/keyway/keyway/internal/gateway/authn"
	"github.com/keyway/keyway/internal/gateway/snapshot"
	"github.com/keyway/keyway/internal/runtime"
)

func TestAuthorize(t *testing.T) {
	snap, err := snapshot.Compile(&runtime.Snapshot{
		APIs: []runtime.API{{UUID: "api", Name: "A", Version: "v1", Context: "/a",
			Resources: []runtime.Resource{{Verb: "GET", URITemplate: "/open"}, {Verb: "GET", URITemplate: "/scoped", Scopes: []string{"s1", "s2"}}},
			Endpoints: runtime.EndpointConfig{Production: []runtime.Endpoint{{URL: "http://prod"}}}}},
		Applications: []runtime.Application{{UUID: "app", Owner: "owner"}, {UUID: "blocked"}, {UUID: "held"}, {UUID: "prodblocked"}},
		KeyMappings: []runtime.KeyMapping{
			{ConsumerKey: "ck", KeyManager: "KM", ApplicationUUID: "app", KeyType: "PRODUCTION"},
			{ConsumerKey: "sb", KeyManager: "KM", ApplicationUUID: "app", KeyType: "SANDBOX"},
			{ConsumerKey: "orphan", KeyManager: "KM", ApplicationUUID: "nope", KeyType: "PRODUCTION"},
			{ConsumerKey: "bl", KeyManager: "KM", ApplicationUUID: "blocked", KeyType: "PRODUCTION"},
			{ConsumerKey: "oh", KeyManager: "KM", ApplicationUUID: "held", KeyType: "PRODUCTION"},
			{ConsumerKey: "pb", KeyManager: "KM", ApplicationUUID: "prodblocked", KeyType: "PRODUCTION"},
		},
		Subscriptions: []runtime.Subscription{
			{APIUUID: "api", ApplicationUUID: "app", Status: "UNBLOCKED"}, {APIUUID: "api", ApplicationUUID: "blocked", Status: "BLOCKED"},
			{APIUUID: "api", ApplicationUUID: "held", Status: "ON_HOLD"}, {APIUUID: "api", ApplicationUUID: "prodblocked", Status: "PROD_ONLY_BLOCKED"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	api := snap.APIs[0]
	open, scoped := api.Resources[0], api.Resources[1]
	tok := func(ck string, scopes ...string) *authn.Principal {
		return &authn.Principal{Kind: authn.KindJWT, KeyManager: "KM", ConsumerKey: ck, Scopes: scopes, Subject: "bob", User: "bob@carbon.super"}
	}
	cases := []struct {
		name  string
		p     *authn.Principal
		res   *snapshot.Resource
		fault int
	}{
		{"ok", tok("ck"), open, 0},
		{"scope ok", tok("ck", "s2"), scoped, 0},
		{"scope missing", tok("ck", "other"), scoped, 900910},
		{"no consumer key", tok(""), open, 900908},
		{"other key manager", &authn.Principal{KeyManager: "KM2", ConsumerKey: "ck"}, open, 900908},
		{"no application", tok("orphan"), open, 900908},
		{"blocked", tok("bl"), open, 900907},
		{"on hold", tok("oh"), open, 900908},
		{"prod only blocked", tok("pb"), open, 900907},
		{"sandbox without endpoint", tok("sb"), open, 900901},
		{"api key", &authn.Principal{Kind: authn.KindAPIKey, APIKey: &authn.APIKey{ApplicationUUID: "app", KeyType: "PRODUCTION"}}, open, 0},
		{"api key restricted", &authn.Principal{Kind: authn.KindAPIKey, APIKey: &authn.APIKey{ApplicationUUID: "app", KeyType: "PRODUCTION", AllowedAPIs: []string{"x"}}}, open, 900908},
	}
	for _, c := range cases {
		d, f := Authorize(snap, api, c.res, c.p)
		switch {
		case c.fault == 0 && f != nil:
			t.Errorf("%s: %v", c.name, f)
		case c.fault != 0 && (f == nil || f.Code != c.fault):
			t.Errorf("%s: fault %v, want %d", c.name, f, c.fault)
		case c.fault == 0 && (d.Upstream != api.Production || d.KeyType != "PRODUCTION"):
			t.Errorf("%s: decision %+v", c.name, d)
		}
	}
	app := snap.Application("app")
	if EndUser(&authn.Principal{ApplicationToken: true}, app) != "owner" || EndUser(tok("ck"), app) != "bob@carbon.super" {
		t.Error("end user")
	}
}
