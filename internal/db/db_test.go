package db_test

import (
	"context"
	"testing"

	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/db/dbtest"
)

var testMigrations = []db.Migration{
	{Version: 1, Name: "items", SQL: `CREATE TABLE items (id VARCHAR(64) PRIMARY KEY, body TEXT NOT NULL, data BLOB, n BIGINT NOT NULL);
CREATE INDEX items_n ON items (n)`},
	{Version: 2, Name: "items flag", SQL: `ALTER TABLE items ADD COLUMN flag INTEGER NOT NULL DEFAULT 0`},
}

func TestStorageSuite(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if err := d.Migrate(ctx, "test", testMigrations); err != nil {
			t.Fatal(err)
		}
		// A second run is a no-op.
		if err := d.Migrate(ctx, "test", testMigrations); err != nil {
			t.Fatal(err)
		}
		if _, err := d.ExecContext(ctx, `INSERT INTO items (id, body, data, n, flag) VALUES (?, ?, ?, ?, ?)`, "a", "hello ? world", []byte{0, 1, 2}, int64(1)<<40, 1); err != nil {
			t.Fatal(err)
		}
		_, err := d.ExecContext(ctx, `INSERT INTO items (id, body, n) VALUES (?, ?, ?)`, "a", "dup", 1)
		if !db.IsUniqueViolation(err) {
			t.Fatalf("duplicate insert: want unique violation, got %v", err)
		}
		// A failed transaction leaves nothing behind.
		err = d.InTx(ctx, func(tx *db.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO items (id, body, n) VALUES (?, ?, ?)`, "b", "x", 2); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO items (id, body, n) VALUES (?, ?, ?)`, "a", "x", 3)
			return err
		})
		if err == nil {
			t.Fatal("transaction with a duplicate key committed")
		}
		var count int
		if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM items`).Scan(&count); err != nil {
			t.Fatal(err)
		}
		if count != 1 {
			t.Fatalf("rows after rolled-back transaction = %d, want 1", count)
		}
		var body string
		var data []byte
		var n int64
		if err := d.QueryRowContext(ctx, `SELECT body, data, n FROM items WHERE id = ?`, "a").Scan(&body, &data, &n); err != nil {
			t.Fatal(err)
		}
		if body != "hello ? world" || len(data) != 3 || n != 1<<40 {
			t.Fatalf("round trip: %q %v %d", body, data, n)
		}
		// Large text survives on every engine (MySQL TEXT would cut it at 64 KiB).
		big := make([]byte, 200_000)
		for i := range big {
			big[i] = 'x'
		}
		if _, err := d.ExecContext(ctx, `UPDATE items SET body = ? WHERE id = ?`, string(big), "a"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestConcurrentMigrate(t *testing.T) {
	dbtest.ForEach(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		errs := make(chan error, 4)
		for range 4 {
			go func() { errs <- d.Migrate(ctx, "race", testMigrations) }()
		}
		for range 4 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		var n int
		if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM keyway_schema_migrations WHERE component = ?`, "race").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Fatalf("recorded versions = %d, want 2", n)
		}
	})
}
