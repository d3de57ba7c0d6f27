package user

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/keyway/keyway/internal/db"
)

// scanner is a *sql.Row or *sql.Rows.
type scanner = interface{ Scan(...any) error }

// execNamed runs the INSERT or UPDATE of a named row (user, group, role); a
// unique violation means the name is taken and is ErrConflict. op and kind
// word other errors ("insert group: ...").
func execNamed(ctx context.Context, q db.Execer, op, kind, name, query string, args ...any) (sql.Result, error) {
	res, err := q.ExecContext(ctx, query, args...)
	if err != nil {
		if db.IsUniqueViolation(err) {
			return nil, fmt.Errorf("%s %q: %w", kind, name, ErrConflict)
		}
		return nil, fmt.Errorf("%s %s: %w", op, kind, err)
	}
	return res, nil
}

// execAll runs each statement with the single argument id: the clearing of
// a row's link tables. errPrefix words a failure.
func execAll(ctx context.Context, tx *db.Tx, errPrefix, id string, queries ...string) error {
	for _, q := range queries {
		if _, err := tx.ExecContext(ctx, q, id); err != nil {
			return fmt.Errorf("%s: %w", errPrefix, err)
		}
	}
	return nil
}

// deleteWithLinks deletes the row id of table (ErrNotFound when there is
// none) and then its rows in the link tables, in one transaction.
func (s *Store) deleteWithLinks(ctx context.Context, kind, table, id string, links ...string) error {
	return s.d.InTx(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("delete %s: %w", kind, err)
		}
		if err := oneRow(res, kind+" "+id); err != nil {
			return err
		}
		return execAll(ctx, tx, "delete "+kind+" links", id, links...)
	})
}

// link inserts one (owner, id) row per distinct id with insertQ, after
// checking with existsQ (a COUNT) that each id is a known what; an unknown id
// is ErrNotFound. errFormat words an insert failure from the id and error.
func link(ctx context.Context, tx *db.Tx, owner string, ids []string, what, existsQ, insertQ, errFormat string) error {
	for _, id := range uniq(ids) {
		if err := mustExist(ctx, tx, existsQ, id, what); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, insertQ, owner, id); err != nil {
			return fmt.Errorf(errFormat, id, err)
		}
	}
	return nil
}

// queryAll reads every row of a query with scan.
func queryAll[T any](ctx context.Context, q db.Execer, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// listPage counts the rows of table that match f (attributes mapped to
// columns by cols) and reads the page f asks for, ordered by order. plural
// words errors ("list groups: ...").
func listPage[T any](ctx context.Context, d *db.DB, f Filter, cols map[string]string, plural, table, selectCols, order string, scan func(scanner) (T, error)) ([]T, int, error) {
	where, args, err := filterClause(f, cols)
	if err != nil {
		return nil, 0, err
	}
	var total int
	if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count %s: %w", plural, err)
	}
	out, err := queryAll(ctx, d, scan, `SELECT `+selectCols+` FROM `+table+where+` ORDER BY `+order+` LIMIT ? OFFSET ?`, append(args, limitOf(f), max(f.Offset, 0))...)
	if err != nil {
		return nil, 0, fmt.Errorf("list %s: %w", plural, err)
	}
	return out, total, nil
}
