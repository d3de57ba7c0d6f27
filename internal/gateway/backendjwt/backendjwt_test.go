package backendjwt

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/keyway/keyway/internal/gateway/authn"
	"github.com/keyway/keyway/internal/gateway/authz"
	"github.com/keyway/keyway/internal/gateway/snapshot"
	"github.com/keyway/keyway/internal/keystore"
	"github.com/keyway/keyway/internal/runtime"
)

func TestTokenClaimsAndMemo(t *testing.T) {
	ks, err := keystore.Generate("gw", []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(ks, 0)
	if err != nil {
		t.Fatal(err)
	}
	api := &snapshot.API{API: runtime.API{UUID: "u", Name: "Pizza", Version: "1.0.0", Context: "/pizza"}}
	app := &snapshot.Application{Application: runtime.Application{ID: 7, UUID: "app", Name: "App", Owner: "alice", Policy: "Gold"}}
	p := &authn.Principal{ConsumerKey: "ck", Subject: "bob", Expiry: time.Now().Add(time.Hour)}
	d := &authz.Decision{Application: app, KeyType: "SANDBOX", EndUser: "bob@carbon.super",
		Subscription: &snapshot.Subscription{Subscription: runtime.Subscription{Policy: "Unlimited"}}}
	tok, err := s.Token(p, api, d)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := s.Token(p, api, d)
	if again != tok {
		t.Error("the backend JWT was signed again for the same caller and API")
	}
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := ks.RSAKey()
	payload, err := jws.Verify(&pub.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	_ = json.Unmarshal(payload, &c)
	const w = "http://wso2.org/claims/"
	want := map[string]any{"iss": Issuer, w + "apiname": "Pizza", w + "apicontext": "/pizza/1.0.0", w + "keytype": "SANDBOX",
		w + "subscriber": "alice", w + "applicationid": "7", w + "applicationtier": "Gold", w + "tier": "Unlimited",
		w + "enduser": "bob@carbon.super", w + "usertype": "APPLICATION_USER", w + "client_id": "ck"}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("%s = %v, want %v", k, c[k], v)
		}
	}
	if jws.Signatures[0].Header.KeyID != ks.KeyID() {
		t.Error("kid header")
	}
}
