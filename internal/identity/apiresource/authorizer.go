package apiresource

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/keyway/keyway/internal/identity/access"
	"github.com/keyway/keyway/internal/oauth"
	"github.com/keyway/keyway/internal/user"
)

// oidcScopes are granted whenever requested: they select ID-token and
// userinfo claims, not API access.
var oidcScopes = map[string]bool{"openid": true, "profile": true, "email": true, "address": true, "phone": true}

// Authorizer implements oauth.ScopeAuthorizer with IS 7 rules:
//   - a scope is available to an application when its API resource does not
//     require authorization, when the client is first-party, or when
//     [oauth] authorize_all_scopes is on;
//   - an application token gets every available requested scope;
//   - a user token gets an available scope of a resource that requires
//     authorization only if one of the user's roles (of the audience the
//     client allows, ext_allowed_audience) has it as a permission; the admin
//     role holds every scope;
//   - internal management scopes are never defined by API resources: they go
//     to admins and to roles holding them, for application tokens to the
//     client's owner, and only when available as above;
//   - unknown scopes are dropped.
type Authorizer struct {
	scopes       *Store
	users        user.Directory
	authorizeAll bool
	adminRole    string
}

var _ oauth.ScopeAuthorizer = (*Authorizer)(nil)

// NewAuthorizer returns the scope authorizer. authorizeAll is [oauth]
// authorize_all_scopes; adminRole is [super_admin] admin_role.
func NewAuthorizer(scopes *Store, users user.Directory, authorizeAll bool, adminRole string) *Authorizer {
	if adminRole == "" {
		adminRole = "admin"
	}
	return &Authorizer{scopes: scopes, users: users, authorizeAll: authorizeAll, adminRole: adminRole}
}

// ExtAllowedAudience is the Client.Extra key holding DCR's ext_allowed_audience.
const ExtAllowedAudience = "ext_allowed_audience"

// AuthorizeScopes returns the granted subset of requested, in request order.
func (a *Authorizer) AuthorizeScopes(ctx context.Context, c *oauth.Client, u *user.User, requested []string) ([]string, error) {
	requested = uniq(requested)
	if len(requested) == 0 {
		return []string{}, nil
	}
	known, err := a.scopes.Lookup(ctx, requested)
	if err != nil {
		return nil, err
	}
	firstParty := c != nil && c.FirstParty
	available := func(requiresAuthz bool) bool { return a.authorizeAll || firstParty || !requiresAuthz }

	// The subject whose roles decide: the user, or for an application token
	// the client's owner (only consulted for internal scopes).
	subject := u
	var roles []*user.Role
	admin := false
	loadRoles := func() error {
		if subject == nil {
			return nil
		}
		rs, err := a.users.RolesOf(ctx, subject.ID)
		if err != nil {
			return fmt.Errorf("authorize scopes: %w", err)
		}
		aud, appID := audienceOf(c)
		for _, r := range rs {
			org := r.AudienceType == "" || r.AudienceType == user.AudienceOrganization
			if org && strings.EqualFold(r.Name, a.adminRole) {
				admin = true
			}
			if (aud == user.AudienceApplication && r.AudienceType == user.AudienceApplication && r.AudienceValue == appID) ||
				(aud != user.AudienceApplication && org) {
				roles = append(roles, r)
			}
		}
		return nil
	}
	needsOwner := false
	if u == nil {
		for _, s := range requested {
			if access.IsInternalScope(s) {
				needsOwner = true
			}
		}
		if needsOwner && c != nil && c.Owner != "" {
			owner, err := a.users.GetUserByName(ctx, c.Owner)
			if err != nil && !errors.Is(err, user.ErrNotFound) {
				return nil, fmt.Errorf("authorize scopes: owner of %s: %w", c.ID, err)
			}
			subject = owner
		}
	}
	if subject != nil {
		if err := loadRoles(); err != nil {
			return nil, err
		}
	}
	holds := func(s string) bool {
		if admin {
			return true
		}
		for _, r := range roles {
			if slices.Contains(r.Permissions, s) {
				return true
			}
		}
		return false
	}

	granted := make([]string, 0, len(requested))
	for _, s := range requested {
		switch {
		case oidcScopes[s]:
			granted = append(granted, s)
		case access.IsInternalScope(s):
			if available(true) && subject != nil && holds(s) {
				granted = append(granted, s)
			}
		default:
			sc, ok := known[s]
			if !ok || !available(sc.RequiresAuthorization) {
				continue
			}
			// Scopes of a resource that does not require authorization
			// need no role either.
			if u == nil || !sc.RequiresAuthorization || holds(s) {
				granted = append(granted, s)
			}
		}
	}
	return granted, nil
}

func audienceOf(c *oauth.Client) (aud, appID string) {
	if c == nil {
		return user.AudienceOrganization, ""
	}
	if v, ok := c.Extra[ExtAllowedAudience].(string); ok && strings.EqualFold(v, user.AudienceApplication) {
		return user.AudienceApplication, c.ID
	}
	return user.AudienceOrganization, ""
}
