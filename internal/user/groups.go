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
		if _, err := tx.ExecContext(ctx, `INSERT INTO usr_groups (id, name, name_lc, created, updated) VALUES (?, ?, ?, ?, ?)`,
			g.ID, g.Name, strings.ToLower(g.Name), now, now); err != nil {
			if db.IsUniqueViolation(err) {
				return fmt.Errorf("group %q: %w", g.Name, ErrConflict)
			}
			return fmt.Errorf("insert group: %w", err)
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
	for _, id := range uniq(g.Members) {
		if err := mustExist(ctx, tx, `SELECT COUNT(*) FROM usr_users WHERE id = ?`, id, "user"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO usr_group_members (group_id, user_id) VALUES (?, ?)`, g.ID, id); err != nil {
			return fmt.Errorf("add member %s: %w", id, err)
		}
	}
	return nil
}

// UpdateGroup replaces the name and members of a group.
func (s *Store) UpdateGroup(ctx context.Context, g *Group) error {
	if err := validGroup(g); err != nil {
		return err
	}
	now := s.now()
	err := s.d.InTx(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE usr_groups SET name = ?, name_lc = ?, updated = ? WHERE id = ?`, g.Name, strings.ToLower(g.Name), now, g.ID)
		if err != nil {
			if db.IsUniqueViolation(err) {
				return fmt.Errorf("group %q: %w", g.Name, ErrConflict)
			}
			return fmt.Errorf("update group: %w", err)
		}
		if err := oneRow(res, "group "+g.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM usr_group_members WHERE group_id = ?`, g.ID); err != nil {
			return fmt.Errorf("update group: %w", err)
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
	return s.d.InTx(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM usr_groups WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("delete group: %w", err)
		}
		if err := oneRow(res, "group "+id); err != nil {
			return err
		}
		for _, q := range []string{`DELETE FROM usr_group_members WHERE group_id = ?`, `DELETE FROM usr_role_groups WHERE group_id = ?`} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return fmt.Errorf("delete group links: %w", err)
			}
		}
		return nil
	})
}

var groupColumns = map[string]string{"displayname": "name_lc", "name": "name_lc", "id": "id"}

// ListGroups lists groups ordered by name, with members.
func (s *Store) ListGroups(ctx context.Context, f Filter) ([]*Group, int, error) {
	where, args, err := filterClause(f, groupColumns)
	if err != nil {
		return nil, 0, err
	}
	var total int
	if err := s.d.QueryRowContext(ctx, `SELECT COUNT(*) FROM usr_groups`+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count groups: %w", err)
	}
	rows, err := s.d.QueryContext(ctx, `SELECT `+groupCols+` FROM usr_groups`+where+` ORDER BY name_lc LIMIT ? OFFSET ?`, append(args, limitOf(f), max(f.Offset, 0))...)
	if err != nil {
		return nil, 0, fmt.Errorf("list groups: %w", err)
	}
	var out []*Group
	for rows.Next() {
		g, err := scanGroup(rows)
		if err != nil {
			rows.Close()
			return nil, 0, fmt.Errorf("list groups: %w", err)
		}
		out = append(out, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list groups: %w", err)
	}
	for _, g := range out {
		if g.Members, err = s.members(ctx, g.ID); err != nil {
			return nil, 0, err
		}
	}
	return out, total, nil
}
