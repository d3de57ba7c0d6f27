package keymanager

import (
	"context"
	"net/http"
	"strings"
)

// Discover reads an OpenID Connect discovery document and fills a key
// manager configuration from it (PATTERN6-WIRE §3.7). ok is false when the
// document cannot be fetched or read; the admin API then answers {}.
func (s *Service) Discover(ctx context.Context, wellKnown, typ string) (cfg *Config, ok bool) {
	if checkURL("url", wellKnown) != nil {
		return nil, false
	}
	var doc struct {
		Issuer        string   `json:"issuer"`
		Authorize     string   `json:"authorization_endpoint"`
		Token         string   `json:"token_endpoint"`
		UserInfo      string   `json:"userinfo_endpoint"`
		JWKS          string   `json:"jwks_uri"`
		Registration  string   `json:"registration_endpoint"`
		Introspection string   `json:"introspection_endpoint"`
		Revocation    string   `json:"revocation_endpoint"`
		GrantTypes    []string `json:"grant_types_supported"`
	}
	c := caller{http: s.opts.HTTPClient}
	if _, err := c.do(ctx, request{op: "discovery", method: http.MethodGet, url: wellKnown, out: &doc}); err != nil {
		s.opts.Logger.Warn("key manager discovery failed", "url", redact(wellKnown), "err", err)
		return nil, false
	}
	if doc.Issuer == "" && doc.Token == "" {
		return nil, false
	}
	if typ == "" || typ == "false" {
		typ = TypeOIDC
	}
	name := typ
	if len(name) > 100 {
		name = name[:100]
	}
	cfg = &Config{Name: name, Type: typ, WellKnownEndpoint: wellKnown, Issuer: doc.Issuer, AuthorizeEndpoint: doc.Authorize,
		TokenEndpoint: doc.Token, UserInfoEndpoint: doc.UserInfo, ClientRegistrationEndpoint: doc.Registration,
		IntrospectionEndpoint: doc.Introspection, RevokeEndpoint: doc.Revocation, DisplayTokenEndpoint: doc.Token,
		DisplayRevokeEndpoint: doc.Revocation, AvailableGrantTypes: doc.GrantTypes,
		Enabled: true, EnableTokenGeneration: true, EnableMapOAuthConsumerApps: true, EnableOAuthAppCreation: true,
		EnableSelfValidationJWT: true, ClaimMapping: []ClaimMapping{}, TokenValidation: []TokenValidation{},
		AdditionalProperties: map[string]any{}, AllowedOrganizations: []string{}, ConsumerKeyClaim: "azp", ScopesClaim: "scope",
		TokenType: "DIRECT"}
	if cfg.AvailableGrantTypes == nil {
		cfg.AvailableGrantTypes = []string{}
	}
	if doc.JWKS != "" {
		cfg.Certificates = &Certificates{Type: "JWKS", Value: doc.JWKS}
	}
	// IS 7's discovery leaves the two connector endpoints out; derive them
	// from the issuer's origin so the form needs fewer edits.
	if typ == TypeWSO2IS7 && doc.Issuer != "" {
		if i := strings.Index(doc.Issuer, "/oauth2/token"); i > 0 {
			origin := doc.Issuer[:i]
			cfg.AdditionalProperties["api_resource_management_endpoint"] = origin + "/api/server/v1/api-resources"
			cfg.AdditionalProperties["is7_roles_endpoint"] = origin + "/scim2/v2/Roles"
			if cfg.ClientRegistrationEndpoint == "" {
				cfg.ClientRegistrationEndpoint = origin + "/api/identity/oauth2/dcr/v1.1/register"
			}
			if cfg.ScopeManagementEndpoint == "" {
				cfg.ScopeManagementEndpoint = origin + "/api/identity/oauth2/v1.0/scopes"
			}
		}
	}
	return cfg, true
}
