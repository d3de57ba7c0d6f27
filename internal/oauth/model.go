// Package oauth is Keyway's OAuth 2.0 / OpenID Connect authorization server
// engine, shared by the Identity Server and the API Manager's resident key
// manager: clients, grants (one file each), token issuance (JWT per RFC 9068
// or opaque, stored only as hashes), signing keys with rotation and JWKS,
// introspection, revocation, discovery, the authorize endpoint with its login
// and consent pages, device authorization and userinfo.
package oauth

import (
	"context"
	"errors"
	"time"

	"github.com/keyway/keyway/internal/user"
)

// Client is a registered OAuth client (an "OAuth application" in WSO2 terms).
type Client struct {
	ID string // client_id
	// Secret is the plaintext secret, present only in memory (never stored
	// in plaintext: the store keeps it sealed by secret.Sealer).
	Secret string
	Name   string // client_name (unique)
	// Owner is the username that registered the client.
	Owner        string
	RedirectURIs []string
	GrantTypes   []string
	// TokenType is "JWT" or "Default" (opaque), IS's token_type_extension.
	TokenType string
	// Public clients have no secret and must use PKCE.
	Public bool
	// AuthMethod is client_secret_basic, client_secret_post, private_key_jwt or none.
	AuthMethod       string
	PKCEMandatory    bool
	PKCESupportPlain bool
	// Lifetimes in seconds; 0 means the server default.
	ApplicationAccessTokenLifetime int64
	UserAccessTokenLifetime        int64
	RefreshTokenLifetime           int64
	IDTokenLifetime                int64
	// Audiences are added to the aud claim of access tokens (ext_allowed_audience).
	Audiences []string
	// JWKSURI or JWKS hold the client's keys for private_key_jwt and jwt-bearer.
	JWKSURI string
	JWKS    string
	// DisplayName is ext_application_display_name.
	DisplayName string
	// FirstParty clients skip the consent page.
	FirstParty bool
	// PostLogoutRedirectURIs for RP-initiated logout.
	PostLogoutRedirectURIs []string
	// Extra keeps other registration metadata verbatim (ext_* fields etc.).
	Extra map[string]any
	// SecretExpiresAt is 0 for secrets that never expire.
	SecretExpiresAt int64
	Created         time.Time
	Updated         time.Time
}

// Errors returned by a ClientStore.
var (
	ErrClientNotFound = errors.New("oauth: client not found")
	ErrClientConflict = errors.New("oauth: client already exists")
)

// ClientStore keeps clients. The Identity Server's DCR endpoint and the API
// Manager's client registration use it; the engine reads from it.
type ClientStore interface {
	// CreateClient stores c; when c.ID or c.Secret is empty (and the client
	// is confidential) it generates them and sets them on c.
	CreateClient(ctx context.Context, c *Client) error
	// GetClient returns the client with its plaintext Secret.
	GetClient(ctx context.Context, id string) (*Client, error)
	GetClientByName(ctx context.Context, name string) (*Client, error)
	// UpdateClient replaces the stored client; an empty Secret keeps the old one.
	UpdateClient(ctx context.Context, c *Client) error
	// DeleteClient removes the client and revokes every token it holds.
	DeleteClient(ctx context.Context, id string) error
	ListClients(ctx context.Context, owner string) ([]*Client, error)
}

// TokenInfo is what introspection and token validation know about a token.
type TokenInfo struct {
	Active    bool
	Token     string // the opaque token or JWT itself
	JTI       string
	ClientID  string
	Subject   string // user id, or client id for application tokens
	Username  string
	Scopes    []string
	TokenType string // "Bearer" or "Refresh"
	// AuthorizedUserType is APPLICATION or APPLICATION_USER (the aut claim).
	AuthorizedUserType string
	Audience           []string
	IssuedAt           time.Time
	NotBefore          time.Time
	ExpiresAt          time.Time
	Issuer             string
	// Roles holds the user's role names, when the token is a user token.
	Roles []string
}

// TokenValidator validates tokens issued by this engine; the API Manager's
// REST APIs authenticate callers with it.
type TokenValidator interface {
	ValidateAccessToken(ctx context.Context, token string) (*TokenInfo, error)
}

// ScopeAuthorizer decides which of the requested scopes a grant receives.
// The Identity Server grants API-resource scopes from role permissions (or
// all of them with [oauth] authorize_all_scopes); the API Manager maps its
// apim:* scopes to roles. Unknown scopes are dropped, never errors.
type ScopeAuthorizer interface {
	// AuthorizeScopes returns the granted subset of requested. u is nil for
	// application (client_credentials) tokens.
	AuthorizeScopes(ctx context.Context, c *Client, u *user.User, requested []string) ([]string, error)
}

// RevocationKind says why a token stopped being valid.
type RevocationKind string

const (
	RevokedByClient RevocationKind = "client"  // /oauth2/revoke
	RevokedByRenew  RevocationKind = "renewal" // refresh grant replaced it
	RevokedByOwner  RevocationKind = "owner"   // user or admin revoked the authorization
	RevokedBySystem RevocationKind = "system"  // client deleted, secret changed, user deleted
)

// RevokedAccessToken describes an access token that was revoked, for the
// listeners that must tell API Managers (token_revocation events).
type RevokedAccessToken struct {
	Kind RevocationKind
	// Identifier is the jti for JWTs (what IS's handler sends as
	// accessToken). For opaque tokens it is the token string when the
	// revocation names it (a /oauth2/revoke call), otherwise the lowercase hex
	// SHA-256 of the token, since only hashes are stored; gateways key their
	// opaque-token cache by that hash and evict under both forms.
	Identifier string
	// TokenType is "JWT" or "Default".
	TokenType string
	ClientID  string
	Username  string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// RevocationListener is told about every revoked access token, after the
// revocation is committed. The IS event listener (token_revocation to the
// API Manager) implements it; it must not block.
type RevocationListener interface {
	AccessTokenRevoked(ctx context.Context, t RevokedAccessToken)
}
