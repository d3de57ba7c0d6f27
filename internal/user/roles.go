package user

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/keyway/keyway/internal/db"
)

const roleCols = `id, name, aud_type, aud_value, created, updated`

func scanRole(sc interface{ Scan(...any) error }) (*Role, error) {
	var r Role
	var created, updated int64
	if err := sc.Scan(&r.ID, &r.Name, &r.AudienceType, &r.AudienceValue, &created, &updated); err != nil {
		return nil, err
	}
	r.Created, r.Updated = fromMillis(created), fromMillis(updated)
	return &r, nil
}

func validRole(r *Role) error {
	if strings.TrimSpace(r.Name) == "" || len(r.Name) > 255 {
		return fmt.Errorf("%w: the role name must have 1 to 255 characters", ErrInvalid)
	}
	switch r.AudienceType {
	case "":
		r.AudienceType = AudienceOrganization
	case AudienceOrganization:
	case AudienceApplication:
		if r.AudienceValue == "" {
			return fmt.Errorf("%w: an application-audience role needs the application id", ErrInvalid)
		}
	default:
		return fmt.Errorf("%w: audience type %q (use organization or application)", ErrInvalid, r.AudienceType)
	}
	for _, p := range r.Permissions {
		if strings.TrimSpace(p) == "" || len(p) > 255 {
			return fmt.Errorf("%w: permission %q", ErrInvalid, p)
		}
	}
	return nil
}

// GetRole returns a role with its permissions, user ids and group ids.
func (s *Store) GetRole(ctx context.Context, id string) (*Role, error) {
	return s.getRole(ctx, `SELECT `+roleCols+` FROM usr_roles WHERE id = ?`, id)
}

// GetRoleByName finds a role by name, ignoring case; when an organisation
// role and application roles share the name, the organisation role wins.
func (s *Store) GetRoleByName(ctx context.Context, name string) (*Role, error) {
	return s.getRole(ctx, `SELECT `+roleCols+` FROM usr_roles WHERE name_lc = ? ORDER BY aud_type DESC, aud_value`, strings.ToLower(name))
}

func (s *Store) getRole(ctx context.Context, q, arg string) (*Role, error) {
	r, err := scanRole(s.d.QueryRowContext(ctx, q, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get role: %w", err)
	}
	if err := s.fillRole(ctx, r, true); err != nil {
		return nil, err
	}
	return r, nil
}

func (s *Store) fillRole(ctx context.Context, r *Role, members bool) error {
	var err error
	if r.Permissions, err = queryStrings(ctx, s.d, `SELECT permission FROM usr_role_permissions WHERE role_id = ? ORDER BY permission`, r.ID); err != nil {
		return fmt.Errorf("permissions of role %s: %w", r.ID, err)
	}
	if !members {
		return nil
	}
	if r.Users, err = queryStrings(ctx, s.d, `SELECT user_id FROM usr_role_users WHERE role_id = ? ORDER BY user_id`, r.ID); err != nil {
		return fmt.Errorf("users of role %s: %w", r.ID, err)
	}
	if r.Groups, err = queryStrings(ctx, s.d, `SELECT group_id FROM usr_role_groups WHERE role_id = ? ORDER BY group_id`, r.ID); err != nil {
		return fmt.Errorf("groups of role %s: %w", r.ID, err)
	}
	return nil
}

// CreateRole stores r with its permissions and members. Unknown user or
// group ids are ErrNotFound; a name taken in the same audience is ErrConflict.
func (s *Store) CreateRole(ctx context.Context, r *Role) error {
	if err := validRole(r); err != nil {
		return err
	}
	if r.ID == "" {
		r.ID = uuid.NewString()
	}
	now := s.now()
	err := s.d.InTx(ctx, func(tx *db.Tx) error {
		if _, err := execNamed(ctx, tx, "insert", "role", r.Name, `INSERT INTO usr_roles (id, name, name_lc, aud_type, aud_value, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.Name, strings.ToLower(r.Name), r.AudienceType, r.AudienceValue, now, now); err != nil {
			return err
		}
		return writeRoleLinks(ctx, tx, r)
	})
	if err != nil {
		return err
	}
	r.Created, r.Updated = fromMillis(now), fromMillis(now)
	return nil
}

// UpdateRole replaces the name, permissions, users and groups of a role.
func (s *Store) UpdateRole(ctx context.Context, r *Role) error {
	if err := validRole(r); err != nil {
		return err
	}
	now := s.now()
	err := s.d.InTx(ctx, func(tx *db.Tx) error {
		res, err := execNamed(ctx, tx, "update", "role", r.Name, `UPDATE usr_roles SET name = ?, name_lc = ?, aud_type = ?, aud_value = ?, updated = ? WHERE id = ?`,
			r.Name, strings.ToLower(r.Name), r.AudienceType, r.AudienceValue, now, r.ID)
		if err != nil {
			return err
		}
		if err := oneRow(res, "role "+r.ID); err != nil {
			return err
		}
		if err := execAll(ctx, tx, "update role", r.ID, roleLinks...); err != nil {
			return err
		}
		return writeRoleLinks(ctx, tx, r)
	})
	if err != nil {
		return err
	}
	r.Updated = fromMillis(now)
	return nil
}

func writeRoleLinks(ctx context.Context, tx *db.Tx, r *Role) error {
	for _, p := range uniq(r.Permissions) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO usr_role_permissions (role_id, permission) VALUES (?, ?)`, r.ID, p); err != nil {
			return fmt.Errorf("add permission %q: %w", p, err)
		}
	}
	if err := link(ctx, tx, r.ID, r.Users, "user", `SELECT COUNT(*) FROM usr_users WHERE id = ?`,
		`INSERT INTO usr_role_users (role_id, user_id) VALUES (?, ?)`, "add user %s to role: %w"); err != nil {
		return err
	}
	return link(ctx, tx, r.ID, r.Groups, "group", `SELECT COUNT(*) FROM usr_groups WHERE id = ?`,
		`INSERT INTO usr_role_groups (role_id, group_id) VALUES (?, ?)`, "add group %s to role: %w")
}

func mustExist(ctx context.Context, tx *db.Tx, q, id, what string) error {
	var n int
	if err := tx.QueryRowContext(ctx, q, id).Scan(&n); err != nil {
		return fmt.Errorf("check %s %s: %w", what, id, err)
	}
	if n == 0 {
		return fmt.Errorf("%s %s: %w", what, id, ErrNotFound)
	}
	return nil
}

// DeleteRole removes a role and its links.
func (s *Store) DeleteRole(ctx context.Context, id string) error {
	return s.deleteWithLinks(ctx, "role", "usr_roles", id, roleLinks...)
}

// roleLinks clear a role's permissions and members.
var roleLinks = []string{`DELETE FROM usr_role_permissions WHERE role_id = ?`, `DELETE FROM usr_role_users WHERE role_id = ?`, `DELETE FROM usr_role_groups WHERE role_id = ?`}

var roleColumns = map[string]string{"displayname": "name_lc", "name": "name_lc", "id": "id", "audience.type": "aud_type", "audience.value": "LOWER(aud_value)"}

// ListRoles lists roles ordered by name, each with permissions and members.
func (s *Store) ListRoles(ctx context.Context, f Filter) ([]*Role, int, error) {
	out, total, err := listPage(ctx, s.d, f, roleColumns, "roles", "usr_roles", roleCols, "name_lc, aud_type, aud_value", scanRole)
	if err != nil {
		return nil, 0, err
	}
	for _, r := range out {
		if err := s.fillRole(ctx, r, true); err != nil {
			return nil, 0, err
		}
	}
	return out, total, nil
}

// RolesOf returns the roles a user holds directly or through a group, with
// their permissions (members are not loaded).
func (s *Store) RolesOf(ctx context.Context, userID string) ([]*Role, error) {
	out, err := queryAll(ctx, s.d, scanRole, `SELECT `+roleCols+` FROM usr_roles WHERE id IN (SELECT role_id FROM usr_role_users WHERE user_id = ?)
		OR id IN (SELECT rg.role_id FROM usr_role_groups rg JOIN usr_group_members gm ON gm.group_id = rg.group_id WHERE gm.user_id = ?)
		ORDER BY name_lc, aud_type, aud_value`, userID, userID)
	if err != nil {
		return nil, fmt.Errorf("roles of user %s: %w", userID, err)
	}
	for _, r := range out {
		if err := s.fillRole(ctx, r, false); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func uniq(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := make([]string, 0, len(in))
	for _, v := range in {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
