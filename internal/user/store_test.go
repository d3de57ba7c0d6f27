package user

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/db/dbtest"
)

// fastHash keeps the tests quick; production uses DefaultArgon2.
var fastHash = Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newStore(t *testing.T, d *db.DB, clock *fakeClock) *Store {
	t.Helper()
	opts := StoreOptions{Argon2: fastHash}
	if clock != nil {
		opts.Now = clock.Now
	}
	s, err := NewStore(context.Background(), d, opts)
	if err != nil {
		t.Fatalf("NewStore: %v", err)
	}
	return s
}

func TestPasswordHashes(t *testing.T) {
	h, err := HashPassword("s3cret!", DefaultArgon2)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not argon2id with OWASP parameters", h)
	}
	if ok, rehash, err := VerifyPassword(h, "s3cret!", DefaultArgon2); !ok || rehash || err != nil {
		t.Fatalf("verify good password: ok=%v rehash=%v err=%v", ok, rehash, err)
	}
	if ok, _, _ := VerifyPassword(h, "s3cret?", DefaultArgon2); ok {
		t.Fatal("wrong password verified")
	}
	if _, rehash, _ := VerifyPassword(h, "s3cret!", fastHash); !rehash {
		t.Fatal("different parameters should ask for a rehash")
	}
	p, err := HashPasswordPBKDF2("pbkdf2 pass")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p, "$pbkdf2-sha256$i=600000$") {
		t.Fatalf("pbkdf2 hash %q", p)
	}
	if ok, rehash, err := VerifyPassword(p, "pbkdf2 pass", DefaultArgon2); !ok || rehash || err != nil {
		t.Fatalf("verify pbkdf2: ok=%v rehash=%v err=%v", ok, rehash, err)
	}
	for _, bad := range []string{"", "plain", "$argon2id$v=19$m=0,t=2,p=1$AAAA$BBBB", "$md5$x$y$z"} {
		if ok, _, err := VerifyPassword(bad, "x", DefaultArgon2); ok || err == nil {
			t.Errorf("VerifyPassword(%q) = %v, %v; want error", bad, ok, err)
		}
	}
}

func TestUsersRolesGroups(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newStore(t, d, nil)

		alice := &User{Username: "Alice", Email: "Alice@Example.com", GivenName: "Alice", FamilyName: "Liddell", Claims: map[string]string{"country": "UK"}}
		if err := s.CreateUser(ctx, alice, "wonderland"); err != nil {
			t.Fatalf("create alice: %v", err)
		}
		if err := s.CreateUser(ctx, &User{Username: "alice"}, "another1"); !errors.Is(err, ErrConflict) {
			t.Fatalf("duplicate (case-insensitive) user: %v, want ErrConflict", err)
		}
		if err := s.CreateUser(ctx, &User{Username: "short"}, "abc"); !errors.Is(err, ErrInvalid) {
			t.Fatalf("short password: %v, want ErrInvalid", err)
		}
		if err := s.CreateUser(ctx, &User{Username: ""}, "abcdef"); !errors.Is(err, ErrInvalid) {
			t.Fatalf("empty name: %v, want ErrInvalid", err)
		}
		for _, n := range []string{"bob", "bobby", "carol", "50%_off"} {
			if err := s.CreateUser(ctx, &User{Username: n, Email: n + "@example.org"}, "password"); err != nil {
				t.Fatalf("create %s: %v", n, err)
			}
		}
		got, err := s.GetUserByName(ctx, "ALICE")
		if err != nil {
			t.Fatalf("get by name: %v", err)
		}
		if got.ID != alice.ID || got.Email != "Alice@Example.com" || got.Claims["country"] != "UK" || got.PasswordHash == "" {
			t.Fatalf("got %+v", got)
		}

		cases := []struct {
			f     Filter
			names []string
			total int
		}{
			{Filter{}, []string{"50%_off", "Alice", "bob", "bobby", "carol"}, 5},
			{Filter{Attribute: "userName", Op: "eq", Value: "BOB"}, []string{"bob"}, 1},
			{Filter{Attribute: "username", Op: "sw", Value: "bo"}, []string{"bob", "bobby"}, 2},
			{Filter{Attribute: "userName", Op: "co", Value: "ar"}, []string{"carol"}, 1},
			{Filter{Attribute: "userName", Op: "co", Value: "%_"}, []string{"50%_off"}, 1},
			{Filter{Attribute: "userName", Op: "co", Value: "_"}, []string{"50%_off"}, 1},
			{Filter{Attribute: "emails", Op: "eq", Value: "alice@example.com"}, []string{"Alice"}, 1},
			{Filter{Offset: 1, Limit: 2}, []string{"Alice", "bob"}, 5},
			{Filter{Attribute: "userName", Op: "sw", Value: "b", Offset: 1, Limit: 5}, []string{"bobby"}, 2},
		}
		for _, c := range cases {
			us, total, err := s.ListUsers(ctx, c.f)
			if err != nil {
				t.Fatalf("ListUsers(%+v): %v", c.f, err)
			}
			var names []string
			for _, u := range us {
				names = append(names, u.Username)
			}
			if !slices.Equal(names, c.names) || total != c.total {
				t.Errorf("ListUsers(%+v) = %v (total %d), want %v (total %d)", c.f, names, total, c.names, c.total)
			}
		}
		if _, _, err := s.ListUsers(ctx, Filter{Attribute: "password", Op: "eq", Value: "x"}); !errors.Is(err, ErrBadFilter) {
			t.Fatalf("bad attribute: %v", err)
		}
		if _, _, err := s.ListUsers(ctx, Filter{Attribute: "userName", Op: "gt", Value: "x"}); !errors.Is(err, ErrBadFilter) {
			t.Fatalf("bad operator: %v", err)
		}

		bob, _ := s.GetUserByName(ctx, "bob")
		carol, _ := s.GetUserByName(ctx, "carol")
		devs := &Group{Name: "developers", Members: []string{bob.ID}}
		if err := s.CreateGroup(ctx, devs); err != nil {
			t.Fatalf("create group: %v", err)
		}
		if err := s.CreateGroup(ctx, &Group{Name: "Developers"}); !errors.Is(err, ErrConflict) {
			t.Fatalf("duplicate group: %v", err)
		}
		if err := s.CreateGroup(ctx, &Group{Name: "ghosts", Members: []string{"no-such-user"}}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("group with unknown member: %v", err)
		}
		if _, total, _ := s.ListGroups(ctx, Filter{}); total != 1 {
			t.Fatalf("failed group create left a row: total %d", total)
		}

		reader := &Role{Name: "reader", Permissions: []string{"read", "list"}, Users: []string{alice.ID}}
		writer := &Role{Name: "writer", Permissions: []string{"write"}, Groups: []string{devs.ID}}
		appRole := &Role{Name: "reader", AudienceType: AudienceApplication, AudienceValue: "app-1", Permissions: []string{"app:x"}}
		for _, r := range []*Role{reader, writer, appRole} {
			if err := s.CreateRole(ctx, r); err != nil {
				t.Fatalf("create role %s: %v", r.Name, err)
			}
		}
		if err := s.CreateRole(ctx, &Role{Name: "READER"}); !errors.Is(err, ErrConflict) {
			t.Fatalf("duplicate role: %v", err)
		}
		if err := s.CreateRole(ctx, &Role{Name: "x", AudienceType: "tenant"}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("bad audience: %v", err)
		}
		if r, err := s.GetRoleByName(ctx, "Reader"); err != nil || r.ID != reader.ID {
			t.Fatalf("GetRoleByName prefers the organisation role: %v %v", r, err)
		}
		roles, err := s.RolesOf(ctx, bob.ID)
		if err != nil || len(roles) != 1 || roles[0].Name != "writer" || !slices.Equal(roles[0].Permissions, []string{"write"}) {
			t.Fatalf("RolesOf(bob) through group = %+v, %v", roles, err)
		}
		if u, _ := s.GetUser(ctx, bob.ID); !slices.Equal(u.Roles, []string{"writer"}) || !slices.Equal(u.Groups, []string{"developers"}) {
			t.Fatalf("bob roles %v groups %v", u.Roles, u.Groups)
		}
		if rs, total, err := s.ListRoles(ctx, Filter{Attribute: "displayName", Op: "eq", Value: "reader"}); err != nil || total != 2 || len(rs) != 2 {
			t.Fatalf("ListRoles by name: %d %v", total, err)
		}

		// Update the role: swap permissions and members.
		reader.Permissions = []string{"read"}
		reader.Users = []string{carol.ID}
		if err := s.UpdateRole(ctx, reader); err != nil {
			t.Fatalf("update role: %v", err)
		}
		r, _ := s.GetRole(ctx, reader.ID)
		if !slices.Equal(r.Permissions, []string{"read"}) || !slices.Equal(r.Users, []string{carol.ID}) {
			t.Fatalf("updated role %+v", r)
		}
		bad := *reader
		bad.Users = []string{"missing"}
		if err := s.UpdateRole(ctx, &bad); !errors.Is(err, ErrNotFound) {
			t.Fatalf("update with unknown user: %v", err)
		}
		if r, _ := s.GetRole(ctx, reader.ID); !slices.Equal(r.Users, []string{carol.ID}) {
			t.Fatalf("failed update changed the role: %+v", r)
		}

		// Deleting a group removes bob's role through it.
		if err := s.DeleteGroup(ctx, devs.ID); err != nil {
			t.Fatalf("delete group: %v", err)
		}
		if roles, _ := s.RolesOf(ctx, bob.ID); len(roles) != 0 {
			t.Fatalf("roles after group delete: %+v", roles)
		}
		if err := s.DeleteUser(ctx, carol.ID); err != nil {
			t.Fatalf("delete user: %v", err)
		}
		if err := s.DeleteUser(ctx, carol.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("delete twice: %v", err)
		}
		if r, _ := s.GetRole(ctx, reader.ID); len(r.Users) != 0 {
			t.Fatalf("deleted user still in role: %+v", r)
		}
		if err := s.DeleteRole(ctx, writer.ID); err != nil {
			t.Fatalf("delete role: %v", err)
		}
		if _, err := s.GetRole(ctx, writer.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("get deleted role: %v", err)
		}

		// Profile update and rename.
		got.Username = "alice2"
		got.Locked = true
		if err := s.UpdateUser(ctx, got); err != nil {
			t.Fatalf("update user: %v", err)
		}
		got.Username = "bob"
		if err := s.UpdateUser(ctx, got); !errors.Is(err, ErrConflict) {
			t.Fatalf("rename onto bob: %v", err)
		}
	})
}

func TestAuthenticateAndThrottle(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := newStore(t, dbtest.SQLite(t), clock)
	if err := s.CreateUser(ctx, &User{Username: "dave"}, "correct horse"); err != nil {
		t.Fatal(err)
	}
	if u, err := s.Authenticate(ctx, "Dave", "correct horse", "10.0.0.1"); err != nil || u.Username != "dave" {
		t.Fatalf("good login: %v", err)
	}
	if _, err := s.Authenticate(ctx, "nobody", "x", "10.0.0.9"); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("unknown user: %v", err)
	}
	for i := 1; i <= 4; i++ {
		if _, err := s.Authenticate(ctx, "dave", "wrong", "10.0.0.1"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	if _, err := s.Authenticate(ctx, "dave", "correct horse", "10.0.0.1"); err != nil {
		t.Fatalf("4 failures must not lock: %v", err)
	}
	for i := 1; i <= 5; i++ {
		_, _ = s.Authenticate(ctx, "dave", "wrong", "10.0.0.2")
	}
	if _, err := s.Authenticate(ctx, "dave", "correct horse", "10.0.0.3"); !errors.Is(err, ErrThrottled) {
		t.Fatalf("after 5 failures: %v, want ErrThrottled", err)
	}
	clock.Add(31 * time.Second)
	if _, err := s.Authenticate(ctx, "dave", "wrong", "10.0.0.3"); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("after the lock: %v", err)
	}
	// The 6th failure doubles the lock to 60s.
	clock.Add(31 * time.Second)
	if _, err := s.Authenticate(ctx, "dave", "correct horse", "10.0.0.3"); !errors.Is(err, ErrThrottled) {
		t.Fatalf("doubled lock: %v", err)
	}
	clock.Add(30 * time.Second)
	if _, err := s.Authenticate(ctx, "dave", "correct horse", "10.0.0.3"); err != nil {
		t.Fatalf("after the doubled lock: %v", err)
	}
	// Lock grows up to 15 minutes and no further.
	for i := 0; i < 30; i++ {
		_, _ = s.Authenticate(ctx, "dave", "wrong", "10.0.0.4")
		clock.Add(16 * time.Minute)
	}
	_, _ = s.Authenticate(ctx, "dave", "wrong", "10.0.0.4")
	clock.Add(15*time.Minute + time.Second)
	if _, err := s.Authenticate(ctx, "dave", "correct horse", "10.0.0.5"); err != nil {
		t.Fatalf("lock capped at 15 minutes: %v", err)
	}

	// Per address: 20 failures over many accounts lock the address only.
	for i := 0; i < 20; i++ {
		_, _ = s.Authenticate(ctx, "user"+string(rune('a'+i)), "guess", "192.0.2.7")
	}
	if _, err := s.Authenticate(ctx, "dave", "correct horse", "192.0.2.7"); !errors.Is(err, ErrThrottled) {
		t.Fatalf("address lock: %v", err)
	}
	if _, err := s.Authenticate(ctx, "dave", "correct horse", "192.0.2.8"); err != nil {
		t.Fatalf("other address: %v", err)
	}

	// A locked account answers ErrAccountLocked only with the right password.
	u, _ := s.GetUserByName(ctx, "dave")
	u.Locked = true
	if err := s.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "dave", "correct horse", "192.0.2.9"); !errors.Is(err, ErrAccountLocked) {
		t.Fatalf("locked account: %v", err)
	}
}

func TestRehashOnLogin(t *testing.T) {
	ctx := context.Background()
	d := dbtest.SQLite(t)
	s := newStore(t, d, nil)
	u := &User{Username: "eve"}
	if err := s.CreateUser(ctx, u, "temporary"); err != nil {
		t.Fatal(err)
	}
	// An imported PBKDF2 hash at OWASP's count verifies and is kept.
	k, _ := HashPasswordPBKDF2("legacy-pass")
	if _, err := d.ExecContext(ctx, `UPDATE usr_users SET password_hash = ? WHERE id = ?`, k, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "eve", "legacy-pass", ""); err != nil {
		t.Fatalf("pbkdf2 login: %v", err)
	}
	// An argon2id hash with other costs is upgraded to the store's costs.
	old, _ := HashPassword("legacy-pass", Argon2Params{MemoryKiB: 32, Time: 1, Threads: 1})
	if _, err := d.ExecContext(ctx, `UPDATE usr_users SET password_hash = ? WHERE id = ?`, old, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "eve", "legacy-pass", ""); err != nil {
		t.Fatalf("old argon2 login: %v", err)
	}
	got, _ := s.GetUser(ctx, u.ID)
	if !strings.HasPrefix(got.PasswordHash, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash not upgraded: %s", got.PasswordHash)
	}
}

func TestEnsureSuperAdminSurvivesRestart(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := newStore(t, d, nil)
		admin, err := s.EnsureSuperAdmin(ctx, "admin", "admin", "admin")
		if err != nil {
			t.Fatalf("first start: %v", err)
		}
		if !slices.Equal(admin.Roles, []string{"admin"}) {
			t.Fatalf("admin roles %v", admin.Roles)
		}
		if err := s.SetPassword(ctx, admin.ID, "changed-pass"); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateUser(ctx, &User{Username: "frank", Email: "f@example.org"}, "frank-pass"); err != nil {
			t.Fatal(err)
		}

		// A restart: a new store over the same database.
		s2 := newStore(t, d, nil)
		again, err := s2.EnsureSuperAdmin(ctx, "admin", "admin", "admin")
		if err != nil {
			t.Fatalf("second start: %v", err)
		}
		if again.ID != admin.ID {
			t.Fatalf("admin recreated: %s != %s", again.ID, admin.ID)
		}
		if _, err := s2.Authenticate(ctx, "admin", "admin", ""); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("old password after restart: %v", err)
		}
		if _, err := s2.Authenticate(ctx, "admin", "changed-pass", ""); err != nil {
			t.Fatalf("changed password after restart: %v", err)
		}
		if u, err := s2.GetUserByName(ctx, "frank"); err != nil || u.Email != "f@example.org" {
			t.Fatalf("frank after restart: %v %v", u, err)
		}
		if rs, total, _ := s2.ListRoles(ctx, Filter{}); total != 1 || len(rs[0].Users) != 1 {
			t.Fatalf("roles after restart: %d %+v", total, rs)
		}
	})
}

func TestAuthCache(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	d := dbtest.SQLite(t)
	s := newStore(t, d, clock)
	u := &User{Username: "gina"}
	if err := s.CreateUser(ctx, u, "first-pass"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "gina", "first-pass", ""); err != nil {
		t.Fatal(err)
	}
	// A cached login still sees a password change at once ...
	if err := s.SetPassword(ctx, u.ID, "second-pass"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "gina", "first-pass", ""); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("old password after change: %v", err)
	}
	if _, err := s.Authenticate(ctx, "gina", "second-pass", ""); err != nil {
		t.Fatal(err)
	}
	// ... and a lock.
	got, _ := s.GetUser(ctx, u.ID)
	got.Locked = true
	if err := s.UpdateUser(ctx, got); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "gina", "second-pass", ""); !errors.Is(err, ErrAccountLocked) {
		t.Fatalf("locked after a cached login: %v", err)
	}
	// A wrong password is never served from the cache.
	if _, err := s.Authenticate(ctx, "gina", "second-pasS", ""); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
}

func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		ttl  time.Duration
	}{{"argon2id-OWASP", -1}, {"cached", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			s, err := NewStore(ctx, dbtest.SQLite(b), StoreOptions{AuthCacheTTL: bc.ttl})
			if err != nil {
				b.Fatal(err)
			}
			if err := s.CreateUser(ctx, &User{Username: "bench"}, "bench-pass"); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := s.Authenticate(ctx, "bench", "bench-pass", ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
