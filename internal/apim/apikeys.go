package apim

import (
	"context"
	"crypto/rsa"

	"github.com/keyway/keyway/internal/apim/devportal"
	"github.com/keyway/keyway/internal/gateway/apikey"
	"github.com/keyway/keyway/internal/runtime"
)

// APIKeyIssuerPath is appended to the base URL to name the issuer (iss) of
// the API keys the developer portal signs. It differs from the resident key
// manager's issuer (<base>/oauth2/token, which WSO2 also puts in API keys)
// so that an API key is never mistaken for an OAuth2 access token signed by
// the same key.
const APIKeyIssuerPath = "/apikey"

// WithAPIKeyRevoker enables the developer portal's API keys: revoke records
// a revoked key's jti (until expiryMillis; 0 for never) as a revoked token
// of type API_KEY, so every gateway rejects it. Without it the api-keys
// operations answer 501.
func WithAPIKeyRevoker(revoke func(ctx context.Context, jti string, expiryMillis int64) error) Option {
	return func(o *options) { o.apiKeyRevoker = revoke }
}

// APIKeyIssuer is the signer of the developer portal's API keys: the
// primary keystore, with the issuer name the gateways trust.
func (s *Server) APIKeyIssuer() apikey.Issuer {
	return apikey.Issuer{Key: s.p.Primary.Key, KeyID: s.p.Primary.KeyID(), Name: s.p.BaseURL + APIKeyIssuerPath}
}

// apiKeys is what the developer portal needs, or nil when revocation is not
// wired (a key that cannot be revoked is never issued).
func (s *Server) apiKeys() *devportal.APIKeys {
	if s.opts.apiKeyRevoker == nil || !s.signsAPIKeys() {
		return nil
	}
	return &devportal.APIKeys{Issuer: s.APIKeyIssuer(), Revoke: s.opts.apiKeyRevoker}
}

// runtimeAPIKeyIssuers lists the API-key issuers for the snapshot, so that
// every gateway, local or on another node, verifies keys without
// configuration.
func (s *Server) runtimeAPIKeyIssuers() []runtime.APIKeyIssuer {
	if !s.signsAPIKeys() {
		return nil
	}
	return []runtime.APIKeyIssuer{{Issuer: s.p.BaseURL + APIKeyIssuerPath, CertificatePEM: string(s.p.Primary.CertificatePEM())}}
}

// signsAPIKeys reports whether the primary keystore can sign API keys
// (RS256 needs an RSA key).
func (s *Server) signsAPIKeys() bool {
	ks := s.p.Primary
	if ks == nil || ks.Key == nil || ks.Certificate == nil {
		return false
	}
	_, ok := ks.Key.Public().(*rsa.PublicKey)
	return ok
}
