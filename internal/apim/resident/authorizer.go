package resident

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/keyway/keyway/internal/apim/restapi"
	"github.com/keyway/keyway/internal/oauth"
	"github.com/keyway/keyway/internal/user"
)

// APIScopes tells the resident key manager about the scopes APIs declare
// (the catalog's scopes with their role bindings).
type APIScopes interface {
	// ScopeRoles returns the roles bound to each of the scopes that some
	// API declares; scopes no API declares are absent from the map. One
	// call per token request keeps the catalog read to one pass.
	ScopeRoles(ctx context.Context, scopes []string) (map[string][]string, error)
}

// Authorizer grants the resident key manager's scopes. apim:* scopes follow
// the REST API role map (restapi.ScopeRoles); API scopes are granted when
// they carry no role binding or when the user holds a bound role. For an
// application token (client_credentials) the user is the application's
// owner, as in WSO2, so REST scopes never exceed what the owner may do.
type Authorizer struct {
	Users user.Directory
	// API may be nil: then only apim:* scopes are granted.
	API APIScopes
}

var _ oauth.ScopeAuthorizer = (*Authorizer)(nil)

// AuthorizeScopes returns the granted subset of requested.
func (a *Authorizer) AuthorizeScopes(ctx context.Context, c *oauth.Client, u *user.User, requested []string) ([]string, error) {
	if u == nil && c != nil && c.Owner != "" {
		owner, err := a.Users.GetUserByName(ctx, c.Owner)
		switch {
		case err == nil:
			u = owner
		case !errors.Is(err, user.ErrNotFound):
			return nil, err
		}
	}
	roles, err := a.roles(ctx, u)
	if err != nil {
		return nil, err
	}
	rest := restapi.ScopesForRoles(roles)
	granted := []string{}
	var apiScopes []string
	for _, s := range requested {
		if strings.HasPrefix(s, "apim:") {
			if slices.Contains(rest, s) {
				granted = append(granted, s)
			}
			continue
		}
		apiScopes = append(apiScopes, s)
	}
	if a.API == nil || len(apiScopes) == 0 {
		return granted, nil
	}
	bindings, err := a.API.ScopeRoles(ctx, apiScopes)
	if err != nil {
		return nil, err
	}
	for _, s := range apiScopes {
		bound, found := bindings[s]
		if !found {
			continue
		}
		if len(bound) == 0 || slices.ContainsFunc(bound, func(r string) bool { return hasRole(roles, r) }) {
			granted = append(granted, s)
		}
	}
	return granted, nil
}

func (a *Authorizer) roles(ctx context.Context, u *user.User) ([]string, error) {
	if u == nil {
		return nil, nil
	}
	roles := slices.Clone(u.Roles)
	if u.ID != "" {
		held, err := a.Users.RolesOf(ctx, u.ID)
		if err != nil && !errors.Is(err, user.ErrNotFound) {
			return nil, err
		}
		for _, r := range held {
			if !hasRole(roles, r.Name) {
				roles = append(roles, r.Name)
			}
		}
	}
	return roles, nil
}

func hasRole(roles []string, role string) bool {
	role = strings.TrimSpace(role)
	return slices.ContainsFunc(roles, func(r string) bool { return strings.EqualFold(r, role) })
}
