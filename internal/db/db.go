// Package db opens Keyway's relational storage (embedded SQLite, PostgreSQL or
// MariaDB/MySQL), translates the JDBC URLs that WSO2 configuration carries, and
// runs the schema migrations that each component embeds.
//
// Queries are written once with `?` placeholders; DB and Tx rebind them for the
// engine in use, so domain packages never branch on the dialect for ordinary SQL.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver
)

// Dialect names a supported SQL engine.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
	MySQL    Dialect = "mysql"
)

// Config says where a database lives. It mirrors a `[database.*]` block of
// deployment.toml.
type Config struct {
	// Type is h2, sqlite, postgre(s|sql), mysql or mariadb; empty means derive from URL.
	Type string
	// URL is a JDBC URL (jdbc:postgresql://..., jdbc:mysql://...), a native DSN or
	// URL (postgres://..., user@tcp(host)/db), or a SQLite file path. Empty means an
	// embedded SQLite file named after Name in DataDir.
	URL      string
	Username string
	Password string
	// Name is the logical database (apim_db, shared_db, identity_db); it names the
	// embedded file when URL is empty.
	Name    string
	DataDir string
	// MaxOpen and MaxIdle bound the connection pool; zero picks a default.
	MaxOpen     int
	MaxIdle     int
	MaxLifetime time.Duration
}

// DB is a connection pool that knows its dialect and rebinds placeholders.
type DB struct {
	*sql.DB
	Dialect Dialect
	// Where is a human description without credentials, for logs.
	Where string
}

// Open connects to the configured database and checks that it answers.
func Open(ctx context.Context, c Config) (*DB, error) {
	dialect, driver, dsn, where, err := resolve(c)
	if err != nil {
		return nil, err
	}
	if dialect == SQLite {
		if dir := filepath.Dir(where); dir != "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("create data directory %s: %w", dir, err)
			}
		}
	}
	sqldb, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s database %s: %w", dialect, where, err)
	}
	maxOpen, maxIdle := c.MaxOpen, c.MaxIdle
	if maxOpen == 0 {
		maxOpen = 50
	}
	if maxIdle == 0 {
		maxIdle = 10
	}
	sqldb.SetMaxOpenConns(maxOpen)
	sqldb.SetMaxIdleConns(maxIdle)
	if c.MaxLifetime > 0 {
		sqldb.SetConnMaxLifetime(c.MaxLifetime)
	} else {
		sqldb.SetConnMaxLifetime(30 * time.Minute)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqldb.PingContext(pctx); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("connect to %s database %s: %w", dialect, where, err)
	}
	return &DB{DB: sqldb, Dialect: dialect, Where: where}, nil
}

// resolve turns a Config into a driver name and DSN.
func resolve(c Config) (dialect Dialect, driver, dsn, where string, err error) {
	raw := strings.TrimSpace(c.URL)
	typ := strings.ToLower(strings.TrimSpace(c.Type))
	switch {
	case strings.HasPrefix(raw, "jdbc:postgresql:"), strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		dialect = Postgres
	case strings.HasPrefix(raw, "jdbc:mysql:"), strings.HasPrefix(raw, "jdbc:mariadb:"), strings.HasPrefix(raw, "mysql://"), strings.HasPrefix(raw, "mariadb://"), strings.Contains(raw, "@tcp("), strings.Contains(raw, "@unix("):
		dialect = MySQL
	case strings.HasPrefix(raw, "jdbc:h2:"), strings.HasPrefix(raw, "file:"), strings.HasSuffix(raw, ".db"), raw == "":
		dialect = SQLite
	}
	switch typ {
	case "", "h2", "sqlite", "embedded":
		if dialect == "" {
			dialect = SQLite
		}
	case "postgre", "postgres", "postgresql":
		dialect = Postgres
	case "mysql", "mariadb":
		dialect = MySQL
	default:
		return "", "", "", "", fmt.Errorf("database type %q is not supported (use sqlite, h2, postgres, mysql or mariadb)", c.Type)
	}
	switch dialect {
	case SQLite:
		path := raw
		if path == "" || strings.HasPrefix(path, "jdbc:h2:") {
			// An H2 URL from a WSO2 default means "the embedded database": keep it
			// in the data directory under the logical name.
			name := c.Name
			if name == "" {
				name = "keyway"
			}
			dir := c.DataDir
			if dir == "" {
				dir = "data"
			}
			path = filepath.Join(dir, "database", name+".db")
		}
		path = strings.TrimPrefix(path, "file:")
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		// WAL lets readers run beside one writer; busy_timeout makes a
		// concurrent writer wait instead of failing with SQLITE_BUSY.
		dsn = "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
		return SQLite, "sqlite", dsn, path, nil
	case Postgres:
		u, err := url.Parse(strings.TrimPrefix(raw, "jdbc:"))
		if err != nil {
			return "", "", "", "", fmt.Errorf("parse PostgreSQL URL: %w", err)
		}
		u.Scheme = "postgres"
		if c.Username != "" || c.Password != "" {
			u.User = url.UserPassword(c.Username, c.Password)
		}
		q := u.Query()
		// JDBC options that pgx does not understand are dropped.
		for k := range q {
			switch strings.ToLower(k) {
			case "ssl", "sslfactory", "loggerlevel", "prepareThreshold", "autosave":
				q.Del(k)
			}
		}
		if q.Get("sslmode") == "" {
			if strings.EqualFold(q.Get("ssl"), "true") {
				q.Set("sslmode", "require")
			} else {
				q.Set("sslmode", "prefer")
			}
		}
		u.RawQuery = q.Encode()
		where = u.Host + u.Path
		return Postgres, "pgx", u.String(), where, nil
	default:
		var cfg *mysql.Config
		if strings.Contains(raw, "@tcp(") || strings.Contains(raw, "@unix(") {
			cfg, err = mysql.ParseDSN(raw)
			if err != nil {
				return "", "", "", "", fmt.Errorf("parse MySQL DSN: %w", err)
			}
		} else {
			s := strings.TrimPrefix(strings.TrimPrefix(raw, "jdbc:"), "mariadb://")
			s = strings.TrimPrefix(strings.TrimPrefix(s, "mysql://"), "mariadb:")
			s = "mysql://" + strings.TrimPrefix(s, "mysql:")
			s = strings.Replace(s, "mysql:////", "mysql://", 1)
			u, perr := url.Parse(s)
			if perr != nil {
				return "", "", "", "", fmt.Errorf("parse MySQL URL: %w", perr)
			}
			cfg = mysql.NewConfig()
			cfg.Net = "tcp"
			cfg.Addr = u.Host
			if u.Port() == "" {
				cfg.Addr = u.Host + ":3306"
			}
			cfg.DBName = strings.TrimPrefix(u.Path, "/")
			if u.User != nil {
				cfg.User = u.User.Username()
				cfg.Passwd, _ = u.User.Password()
			}
			for k, v := range u.Query() {
				switch strings.ToLower(k) {
				case "usessl":
					if len(v) > 0 && strings.EqualFold(v[0], "true") {
						cfg.TLSConfig = "preferred"
					}
				case "charset", "collation":
					if k == "collation" {
						cfg.Collation = v[0]
					}
				}
			}
		}
		if c.Username != "" {
			cfg.User = c.Username
		}
		if c.Password != "" {
			cfg.Passwd = c.Password
		}
		cfg.ParseTime = false
		cfg.MultiStatements = false
		if cfg.Params == nil {
			cfg.Params = map[string]string{}
		}
		cfg.Params["sql_mode"] = "'ANSI_QUOTES,STRICT_ALL_TABLES,NO_ZERO_DATE'"
		cfg.Collation = "utf8mb4_bin"
		return MySQL, "mysql", cfg.FormatDSN(), cfg.Addr + "/" + cfg.DBName, nil
	}
}

// Rebind rewrites `?` placeholders for the dialect ($1, $2 for PostgreSQL).
// Placeholders inside single-quoted literals are left alone.
func (d *DB) Rebind(q string) string { return rebind(d.Dialect, q) }

func rebind(d Dialect, q string) string {
	if d != Postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n, inQuote := 0, false
	for i := 0; i < len(q); i++ {
		ch := q[i]
		switch {
		case ch == '\'':
			inQuote = !inQuote
			b.WriteByte(ch)
		case ch == '?' && !inQuote:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(ch)
		}
	}
	return b.String()
}

// ExecContext runs a statement written with `?` placeholders.
func (d *DB) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return d.DB.ExecContext(ctx, d.Rebind(q), args...)
}

// QueryContext runs a query written with `?` placeholders.
func (d *DB) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return d.DB.QueryContext(ctx, d.Rebind(q), args...)
}

// QueryRowContext runs a single-row query written with `?` placeholders.
func (d *DB) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return d.DB.QueryRowContext(ctx, d.Rebind(q), args...)
}

// Tx is a transaction that rebinds placeholders like DB.
type Tx struct {
	*sql.Tx
	Dialect Dialect
}

// ExecContext runs a statement written with `?` placeholders.
func (t *Tx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.Tx.ExecContext(ctx, rebind(t.Dialect, q), args...)
}

// QueryContext runs a query written with `?` placeholders.
func (t *Tx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.Tx.QueryContext(ctx, rebind(t.Dialect, q), args...)
}

// QueryRowContext runs a single-row query written with `?` placeholders.
func (t *Tx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return t.Tx.QueryRowContext(ctx, rebind(t.Dialect, q), args...)
}

// InTx runs fn in a transaction, committing when it returns nil and rolling
// back otherwise, so a failed request leaves no partial write behind.
func (d *DB) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	stx, err := d.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	tx := &Tx{Tx: stx, Dialect: d.Dialect}
	if err := fn(tx); err != nil {
		_ = stx.Rollback()
		return err
	}
	if err := stx.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	return nil
}

// Execer is what DB and Tx have in common, for helpers that work in or out of
// a transaction.
type Execer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

var (
	_ Execer = (*DB)(nil)
	_ Execer = (*Tx)(nil)
)

// IsUniqueViolation reports whether err is a unique or primary key conflict,
// whatever the engine.
func IsUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23505"
	}
	var my *mysql.MySQLError
	if errors.As(err, &my) {
		return my.Number == 1062
	}
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "PRIMARY KEY constraint failed") || strings.Contains(msg, "constraint failed: UNIQUE")
}

// ErrNotFound is returned by stores when a row does not exist.
var ErrNotFound = errors.New("not found")
