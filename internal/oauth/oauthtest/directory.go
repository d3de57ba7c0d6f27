// Package oauthtest holds test doubles for code that embeds the OAuth engine:
// an in-memory user.Directory good enough to drive logins, grants and
// introspection in tests and benchmarks without the real user store.
package oauthtest

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"strings"
	"sync"

	"github.com/keyway/keyway/internal/user"
)

// Directory is an in-memory user.Directory. Passwords are kept as SHA-256
// (fast on purpose: benchmarks measure the engine, not password hashing).
// Only the methods the engine calls are implemented; the others answer
// ErrUnsupported.
type Directory struct {
	mu     sync.RWMutex
	users  map[string]*user.User
	hashes map[string][32]byte
	roles  map[string]*user.Role
}

// ErrUnsupported is returned by the management methods.
var ErrUnsupported = errors.New("oauthtest: not supported by the test directory")

// NewDirectory returns an empty directory.
func NewDirectory() *Directory {
	return &Directory{users: map[string]*user.User{}, hashes: map[string][32]byte{}, roles: map[string]*user.Role{}}
}

// AddUser adds a user with the given role names.
func (d *Directory) AddUser(id, username, password string, roles ...string) *user.User {
	d.mu.Lock()
	defer d.mu.Unlock()
	u := &user.User{ID: id, Username: username, Email: username + "@example.com", Roles: roles}
	d.users[id] = u
	d.hashes[id] = sha256.Sum256([]byte(password))
	return u
}

// AddRole adds a role with permissions.
func (d *Directory) AddRole(name string, permissions ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.roles[name] = &user.Role{ID: name, Name: name, Permissions: permissions}
}

func (d *Directory) Authenticate(_ context.Context, username, password, _ string) (*user.User, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	sum := sha256.Sum256([]byte(password))
	for id, u := range d.users {
		if u.Username == username {
			h := d.hashes[id]
			if subtle.ConstantTimeCompare(h[:], sum[:]) == 1 {
				cp := *u
				return &cp, nil
			}
			break
		}
	}
	return nil, user.ErrInvalidCredentials
}

func (d *Directory) GetUser(_ context.Context, id string) (*user.User, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if u, ok := d.users[id]; ok {
		cp := *u
		return &cp, nil
	}
	return nil, user.ErrNotFound
}

func (d *Directory) GetUserByName(_ context.Context, username string) (*user.User, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, u := range d.users {
		if strings.EqualFold(u.Username, username) {
			cp := *u
			return &cp, nil
		}
	}
	return nil, user.ErrNotFound
}

func (d *Directory) RolesOf(_ context.Context, userID string) ([]*user.Role, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	u, ok := d.users[userID]
	if !ok {
		return nil, user.ErrNotFound
	}
	var out []*user.Role
	for _, name := range u.Roles {
		if r, ok := d.roles[name]; ok {
			out = append(out, r)
		}
	}
	return out, nil
}

func (d *Directory) GetRoleByName(_ context.Context, name string) (*user.Role, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if r, ok := d.roles[name]; ok {
		return r, nil
	}
	return nil, user.ErrNotFound
}

func (d *Directory) CreateUser(context.Context, *user.User, string) error { return ErrUnsupported }
func (d *Directory) UpdateUser(context.Context, *user.User) error         { return ErrUnsupported }
func (d *Directory) SetPassword(context.Context, string, string) error    { return ErrUnsupported }
func (d *Directory) DeleteUser(context.Context, string) error             { return ErrUnsupported }
func (d *Directory) ListUsers(context.Context, user.Filter) ([]*user.User, int, error) {
	return nil, 0, ErrUnsupported
}
func (d *Directory) GetRole(context.Context, string) (*user.Role, error) { return nil, ErrUnsupported }
func (d *Directory) CreateRole(context.Context, *user.Role) error        { return ErrUnsupported }
func (d *Directory) UpdateRole(context.Context, *user.Role) error        { return ErrUnsupported }
func (d *Directory) DeleteRole(context.Context, string) error            { return ErrUnsupported }
func (d *Directory) ListRoles(context.Context, user.Filter) ([]*user.Role, int, error) {
	return nil, 0, ErrUnsupported
}
func (d *Directory) GetGroup(context.Context, string) (*user.Group, error) {
	return nil, ErrUnsupported
}
func (d *Directory) CreateGroup(context.Context, *user.Group) error { return ErrUnsupported }
func (d *Directory) UpdateGroup(context.Context, *user.Group) error { return ErrUnsupported }
func (d *Directory) DeleteGroup(context.Context, string) error      { return ErrUnsupported }
func (d *Directory) ListGroups(context.Context, user.Filter) ([]*user.Group, int, error) {
	return nil, 0, ErrUnsupported
}

var _ user.Directory = (*Directory)(nil)
