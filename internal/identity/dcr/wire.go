package dcr

import "encoding/json"

// request is the DCR registration and update body (is-dcr.yaml
// registrationRequest / updateRequest). Pointers tell "absent" from zero:
// an update keeps what it does not send, and the APIM connector always sends
// Java primitives (false, 0) meaning "not set" (PATTERN6-WIRE.md §2.1).
type request struct {
	RedirectURIs                []string        `json:"redirect_uris"`
	ClientName                  *string         `json:"client_name"`
	ClientID                    string          `json:"client_id"`
	ClientSecret                string          `json:"client_secret"`
	GrantTypes                  []string        `json:"grant_types"`
	ApplicationType             string          `json:"application_type"`
	ResponseTypes               []string        `json:"response_types"`
	JWKSURI                     string          `json:"jwks_uri"`
	JWKS                        json.RawMessage `json:"jwks"`
	URL                         string          `json:"url"`
	ExtParamClientID            string          `json:"ext_param_client_id"`
	ExtParamClientSecret        string          `json:"ext_param_client_secret"`
	Contacts                    []string        `json:"contacts"`
	PostLogoutRedirectURIs      []string        `json:"post_logout_redirect_uris"`
	RequestURIs                 []string        `json:"request_uris"`
	ExtParamSPTemplate          string          `json:"ext_param_sp_template"`
	BackchannelLogoutURI        string          `json:"backchannel_logout_uri"`
	BackchannelLogoutSession    *bool           `json:"backchannel_logout_session_required"`
	ExtApplicationDisplayName   *string         `json:"ext_application_display_name"`
	TokenTypeExtension          string          `json:"token_type_extension"`
	ExtTokenType                string          `json:"ext_token_type"`
	ExtApplicationOwner         string          `json:"ext_application_owner"`
	ExtApplicationVersion       string          `json:"ext_application_version"`
	ExtApplicationTokenLifetime *int64          `json:"ext_application_token_lifetime"`
	ExtUserTokenLifetime        *int64          `json:"ext_user_token_lifetime"`
	ExtRefreshTokenLifetime     *int64          `json:"ext_refresh_token_lifetime"`
	ExtIDTokenLifetime          *int64          `json:"ext_id_token_lifetime"`
	ExtPKCEMandatory            *bool           `json:"ext_pkce_mandatory"`
	ExtPKCESupportPlain         *bool           `json:"ext_pkce_support_plain"`
	ExtPublicClient             *bool           `json:"ext_public_client"`
	TokenEndpointAuthMethod     string          `json:"token_endpoint_auth_method"`
	TokenEndpointAuthSigningAlg string          `json:"token_endpoint_auth_signing_alg"`
	SectorIdentifierURI         string          `json:"sector_identifier_uri"`
	IDTokenSignedResponseAlg    string          `json:"id_token_signed_response_alg"`
	IDTokenEncryptedAlg         string          `json:"id_token_encrypted_response_alg"`
	IDTokenEncryptedEnc         string          `json:"id_token_encrypted_response_enc"`
	SoftwareStatement           string          `json:"software_statement"`
	RequestObjectSigningAlg     string          `json:"request_object_signing_alg"`
	TLSClientAuthSubjectDN      string          `json:"tls_client_auth_subject_dn"`
	RequireSignedRequestObject  *bool           `json:"require_signed_request_object"`
	RequirePAR                  *bool           `json:"require_pushed_authorization_requests"`
	TLSBoundTokens              *bool           `json:"tls_client_certificate_bound_access_tokens"`
	SubjectType                 string          `json:"subject_type"`
	RequestObjectEncryptionAlg  string          `json:"request_object_encryption_alg"`
	RequestObjectEncryptionEnc  string          `json:"request_object_encryption_enc"`
	ExtAllowedAudience          string          `json:"ext_allowed_audience"`
}

// application is the DCR response (is-dcr.yaml application). Primitive
// members are always present, as IS (Java) sends them.
type application struct {
	ClientID                    string   `json:"client_id"`
	ClientSecret                string   `json:"client_secret,omitempty"`
	ClientSecretExpiresAt       *int64   `json:"client_secret_expires_at,omitempty"`
	RedirectURIs                []string `json:"redirect_uris"`
	GrantTypes                  []string `json:"grant_types"`
	ClientName                  string   `json:"client_name"`
	ExtApplicationDisplayName   string   `json:"ext_application_display_name,omitempty"`
	ExtApplicationOwner         string   `json:"ext_application_owner,omitempty"`
	ExtApplicationVersion       string   `json:"ext_application_version,omitempty"`
	ExtApplicationTokenLifetime int64    `json:"ext_application_token_lifetime"`
	ExtUserTokenLifetime        int64    `json:"ext_user_token_lifetime"`
	ExtRefreshTokenLifetime     int64    `json:"ext_refresh_token_lifetime"`
	ExtIDTokenLifetime          int64    `json:"ext_id_token_lifetime"`
	ExtPKCEMandatory            bool     `json:"ext_pkce_mandatory"`
	ExtPKCESupportPlain         bool     `json:"ext_pkce_support_plain"`
	ExtPublicClient             bool     `json:"ext_public_client"`
	ExtTokenType                string   `json:"ext_token_type,omitempty"`
	TokenTypeExtension          string   `json:"token_type_extension"`
	JWKSURI                     string   `json:"jwks_uri,omitempty"`
	TokenEndpointAuthMethod     string   `json:"token_endpoint_auth_method,omitempty"`
	TokenEndpointAuthSigningAlg string   `json:"token_endpoint_auth_signing_alg,omitempty"`
	SectorIdentifierURI         string   `json:"sector_identifier_uri,omitempty"`
	IDTokenSignedResponseAlg    string   `json:"id_token_signed_response_alg,omitempty"`
	IDTokenEncryptedAlg         string   `json:"id_token_encrypted_response_alg,omitempty"`
	IDTokenEncryptedEnc         string   `json:"id_token_encrypted_response_enc,omitempty"`
	RequestObjectSigningAlg     string   `json:"request_object_signing_alg,omitempty"`
	TLSClientAuthSubjectDN      string   `json:"tls_client_auth_subject_dn,omitempty"`
	RequirePAR                  bool     `json:"require_push_authorization_request"`
	RequireSignedRequestObject  bool     `json:"require_signed_request_object"`
	TLSBoundToken               bool     `json:"tls_client_certificate_bound_access_token"`
	SubjectType                 string   `json:"subject_type,omitempty"`
	RequestObjectEncryptionAlg  string   `json:"request_object_encryption_algorithm,omitempty"`
	RequestObjectEncryptionEnc  string   `json:"request_object_encryption_method,omitempty"`
	SoftwareStatement           string   `json:"software_statement,omitempty"`
	ExtAllowedAudience          string   `json:"ext_allowed_audience"`
	PostLogoutRedirectURIs      []string `json:"post_logout_redirect_uris,omitempty"`
	BackchannelLogoutURI        string   `json:"backchannel_logout_uri,omitempty"`
	BackchannelLogoutSession    bool     `json:"backchannel_logout_session_required"`
}
