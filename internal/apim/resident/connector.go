package resident

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/keyway/keyway/internal/apim/keymanager"
	"github.com/keyway/keyway/internal/oauth"
)

// Resident is the connector of the API Manager's own key manager: clients
// live in the resident OAuth engine's ClientStore, tokens come from its
// token endpoint reached in process, and scopes are the API Manager's own.
type Resident struct {
	clients   oauth.ClientStore
	validator oauth.TokenValidator
	http      *http.Client
	token     string
}

// NewResident builds the resident connector. tokenClient reaches tokenURL
// (an in-process transport over the engine's handler, or the truststore
// client); validator answers introspection.
func NewResident(clients oauth.ClientStore, validator oauth.TokenValidator, tokenClient *http.Client, tokenURL string) *Resident {
	return &Resident{clients: clients, validator: validator, http: tokenClient, token: tokenURL}
}

func residentClient(c *oauth.Client) *keymanager.Client {
	props := map[string]any{}
	if c.ApplicationAccessTokenLifetime > 0 {
		props["application_access_token_expiry_time"] = strconv.FormatInt(c.ApplicationAccessTokenLifetime, 10)
	}
	if c.UserAccessTokenLifetime > 0 {
		props["user_access_token_expiry_time"] = strconv.FormatInt(c.UserAccessTokenLifetime, 10)
	}
	if c.RefreshTokenLifetime > 0 {
		props["refresh_token_expiry_time"] = strconv.FormatInt(c.RefreshTokenLifetime, 10)
	}
	if c.IDTokenLifetime > 0 {
		props["id_token_expiry_time"] = strconv.FormatInt(c.IDTokenLifetime, 10)
	}
	props["pkceMandatory"] = strconv.FormatBool(c.PKCEMandatory)
	props["pkceSupportPlain"] = strconv.FormatBool(c.PKCESupportPlain)
	props["bypassClientCredentials"] = strconv.FormatBool(c.Public)
	grants := c.GrantTypes
	if grants == nil {
		grants = []string{}
	}
	return &keymanager.Client{ClientID: c.ID, ClientSecret: c.Secret, ClientName: c.Name, CallbackURL: strings.Join(c.RedirectURIs, ","),
		GrantTypes: grants, Properties: props}
}

// applyRequest copies a request's settings onto an engine client. The
// property names are the resident key manager's application configuration
// (WSO2's default key manager connector).
func applyRequest(c *oauth.Client, req keymanager.ClientRequest) error {
	c.Name, c.Owner, c.DisplayName = req.ClientName, req.Owner, req.AppName
	c.GrantTypes = slices.DeleteFunc(slices.Clone(req.GrantTypes), func(g string) bool { return strings.TrimSpace(g) == "" })
	c.RedirectURIs = keymanager.SplitCallback(req.CallbackURL)
	c.TokenType = "JWT"
	if req.TokenType != "" && !strings.EqualFold(req.TokenType, "JWT") {
		c.TokenType = "Default"
	}
	c.FirstParty = true
	lifetimes := map[string]*int64{"application_access_token_expiry_time": &c.ApplicationAccessTokenLifetime,
		"user_access_token_expiry_time": &c.UserAccessTokenLifetime, "refresh_token_expiry_time": &c.RefreshTokenLifetime,
		"id_token_expiry_time": &c.IDTokenLifetime}
	for name, dst := range lifetimes {
		if s := keymanager.PropString(req.Properties, name); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 0 {
				return fmt.Errorf("%w: %s must be a non-negative integer", keymanager.ErrInvalidProperties, name)
			}
			*dst = n
		}
	}
	flags := map[string]*bool{"pkceMandatory": &c.PKCEMandatory, "pkceSupportPlain": &c.PKCESupportPlain, "bypassClientCredentials": &c.Public}
	for name, dst := range flags {
		switch s := keymanager.PropString(req.Properties, name); s {
		case "":
		case "true", "false":
			*dst = s == "true"
		default:
			return fmt.Errorf("%w: %s must be true or false", keymanager.ErrInvalidProperties, name)
		}
	}
	if c.Public {
		c.AuthMethod = "none"
	} else if c.AuthMethod == "" || c.AuthMethod == "none" {
		c.AuthMethod = "client_secret_basic"
	}
	return nil
}

// RegisterClient creates a client in the resident engine.
func (r *Resident) RegisterClient(ctx context.Context, req keymanager.ClientRequest) (*keymanager.Client, error) {
	c := &oauth.Client{ID: req.ClientID, Secret: req.ClientSecret}
	if err := applyRequest(c, req); err != nil {
		return nil, err
	}
	if err := r.clients.CreateClient(ctx, c); err != nil {
		if errors.Is(err, oauth.ErrClientConflict) {
			return nil, fmt.Errorf("%w: an OAuth client %s already exists", keymanager.ErrInvalid, req.ClientName)
		}
		return nil, fmt.Errorf("create resident client: %w", err)
	}
	return residentClient(c), nil
}

// GetClient reads a client.
func (r *Resident) GetClient(ctx context.Context, clientID string) (*keymanager.Client, error) {
	c, err := r.clients.GetClient(ctx, clientID)
	if errors.Is(err, oauth.ErrClientNotFound) {
		return nil, keymanager.ErrClientNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get resident client: %w", err)
	}
	return residentClient(c), nil
}

// UpdateClient changes grant types, callback and properties.
func (r *Resident) UpdateClient(ctx context.Context, req keymanager.ClientRequest) (*keymanager.Client, error) {
	c, err := r.clients.GetClient(ctx, req.ClientID)
	if errors.Is(err, oauth.ErrClientNotFound) {
		return nil, keymanager.ErrClientNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get resident client: %w", err)
	}
	name := c.Name
	if err := applyRequest(c, req); err != nil {
		return nil, err
	}
	if req.ClientName == "" {
		c.Name = name
	}
	c.Secret = ""
	if err := r.clients.UpdateClient(ctx, c); err != nil {
		return nil, fmt.Errorf("update resident client: %w", err)
	}
	return r.GetClient(ctx, req.ClientID)
}

// DeleteClient deletes a client and its tokens.
func (r *Resident) DeleteClient(ctx context.Context, clientID string) error {
	err := r.clients.DeleteClient(ctx, clientID)
	if err != nil && !errors.Is(err, oauth.ErrClientNotFound) {
		return fmt.Errorf("delete resident client: %w", err)
	}
	return nil
}

// RegenerateSecret gives the client a new random secret; the engine
// revokes nothing else, as WSO2's resident key manager does.
func (r *Resident) RegenerateSecret(ctx context.Context, clientID string) (string, error) {
	c, err := r.clients.GetClient(ctx, clientID)
	if errors.Is(err, oauth.ErrClientNotFound) {
		return "", keymanager.ErrClientNotFound
	}
	if err != nil {
		return "", fmt.Errorf("get resident client: %w", err)
	}
	secret, err := randomSecret()
	if err != nil {
		return "", err
	}
	c.Secret = secret
	if err := r.clients.UpdateClient(ctx, c); err != nil {
		return "", fmt.Errorf("regenerate resident client secret: %w", err)
	}
	return secret, nil
}

// MapClient checks an existing client's secret.
func (r *Resident) MapClient(ctx context.Context, clientID, clientSecret string) (*keymanager.Client, error) {
	c, err := r.GetClient(ctx, clientID)
	if err != nil {
		return nil, err
	}
	if clientSecret != "" && c.ClientSecret != clientSecret {
		return nil, fmt.Errorf("%w: the consumer secret does not match", keymanager.ErrInvalid)
	}
	return c, nil
}

// RetainsSecret: the engine keeps the secret sealed and returns it.
func (r *Resident) RetainsSecret() bool { return true }

// Token gets an application token from the engine's token endpoint.
func (r *Resident) Token(ctx context.Context, clientID, clientSecret string, scopes []string) (*keymanager.Token, error) {
	return keymanager.ClientCredentials(ctx, r.http, r.token, clientID, clientSecret, scopes)
}

// Introspect validates a token of the engine.
func (r *Resident) Introspect(ctx context.Context, token string) (*keymanager.Introspection, error) {
	ti, err := r.validator.ValidateAccessToken(ctx, token)
	if err != nil || ti == nil {
		return &keymanager.Introspection{Active: false}, nil
	}
	return &keymanager.Introspection{Active: ti.Active, TokenType: ti.TokenType, IssuedAt: ti.IssuedAt.Unix(), ExpiresAt: ti.ExpiresAt.Unix(),
		Scopes: ti.Scopes, ClientID: ti.ClientID, Username: ti.Username, Application: strings.EqualFold(ti.AuthorizedUserType, "APPLICATION")}, nil
}

// RegisterScopes does nothing: the resident key manager reads API scopes
// from the API Manager's own catalog.
func (r *Resident) RegisterScopes(context.Context, []keymanager.Scope) error { return nil }

// DeleteScopes does nothing, for the same reason.
func (r *Resident) DeleteScopes(context.Context, []string) error { return nil }

func randomSecret() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
