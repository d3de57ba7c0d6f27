package keymanager

import (
	"context"

	"github.com/keyway/keyway/internal/runtime"
)

// Runtime returns the key managers the gateways trust, with introspection
// credentials opened (the snapshot travels only in process or to gateways
// authenticated as admin).
func (s *Service) Runtime(ctx context.Context) ([]runtime.KeyManager, error) {
	all, err := s.st.query(ctx, `ORDER BY name`)
	if err != nil {
		return nil, err
	}
	out := make([]runtime.KeyManager, 0, len(all))
	for _, st := range all {
		c, err := s.open(st)
		if err != nil {
			return nil, err
		}
		out = append(out, RuntimeKeyManager(c))
	}
	return out, nil
}

// RuntimeKeyManager converts an open configuration for the gateway.
func RuntimeKeyManager(c *Config) runtime.KeyManager {
	km := runtime.KeyManager{UUID: c.ID, Name: c.Name, Type: c.Type, Enabled: c.Enabled, Issuer: c.Issuer,
		IntrospectionEndpoint: c.IntrospectionEndpoint, ConsumerKeyClaim: c.ConsumerKeyClaim, ScopesClaim: c.ScopesClaim,
		ValidateJWT: c.EnableSelfValidationJWT}
	if km.ConsumerKeyClaim == "" {
		km.ConsumerKeyClaim = "azp"
	}
	if km.ScopesClaim == "" {
		km.ScopesClaim = "scope"
	}
	if c.Certificates != nil {
		switch c.Certificates.Type {
		case "JWKS":
			km.JWKSURL = c.Certificates.Value
		case "PEM":
			km.CertificatePEM = c.Certificates.Value
		}
		km.ValidateJWT = true
	}
	// Opaque tokens need introspection with the connector's credentials;
	// the resident key manager issues JWTs only.
	if c.IntrospectionEndpoint != "" && c.Prop("Username") != "" {
		km.IntrospectionUsername, km.IntrospectionPassword = c.Prop("Username"), c.Prop("Password")
		km.ValidateOpaque = true
	}
	return km
}
