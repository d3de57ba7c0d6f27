package apikey

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/keyway/keyway/internal/gateway/authn"
	"github.com/keyway/keyway/internal/runtime"
)

// Trusted verifies API keys of several issuers (every control plane whose
// keys a gateway accepts), picking the verifier by the key's iss claim so a
// key costs one signature check whatever the number of issuers. It is
// immutable once built and safe for concurrent use.
type Trusted map[string]Verifier

// FromSnapshot builds the verifiers of the snapshot's API-key issuers. An
// issuer whose certificate cannot be read is left out and reported in err
// (the others still verify).
func FromSnapshot(issuers []runtime.APIKeyIssuer) (Trusted, error) {
	t := Trusted{}
	var errs []error
	for _, is := range issuers {
		key, err := rsaPublicKey(is.CertificatePEM)
		if err != nil {
			errs = append(errs, fmt.Errorf("api key issuer %q: %w", is.Issuer, err))
			continue
		}
		t[is.Issuer] = Verifier{Key: key, Issuer: is.Issuer}
	}
	return t, errors.Join(errs...)
}

// VerifyAPIKey implements authn.APIKeyVerifier.
func (t Trusted) VerifyAPIKey(_ context.Context, key string) (*authn.APIKey, error) {
	if len(t) == 0 {
		return nil, errors.New("apikey: no trusted issuer")
	}
	jws, err := parse(key)
	if err != nil {
		return nil, err
	}
	// The payload is read unverified only to choose the verifier, which
	// then checks the signature and the issuer again.
	var head struct {
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &head); err != nil {
		return nil, fmt.Errorf("apikey: claims: %w", err)
	}
	v, ok := t[head.Iss]
	if !ok {
		return nil, fmt.Errorf("apikey: issuer %q not trusted", head.Iss)
	}
	return v.verify(jws)
}

func rsaPublicKey(certPEM string) (*rsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(certPEM))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	key, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("certificate key is %T, not RSA", cert.PublicKey)
	}
	return key, nil
}
