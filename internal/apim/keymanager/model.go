// Package keymanager owns the API Manager's key manager configurations (the
// admin API's KeyManagerDTO, connector passwords sealed at rest) and the
// connectors that create OAuth clients, get tokens, introspect and manage
// scopes at a key manager: the resident key manager (in process), WSO2
// Identity Server 7 (the exact calls of PATTERN6-WIRE.md §2) and any
// OpenID Connect provider (RFC 7591 registration, RFC 7662 introspection).
package keymanager

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// Connector types.
const (
	TypeResident = "default"
	TypeWSO2IS7  = "WSO2-IS-7"
	TypeOIDC     = "OIDC"
	// ResidentName is the name WSO2 gives the built-in key manager.
	ResidentName = "Resident Key Manager"
)

// Certificates is how the gateway verifies a key manager's JWTs.
type Certificates struct {
	// Type is JWKS (Value is the URL) or PEM (Value is the certificate).
	Type  string `json:"type,omitempty"`
	Value string `json:"value,omitempty"`
}

// Endpoint is a named endpoint of a key manager.
type Endpoint struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ClaimMapping maps a remote claim to a local one.
type ClaimMapping struct {
	RemoteClaim string `json:"remoteClaim,omitempty"`
	LocalClaim  string `json:"localClaim,omitempty"`
}

// TokenValidation is one token-handling entry.
type TokenValidation struct {
	ID     int    `json:"id,omitempty"`
	Enable bool   `json:"enable"`
	Type   string `json:"type,omitempty"`
	Value  any    `json:"value,omitempty"`
}

// Permissions say who may use a key manager in the developer portal.
type Permissions struct {
	PermissionType string   `json:"permissionType,omitempty"`
	Roles          []string `json:"roles,omitempty"`
}

// Config is a key manager configuration: the admin v4 KeyManager DTO.
type Config struct {
	ID                         string            `json:"id,omitempty"`
	Name                       string            `json:"name"`
	DisplayName                string            `json:"displayName,omitempty"`
	Type                       string            `json:"type"`
	Description                string            `json:"description,omitempty"`
	WellKnownEndpoint          string            `json:"wellKnownEndpoint,omitempty"`
	IntrospectionEndpoint      string            `json:"introspectionEndpoint,omitempty"`
	ClientRegistrationEndpoint string            `json:"clientRegistrationEndpoint,omitempty"`
	TokenEndpoint              string            `json:"tokenEndpoint,omitempty"`
	DisplayTokenEndpoint       string            `json:"displayTokenEndpoint,omitempty"`
	RevokeEndpoint             string            `json:"revokeEndpoint,omitempty"`
	DisplayRevokeEndpoint      string            `json:"displayRevokeEndpoint,omitempty"`
	UserInfoEndpoint           string            `json:"userInfoEndpoint,omitempty"`
	AuthorizeEndpoint          string            `json:"authorizeEndpoint,omitempty"`
	Endpoints                  []Endpoint        `json:"endpoints,omitempty"`
	Certificates               *Certificates     `json:"certificates,omitempty"`
	Issuer                     string            `json:"issuer,omitempty"`
	Alias                      string            `json:"alias,omitempty"`
	ScopeManagementEndpoint    string            `json:"scopeManagementEndpoint,omitempty"`
	AvailableGrantTypes        []string          `json:"availableGrantTypes"`
	EnableTokenGeneration      bool              `json:"enableTokenGeneration"`
	EnableTokenEncryption      bool              `json:"enableTokenEncryption"`
	EnableTokenHashing         bool              `json:"enableTokenHashing"`
	EnableMapOAuthConsumerApps bool              `json:"enableMapOAuthConsumerApps"`
	EnableOAuthAppCreation     bool              `json:"enableOAuthAppCreation"`
	EnableSelfValidationJWT    bool              `json:"enableSelfValidationJWT"`
	ClaimMapping               []ClaimMapping    `json:"claimMapping"`
	ConsumerKeyClaim           string            `json:"consumerKeyClaim,omitempty"`
	ScopesClaim                string            `json:"scopesClaim,omitempty"`
	TokenValidation            []TokenValidation `json:"tokenValidation"`
	Enabled                    bool              `json:"enabled"`
	Global                     bool              `json:"global"`
	AdditionalProperties       map[string]any    `json:"additionalProperties"`
	Permissions                *Permissions      `json:"permissions,omitempty"`
	TokenType                  string            `json:"tokenType,omitempty"`
	AllowedOrganizations       []string          `json:"allowedOrganizations"`

	Created time.Time `json:"-"`
	Updated time.Time `json:"-"`
}

// Prop returns an additional property as a string ("" when absent).
func (c *Config) Prop(name string) string {
	if v, ok := c.AdditionalProperties[name]; ok {
		if s, ok := v.(string); ok {
			return s
		}
	}
	return ""
}

// ClientRequest is what the API Manager asks a key manager to create or
// update: one OAuth client per application and key type.
type ClientRequest struct {
	// ClientID is set on update, and on create when the caller presets the
	// key (ext_param_client_id).
	ClientID     string
	ClientSecret string
	// ClientName is "<owner>_<appUUID>_<keyType>" (WSO2's naming).
	ClientName string
	// AppName is the API Manager application's name (display name).
	AppName     string
	Owner       string
	KeyType     string
	GrantTypes  []string
	CallbackURL string
	// TokenType is the application's token type (JWT).
	TokenType string
	// Properties are the developer portal's per-key additional properties.
	Properties map[string]any
}

// Client is an OAuth client as a key manager reports it.
type Client struct {
	ClientID     string
	ClientSecret string
	ClientName   string
	CallbackURL  string
	GrantTypes   []string
	Properties   map[string]any
}

// Token is an access token obtained from a key manager.
type Token struct {
	AccessToken string
	// ExpiresIn is in seconds.
	ExpiresIn int64
	Scopes    []string
	TokenType string
}

// Introspection is what a key manager says about a token (RFC 7662).
type Introspection struct {
	Active    bool
	TokenType string
	IssuedAt  int64
	ExpiresAt int64
	Scopes    []string
	ClientID  string
	Username  string
	// Application is true for application (client_credentials) tokens.
	Application bool
}

// Scope is an API scope registered at key managers.
type Scope struct {
	Key         string
	Name        string
	Description string
	Roles       []string
}

// Connector talks to one configured key manager.
type Connector interface {
	RegisterClient(ctx context.Context, req ClientRequest) (*Client, error)
	// GetClient returns ErrClientNotFound when the key manager has no such client.
	GetClient(ctx context.Context, clientID string) (*Client, error)
	UpdateClient(ctx context.Context, req ClientRequest) (*Client, error)
	DeleteClient(ctx context.Context, clientID string) error
	// RegenerateSecret returns ErrUnsupported where the key manager cannot.
	RegenerateSecret(ctx context.Context, clientID string) (string, error)
	// MapClient checks an existing client's secret and returns the client.
	MapClient(ctx context.Context, clientID, clientSecret string) (*Client, error)
	// Token gets an application token (client_credentials).
	Token(ctx context.Context, clientID, clientSecret string, scopes []string) (*Token, error)
	Introspect(ctx context.Context, token string) (*Introspection, error)
	// RegisterScopes creates the scopes (and their role bindings) that do
	// not exist yet.
	RegisterScopes(ctx context.Context, scopes []Scope) error
	DeleteScopes(ctx context.Context, keys []string) error
	// RetainsSecret says whether GetClient returns the secret later; when
	// not, the API Manager keeps a sealed copy to get tokens.
	RetainsSecret() bool
}

// Errors of connectors and the store.
var (
	ErrNotFound       = errors.New("key manager not found")
	ErrConflict       = errors.New("key manager already exists")
	ErrInvalid        = errors.New("invalid key manager configuration")
	ErrClientNotFound = errors.New("OAuth client not found at the key manager")
	ErrUnsupported    = errors.New("operation not supported by the key manager")
)

// RemoteError is a 4xx/5xx answer of a key manager: the status and the
// error_description it gave (KMClientErrorDecoder's behaviour).
type RemoteError struct {
	Op      string
	Status  int
	Message string
}

func (e *RemoteError) Error() string {
	return "key manager " + e.Op + ": " + strconv.Itoa(e.Status) + " " + e.Message
}
