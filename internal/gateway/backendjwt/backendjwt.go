// Package backendjwt builds the JWT the WSO2 gateway sends to backends
// (X-JWT-Assertion by default): signed with the gateway's key and carrying
// the http://wso2.org/claims/... claims about the subscriber, application,
// API and end user. Tokens are memoised per caller and API, so signing
// happens once per cached principal rather than per request.
package backendjwt

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/keyway/keyway/internal/gateway/authn"
	"github.com/keyway/keyway/internal/gateway/authz"
	"github.com/keyway/keyway/internal/gateway/snapshot"
	"github.com/keyway/keyway/internal/keystore"
)

// DefaultHeader is WSO2's backend JWT header.
const DefaultHeader = "X-JWT-Assertion"

// Issuer is the iss claim WSO2 uses.
const Issuer = "wso2.org/products/am"

// Signer signs backend JWTs.
type Signer struct {
	signer jose.Signer
	ttl    time.Duration
	now    func() time.Time
}

// New returns a signer using ks's RSA key; ttl defaults to 15 minutes.
func New(ks *keystore.KeyStore, ttl time.Duration) (*Signer, error) {
	if ks == nil || ks.Key == nil {
		return nil, fmt.Errorf("backend jwt: no signing key")
	}
	if ttl <= 0 {
		ttl = 15 * time.Minute
	}
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), ks.KeyID())
	if ks.Certificate != nil {
		opts = opts.WithHeader(jose.HeaderKey("x5t"), ks.Thumbprint())
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: ks.Key}, opts)
	if err != nil {
		return nil, fmt.Errorf("backend jwt signer: %w", err)
	}
	return &Signer{signer: s, ttl: ttl, now: time.Now}, nil
}

type memo struct {
	token   string
	expires time.Time
}

// Token returns the backend JWT for this caller and API, reusing the one
// signed earlier while it has at least a minute left.
func (s *Signer) Token(p *authn.Principal, api *snapshot.API, d *authz.Decision) (string, error) {
	now := s.now()
	if v, ok := p.BackendJWT.Load(api.UUID); ok {
		m := v.(*memo)
		if now.Add(time.Minute).Before(m.expires) {
			return m.token, nil
		}
	}
	exp := now.Add(s.ttl)
	if !p.Expiry.IsZero() && p.Expiry.Before(exp) && p.Expiry.After(now) {
		exp = p.Expiry
	}
	const w = "http://wso2.org/claims/"
	usertype := "APPLICATION_USER"
	if p.ApplicationToken {
		usertype = "APPLICATION"
	}
	c := map[string]any{
		"iss":                 Issuer,
		"iat":                 now.Unix(),
		"exp":                 exp.Unix(),
		w + "apiname":         api.Name,
		w + "apicontext":      api.Context + "/" + api.Version,
		w + "version":         api.Version,
		w + "apiUUID":         api.UUID,
		w + "keytype":         d.KeyType,
		w + "usertype":        usertype,
		w + "enduser":         d.EndUser,
		w + "enduserTenantId": "-1234",
		w + "client_id":       p.ConsumerKey,
		w + "subscriber":      "",
		w + "applicationtier": "",
		w + "tier":            "",
		w + "applicationid":   "",
		w + "applicationname": "",
		w + "applicationUUId": "",
	}
	if a := d.Application; a != nil {
		c[w+"subscriber"] = a.Owner
		c[w+"applicationid"] = strconv.Itoa(a.ID)
		c[w+"applicationname"] = a.Name
		c[w+"applicationUUId"] = a.UUID
		c[w+"applicationtier"] = a.Application.Policy
	}
	if sub := d.Subscription; sub != nil {
		c[w+"tier"] = sub.Subscription.Policy
	}
	if p.Subject != "" {
		c["sub"] = p.Subject
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	obj, err := s.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign backend jwt: %w", err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		return "", err
	}
	p.BackendJWT.Store(api.UUID, &memo{token: tok, expires: exp})
	return tok, nil
}
