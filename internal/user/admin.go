package user

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// EnsureSuperAdmin creates, at first start, the organisation role adminRole
// and the user username with password, and makes the user hold the role. It
// is idempotent and never resets the password of an existing user, so a
// password changed after the first start survives restarts.
func (s *Store) EnsureSuperAdmin(ctx context.Context, username, password, adminRole string) (*User, error) {
	if adminRole == "" {
		adminRole = "admin"
	}
	role, err := s.GetRoleByName(ctx, adminRole)
	if errors.Is(err, ErrNotFound) {
		role = &Role{Name: adminRole, AudienceType: AudienceOrganization}
		if err = s.CreateRole(ctx, role); errors.Is(err, ErrConflict) {
			// Another node created it at the same moment.
			role, err = s.GetRoleByName(ctx, adminRole)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("ensure admin role %q: %w", adminRole, err)
	}
	u, err := s.GetUserByName(ctx, username)
	if errors.Is(err, ErrNotFound) {
		u = &User{Username: username}
		if err = s.CreateUser(ctx, u, password); errors.Is(err, ErrConflict) {
			u, err = s.GetUserByName(ctx, username)
		} else if err == nil {
			s.opts.Logger.Info("created the super admin", "user", username, "role", adminRole)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("ensure super admin %q: %w", username, err)
	}
	// Re-read the role's links so the grant below does not lose a member
	// that was added since.
	role, err = s.GetRole(ctx, role.ID)
	if err != nil {
		return nil, fmt.Errorf("ensure admin role %q: %w", adminRole, err)
	}
	if !slices.Contains(role.Users, u.ID) {
		role.Users = append(role.Users, u.ID)
		if err := s.UpdateRole(ctx, role); err != nil {
			return nil, fmt.Errorf("grant %q to %q: %w", adminRole, username, err)
		}
	}
	return s.GetUser(ctx, u.ID)
}
