// Package apikey issues and verifies WSO2-style API keys: JWTs signed by the
// control plane's primary key that name an application and its key type.
// The developer portal issues them (Issuer.Issue); every gateway verifies
// them offline with the matching certificate (Verifier), so no call to the
// control plane is needed per request.
//
// Claims (as WSO2's API key JWT): iss, sub, iat, exp, jti, keytype,
// application {uuid, name, owner, tier}, and an optional "permittedAPIs"
// list of API UUIDs (empty: every API the application subscribes to).
package apikey

import (
	"context"
	"crypto"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
	"github.com/keyway/keyway/internal/gateway/authn"
)

// Application is the application block of an API key.
type Application struct {
	UUID  string `json:"uuid"`
	Name  string `json:"name,omitempty"`
	Owner string `json:"owner,omitempty"`
	Tier  string `json:"tier,omitempty"`
}

type claims struct {
	Iss           string      `json:"iss"`
	Sub           string      `json:"sub"`
	Iat           int64       `json:"iat"`
	Exp           int64       `json:"exp,omitempty"`
	Jti           string      `json:"jti"`
	KeyType       string      `json:"keytype"`
	Application   Application `json:"application"`
	PermittedAPIs []string    `json:"permittedAPIs,omitempty"`
}

// Issuer signs API keys.
type Issuer struct {
	Key crypto.Signer
	// KeyID goes into the JWS header (the keystore's KeyID()).
	KeyID string
	// Name is the iss claim (e.g. https://localhost:9443/oauth2/token).
	Name string
}

// Issue signs a key for app; ttl 0 means no expiry (WSO2's -1 validity).
func (i Issuer) Issue(app Application, subject, keyType string, permittedAPIs []string, ttl time.Duration) (token, jti string, err error) {
	return i.issueAt(app, subject, keyType, permittedAPIs, time.Now(), ttl)
}

func (i Issuer) issueAt(app Application, subject, keyType string, permittedAPIs []string, now time.Time, ttl time.Duration) (token, jti string, err error) {
	if app.UUID == "" {
		return "", "", errors.New("apikey: application uuid is required")
	}
	if keyType != "PRODUCTION" && keyType != "SANDBOX" {
		return "", "", fmt.Errorf("apikey: key type %q is not PRODUCTION or SANDBOX", keyType)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: i.Key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), i.KeyID))
	if err != nil {
		return "", "", fmt.Errorf("apikey: signer: %w", err)
	}
	c := claims{Iss: i.Name, Sub: subject, Iat: now.Unix(), Jti: uuid.NewString(), KeyType: keyType,
		Application: app, PermittedAPIs: permittedAPIs}
	if ttl > 0 {
		c.Exp = now.Add(ttl).Unix()
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", "", err
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return "", "", fmt.Errorf("apikey: sign: %w", err)
	}
	token, err = obj.CompactSerialize()
	return token, c.Jti, err
}

// Verifier checks API keys against the control plane's public key and
// implements authn.APIKeyVerifier.
type Verifier struct {
	Key *rsa.PublicKey
	// Issuer, when set, must equal the iss claim.
	Issuer string
}

// VerifyAPIKey checks the signature, issuer and expiry.
func (v Verifier) VerifyAPIKey(_ context.Context, key string) (*authn.APIKey, error) {
	jws, err := parse(key)
	if err != nil {
		return nil, err
	}
	return v.verify(jws)
}

// verify checks a parsed key's signature, issuer and expiry.
func (v Verifier) verify(jws *jose.JSONWebSignature) (*authn.APIKey, error) {
	out, err := v.inspect(jws)
	if err != nil {
		return nil, err
	}
	if !out.Expiry.IsZero() && time.Now().After(out.Expiry) {
		return nil, errors.New("apikey: expired")
	}
	return out, nil
}

func parse(key string) (*jose.JSONWebSignature, error) {
	jws, err := jose.ParseSignedCompact(key, []jose.SignatureAlgorithm{jose.RS256, jose.PS256})
	if err != nil {
		return nil, fmt.Errorf("apikey: parse: %w", err)
	}
	return jws, nil
}

// Inspect checks the signature and issuer but not the expiry: the developer
// portal reads a key this way to revoke it.
func (v Verifier) Inspect(key string) (*authn.APIKey, error) {
	jws, err := parse(key)
	if err != nil {
		return nil, err
	}
	return v.inspect(jws)
}

func (v Verifier) inspect(jws *jose.JSONWebSignature) (*authn.APIKey, error) {
	if v.Key == nil {
		return nil, errors.New("apikey: no verification key")
	}
	payload, err := jws.Verify(v.Key)
	if err != nil {
		return nil, fmt.Errorf("apikey: signature: %w", err)
	}
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, fmt.Errorf("apikey: claims: %w", err)
	}
	if v.Issuer != "" && c.Iss != v.Issuer {
		return nil, fmt.Errorf("apikey: issuer %q not trusted", c.Iss)
	}
	if c.Application.UUID == "" || c.Jti == "" {
		return nil, errors.New("apikey: application or jti missing")
	}
	out := &authn.APIKey{ID: c.Jti, ApplicationUUID: c.Application.UUID, KeyType: c.KeyType, Subject: c.Sub,
		IssuedAt: time.Unix(c.Iat, 0), AllowedAPIs: c.PermittedAPIs}
	if c.Exp > 0 {
		out.Expiry = time.Unix(c.Exp, 0)
	}
	return out, nil
}
