package authn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/keyway/keyway/internal/gateway/fault"
	"github.com/keyway/keyway/internal/gateway/jwks"
	"github.com/keyway/keyway/internal/gateway/snapshot"
)

// Algorithms accepted on access tokens (PATTERN6-WIRE §4.2).
var Algorithms = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256}

// verifyJWT validates a three-part token. neg reports whether the failure
// is permanent for this token (worth a negative cache entry).
func (a *Authenticator) verifyJWT(ctx context.Context, snap *snapshot.Snapshot, api *snapshot.API, token string, now time.Time) (*Principal, *fault.Fault, bool) {
	jws, err := jose.ParseSignedCompact(token, Algorithms)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, errInvalidJWT, true
	}
	var head struct {
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &head); err != nil {
		return nil, errInvalidJWT, true
	}
	km := snap.KeyManagerByIssuer(head.Iss)
	if km == nil || (!km.ValidateJWT && km.ValidateOpaque) {
		// No self-validating issuer: WSO2 falls back to the opaque path.
		return a.introspect(ctx, snap, api, token, now)
	}
	if !api.AllowsKeyManager(km.Name) {
		return nil, errKMNotAllow, false
	}
	id := token[strings.LastIndexByte(token, '.')+1:]
	kid := jws.Signatures[0].Header.KeyID
	key, err := a.cfg.JWKS.Key(ctx, km.JWKSURL, km.CertificatePEM, kid)
	if err != nil {
		// An unknown kid may be a rotation in progress and a JWKS outage is
		// temporary: neither is remembered against the token.
		if errors.Is(err, jwks.ErrUnknownKey) {
			return nil, errInvalidJWT, false
		}
		return nil, fault.Invalid("Invalid JWT token. The signing keys of the key manager are unavailable"), false
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return nil, errInvalidJWT, true
	}
	var claims map[string]any
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		return nil, errInvalidJWT, true
	}
	if jti, _ := claims["jti"].(string); jti != "" {
		id = jti
	}
	skew := a.cfg.ClockSkew
	p := &Principal{Kind: KindJWT, KeyManager: km.Name, Issuer: head.Iss, TokenID: id, Claims: claims}
	if exp, ok := numClaim(claims, "exp"); ok {
		p.Expiry = time.Unix(exp, 0)
		if now.After(p.Expiry.Add(skew)) {
			return nil, fault.Invalid("Invalid JWT token. The access token has expired"), true
		}
	}
	if nbf, ok := numClaim(claims, "nbf"); ok && now.Add(skew).Before(time.Unix(nbf, 0)) {
		return nil, fault.Invalid("Invalid JWT token. The access token is not valid yet"), false
	}
	p.IssuedAt, _ = numClaim(claims, "iat")
	p.Subject, _ = claims["sub"].(string)
	p.User = QualifiedUser(p.Subject)
	if km.ConsumerKeyClaim != "" {
		p.ConsumerKey, _ = claims[km.ConsumerKeyClaim].(string)
	} else {
		for _, c := range []string{"consumerKey", "azp", "client_id"} {
			if v, _ := claims[c].(string); v != "" {
				p.ConsumerKey = v
				break
			}
		}
	}
	p.Scopes = scopes(claims[km.ScopesClaimName()])
	aut, _ := claims["aut"].(string)
	p.ApplicationToken = strings.EqualFold(aut, "APPLICATION")
	return p, nil, false
}

func numClaim(c map[string]any, name string) (int64, bool) {
	switch v := c[name].(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i, true
		}
		if f, err := v.Float64(); err == nil {
			return int64(f), true
		}
	case float64:
		return int64(v), true
	}
	return 0, false
}

// scopes reads a space-delimited string or an array; absent means
// ["default"], as WSO2's JWT transformer does.
func scopes(v any) []string {
	switch s := v.(type) {
	case string:
		return strings.Fields(s)
	case []any:
		out := make([]string, 0, len(s))
		for _, x := range s {
			if str, ok := x.(string); ok {
				out = append(out, str)
			}
		}
		return out
	}
	return []string{"default"}
}
