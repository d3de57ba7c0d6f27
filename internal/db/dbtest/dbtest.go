// Package dbtest gives tests a fresh, isolated database on every engine that
// is available: embedded SQLite always, PostgreSQL when KEYWAY_TEST_POSTGRES is
// set (a postgres:// URL), MariaDB/MySQL when KEYWAY_TEST_MYSQL is set (a
// go-sql-driver DSN such as root@tcp(127.0.0.1:3306)/test). .ci/run sets both,
// so in CI no engine is skipped.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/keyway/keyway/internal/db"
)

// Engine opens fresh databases on one engine.
type Engine struct {
	Name string
	open func(t testing.TB) *db.DB
}

// Open returns an empty database on this engine, dropped when the test ends.
func (e Engine) Open(t testing.TB) *db.DB { return e.open(t) }

// Engines lists the engines this run can reach. When KEYWAY_TEST_REQUIRE_ALL
// is set, a missing engine is a failure rather than a silent omission.
func Engines(t testing.TB) []Engine {
	out := []Engine{{Name: "sqlite", open: openSQLite}}
	if u := os.Getenv("KEYWAY_TEST_POSTGRES"); u != "" {
		out = append(out, Engine{Name: "postgres", open: func(t testing.TB) *db.DB { return openPostgres(t, u) }})
	} else if os.Getenv("KEYWAY_TEST_REQUIRE_ALL") != "" {
		t.Fatal("KEYWAY_TEST_REQUIRE_ALL is set but KEYWAY_TEST_POSTGRES is not")
	}
	if u := os.Getenv("KEYWAY_TEST_MYSQL"); u != "" {
		out = append(out, Engine{Name: "mysql", open: func(t testing.TB) *db.DB { return openMySQL(t, u) }})
	} else if os.Getenv("KEYWAY_TEST_REQUIRE_ALL") != "" {
		t.Fatal("KEYWAY_TEST_REQUIRE_ALL is set but KEYWAY_TEST_MYSQL is not")
	}
	return out
}

// ForEach runs fn as a subtest on a fresh database of every available engine.
func ForEach(t *testing.T, fn func(t *testing.T, d *db.DB)) {
	t.Helper()
	for _, e := range Engines(t) {
		t.Run(e.Name, func(t *testing.T) { fn(t, e.Open(t)) })
	}
}

// SQLite returns a fresh embedded database; enough for most unit tests.
func SQLite(t testing.TB) *db.DB { return openSQLite(t) }

func openSQLite(t testing.TB) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), db.Config{URL: filepath.Join(t.TempDir(), "test.db")})
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func randomName() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "kwt_" + hex.EncodeToString(b)
}

// SchemaURL creates a fresh schema in the PostgreSQL database at base and
// returns a URL whose connections use it. The schema is dropped at cleanup.
func SchemaURL(t testing.TB, base string) string {
	t.Helper()
	admin, err := db.Open(context.Background(), db.Config{URL: base})
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	schema := randomName()
	if _, err := admin.ExecContext(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		_, _ = admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", base, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func openPostgres(t testing.TB, base string) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), db.Config{URL: SchemaURL(t, base)})
	if err != nil {
		t.Fatalf("open postgres schema: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// DatabaseDSN creates a fresh MySQL database next to the one in base and
// returns a DSN for it. The database is dropped at cleanup.
func DatabaseDSN(t testing.TB, base string) string {
	t.Helper()
	admin, err := db.Open(context.Background(), db.Config{URL: base})
	if err != nil {
		t.Fatalf("open mysql: %v", err)
	}
	name := randomName()
	if _, err := admin.ExecContext(context.Background(), "CREATE DATABASE "+name+" CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		admin.Close()
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		_, _ = admin.ExecContext(context.Background(), "DROP DATABASE "+name)
		admin.Close()
	})
	cfg, err := mysql.ParseDSN(base)
	if err != nil {
		t.Fatalf("parse %s: %v", base, err)
	}
	cfg.DBName = name
	return cfg.FormatDSN()
}

func openMySQL(t testing.TB, base string) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), db.Config{URL: DatabaseDSN(t, base)})
	if err != nil {
		t.Fatalf("open mysql database: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// Describe names the engines in use, for test logs.
func Describe(t testing.TB) string {
	var names []string
	for _, e := range Engines(t) {
		names = append(names, e.Name)
	}
	return fmt.Sprintf("engines: %s", strings.Join(names, ", "))
}
