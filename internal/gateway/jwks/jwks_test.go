package jwks_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/keyway/keyway/internal/gateway/gatewaytest"
	"github.com/keyway/keyway/internal/gateway/jwks"
	"github.com/keyway/keyway/internal/keystore"
)

func TestUnknownKidRefetchIsRateLimited(t *testing.T) {
	km := gatewaytest.NewKeyManager(t, "KM")
	c := jwks.New(http.DefaultClient, jwks.Options{MinRefetch: time.Hour})
	defer c.Close()
	url := km.Runtime().JWKSURL
	kid := km.Rotate(t)
	ctx := context.Background()
	if _, err := c.Key(ctx, url, "", kid); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if _, err := c.Key(ctx, url, "", "unknown"); !errors.Is(err, jwks.ErrUnknownKey) {
			t.Fatalf("unknown kid: %v", err)
		}
	}
	if n := km.JWKSFetches.Load(); n != 1 {
		t.Fatalf("%d JWKS downloads; unknown kids must be rate limited", n)
	}
	if _, err := c.Key(ctx, "http://127.0.0.1:1/jwks", "", "k"); err == nil {
		t.Fatal("unreachable JWKS gave a key")
	}
}

func TestPEMCertificate(t *testing.T) {
	ks, err := keystore.Generate("km", []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	c := jwks.New(http.DefaultClient, jwks.Options{})
	defer c.Close()
	k, err := c.Key(context.Background(), "", string(ks.CertificatePEM()), "any-kid")
	pub, _ := ks.RSAKey()
	if err != nil || k.N.Cmp(pub.N) != 0 {
		t.Fatalf("PEM key: %v", err)
	}
	if _, err := c.Key(context.Background(), "", "not pem", ""); err == nil {
		t.Fatal("garbage certificate accepted")
	}
}
