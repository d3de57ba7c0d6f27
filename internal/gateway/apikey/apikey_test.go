package apikey

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keyway/keyway/internal/keystore"
	"github.com/keyway/keyway/internal/runtime"
)

func TestTrustedAndInspect(t *testing.T) {
	a, err := keystore.Generate("a", []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := keystore.Generate("b", []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	trusted, err := FromSnapshot([]runtime.APIKeyIssuer{
		{Issuer: "https://a/apikey", CertificatePEM: string(a.CertificatePEM())},
		{Issuer: "https://b/apikey", CertificatePEM: string(b.CertificatePEM())},
		{Issuer: "https://broken/apikey", CertificatePEM: "junk"},
	})
	if err == nil || !strings.Contains(err.Error(), "broken") || len(trusted) != 2 {
		t.Fatalf("FromSnapshot: %d issuers, err %v", len(trusted), err)
	}
	app := Application{UUID: "app-1", Name: "App", Owner: "alice", Tier: "Unlimited"}
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		issuer Issuer
		ttl    time.Duration
		ok     bool
	}{
		{"issuer a", Issuer{Key: a.Key, KeyID: a.KeyID(), Name: "https://a/apikey"}, time.Hour, true},
		{"issuer b, no expiry", Issuer{Key: b.Key, KeyID: b.KeyID(), Name: "https://b/apikey"}, 0, true},
		{"a's name, b's key", Issuer{Key: b.Key, KeyID: b.KeyID(), Name: "https://a/apikey"}, time.Hour, false},
		{"unknown issuer", Issuer{Key: a.Key, KeyID: a.KeyID(), Name: "https://c/apikey"}, time.Hour, false},
		{"expired", Issuer{Key: a.Key, KeyID: a.KeyID(), Name: "https://a/apikey"}, -time.Hour, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			key, jti, err := c.issuer.Issue(app, "alice@carbon.super", "SANDBOX", []string{"api-1"}, c.ttl)
			if c.ttl < 0 {
				// Issue treats ttl ≤ 0 as no expiry: forge an expired key.
				key, jti, err = expiredKey(t, c.issuer)
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := trusted.VerifyAPIKey(ctx, key)
			if (err == nil) != c.ok {
				t.Fatalf("VerifyAPIKey err = %v, want ok %v", err, c.ok)
			}
			if c.ok && (got.ID != jti || got.ApplicationUUID != "app-1" || got.KeyType != "SANDBOX" || len(got.AllowedAPIs) != 1 ||
				(c.ttl == 0) != got.Expiry.IsZero()) {
				t.Errorf("key = %+v", got)
			}
		})
	}
}

// expiredKey signs a key whose exp is in the past.
func expiredKey(t *testing.T, is Issuer) (string, string, error) {
	t.Helper()
	return is.issueAt(Application{UUID: "app-1"}, "alice", "SANDBOX", []string{"api-1"}, time.Now().Add(-2*time.Hour), time.Hour)
}

// TestInspectReadsExpiredKeys: the portal revokes keys it reads with
// Inspect, which checks the signature and issuer but not the expiry.
func TestInspectReadsExpiredKeys(t *testing.T) {
	ks, err := keystore.Generate("a", []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	is := Issuer{Key: ks.Key, KeyID: ks.KeyID(), Name: "https://a/apikey"}
	key, jti, err := expiredKey(t, is)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := ks.RSAKey()
	v := Verifier{Key: &pub.PublicKey, Issuer: is.Name}
	if _, err := v.VerifyAPIKey(context.Background(), key); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("VerifyAPIKey of an expired key: %v", err)
	}
	got, err := v.Inspect(key)
	if err != nil || got.ID != jti || got.Expiry.After(time.Now()) {
		t.Fatalf("Inspect = %+v, %v", got, err)
	}
	if _, err := (Verifier{Key: &pub.PublicKey, Issuer: "https://other/apikey"}).Inspect(key); err == nil {
		t.Fatal("Inspect accepted a key of another issuer")
	}
}

// BenchmarkTrustedVerify is the cost of an API key the gateway has not
// cached yet (parse, issuer lookup, RS256 check).
func BenchmarkTrustedVerify(b *testing.B) {
	ks, err := keystore.Generate("a", []string{"localhost"})
	if err != nil {
		b.Fatal(err)
	}
	trusted, err := FromSnapshot([]runtime.APIKeyIssuer{{Issuer: "https://a/apikey", CertificatePEM: string(ks.CertificatePEM())}})
	if err != nil {
		b.Fatal(err)
	}
	key, _, err := Issuer{Key: ks.Key, KeyID: ks.KeyID(), Name: "https://a/apikey"}.Issue(Application{UUID: "app-1"}, "alice", "PRODUCTION", []string{"api-1"}, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := trusted.VerifyAPIKey(ctx, key); err != nil {
			b.Fatal(err)
		}
	}
}
