package keymanager

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/db/dbtest"
	"github.com/keyway/keyway/internal/events"
	"github.com/keyway/keyway/internal/secret"
)

func newService(t *testing.T, d *db.DB, client *http.Client) (*Service, *[]events.Event) {
	t.Helper()
	sealer, err := secret.NewSealerFromKey(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	bus := events.NewLocal()
	var got []events.Event
	bus.Subscribe(func(e events.Event) { got = append(got, e) })
	s, err := New(context.Background(), d, Options{Sealer: sealer, HTTPClient: client, Bus: bus,
		InUse: func(_ context.Context, name string) (bool, error) { return name == "Busy", nil }})
	if err != nil {
		t.Fatal(err)
	}
	return s, &got
}

func TestServiceStorage(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, evs := newService(t, d, http.DefaultClient)
		c := is7Config("https://is.example:9443", true)
		c.Certificates = &Certificates{Type: "JWKS", Value: "https://is.example:9443/oauth2/jwks"}
		c.Issuer = "https://is.example:9443/oauth2/token"
		if err := s.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
		if c.ID == "" || c.AdditionalProperties["Password"] != Masked || c.ConsumerKeyClaim != "azp" || c.TokenType != "DIRECT" {
			t.Fatalf("created = %+v", c)
		}
		var raw string
		if err := d.QueryRowContext(ctx, `SELECT config FROM apim_key_manager WHERE uuid = ?`, c.ID).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(raw, "s3cret") {
			t.Fatal("the connector password is stored in plaintext")
		}
		if err := s.Create(ctx, is7Config("https://is.example:9443", true)); !errors.Is(err, ErrConflict) {
			t.Fatalf("duplicate: %v", err)
		}
		bad := is7Config("https://is.example:9443", true)
		bad.Name = "Other"
		delete(bad.AdditionalProperties, "Username")
		if err := s.Create(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Fatalf("missing username: %v", err)
		}
		for _, mut := range []func(*Config){
			func(c *Config) { c.Type = "Nope" },
			func(c *Config) { c.Name = "" },
			func(c *Config) { c.TokenEndpoint = "not a url" },
			func(c *Config) { c.Certificates = &Certificates{Type: "X509", Value: "x"} },
		} {
			b := is7Config("https://is.example:9443", false)
			b.Name = "Bad"
			mut(b)
			if err := s.Create(ctx, b); !errors.Is(err, ErrInvalid) {
				t.Errorf("invalid config accepted: %v", err)
			}
		}
		list, _ := s.List(ctx)
		if len(list) != 1 {
			t.Fatalf("stored = %d", len(list))
		}

		upd, _ := s.Get(ctx, c.ID)
		upd.Description = "IS seven"
		if err := s.Update(ctx, upd); err != nil {
			t.Fatal(err)
		}
		conn, cfg, err := s.Connector(ctx, "IS7")
		if err != nil || cfg.Description != "IS seven" {
			t.Fatalf("connector: %v %+v", err, cfg)
		}
		if conn.(*IS7).password != "s3cret" {
			t.Error("a masked password on update must keep the stored one")
		}
		rename, _ := s.Get(ctx, c.ID)
		rename.Name = "Renamed"
		if err := s.Update(ctx, rename); !errors.Is(err, ErrInvalid) {
			t.Errorf("rename: %v", err)
		}
		rt, err := s.Runtime(ctx)
		if err != nil || len(rt) != 1 {
			t.Fatal(err)
		}
		if rt[0].JWKSURL != "https://is.example:9443/oauth2/jwks" || rt[0].IntrospectionPassword != "s3cret" || !rt[0].ValidateJWT ||
			!rt[0].ValidateOpaque || rt[0].ConsumerKeyClaim != "azp" || rt[0].ScopesClaim != "scope" {
			t.Errorf("runtime = %+v", rt[0])
		}
		if err := s.Delete(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, c.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("after delete: %v", err)
		}
		if len(*evs) != 3 || (*evs)[0].Type != events.KeyManagerChanged {
			t.Errorf("events = %d", len(*evs))
		}
	})
}

func TestServiceDeleteGuards(t *testing.T) {
	ctx := context.Background()
	s, _ := newService(t, dbtest.SQLite(t), http.DefaultClient)
	s.SetFactory(TypeResident, func(*Config, *http.Client) (Connector, error) { return nil, nil })
	res := &Config{Name: ResidentName, Type: TypeResident, Enabled: true}
	if err := s.EnsureResident(ctx, res); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureResident(ctx, &Config{Name: ResidentName, Type: TypeResident, Enabled: true, Issuer: "https://new/oauth2/token",
		TokenEndpoint: "https://new/oauth2/token"}); err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetByName(ctx, ResidentName)
	if got.Issuer != "https://new/oauth2/token" || got.ID != res.ID {
		t.Errorf("resident after restart = %+v", got)
	}
	if err := s.Delete(ctx, res.ID); !errors.Is(err, ErrInvalid) {
		t.Errorf("delete resident: %v", err)
	}
	busy := is7Config("https://is.example", false)
	busy.Name = "Busy"
	if err := s.Create(ctx, busy); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, busy.ID); !errors.Is(err, ErrInvalid) {
		t.Errorf("delete in use: %v", err)
	}
}

func TestDiscover(t *testing.T) {
	var base string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth2/token/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": base + "/oauth2/token", "token_endpoint": base + "/oauth2/token",
			"authorization_endpoint": base + "/oauth2/authorize", "jwks_uri": base + "/oauth2/jwks",
			"registration_endpoint": base + "/api/identity/oauth2/dcr/v1.1/register", "revocation_endpoint": base + "/oauth2/revoke",
			"introspection_endpoint": base + "/oauth2/introspect", "userinfo_endpoint": base + "/oauth2/userinfo",
			"grant_types_supported": []string{"client_credentials", "password"}})
	}))
	defer srv.Close()
	base = srv.URL
	s, _ := newService(t, dbtest.SQLite(t), srv.Client())
	cfg, ok := s.Discover(context.Background(), srv.URL+"/oauth2/token/.well-known/openid-configuration", TypeWSO2IS7)
	if !ok {
		t.Fatal("discovery failed")
	}
	if cfg.Issuer != base+"/oauth2/token" || cfg.Certificates.Value != base+"/oauth2/jwks" || len(cfg.AvailableGrantTypes) != 2 ||
		!cfg.EnableOAuthAppCreation || !cfg.EnableSelfValidationJWT || cfg.Prop("is7_roles_endpoint") != base+"/scim2/v2/Roles" {
		t.Errorf("discovered = %+v", cfg)
	}
	if _, ok := s.Discover(context.Background(), srv.URL+"/missing", TypeOIDC); ok {
		t.Error("a failing discovery must report !ok")
	}
	// The plain default client does not trust the test server: verification is on.
	s2, _ := newService(t, dbtest.SQLite(t), http.DefaultClient)
	if _, ok := s2.Discover(context.Background(), srv.URL+"/oauth2/token/.well-known/openid-configuration", TypeOIDC); ok {
		t.Error("an untrusted certificate must fail discovery")
	}
}
