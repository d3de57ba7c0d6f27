package keymanager

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// OIDC is the connector for any OpenID Connect provider: RFC 7591 dynamic
// registration (with RFC 7592 read/update/delete at {registration}/{id}),
// RFC 6749 client credentials and RFC 7662 introspection. Providers have no
// common scope API, so scopes are left to the provider's own administration.
type OIDC struct {
	c            caller
	registration string
	token        string
	introspect   string
	// regAuth authenticates registration calls: an initial access token
	// (Bearer) or the connector's Username/Password (Basic).
	regAuth http.Header
	kmAuth  http.Header
}

// NewOIDC builds the connector from a configuration whose secrets are open.
func NewOIDC(cfg *Config, client *http.Client) (*OIDC, error) {
	o := &OIDC{c: caller{http: client}, registration: cfg.ClientRegistrationEndpoint, token: cfg.TokenEndpoint,
		introspect: cfg.IntrospectionEndpoint, regAuth: http.Header{}, kmAuth: http.Header{}}
	if o.token == "" {
		return nil, fmt.Errorf("%w: an OpenID Connect key manager needs a tokenEndpoint", ErrInvalid)
	}
	if user, pass := cfg.Prop("Username"), cfg.Prop("Password"); user != "" {
		o.regAuth, o.kmAuth = basic(user, pass), basic(user, pass)
	}
	if iat := cfg.Prop("initial_access_token"); iat != "" {
		o.regAuth = http.Header{"Authorization": {"Bearer " + iat}}
	}
	return o, nil
}

type rfc7591Client struct {
	ClientID                string   `json:"client_id,omitempty"`
	ClientSecret            string   `json:"client_secret,omitempty"`
	ClientName              string   `json:"client_name,omitempty"`
	GrantTypes              []string `json:"grant_types,omitempty"`
	RedirectURIs            []string `json:"redirect_uris,omitempty"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method,omitempty"`
}

func (r *rfc7591Client) client() *Client {
	c := &Client{ClientID: r.ClientID, ClientSecret: r.ClientSecret, ClientName: r.ClientName,
		CallbackURL: strings.Join(r.RedirectURIs, ","), GrantTypes: r.GrantTypes, Properties: map[string]any{}}
	if c.GrantTypes == nil {
		c.GrantTypes = []string{}
	}
	return c
}

func (o *OIDC) body(req ClientRequest) *rfc7591Client {
	b := &rfc7591Client{ClientName: req.ClientName, GrantTypes: req.GrantTypes, TokenEndpointAuthMethod: "client_secret_basic"}
	if cb := strings.TrimSpace(req.CallbackURL); cb != "" {
		b.RedirectURIs = callbackSplit.Split(cb, -1)
	}
	return b
}

func (o *OIDC) needRegistration() error {
	if o.registration == "" {
		return fmt.Errorf("%w: the key manager has no client registration endpoint", ErrUnsupported)
	}
	return nil
}

func (o *OIDC) clientURL(id string) string {
	return strings.TrimSuffix(o.registration, "/") + "/" + url.PathEscape(id)
}

// RegisterClient registers a client (RFC 7591 §3.1).
func (o *OIDC) RegisterClient(ctx context.Context, req ClientRequest) (*Client, error) {
	if err := o.needRegistration(); err != nil {
		return nil, err
	}
	var out rfc7591Client
	if _, err := o.c.do(ctx, request{op: "register client", method: http.MethodPost, url: o.registration, header: o.regAuth, json: o.body(req), out: &out}); err != nil {
		return nil, err
	}
	if out.ClientID == "" {
		return nil, fmt.Errorf("key manager register client: the response has no client_id")
	}
	return out.client(), nil
}

// GetClient reads a client (RFC 7592 §2.1).
func (o *OIDC) GetClient(ctx context.Context, clientID string) (*Client, error) {
	if err := o.needRegistration(); err != nil {
		return nil, err
	}
	var out rfc7591Client
	status, err := o.c.do(ctx, request{op: "read client", method: http.MethodGet, url: o.clientURL(clientID), header: o.regAuth, out: &out})
	if status == http.StatusNotFound || status == http.StatusUnauthorized {
		return nil, ErrClientNotFound
	}
	if err != nil {
		return nil, err
	}
	return out.client(), nil
}

// UpdateClient replaces a client (RFC 7592 §2.2).
func (o *OIDC) UpdateClient(ctx context.Context, req ClientRequest) (*Client, error) {
	if err := o.needRegistration(); err != nil {
		return nil, err
	}
	b := o.body(req)
	b.ClientID = req.ClientID
	var out rfc7591Client
	status, err := o.c.do(ctx, request{op: "update client", method: http.MethodPut, url: o.clientURL(req.ClientID), header: o.regAuth, json: b, out: &out})
	if status == http.StatusNotFound {
		return nil, ErrClientNotFound
	}
	if err != nil {
		return nil, err
	}
	return out.client(), nil
}

// DeleteClient deletes a client (RFC 7592 §2.3).
func (o *OIDC) DeleteClient(ctx context.Context, clientID string) error {
	if err := o.needRegistration(); err != nil {
		return err
	}
	status, err := o.c.do(ctx, request{op: "delete client", method: http.MethodDelete, url: o.clientURL(clientID), header: o.regAuth})
	if status == http.StatusNotFound {
		return nil
	}
	return err
}

// RegenerateSecret is not part of the RFCs.
func (o *OIDC) RegenerateSecret(context.Context, string) (string, error) { return "", ErrUnsupported }

// MapClient accepts an existing client when a client_credentials token can
// be obtained with its secret, the only portable check.
func (o *OIDC) MapClient(ctx context.Context, clientID, clientSecret string) (*Client, error) {
	if clientSecret == "" {
		return nil, fmt.Errorf("%w: consumerSecret is required to map keys of this key manager", ErrInvalid)
	}
	if _, err := o.Token(ctx, clientID, clientSecret, nil); err != nil {
		return nil, fmt.Errorf("%w: the key manager rejected the client credentials: %v", ErrInvalid, err)
	}
	return &Client{ClientID: clientID, ClientSecret: clientSecret, GrantTypes: []string{"client_credentials"}, Properties: map[string]any{}}, nil
}

// RetainsSecret: RFC 7592 reads need a registration access token Keyway
// does not keep, so the secret is sealed in the key mapping instead.
func (o *OIDC) RetainsSecret() bool { return false }

// Token gets an application token.
func (o *OIDC) Token(ctx context.Context, clientID, clientSecret string, scopes []string) (*Token, error) {
	return clientCredentials(ctx, &o.c, o.token, clientID, clientSecret, scopes)
}

// Introspect asks the provider about a token (RFC 7662).
func (o *OIDC) Introspect(ctx context.Context, token string) (*Introspection, error) {
	if o.introspect == "" {
		return nil, fmt.Errorf("%w: no introspection endpoint", ErrUnsupported)
	}
	return introspect(ctx, &o.c, o.introspect, o.kmAuth, token)
}

// RegisterScopes does nothing: generic providers have no scope API.
func (o *OIDC) RegisterScopes(context.Context, []Scope) error { return nil }

// DeleteScopes does nothing: generic providers have no scope API.
func (o *OIDC) DeleteScopes(context.Context, []string) error { return nil }
