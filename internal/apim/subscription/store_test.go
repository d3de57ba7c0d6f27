package subscription

import (
	"context"
	"errors"
	"testing"

	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/db/dbtest"
	"github.com/keyway/keyway/internal/events"
)

func TestStore(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		bus := events.NewLocal()
		var types []string
		bus.Subscribe(func(e events.Event) { types = append(types, e.Type) })
		s, err := New(ctx, d, bus)
		if err != nil {
			t.Fatal(err)
		}
		app := &Application{Name: "MyApp", Owner: "alice", ThrottlingPolicy: "Unlimited", Attributes: map[string]string{"a": "b"}}
		if err := s.CreateApplication(ctx, app); err != nil {
			t.Fatal(err)
		}
		if app.ID <= 0 || app.UUID == "" || app.TokenType != "JWT" {
			t.Fatalf("created = %+v", app)
		}
		if err := s.CreateApplication(ctx, &Application{Name: "MyApp", Owner: "alice", ThrottlingPolicy: "Unlimited"}); !errors.Is(err, ErrConflict) {
			t.Fatalf("duplicate: %v", err)
		}
		if err := s.CreateApplication(ctx, &Application{Name: "MyApp", Owner: "bob", ThrottlingPolicy: "10PerMin"}); err != nil {
			t.Fatalf("same name other owner: %v", err)
		}
		for _, bad := range []*Application{
			{Name: "", Owner: "alice", ThrottlingPolicy: "x"},
			{Name: "n", Owner: "alice", ThrottlingPolicy: ""},
			{Name: "n", Owner: "alice", ThrottlingPolicy: "x", TokenType: "SAML"},
		} {
			if err := s.CreateApplication(ctx, bad); !errors.Is(err, ErrInvalid) {
				t.Errorf("%+v: %v", bad, err)
			}
		}
		list, total, err := s.ListApplications(ctx, ApplicationQuery{Owner: "alice"})
		if err != nil || total != 1 || len(list) != 1 || list[0].Attributes["a"] != "b" {
			t.Fatalf("list = %v %d %v", list, total, err)
		}
		list, total, _ = s.ListApplications(ctx, ApplicationQuery{Name: "myap", Limit: 1})
		if total != 2 || len(list) != 1 {
			t.Fatalf("substring page = %d %d", len(list), total)
		}
		app.Description = "changed"
		app.Name = "Renamed"
		if err := s.UpdateApplication(ctx, app); err != nil {
			t.Fatal(err)
		}
		back, _ := s.GetApplication(ctx, app.UUID)
		if back.Name != "Renamed" || back.Description != "changed" || back.Owner != "alice" {
			t.Fatalf("updated = %+v", back)
		}

		sub := &Subscription{ApplicationUUID: app.UUID, APIUUID: "api-1", Policy: "Gold"}
		if err := s.CreateSubscription(ctx, sub); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateSubscription(ctx, &Subscription{ApplicationUUID: app.UUID, APIUUID: "api-1", Policy: "Gold"}); !errors.Is(err, ErrConflict) {
			t.Fatalf("duplicate subscription: %v", err)
		}
		if err := s.SetSubscriptionStatus(ctx, sub.UUID, Blocked); err != nil {
			t.Fatal(err)
		}
		if err := s.SetSubscriptionStatus(ctx, sub.UUID, "LOST"); !errors.Is(err, ErrInvalid) {
			t.Fatalf("bad status: %v", err)
		}
		subs, n, _ := s.ListSubscriptions(ctx, SubscriptionQuery{APIUUID: "api-1", Owner: "alice"})
		if n != 1 || subs[0].Status != Blocked {
			t.Fatalf("subs = %+v", subs)
		}
		if used, _ := s.SubscriptionPolicyInUse(ctx, "Gold"); !used {
			t.Error("Gold should be in use")
		}

		k := &KeyMapping{ApplicationUUID: app.UUID, KeyType: Production, KeyManager: "Resident Key Manager", KeyManagerID: "km", ConsumerKey: "ck1",
			GrantTypes: []string{"client_credentials"}}
		if err := s.CreateKeyMapping(ctx, k); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateKeyMapping(ctx, &KeyMapping{ApplicationUUID: app.UUID, KeyType: Production, KeyManager: "Resident Key Manager", ConsumerKey: "ck2"}); !errors.Is(err, ErrConflict) {
			t.Fatalf("duplicate key slot: %v", err)
		}
		if err := s.CreateKeyMapping(ctx, &KeyMapping{ApplicationUUID: app.UUID, KeyType: "DEV", KeyManager: "x", ConsumerKey: "ck3"}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("bad key type: %v", err)
		}
		got, err := s.KeyMappingByConsumerKey(ctx, "Resident Key Manager", "ck1")
		if err != nil || got.UUID != k.UUID || got.GrantTypes[0] != "client_credentials" {
			t.Fatalf("by consumer key = %+v %v", got, err)
		}
		apps, keys, rsubs, err := s.Runtime(ctx)
		if err != nil || len(apps) != 2 || len(keys) != 1 || len(rsubs) != 1 {
			t.Fatalf("runtime = %d %d %d %v", len(apps), len(keys), len(rsubs), err)
		}
		if keys[0].ApplicationID != app.ID || rsubs[0].Status != Blocked {
			t.Errorf("runtime key/sub = %+v %+v", keys[0], rsubs[0])
		}
		if err := s.DeleteApplication(ctx, app.UUID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetKeyMapping(ctx, k.UUID); !errors.Is(err, ErrNotFound) {
			t.Errorf("key mapping survived: %v", err)
		}
		if _, err := s.GetSubscription(ctx, sub.UUID); !errors.Is(err, ErrNotFound) {
			t.Errorf("subscription survived: %v", err)
		}
		if len(types) < 7 || types[len(types)-1] != events.ApplicationDeleted {
			t.Errorf("events = %v", types)
		}
	})
}
