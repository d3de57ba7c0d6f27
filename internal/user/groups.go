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

const groupCols = `id, name, created, updated`

func scanGroup(sc interface{ Scan(...any) error }) (*Group, error) {
	var g Group
	var created, updated int64
	if err := sc.Scan(&g.ID, &g.Name, &created, &updated); err != nil {
		return nil, err
	}
	g.Created, g.Updated = fromMillis(created), fromMillis(updated)
	return &g, nil
}

func validGroup(g *Group) error {
	if strings.TrimSpace(g.Name) == "" || len(g.Name) > 255 {
		return fmt.Errorf("%w: the group name must have 1 to 255 characters", ErrInvalid)
	}
	return nil
}

// GetGroup returns a group with its member ids.
func (s *Store) GetGroup(ctx context.Context, id string) (*Group, error) {
	g, err := scanGroup(s.d.QueryRowContext(ctx, `SELECT `+groupCols+` FROM usr_groups WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get group: %w", err)
	}
	if g.Members, err = s.members(ctx, g.ID); err != nil {
		return nil, err
	}
	return g, nil
}

func (s *Store) members(ctx context.Context, id string) ([]string, error) {
	m, err := queryStrings(ctx, s.d, `SELECT user_id FROM usr_group_members WHERE group_id = ? ORDER BY user_id`, id)
	if err != nil {
		return nil, fmt.Errorf("members of group %s: %w", id, err)
	}
	return m, nil
}

// CreateGroup stores g; unknown member ids are ErrNotFound.
func (s *Store) CreateGroup(ctx context.Context, g *Group) error {
	if err := validGroup(g); err != nil {
		return err
	}
	if g.ID == "" {
		g.ID = uuid.NewString()
	}
	now := s.now()
	err := s.d.InTx(ctx, func(tx *db.Tx) error {
		if _, err := execNamed(ctx, tx, "insert", "group", g.Name, `INSERT INTO usr_groups (id, name, name_lc, created, updated) VALUES (?, ?, ?, ?, ?)`,
			g.ID, g.Name, strings.ToLower(g.Name), now, now); err != nil {
			return err
		}
		return writeMembers(ctx, tx, g)
	})
	if err != nil {
		return err
	}
	g.Created, g.Updated = fromMillis(now), fromMillis(now)
	return nil
}

func writeMembers(ctx context.Context, tx *db.Tx, g *Group) error {
	return link(ctx, tx, g.ID, g.Members, "user", `SELECT COUNT(*) FROM usr_users WHERE id = ?`,
		`INSERT INTO usr_group_members (group_id, user_id) VALUES (?, ?)`, "add member %s: %w")
}

// UpdateGroup replaces the name and members of a group.
func (s *Store) UpdateGroup(ctx context.Context, g *Group) error {
	if err := validGroup(g); err != nil {
		return err
	}
	now := s.now()
	err := s.d.InTx(ctx, func(tx *db.Tx) error {
		res, err := execNamed(ctx, tx, "update", "group", g.Name, `UPDATE usr_groups SET name = ?, name_lc = ?, updated = ? WHERE id = ?`, g.Name, strings.ToLower(g.Name), now, g.ID)
		if err != nil {
			return err
		}
		if err := oneRow(res, "group "+g.ID); err != nil {
			return err
		}
		if err := execAll(ctx, tx, "update group", g.ID, `DELETE FROM usr_group_members WHERE group_id = ?`); err != nil {
			return err
		}
		return writeMembers(ctx, tx, g)
	})
	if err != nil {
		return err
	}
	g.Updated = fromMillis(now)
	return nil
}

// DeleteGroup removes a group, its members and its role links.
func (s *Store) DeleteGroup(ctx context.Context, id string) error {
	return s.deleteWithLinks(ctx, "group", "usr_groups", id, `DELETE FROM usr_group_members WHERE group_id = ?`, `DELETE FROM usr_role_groups WHERE group_id = ?`)
}

var groupColumns = map[string]string{"displayname": "name_lc", "name": "name_lc", "id": "id"}

// ListGroups lists groups ordered by name, with members.
func (s *Store) ListGroups(ctx context.Context, f Filter) ([]*Group, int, error) {
	out, total, err := listPage(ctx, s.d, f, groupColumns, "groups", "usr_groups", groupCols, "name_lc", scanGroup)
	if err != nil {
		return nil, 0, err
	}
	for _, g := range out {
		if g.Members, err = s.members(ctx, g.ID); err != nil {
			return nil, 0, err
		}
	}
	return out, total, nil
}
