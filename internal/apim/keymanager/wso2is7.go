package keymanager

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// IS 7 API resource that holds every API Manager scope (PATTERN6-WIRE §2.7).
const (
	is7ResourceIdentifier  = "User-defined-oauth2-resource"
	is7ResourceName        = "User-defined OAuth2 Resource"
	is7ResourceDescription = "This is Default OAuth2 Resource Representation"
	scimSearchSchema       = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
)

// IS7 is the WSO2-IS-7 connector (apim-km-wso2is v2.0.5 behaviour).
type IS7 struct {
	c            caller
	dcr          string
	token        string
	introspect   string
	apiResources string
	roles        string
	userInfo     string
	username     string
	password     string
	tenant       string
	createRoles  bool
}

// NewIS7 builds the connector from a configuration whose secrets are open.
// Endpoints not configured are derived from the AuthServer URL as the
// connector does (§2.2).
func NewIS7(cfg *Config, client *http.Client) (*IS7, error) {
	base := strings.TrimSuffix(cfg.Prop("AuthServer"), "/")
	pick := func(v, suffix string) string {
		if v != "" {
			return v
		}
		if base != "" {
			return base + suffix
		}
		return ""
	}
	k := &IS7{
		c:            caller{http: client},
		dcr:          pick(cfg.ClientRegistrationEndpoint, "/keymanager-operations/dcr/register"),
		token:        pick(cfg.TokenEndpoint, "/oauth2/token"),
		introspect:   pick(cfg.IntrospectionEndpoint, "/oauth2/introspect"),
		apiResources: pick(cfg.Prop("api_resource_management_endpoint"), "/api/server/v1/api-resources"),
		roles:        pick(cfg.Prop("is7_roles_endpoint"), "/scim2/v2/Roles"),
		userInfo:     pick(cfg.UserInfoEndpoint, "/keymanager-operations/user-info"),
		username:     cfg.Prop("Username"),
		password:     cfg.Prop("Password"),
		tenant:       "carbon.super",
	}
	// Only a JSON boolean true enables role creation (§3.3), as in the
	// connector; a string "true" does not.
	if v, ok := cfg.AdditionalProperties["enable_roles_creation"].(bool); ok {
		k.createRoles = v
	}
	if k.dcr == "" || k.token == "" {
		return nil, fmt.Errorf("%w: WSO2-IS-7 needs clientRegistrationEndpoint and tokenEndpoint", ErrInvalid)
	}
	if k.username == "" || k.password == "" {
		return nil, fmt.Errorf("%w: WSO2-IS-7 needs the Username and Password additional properties", ErrInvalid)
	}
	return k, nil
}

func (k *IS7) admin() http.Header { return basic(k.username, k.password) }

// is7ClientInfo is WSO2IS7ClientInfo as Gson encodes it: nil pointers are
// omitted, primitives are always sent.
type is7ClientInfo struct {
	ClientID                      string   `json:"client_id,omitempty"`
	ClientSecret                  string   `json:"client_secret,omitempty"`
	ClientName                    string   `json:"client_name"`
	GrantTypes                    []string `json:"grant_types"`
	RedirectURIs                  []string `json:"redirect_uris,omitempty"`
	DisplayName                   string   `json:"ext_application_display_name"`
	TokenType                     string   `json:"token_type_extension"`
	PresetClientID                string   `json:"ext_param_client_id,omitempty"`
	PresetClientSecret            string   `json:"ext_param_client_secret,omitempty"`
	AppTokenLifetime              *int64   `json:"ext_application_token_lifetime,omitempty"`
	UserTokenLifetime             *int64   `json:"ext_user_token_lifetime,omitempty"`
	RefreshTokenLifetime          int64    `json:"ext_refresh_token_lifetime"`
	IDTokenLifetime               int64    `json:"ext_id_token_lifetime"`
	PKCEMandatory                 bool     `json:"ext_pkce_mandatory"`
	PKCESupportPlain              bool     `json:"ext_pkce_support_plain"`
	PublicClient                  bool     `json:"ext_public_client"`
	AllowedAudience               string   `json:"ext_allowed_audience"`
	BackchannelLogoutSession      bool     `json:"backchannel_logout_session_required"`
	RequireSignedRequestObject    bool     `json:"require_signed_request_object"`
	RequirePushedAuthorization    bool     `json:"require_pushed_authorization_requests"`
	TLSClientCertBoundAccessToken bool     `json:"tls_client_certificate_bound_access_tokens"`
}

// is7ClientResponse is the part of IS's DCR answer the connector reads.
type is7ClientResponse struct {
	ClientID             string   `json:"client_id"`
	ClientSecret         string   `json:"client_secret"`
	ClientName           string   `json:"client_name"`
	RedirectURIs         []string `json:"redirect_uris"`
	GrantTypes           []string `json:"grant_types"`
	AppTokenLifetime     *int64   `json:"ext_application_token_lifetime"`
	UserTokenLifetime    *int64   `json:"ext_user_token_lifetime"`
	RefreshTokenLifetime *int64   `json:"ext_refresh_token_lifetime"`
	IDTokenLifetime      *int64   `json:"ext_id_token_lifetime"`
	PKCEMandatory        *bool    `json:"ext_pkce_mandatory"`
	PKCESupportPlain     *bool    `json:"ext_pkce_support_plain"`
	PublicClient         *bool    `json:"ext_public_client"`
}

func (r *is7ClientResponse) client() *Client {
	c := &Client{ClientID: r.ClientID, ClientSecret: r.ClientSecret, ClientName: r.ClientName,
		CallbackURL: strings.Join(r.RedirectURIs, ","), GrantTypes: r.GrantTypes, Properties: map[string]any{}}
	if c.GrantTypes == nil {
		c.GrantTypes = []string{}
	}
	for name, v := range map[string]*int64{"ext_application_token_lifetime": r.AppTokenLifetime,
		"ext_user_token_lifetime": r.UserTokenLifetime, "ext_refresh_token_lifetime": r.RefreshTokenLifetime,
		"ext_id_token_lifetime": r.IDTokenLifetime} {
		if v != nil {
			c.Properties[name] = strconv.FormatInt(*v, 10)
		}
	}
	for name, v := range map[string]*bool{"ext_pkce_mandatory": r.PKCEMandatory, "ext_pkce_support_plain": r.PKCESupportPlain,
		"ext_public_client": r.PublicClient} {
		if v != nil {
			c.Properties[name] = strconv.FormatBool(*v)
		}
	}
	return c
}

var callbackSplit = regexp.MustCompile(`\s*,\s*`)

// propString reads a developer-portal property; "N/A" and "" mean unset.
func propString(props map[string]any, name string) string {
	switch v := props[name].(type) {
	case string:
		if v == "N/A" {
			return ""
		}
		return strings.TrimSpace(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	}
	return ""
}

// clientInfo builds the DCR body, rejecting invalid properties before any
// call (INVALID_APPLICATION_ADDITIONAL_PROPERTIES).
func (k *IS7) clientInfo(req ClientRequest, update bool) (*is7ClientInfo, error) {
	info := &is7ClientInfo{ClientName: req.ClientName, DisplayName: req.AppName, AllowedAudience: "organization"}
	info.TokenType = "JWT"
	if !strings.EqualFold(req.TokenType, "JWT") && req.TokenType != "" {
		info.TokenType = "Default"
	}
	grants := strings.TrimPrefix(strings.Join(req.GrantTypes, ","), ",")
	info.GrantTypes = []string{}
	for _, g := range strings.Split(grants, ",") {
		if g = strings.TrimSpace(g); g != "" {
			info.GrantTypes = append(info.GrantTypes, g)
		}
	}
	if cb := strings.TrimSpace(req.CallbackURL); cb != "" {
		info.RedirectURIs = callbackSplit.Split(cb, -1)
	}
	if update {
		info.ClientID, info.ClientSecret = req.ClientID, req.ClientSecret
	} else {
		info.PresetClientID, info.PresetClientSecret = req.ClientID, req.ClientSecret
	}
	lifetime := func(name string, optional bool) (*int64, error) {
		s := propString(req.Properties, name)
		if s == "" {
			if optional {
				return nil, nil
			}
			zero := int64(0)
			return &zero, nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%w: %s must be a non-negative integer", ErrInvalidProperties, name)
		}
		return &n, nil
	}
	var err error
	if info.AppTokenLifetime, err = lifetime("ext_application_token_lifetime", true); err != nil {
		return nil, err
	}
	if info.UserTokenLifetime, err = lifetime("ext_user_token_lifetime", true); err != nil {
		return nil, err
	}
	rt, err := lifetime("ext_refresh_token_lifetime", false)
	if err != nil {
		return nil, err
	}
	it, err := lifetime("ext_id_token_lifetime", false)
	if err != nil {
		return nil, err
	}
	info.RefreshTokenLifetime, info.IDTokenLifetime = *rt, *it
	flag := func(name string) (bool, error) {
		switch s := propString(req.Properties, name); s {
		case "", "false":
			return false, nil
		case "true":
			return true, nil
		default:
			return false, fmt.Errorf("%w: %s must be true or false", ErrInvalidProperties, name)
		}
	}
	if info.PKCEMandatory, err = flag("ext_pkce_mandatory"); err != nil {
		return nil, err
	}
	if info.PKCESupportPlain, err = flag("ext_pkce_support_plain"); err != nil {
		return nil, err
	}
	if info.PublicClient, err = flag("ext_public_client"); err != nil {
		return nil, err
	}
	return info, nil
}

// ErrInvalidProperties rejects per-key properties before calling IS.
var ErrInvalidProperties = errors.New("invalid application additional properties")

// RegisterClient creates the OAuth client by DCR (§2.3).
func (k *IS7) RegisterClient(ctx context.Context, req ClientRequest) (*Client, error) {
	info, err := k.clientInfo(req, false)
	if err != nil {
		return nil, err
	}
	var out is7ClientResponse
	if _, err := k.c.do(ctx, request{op: "create OAuth application", method: http.MethodPost, url: k.dcr, header: k.admin(), json: info, out: &out}); err != nil {
		return nil, err
	}
	return out.client(), nil
}

func (k *IS7) clientURL(id string) string {
	return strings.TrimSuffix(k.dcr, "/") + "/" + url.PathEscape(id)
}

// GetClient reads a client (§2.4); 404 means absent.
func (k *IS7) GetClient(ctx context.Context, clientID string) (*Client, error) {
	var out is7ClientResponse
	status, err := k.c.do(ctx, request{op: "retrieve OAuth application", method: http.MethodGet, url: k.clientURL(clientID), header: k.admin(), out: &out})
	if status == http.StatusNotFound {
		return nil, ErrClientNotFound
	}
	if err != nil {
		return nil, err
	}
	return out.client(), nil
}

// UpdateClient replaces a client (§2.4).
func (k *IS7) UpdateClient(ctx context.Context, req ClientRequest) (*Client, error) {
	info, err := k.clientInfo(req, true)
	if err != nil {
		return nil, err
	}
	var out is7ClientResponse
	status, err := k.c.do(ctx, request{op: "update OAuth application", method: http.MethodPut, url: k.clientURL(req.ClientID), header: k.admin(), json: info, out: &out})
	if status == http.StatusNotFound {
		return nil, ErrClientNotFound
	}
	if err != nil {
		return nil, err
	}
	return out.client(), nil
}

// DeleteClient deletes a client; one already gone counts as deleted.
func (k *IS7) DeleteClient(ctx context.Context, clientID string) error {
	status, err := k.c.do(ctx, request{op: "delete OAuth application", method: http.MethodDelete, url: k.clientURL(clientID), header: k.admin()})
	if status == http.StatusNotFound {
		return nil
	}
	return err
}

// RegenerateSecret is not implemented by the IS 7 connector (§2.4).
func (k *IS7) RegenerateSecret(context.Context, string) (string, error) { return "", ErrUnsupported }

// MapClient reads the client and compares its secret (§2.4).
func (k *IS7) MapClient(ctx context.Context, clientID, clientSecret string) (*Client, error) {
	c, err := k.GetClient(ctx, clientID)
	if err != nil {
		return nil, err
	}
	if clientSecret != "" && c.ClientSecret != clientSecret {
		return nil, fmt.Errorf("%w: the consumer secret does not match the key manager's", ErrInvalid)
	}
	return c, nil
}

// RetainsSecret: IS's DCR GET returns the plaintext secret.
func (k *IS7) RetainsSecret() bool { return true }

// Token gets an application token (§2.5); the validity is not sent.
func (k *IS7) Token(ctx context.Context, clientID, clientSecret string, scopes []string) (*Token, error) {
	return clientCredentials(ctx, &k.c, k.token, clientID, clientSecret, scopes)
}

// Introspect asks IS about a token (§2.6).
func (k *IS7) Introspect(ctx context.Context, token string) (*Introspection, error) {
	h := k.admin()
	h.Set("X-WSO2-Tenant", k.tenant)
	return introspect(ctx, &k.c, k.introspect, h, token)
}

type is7Scope struct {
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
	Description string `json:"description"`
}

// resourceID finds the User-defined-oauth2-resource ("" when absent).
func (k *IS7) resourceID(ctx context.Context) (string, error) {
	q := url.Values{"filter": {"identifier eq " + is7ResourceIdentifier}}.Encode()
	q = strings.ReplaceAll(q, "+", "%20")
	var out struct {
		APIResources []struct {
			ID string `json:"id"`
		} `json:"apiResources"`
	}
	if _, err := k.c.do(ctx, request{op: "find API resource", method: http.MethodGet, url: k.apiResources + "?" + q, header: k.admin(), out: &out}); err != nil {
		return "", err
	}
	if len(out.APIResources) == 0 {
		return "", nil
	}
	return out.APIResources[0].ID, nil
}

// RegisterScopes adds the scopes missing from the API resource, creating
// the resource when needed, then binds each scope's roles (§2.7, §2.8).
func (k *IS7) RegisterScopes(ctx context.Context, scopes []Scope) error {
	if len(scopes) == 0 {
		return nil
	}
	if k.apiResources == "" {
		return fmt.Errorf("%w: api_resource_management_endpoint is not configured", ErrInvalid)
	}
	id, err := k.resourceID(ctx)
	if err != nil {
		return err
	}
	toIS := func(s Scope) is7Scope {
		name := s.Name
		if name == "" {
			name = s.Key
		}
		return is7Scope{Name: s.Key, DisplayName: name, Description: s.Description}
	}
	if id == "" {
		body := map[string]any{"name": is7ResourceName, "description": is7ResourceDescription, "identifier": is7ResourceIdentifier,
			"requiresAuthorization": true}
		list := []is7Scope{}
		for _, s := range scopes {
			list = append(list, toIS(s))
		}
		body["scopes"] = list
		if _, err := k.c.do(ctx, request{op: "create API resource", method: http.MethodPost, url: k.apiResources, header: k.admin(), json: body}); err != nil {
			return err
		}
	} else {
		var existing []is7Scope
		if _, err := k.c.do(ctx, request{op: "list API resource scopes", method: http.MethodGet, url: k.apiResources + "/" + url.PathEscape(id) + "/scopes",
			header: k.admin(), out: &existing}); err != nil {
			return err
		}
		added := []is7Scope{}
		for _, s := range scopes {
			if !slices.ContainsFunc(existing, func(e is7Scope) bool { return e.Name == s.Key }) {
				added = append(added, toIS(s))
			}
		}
		if len(added) > 0 {
			if _, err := k.c.do(ctx, request{op: "add API resource scopes", method: http.MethodPatch, url: k.apiResources + "/" + url.PathEscape(id),
				header: k.admin(), json: map[string]any{"addedScopes": added}}); err != nil {
				return err
			}
		}
	}
	for _, s := range scopes {
		for _, role := range s.Roles {
			if err := k.bindRole(ctx, role, s); err != nil {
				return err
			}
		}
	}
	return nil
}

// DeleteScopes removes scopes from the API resource; role bindings stay
// untouched, as the connector leaves them.
func (k *IS7) DeleteScopes(ctx context.Context, keys []string) error {
	if len(keys) == 0 || k.apiResources == "" {
		return nil
	}
	id, err := k.resourceID(ctx)
	if err != nil || id == "" {
		return err
	}
	for _, key := range keys {
		status, err := k.c.do(ctx, request{op: "delete API resource scope", method: http.MethodDelete,
			url: k.apiResources + "/" + url.PathEscape(id) + "/scopes/" + url.PathEscape(key), header: k.admin()})
		if err != nil && status != http.StatusNotFound {
			return err
		}
	}
	return nil
}

// is7RoleName maps an API Manager role to its IS 7 name when role creation
// is enabled (§2.8).
func (k *IS7) is7RoleName(role string) (string, error) {
	if !k.createRoles {
		return role, nil
	}
	switch {
	case strings.HasPrefix(role, "Internal/"):
		return strings.TrimPrefix(role, "Internal/"), nil
	case strings.HasPrefix(role, "Application/"):
		return "", fmt.Errorf("%w: invalid role %s", ErrInvalid, role)
	default:
		return "system_primary_" + role, nil
	}
}

type is7Permission struct {
	Value   string `json:"value"`
	Display string `json:"display,omitempty"`
}

func (k *IS7) bindRole(ctx context.Context, apimRole string, s Scope) error {
	role, err := k.is7RoleName(strings.TrimSpace(apimRole))
	if err != nil || role == "" {
		return err
	}
	h := k.admin()
	h.Set("Content-Type", "application/json")
	var found struct {
		Resources []struct {
			ID string `json:"id"`
		} `json:"Resources"`
	}
	search := map[string]any{"schemas": []string{scimSearchSchema}, "filter": "displayName eq " + role}
	if _, err := k.c.do(ctx, request{op: "search roles", method: http.MethodPost, url: k.roles + "/.search", header: h, json: search, out: &found}); err != nil {
		return err
	}
	display := s.Name
	if display == "" {
		display = s.Key
	}
	perm := is7Permission{Value: s.Key, Display: display}
	if len(found.Resources) == 0 {
		if !k.createRoles {
			return nil
		}
		body := map[string]any{"displayName": role, "permissions": []is7Permission{perm}}
		_, err := k.c.do(ctx, request{op: "create role", method: http.MethodPost, url: k.roles, header: h, json: body})
		return err
	}
	roleURL := k.roles + "/" + url.PathEscape(found.Resources[0].ID)
	var current struct {
		Permissions []is7Permission `json:"permissions"`
	}
	if _, err := k.c.do(ctx, request{op: "get role", method: http.MethodGet, url: roleURL, header: h, out: &current}); err != nil {
		return err
	}
	if slices.ContainsFunc(current.Permissions, func(p is7Permission) bool { return p.Value == s.Key }) {
		return nil
	}
	perms := append(current.Permissions, perm)
	patch := map[string]any{"Operations": []map[string]any{{"op": "replace", "value": map[string]any{"permissions": perms}}}}
	_, err = k.c.do(ctx, request{op: "bind role", method: http.MethodPatch, url: roleURL, header: h, json: patch})
	return err
}

// UserClaims reads the end user's SCIM attributes from /scim2/Me (§2.9).
func (k *IS7) UserClaims(ctx context.Context, userToken string) (map[string]any, error) {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+userToken)
	out := map[string]any{}
	if _, err := k.c.do(ctx, request{op: "user claims", method: http.MethodGet, url: k.userInfo, header: h, out: &out}); err != nil {
		return nil, err
	}
	return out, nil
}
