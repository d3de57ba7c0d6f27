package oauth

import (
	"maps"
	"net/http"
)

// buildDiscovery assembles the OpenID Provider / RFC 8414 metadata. Every
// URL is https and the issuer is the configured string byte for byte.
func (s *Server) buildDiscovery() map[string]any {
	b := s.cfg.BaseURL
	return map[string]any{
		"issuer":                                           s.cfg.Issuer,
		"authorization_endpoint":                           b + "/oauth2/authorize",
		"token_endpoint":                                   b + "/oauth2/token",
		"userinfo_endpoint":                                b + "/oauth2/userinfo",
		"jwks_uri":                                         b + "/oauth2/jwks",
		"registration_endpoint":                            b + "/api/identity/oauth2/dcr/v1.1/register",
		"introspection_endpoint":                           b + "/oauth2/introspect",
		"revocation_endpoint":                              b + "/oauth2/revoke",
		"end_session_endpoint":                             b + "/oauth2/logout",
		"device_authorization_endpoint":                    b + "/oauth2/device_authorize",
		"scopes_supported":                                 []string{"openid", "profile", "email", "address", "phone"},
		"response_types_supported":                         []string{"code"},
		"response_modes_supported":                         []string{"query"},
		"grant_types_supported":                            supportedGrants,
		"subject_types_supported":                          []string{"public"},
		"id_token_signing_alg_values_supported":            []string{algRS256, algPS256},
		"token_endpoint_auth_methods_supported":            []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"},
		"token_endpoint_auth_signing_alg_values_supported": []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"},
		"introspection_endpoint_auth_methods_supported":    []string{"client_secret_basic", "client_secret_post", "private_key_jwt"},
		"revocation_endpoint_auth_methods_supported":       []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"},
		"code_challenge_methods_supported":                 []string{"S256", "plain"},
		"claims_supported":                                 []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "azp", "at_hash", "sid", "name", "given_name", "family_name", "preferred_username", "email", "email_verified", "username"},
		"claims_parameter_supported":                       false,
		"request_parameter_supported":                      false,
		"request_uri_parameter_supported":                  false,
		"authorization_response_iss_parameter_supported":   true,
		"backchannel_logout_supported":                     false,
		"frontchannel_logout_supported":                    false,
		"userinfo_signing_alg_values_supported":            []string{},
		"prompt_values_supported":                          []string{"none", "login", "consent"},
	}
}

// Discovery returns a copy of the metadata document.
func (s *Server) Discovery() map[string]any { return maps.Clone(s.disc) }

func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(s.discRaw)
}

func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	// Short caching: a rotated key must reach clients quickly.
	h.Set("Cache-Control", "public, max-age=60")
	_, _ = w.Write(s.keys.jwksDoc())
}
