package revocation

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyway/keyway/internal/contracttest"
	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/db/dbtest"
	"github.com/keyway/keyway/internal/events"
	"github.com/keyway/keyway/internal/runtime"
	"github.com/keyway/keyway/internal/user"
)

type admin struct{}

func (admin) Authenticate(_ context.Context, u, p, _ string) (*user.User, error) {
	switch {
	case u == "admin" && p == "admin":
		return &user.User{Username: u, Roles: []string{"admin"}}, nil
	case u == "subscriber" && p == "admin":
		return &user.User{Username: u, Roles: []string{"Internal/subscriber"}}, nil
	}
	return nil, user.ErrInvalidCredentials
}

type recorder struct {
	mu  sync.Mutex
	evs []events.Event
}

func (r *recorder) add(e events.Event) { r.mu.Lock(); r.evs = append(r.evs, e); r.mu.Unlock() }
func (r *recorder) all() []events.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]events.Event(nil), r.evs...)
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newService(t *testing.T, d *db.DB) (*Service, *httptest.Server, *recorder) {
	t.Helper()
	bus := events.NewLocal()
	rec := &recorder{}
	bus.Subscribe(rec.add)
	s, err := NewService(context.Background(), d, bus, admin{}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	mux := http.NewServeMux()
	s.Mount(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return s, srv, rec
}

func post(t *testing.T, url, user, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/internal/data/v1/notify", strings.NewReader(body))
	if user != "" {
		req.SetBasicAuth(user, "admin")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-WSO2-KEY-MANAGER", "WSO2-IS")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func event(id, token, typ string, exp int64) string {
	b, _ := json.Marshal(map[string]any{"accessToken": token, "expiryTime": exp, "user": "admin", "consumerKey": "ck",
		"tokenType": typ, "eventId": id, "timeStamp": time.Now().UnixMilli(), "type": "token_revocation",
		"tenantId": -1234, "tenantDomain": "carbon.super", "properties": map[string]any{}})
	return string(b)
}

func TestNotify(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, d *db.DB) {
		s, srv, rec := newService(t, d)
		future := time.Now().Add(time.Hour).UnixMilli()
		cases := []struct {
			name   string
			user   string
			body   string
			status int
			body2  string
			events int
		}{
			{"no credentials", "", event("e0", "jti-0", "JWT", future), 401, "", 0},
			{"wrong credentials", "mallory", event("e0", "jti-0", "JWT", future), 401, "", 0},
			{"jwt revocation", "admin", event("e1", "jti-1", "JWT", future), 200, "", 1},
			{"duplicate event id", "admin", event("e1", "jti-1", "JWT", future), 200, "", 1},
			{"opaque revocation", "admin", event("e2", "opaque-secret", "Default", future), 200, "", 2},
			{"blank token type", "admin", event("e3", "jti-3", "", 0), 200, "", 3},
			{"broken json", "admin", `{"type":"token_revocation",`, 500, `"Message"`, 3},
			{"no access token", "admin", `{"type":"token_revocation","eventId":"e4"}`, 500, `"Message"`, 3},
			{"unknown event", "admin", `{"type":"something_else"}`, 200, "", 3},
			{"subject entity", "admin", `{"type":"subject_entity_revocation_event","entityId":"u"}`, 200, "", 3},
			{"consumer app", "admin", `{"type":"consumer_app_revocation_event","consumerKey":"ck","revocationTime":5,"eventId":"e5"}`, 200, "", 4},
		}
		for _, c := range cases {
			status, body := post(t, srv.URL, c.user, c.body)
			if status != c.status {
				t.Errorf("%s: status %d, want %d (%s)", c.name, status, c.status, body)
			}
			if c.status == 200 && body != "" {
				t.Errorf("%s: 200 with body %q, want empty", c.name, body)
			}
			if c.body2 != "" && !strings.Contains(body, c.body2) {
				t.Errorf("%s: body %s lacks %s", c.name, body, c.body2)
			}
			if n := len(rec.all()); n != c.events {
				t.Errorf("%s: %d events published, want %d", c.name, n, c.events)
			}
		}
		evs := rec.all()
		var rt runtime.RevokedToken
		_ = json.Unmarshal(evs[0].Payload, &rt)
		if evs[0].Type != events.TokenRevoked || evs[0].ID != "e1" || rt.Token != "jti-1" || rt.ExpiryMillis != future {
			t.Errorf("first event %+v payload %+v", evs[0], rt)
		}
		_ = json.Unmarshal(evs[1].Payload, &rt)
		if rt.Token != HashOpaque("opaque-secret") {
			t.Errorf("opaque revocation published as %q, want its hash", rt.Token)
		}
		if evs[3].Type != events.ConsumerKeyRevoked {
			t.Errorf("consumer app event type %s", evs[3].Type)
		}
		list, err := s.List(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 3 {
			t.Fatalf("persisted %d revocations, want 3: %+v", len(list), list)
		}
		for _, r := range list {
			if r.Token == "opaque-secret" {
				t.Error("opaque token stored in clear")
			}
		}
	})
}

func TestRevokedJWTContractAndPrune(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, d *db.DB) {
		s, srv, _ := newService(t, d)
		post(t, srv.URL, "admin", event("live", "jti-live", "JWT", time.Now().Add(time.Hour).UnixMilli()))
		post(t, srv.URL, "admin", event("old", "jti-old", "JWT", time.Now().Add(time.Hour).UnixMilli()))
		// Move one expiry into the past, then prune.
		if _, err := d.ExecContext(context.Background(), `UPDATE gw_revoked_tokens SET expiry_ms = ? WHERE event_id = ?`, time.Now().Add(-time.Minute).UnixMilli(), "old"); err != nil {
			t.Fatal(err)
		}
		c := contracttest.Load(t, "internal-api.yaml")
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/internal/data/v1/revokedjwt", nil)
		req.SetBasicAuth("admin", "admin")
		resp, body := c.Do(t, http.DefaultClient, req)
		if resp.StatusCode != 200 {
			t.Fatalf("revokedjwt: %d %s", resp.StatusCode, body)
		}
		var out struct {
			List []struct {
				Sig    string `json:"jwt_signature"`
				Expiry int64  `json:"expiry_time"`
			} `json:"revokedJWTList"`
		}
		_ = json.Unmarshal(body, &out)
		if len(out.List) != 1 || out.List[0].Sig != "jti-live" {
			t.Fatalf("revokedjwt list %s", body)
		}
		n, err := s.store.prune(context.Background(), time.Now().UnixMilli())
		if err != nil || n != 1 {
			t.Fatalf("pruned %d, %v", n, err)
		}
		req, _ = http.NewRequest(http.MethodGet, srv.URL+"/internal/data/v1/revokedjwt", nil)
		if resp, _ := c.Do(t, http.DefaultClient, req); resp.StatusCode != 401 {
			t.Fatalf("unauthenticated revokedjwt: %d", resp.StatusCode)
		}
	})
}

func TestSet(t *testing.T) {
	s := NewSet()
	now := time.Now()
	s.Add(runtime.RevokedToken{Token: "a", ExpiryMillis: now.Add(time.Hour).UnixMilli()},
		runtime.RevokedToken{Token: "gone", ExpiryMillis: now.Add(-time.Hour).UnixMilli()},
		runtime.RevokedToken{Token: "forever"})
	if !s.Revoked("a") || s.Revoked("gone") || !s.Revoked("forever") || s.Revoked("b") {
		t.Fatal("membership wrong")
	}
	s.now = func() time.Time { return now.Add(2 * time.Hour) }
	if s.Revoked("a") {
		t.Fatal("an expired revocation still applies")
	}
	s.Add(runtime.RevokedToken{Token: "c", ExpiryMillis: now.Add(3 * time.Hour).UnixMilli()})
	if s.Len() != 2 {
		t.Fatalf("expired entries not pruned on write: %d", s.Len())
	}
	s.AddConsumerKey("ck", 5000)
	if !s.ClientRevoked("ck", 4) || s.ClientRevoked("ck", 6) || s.ClientRevoked("other", 1) {
		t.Fatal("consumer key revocation wrong")
	}
}

func BenchmarkSetRevoked(b *testing.B) {
	s := NewSet()
	s.Add(runtime.RevokedToken{Token: "x", ExpiryMillis: time.Now().Add(time.Hour).UnixMilli()})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if s.Revoked("not-revoked-jti") {
				b.Fatal("wrong")
			}
		}
	})
}

// TestNotifyRequiresRole: with a required role, an authenticated user
// without it is refused (403) and nothing is stored or published.
func TestNotifyRequiresRole(t *testing.T) {
	s, srv, rec := newService(t, dbtest.SQLite(t))
	s.RequireRole("admin")
	future := time.Now().Add(time.Hour).UnixMilli()
	if code, body := post(t, srv.URL, "subscriber", event("e-role-1", "jti-role", "JWT", future)); code != http.StatusForbidden || !strings.Contains(body, "900910") {
		t.Fatalf("subscriber: %d %s, want 403", code, body)
	}
	if list, err := s.List(context.Background()); err != nil || len(list) != 0 {
		t.Fatalf("refused notification stored %v (%v)", list, err)
	}
	if len(rec.all()) != 0 {
		t.Fatalf("refused notification published %v", rec.all())
	}
	if code, body := post(t, srv.URL, "admin", event("e-role-2", "jti-role", "JWT", future)); code != http.StatusOK {
		t.Fatalf("admin: %d %s", code, body)
	}
	if code, _ := post(t, srv.URL, "", event("e-role-3", "jti-role2", "JWT", future)); code != http.StatusUnauthorized {
		t.Fatalf("anonymous: %d, want 401", code)
	}
}
