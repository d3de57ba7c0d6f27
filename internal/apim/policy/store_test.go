package policy

import (
	"context"
	"errors"
	"testing"

	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/db/dbtest"
	"github.com/keyway/keyway/internal/events"
)

func TestStoreDefaultsAndCRUD(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		bus := events.NewLocal()
		var got []events.Event
		bus.Subscribe(func(e events.Event) { got = append(got, e) })
		s, err := New(ctx, d, bus)
		if err != nil {
			t.Fatal(err)
		}
		// A second start must not seed twice.
		if _, err := New(ctx, d, bus); err != nil {
			t.Fatal(err)
		}
		subs, err := s.List(ctx, Subscription)
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]int64{}
		for _, p := range subs {
			names[p.Name] = p.RequestCount
		}
		want := map[string]int64{"Gold": 5000, "Silver": 2000, "Bronze": 1000, "Unauthenticated": 500, "Unlimited": UnlimitedCount}
		if len(names) != len(want) {
			t.Fatalf("subscription tiers = %v", names)
		}
		for n, c := range want {
			if names[n] != c {
				t.Errorf("%s = %d, want %d", n, names[n], c)
			}
		}
		for level, n := range map[Level]int{Application: 4, Advanced: 4} {
			ps, _ := s.List(ctx, level)
			if len(ps) != n {
				t.Errorf("%s tiers: %d, want %d", level, len(ps), n)
			}
		}

		p := &Policy{Level: Subscription, Name: "Platinum", RequestCount: 9000, UnitTime: 1, TimeUnit: "m", RateLimitCount: 10, RateLimitTimeUnit: "sec"}
		if err := s.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		if p.TimeUnit != "min" || p.BillingPlan != "FREE" {
			t.Errorf("normalised = %s %s", p.TimeUnit, p.BillingPlan)
		}
		dup := &Policy{Level: Subscription, Name: "Platinum", RequestCount: 1, UnitTime: 1, TimeUnit: "min"}
		if err := s.Create(ctx, dup); !errors.Is(err, ErrConflict) {
			t.Fatalf("duplicate: %v", err)
		}
		upd := &Policy{ID: p.ID, Level: Subscription, RequestCount: 7000, UnitTime: 2, TimeUnit: "hour"}
		if err := s.Update(ctx, upd); err != nil {
			t.Fatal(err)
		}
		back, err := s.GetByName(ctx, Subscription, "Platinum")
		if err != nil || back.RequestCount != 7000 || back.TimeUnit != "hour" || back.ID != p.ID {
			t.Fatalf("after update: %+v %v", back, err)
		}
		if err := s.Update(ctx, &Policy{ID: p.ID, Level: Subscription, Name: "Other", RequestCount: 1, UnitTime: 1, TimeUnit: "min"}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("rename: %v", err)
		}
		inUse := func(context.Context, *Policy) (bool, error) { return true, nil }
		if err := s.Delete(ctx, Subscription, p.ID, inUse); !errors.Is(err, ErrInUse) {
			t.Fatalf("delete in use: %v", err)
		}
		if err := s.Delete(ctx, Subscription, p.ID, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, Subscription, p.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("after delete: %v", err)
		}
		if len(got) != 3 || got[0].Type != events.PolicyChanged {
			t.Errorf("events = %v", got)
		}
		sp, ap, adv, err := s.Runtime(ctx)
		if err != nil || len(sp) != 5 || len(ap) != 4 || len(adv) != 4 {
			t.Fatalf("runtime: %d %d %d %v", len(sp), len(ap), len(adv), err)
		}
	})
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		p    Policy
	}{
		{"level", Policy{Level: "x", Name: "a", RequestCount: 1, UnitTime: 1, TimeUnit: "min"}},
		{"name", Policy{Level: Application, Name: "", RequestCount: 1, UnitTime: 1, TimeUnit: "min"}},
		{"space", Policy{Level: Application, Name: "a b", RequestCount: 1, UnitTime: 1, TimeUnit: "min"}},
		{"count", Policy{Level: Application, Name: "a", RequestCount: 0, UnitTime: 1, TimeUnit: "min"}},
		{"unit", Policy{Level: Application, Name: "a", RequestCount: 1, UnitTime: 1, TimeUnit: "fortnight"}},
		{"unitTime", Policy{Level: Application, Name: "a", RequestCount: 1, UnitTime: 0, TimeUnit: "min"}},
		{"bandwidth", Policy{Level: Advanced, Name: "a", LimitType: BandwidthLimit, DataAmount: 1, DataUnit: "TB", UnitTime: 1, TimeUnit: "min"}},
		{"burst", Policy{Level: Subscription, Name: "a", RequestCount: 1, UnitTime: 1, TimeUnit: "min", RateLimitCount: 2, RateLimitTimeUnit: "day"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.p.Validate(); !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}
