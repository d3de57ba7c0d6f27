// Package user owns user accounts, groups and roles: password hashing, login
// throttling, role permissions (the scopes a role grants), and their storage.
// The Identity Server exposes it through SCIM 2; the API Manager uses it for
// its publisher, subscriber, creator and admin users.
package user

import (
	"context"
	"errors"
	"time"
)

// User is an account.
type User struct {
	ID       string
	Username string
	// PasswordHash is never empty for a user who can log in; it is a
	// self-describing hash (argon2id or PBKDF2), never the password.
	PasswordHash string
	Email        string
	GivenName    string
	FamilyName   string
	// Roles are role names (audience-local in IS 7 terms; "admin",
	// "Internal/subscriber", ...).
	Roles []string
	// Groups are group names.
	Groups  []string
	Locked  bool
	Created time.Time
	Updated time.Time
	// Claims holds further SCIM attributes by their claim URI or name.
	Claims map[string]string
}

// Role is a named set of permissions (scopes) held by users and groups.
type Role struct {
	ID   string
	Name string
	// Audience is "organization" or an application id (IS 7 roles v2).
	AudienceType  string
	AudienceValue string
	// Permissions are scope names, e.g. "apim:api_view" or an API scope.
	Permissions []string
	Users       []string // user ids
	Groups      []string // group ids
	Created     time.Time
	Updated     time.Time
}

// Group is a named set of users.
type Group struct {
	ID      string
	Name    string
	Members []string // user ids
	Created time.Time
	Updated time.Time
}

// Errors returned by a Directory.
var (
	ErrNotFound           = errors.New("user: not found")
	ErrConflict           = errors.New("user: already exists")
	ErrInvalidCredentials = errors.New("user: invalid username or password")
	// ErrThrottled means too many failed logins for the account or address;
	// the caller should answer as for invalid credentials and may say "try later".
	ErrThrottled = errors.New("user: too many failed attempts, try again later")
)

// Filter selects users, groups or roles in list calls (SCIM filters map onto it).
type Filter struct {
	// Attribute is the field compared ("userName", "displayName", "emails", ...).
	Attribute string
	// Op is "eq", "co" or "sw".
	Op    string
	Value string
	// Offset (0-based) and Limit (0 = no limit) paginate.
	Offset int
	Limit  int
}

// Directory is the user store. Implementations are safe for concurrent use.
type Directory interface {
	// Authenticate checks a password; remote is the caller's address, used
	// to slow brute force per account and per address.
	Authenticate(ctx context.Context, username, password, remote string) (*User, error)
	GetUser(ctx context.Context, id string) (*User, error)
	GetUserByName(ctx context.Context, username string) (*User, error)
	// CreateUser hashes password and stores u (ID assigned when empty).
	CreateUser(ctx context.Context, u *User, password string) error
	UpdateUser(ctx context.Context, u *User) error
	SetPassword(ctx context.Context, id, password string) error
	DeleteUser(ctx context.Context, id string) error
	ListUsers(ctx context.Context, f Filter) (users []*User, total int, err error)

	GetRole(ctx context.Context, id string) (*Role, error)
	GetRoleByName(ctx context.Context, name string) (*Role, error)
	CreateRole(ctx context.Context, r *Role) error
	UpdateRole(ctx context.Context, r *Role) error
	DeleteRole(ctx context.Context, id string) error
	ListRoles(ctx context.Context, f Filter) (roles []*Role, total int, err error)
	// RolesOf returns every role a user holds directly or through a group.
	RolesOf(ctx context.Context, userID string) ([]*Role, error)

	GetGroup(ctx context.Context, id string) (*Group, error)
	CreateGroup(ctx context.Context, g *Group) error
	UpdateGroup(ctx context.Context, g *Group) error
	DeleteGroup(ctx context.Context, id string) error
	ListGroups(ctx context.Context, f Filter) (groups []*Group, total int, err error)
}
