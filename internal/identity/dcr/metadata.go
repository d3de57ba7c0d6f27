package dcr

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"

	"github.com/keyway/keyway/internal/oauth"
)

const (
	audienceOrganization = "organization"
	audienceApplication  = "application"
)

// Grant types a client may register (IS 7 names).
var knownGrants = []string{
	"authorization_code", "implicit", "password", "client_credentials", "refresh_token",
	"urn:ietf:params:oauth:grant-type:token-exchange", "urn:ietf:params:oauth:grant-type:jwt-bearer",
	"urn:ietf:params:oauth:grant-type:device_code", "urn:ietf:params:oauth:grant-type:saml2-bearer",
	"iwa:ntlm", "organization_switch", "account_switch",
}

var knownAuthMethods = []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"}

// apply validates in and writes it onto c. With create, absent members take
// their defaults; on update, absent members keep c's values. Nothing is
// stored here, so a validation error leaves no trace.
func apply(c *oauth.Client, in *request, create bool) error {
	if in.ClientName != nil || create {
		name := ""
		if in.ClientName != nil {
			name = strings.TrimSpace(*in.ClientName)
		}
		if name == "" {
			return invalid("client_name is required")
		}
		if len(name) > 255 || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return invalid("client_name must be 1 to 255 printable characters")
		}
		c.Name = name
	}
	if in.ExtApplicationDisplayName != nil {
		c.DisplayName = *in.ExtApplicationDisplayName
	}
	if create {
		if in.ExtParamClientID != "" {
			if err := checkClientID(in.ExtParamClientID); err != nil {
				return err
			}
			c.ID = in.ExtParamClientID
		}
		c.Secret = in.ExtParamClientSecret
	}

	// Redirect URIs: blanks (the ""-only array of IS examples) are dropped.
	if in.RedirectURIs != nil || create {
		uris, err := redirectURIs(in.RedirectURIs, "redirect_uris")
		if err != nil {
			return err
		}
		c.RedirectURIs = uris
	}
	if in.PostLogoutRedirectURIs != nil {
		uris, err := redirectURIs(in.PostLogoutRedirectURIs, "post_logout_redirect_uris")
		if err != nil {
			return err
		}
		c.PostLogoutRedirectURIs = uris
	}
	if in.GrantTypes != nil || create {
		grants := []string{}
		for _, g := range in.GrantTypes {
			if g = strings.TrimSpace(g); g == "" {
				continue
			}
			if !slices.Contains(knownGrants, g) {
				return invalid("grant type %q is not supported", g)
			}
			if !slices.Contains(grants, g) {
				grants = append(grants, g)
			}
		}
		if len(grants) == 0 && create && in.GrantTypes == nil {
			// RFC 7591 §2: the default is authorization_code.
			grants = []string{"authorization_code"}
		}
		c.GrantTypes = grants
	}
	if (slices.Contains(c.GrantTypes, "authorization_code") || slices.Contains(c.GrantTypes, "implicit")) && len(c.RedirectURIs) == 0 {
		return badRedirect("redirect_uris are required for the authorization_code and implicit grants")
	}

	// Token type: token_type_extension, or ext_token_type (older name).
	tt := in.TokenTypeExtension
	if tt == "" {
		tt = in.ExtTokenType
	}
	switch strings.ToLower(tt) {
	case "":
		if create {
			c.TokenType = "Default"
		}
	case "jwt":
		c.TokenType = "JWT"
	case "default", "opaque", "oauth", "bearer":
		c.TokenType = "Default"
	default:
		return invalid("token_type_extension %q is not supported (use JWT or Default)", tt)
	}

	for _, l := range []struct {
		name string
		v    *int64
		dst  *int64
	}{
		{"ext_application_token_lifetime", in.ExtApplicationTokenLifetime, &c.ApplicationAccessTokenLifetime},
		{"ext_user_token_lifetime", in.ExtUserTokenLifetime, &c.UserAccessTokenLifetime},
		{"ext_refresh_token_lifetime", in.ExtRefreshTokenLifetime, &c.RefreshTokenLifetime},
		{"ext_id_token_lifetime", in.ExtIDTokenLifetime, &c.IDTokenLifetime},
	} {
		if l.v == nil {
			continue
		}
		if *l.v < 0 {
			return invalid("%s must not be negative", l.name)
		}
		*l.dst = *l.v
	}
	if in.ExtPKCEMandatory != nil {
		c.PKCEMandatory = *in.ExtPKCEMandatory
	}
	if in.ExtPKCESupportPlain != nil {
		c.PKCESupportPlain = *in.ExtPKCESupportPlain
	}

	// Client authentication.
	if in.ExtPublicClient != nil {
		c.Public = *in.ExtPublicClient
	}
	if m := in.TokenEndpointAuthMethod; m != "" {
		if !slices.Contains(knownAuthMethods, m) {
			return invalid("token_endpoint_auth_method %q is not supported", m)
		}
		c.AuthMethod = m
		if m == "none" {
			c.Public = true
		} else if in.ExtPublicClient != nil && *in.ExtPublicClient {
			return invalid("a public client authenticates with none")
		}
	}
	if c.Public {
		c.AuthMethod = "none"
		// RFC 9700: public clients must use PKCE.
		c.PKCEMandatory = true
		if in.ExtParamClientSecret != "" || in.ClientSecret != "" {
			return invalid("a public client has no secret")
		}
		if slices.Contains(c.GrantTypes, "client_credentials") {
			return invalid("a public client cannot use the client_credentials grant")
		}
		c.Secret = ""
	} else if c.AuthMethod == "" || c.AuthMethod == "none" {
		c.AuthMethod = "client_secret_basic"
	}

	if in.JWKSURI != "" {
		u, err := url.Parse(in.JWKSURI)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return invalid("jwks_uri must be an https URL")
		}
		c.JWKSURI = in.JWKSURI
	}
	if len(in.JWKS) > 0 && string(in.JWKS) != "null" {
		var set struct {
			Keys []json.RawMessage `json:"keys"`
		}
		if err := json.Unmarshal(in.JWKS, &set); err != nil || len(set.Keys) == 0 {
			return invalid("jwks must be a JSON Web Key Set with at least one key")
		}
		c.JWKS = string(in.JWKS)
	}
	if c.AuthMethod == "private_key_jwt" && c.JWKSURI == "" && c.JWKS == "" {
		return invalid("private_key_jwt needs jwks_uri or jwks")
	}

	// Features Keyway does not offer are refused rather than silently ignored.
	for _, f := range []struct {
		name string
		v    *bool
	}{
		{"require_signed_request_object", in.RequireSignedRequestObject},
		{"require_pushed_authorization_requests", in.RequirePAR},
		{"tls_client_certificate_bound_access_tokens", in.TLSBoundTokens},
	} {
		if f.v != nil && *f.v {
			return invalid("%s is not supported by this server", f.name)
		}
	}

	switch aud := strings.ToLower(in.ExtAllowedAudience); aud {
	case "":
		if create {
			c.Extra["ext_allowed_audience"] = audienceOrganization
		}
	case audienceOrganization, audienceApplication:
		c.Extra["ext_allowed_audience"] = aud
	default:
		return invalid("ext_allowed_audience %q must be organization or application", in.ExtAllowedAudience)
	}
	if in.BackchannelLogoutURI != "" {
		u, err := url.Parse(in.BackchannelLogoutURI)
		if err != nil || !u.IsAbs() || u.Fragment != "" {
			return invalid("backchannel_logout_uri must be an absolute URL")
		}
	}
	if in.BackchannelLogoutSession != nil {
		c.Extra["backchannel_logout_session_required"] = *in.BackchannelLogoutSession
	}
	// Metadata kept verbatim and returned on reads.
	for k, v := range map[string]string{
		"ext_application_version":         in.ExtApplicationVersion,
		"token_endpoint_auth_signing_alg": in.TokenEndpointAuthSigningAlg,
		"sector_identifier_uri":           in.SectorIdentifierURI,
		"id_token_signed_response_alg":    in.IDTokenSignedResponseAlg,
		"id_token_encrypted_response_alg": in.IDTokenEncryptedAlg,
		"id_token_encrypted_response_enc": in.IDTokenEncryptedEnc,
		"request_object_signing_alg":      in.RequestObjectSigningAlg,
		"tls_client_auth_subject_dn":      in.TLSClientAuthSubjectDN,
		"subject_type":                    in.SubjectType,
		"request_object_encryption_alg":   in.RequestObjectEncryptionAlg,
		"request_object_encryption_enc":   in.RequestObjectEncryptionEnc,
		"software_statement":              in.SoftwareStatement,
		"backchannel_logout_uri":          in.BackchannelLogoutURI,
		"url":                             in.URL,
		"application_type":                in.ApplicationType,
		"ext_param_sp_template":           in.ExtParamSPTemplate,
	} {
		if v != "" {
			c.Extra[k] = v
		}
	}
	for k, v := range map[string][]string{"contacts": in.Contacts, "request_uris": in.RequestURIs, "response_types": in.ResponseTypes} {
		if v != nil {
			c.Extra[k] = v
		}
	}
	return nil
}

// checkClientID accepts preset client ids that survive Basic authentication
// and URLs unchanged.
func checkClientID(id string) error {
	if len(id) > 255 {
		return invalid("ext_param_client_id is too long")
	}
	for _, r := range id {
		if r <= 0x20 || r >= 0x7f || r == ':' || r == '/' || r == '?' || r == '#' || r == '%' {
			return invalid("ext_param_client_id may hold printable ASCII characters except space : / ? # %%")
		}
	}
	return nil
}

// redirectURIs validates absolute URIs without fragments (RFC 6749 §3.1.2);
// custom schemes of native apps are allowed.
func redirectURIs(in []string, field string) ([]string, error) {
	out := []string{}
	for _, raw := range in {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		if strings.HasPrefix(raw, "regexp=") {
			return nil, badRedirect("%s: regular-expression redirect URIs are not supported; register each URI", field)
		}
		u, err := url.Parse(raw)
		if err != nil || !u.IsAbs() || u.Fragment != "" || strings.Contains(raw, "#") || (u.Host == "" && u.Opaque == "" && u.Path == "") {
			return nil, badRedirect("%s: %q is not an absolute URI without a fragment", field, raw)
		}
		if (u.Scheme == "http" || u.Scheme == "https") && u.Host == "" {
			return nil, badRedirect("%s: %q has no host", field, raw)
		}
		if !slices.Contains(out, raw) {
			out = append(out, raw)
		}
	}
	return out, nil
}
