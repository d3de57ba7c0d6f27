package user

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/keyway/keyway/internal/db"
)

// More errors returned by the SQL Store.
var (
	// ErrAccountLocked means the password was right but the account is locked.
	ErrAccountLocked = errors.New("user: account is locked")
	// ErrBadFilter means a list filter names an unknown attribute or operator.
	ErrBadFilter = errors.New("user: unsupported filter")
	// ErrInvalid means the input breaks a rule (empty user name, short password...).
	ErrInvalid = errors.New("user: invalid input")
)

// StoreOptions tune the SQL store. Zero values pick the documented defaults.
type StoreOptions struct {
	// Argon2 are the hashing costs for new passwords (default DefaultArgon2).
	Argon2 Argon2Params
	// MaxAccountFailures failed logins lock an account (default 5).
	MaxAccountFailures int
	// MaxAddressFailures failed logins from one address, over all accounts,
	// lock that address (default 20).
	MaxAddressFailures int
	// LockoutBase is the first lock (default 30s); it doubles with every
	// further failure up to LockoutMax (default 15m).
	LockoutBase time.Duration
	LockoutMax  time.Duration
	// AuthCacheTTL is how long a verified name and password are trusted
	// without hashing again (default 2m; negative disables). A changed
	// password or a locked account ends it at once.
	AuthCacheTTL time.Duration
	// MinPasswordLength (default 5, as IS's default password policy).
	MinPasswordLength int
	Now               func() time.Time
	Logger            *slog.Logger
}

// Store is the SQL implementation of Directory (tables usr_*).
type Store struct {
	d        *db.DB
	opts     StoreOptions
	throttle *loginThrottle
	cache    *authCache
	// dummyHash is verified against when the user does not exist, so an
	// unknown name costs the same time as a wrong password.
	dummyHash string
}

var _ Directory = (*Store)(nil)

var migrations = []db.Migration{{
	Version: 1,
	Name:    "users, roles, groups",
	SQL: `CREATE TABLE usr_users (
	id VARCHAR(64) NOT NULL PRIMARY KEY,
	username VARCHAR(255) NOT NULL,
	username_lc VARCHAR(255) NOT NULL,
	password_hash TEXT NOT NULL,
	email VARCHAR(320) NOT NULL,
	email_lc VARCHAR(320) NOT NULL,
	given_name VARCHAR(255) NOT NULL,
	family_name VARCHAR(255) NOT NULL,
	locked INTEGER NOT NULL,
	claims TEXT NOT NULL,
	created BIGINT NOT NULL,
	updated BIGINT NOT NULL);
CREATE UNIQUE INDEX usr_users_name ON usr_users (username_lc);
CREATE INDEX usr_users_email ON usr_users (email_lc);
CREATE TABLE usr_roles (
	id VARCHAR(64) NOT NULL PRIMARY KEY,
	name VARCHAR(255) NOT NULL,
	name_lc VARCHAR(255) NOT NULL,
	aud_type VARCHAR(32) NOT NULL,
	aud_value VARCHAR(255) NOT NULL,
	created BIGINT NOT NULL,
	updated BIGINT NOT NULL);
CREATE UNIQUE INDEX usr_roles_name ON usr_roles (name_lc, aud_type, aud_value);
CREATE TABLE usr_role_permissions (
	role_id VARCHAR(64) NOT NULL,
	permission VARCHAR(255) NOT NULL,
	PRIMARY KEY (role_id, permission));
CREATE INDEX usr_role_permissions_p ON usr_role_permissions (permission);
CREATE TABLE usr_role_users (
	role_id VARCHAR(64) NOT NULL,
	user_id VARCHAR(64) NOT NULL,
	PRIMARY KEY (role_id, user_id));
CREATE INDEX usr_role_users_u ON usr_role_users (user_id);
CREATE TABLE usr_role_groups (
	role_id VARCHAR(64) NOT NULL,
	group_id VARCHAR(64) NOT NULL,
	PRIMARY KEY (role_id, group_id));
CREATE INDEX usr_role_groups_g ON usr_role_groups (group_id);
CREATE TABLE usr_groups (
	id VARCHAR(64) NOT NULL PRIMARY KEY,
	name VARCHAR(255) NOT NULL,
	name_lc VARCHAR(255) NOT NULL,
	created BIGINT NOT NULL,
	updated BIGINT NOT NULL);
CREATE UNIQUE INDEX usr_groups_name ON usr_groups (name_lc);
CREATE TABLE usr_group_members (
	group_id VARCHAR(64) NOT NULL,
	user_id VARCHAR(64) NOT NULL,
	PRIMARY KEY (group_id, user_id));
CREATE INDEX usr_group_members_u ON usr_group_members (user_id)`,
}}

// Audience types of roles (IS 7 roles v2).
const (
	AudienceOrganization = "organization"
	AudienceApplication  = "application"
)

// NewStore migrates the usr_* tables and returns the store.
func NewStore(ctx context.Context, d *db.DB, opts StoreOptions) (*Store, error) {
	if opts.Argon2 == (Argon2Params{}) {
		opts.Argon2 = DefaultArgon2
	}
	if opts.MaxAccountFailures <= 0 {
		opts.MaxAccountFailures = 5
	}
	if opts.MaxAddressFailures <= 0 {
		opts.MaxAddressFailures = 20
	}
	if opts.LockoutBase <= 0 {
		opts.LockoutBase = 30 * time.Second
	}
	if opts.LockoutMax <= 0 {
		opts.LockoutMax = 15 * time.Minute
	}
	if opts.AuthCacheTTL == 0 {
		opts.AuthCacheTTL = 2 * time.Minute
	}
	if opts.MinPasswordLength <= 0 {
		opts.MinPasswordLength = 5
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := d.Migrate(ctx, "user", migrations); err != nil {
		return nil, fmt.Errorf("user store: %w", err)
	}
	dummy, err := HashPassword(uuid.NewString(), opts.Argon2)
	if err != nil {
		return nil, err
	}
	return &Store{
		d:         d,
		opts:      opts,
		throttle:  newLoginThrottle(opts.LockoutBase, opts.LockoutMax, opts.Now),
		cache:     newAuthCache(opts.AuthCacheTTL, opts.Now),
		dummyHash: dummy,
	}, nil
}

func (s *Store) now() int64 { return s.opts.Now().UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// Authenticate checks username and password. After MaxAccountFailures
// failures for an account, or MaxAddressFailures from one remote address, it
// answers ErrThrottled until the lock expires.
func (s *Store) Authenticate(ctx context.Context, username, password, remote string) (*User, error) {
	acctKey := "a:" + strings.ToLower(username)
	addrKey := "r:" + remote
	if s.throttle.locked(acctKey) || (remote != "" && s.throttle.locked(addrKey)) {
		return nil, ErrThrottled
	}
	ck := s.cache.id(strings.ToLower(username), password)
	if e, ok := s.cache.get(ck); ok {
		u, err := s.GetUser(ctx, e.userID)
		if err == nil && u.PasswordHash == e.hash && !u.Locked {
			return u, nil
		}
		s.cache.drop(ck)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
	}
	u, err := s.GetUserByName(ctx, username)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	hash := s.dummyHash
	if u != nil {
		hash = u.PasswordHash
	}
	ok, rehash, verr := VerifyPassword(hash, password, s.opts.Argon2)
	if verr != nil {
		s.opts.Logger.Warn("stored password hash is unreadable", "user", username, "error", verr)
	}
	if u == nil || !ok {
		s.throttle.fail(acctKey, s.opts.MaxAccountFailures)
		if remote != "" {
			s.throttle.fail(addrKey, s.opts.MaxAddressFailures)
		}
		return nil, ErrInvalidCredentials
	}
	if u.Locked {
		return nil, ErrAccountLocked
	}
	s.throttle.reset(acctKey)
	if rehash {
		if err := s.SetPassword(ctx, u.ID, password); err != nil {
			s.opts.Logger.Warn("upgrade password hash", "user", username, "error", err)
		}
		return u, nil
	}
	s.cache.put(ck, u.ID, u.PasswordHash)
	return u, nil
}

func (s *Store) checkPassword(password string) error {
	if len([]rune(password)) < s.opts.MinPasswordLength {
		return fmt.Errorf("%w: the password must have at least %d characters", ErrInvalid, s.opts.MinPasswordLength)
	}
	if len(password) > 1024 {
		return fmt.Errorf("%w: the password is too long", ErrInvalid)
	}
	return nil
}

const userCols = `id, username, password_hash, email, given_name, family_name, locked, claims, created, updated`

func scanUser(sc interface{ Scan(...any) error }) (*User, error) {
	var u User
	var locked int
	var claims string
	var created, updated int64
	if err := sc.Scan(&u.ID, &u.Username, &u.PasswordHash, &u.Email, &u.GivenName, &u.FamilyName, &locked, &claims, &created, &updated); err != nil {
		return nil, err
	}
	u.Locked = locked != 0
	u.Created, u.Updated = fromMillis(created), fromMillis(updated)
	if claims != "" && claims != "{}" {
		if err := json.Unmarshal([]byte(claims), &u.Claims); err != nil {
			return nil, fmt.Errorf("decode claims of user %s: %w", u.ID, err)
		}
	}
	return &u, nil
}

// GetUser returns a user with its effective role names and group names.
func (s *Store) GetUser(ctx context.Context, id string) (*User, error) {
	return s.getUser(ctx, `SELECT `+userCols+` FROM usr_users WHERE id = ?`, id)
}

// GetUserByName looks a user up by name, ignoring case.
func (s *Store) GetUserByName(ctx context.Context, username string) (*User, error) {
	return s.getUser(ctx, `SELECT `+userCols+` FROM usr_users WHERE username_lc = ?`, strings.ToLower(username))
}

func (s *Store) getUser(ctx context.Context, q string, arg string) (*User, error) {
	u, err := scanUser(s.d.QueryRowContext(ctx, q, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get user: %w", err)
	}
	if err := s.fillMemberships(ctx, u); err != nil {
		return nil, err
	}
	return u, nil
}

func (s *Store) fillMemberships(ctx context.Context, u *User) error {
	roles, err := s.RolesOf(ctx, u.ID)
	if err != nil {
		return err
	}
	u.Roles = make([]string, 0, len(roles))
	for _, r := range roles {
		u.Roles = append(u.Roles, r.Name)
	}
	u.Roles = dedupSorted(u.Roles)
	u.Groups, err = queryStrings(ctx, s.d, `SELECT g.name FROM usr_groups g JOIN usr_group_members m ON m.group_id = g.id WHERE m.user_id = ? ORDER BY g.name`, u.ID)
	if err != nil {
		return fmt.Errorf("groups of user %s: %w", u.ID, err)
	}
	return nil
}

func validUsername(name string) error {
	if strings.TrimSpace(name) == "" || len(name) > 255 {
		return fmt.Errorf("%w: the user name must have 1 to 255 characters", ErrInvalid)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: the user name has a control character", ErrInvalid)
		}
	}
	return nil
}

// CreateUser hashes password and stores u. Names in u.Roles (organisation
// roles) and u.Groups are assigned; an unknown one is ErrNotFound.
func (s *Store) CreateUser(ctx context.Context, u *User, password string) error {
	if err := validUsername(u.Username); err != nil {
		return err
	}
	if err := s.checkPassword(password); err != nil {
		return err
	}
	hash, err := HashPassword(password, s.opts.Argon2)
	if err != nil {
		return err
	}
	claims, err := encodeClaims(u.Claims)
	if err != nil {
		return err
	}
	if u.ID == "" {
		u.ID = uuid.NewString()
	}
	now := s.now()
	err = s.d.InTx(ctx, func(tx *db.Tx) error {
		if _, err := execNamed(ctx, tx, "insert", "user", u.Username, `INSERT INTO usr_users (id, username, username_lc, password_hash, email, email_lc, given_name, family_name, locked, claims, created, updated)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			u.ID, u.Username, strings.ToLower(u.Username), hash, u.Email, strings.ToLower(u.Email), u.GivenName, u.FamilyName, boolInt(u.Locked), claims, now, now); err != nil {
			return err
		}
		for _, name := range u.Roles {
			var rid string
			if err := tx.QueryRowContext(ctx, `SELECT id FROM usr_roles WHERE name_lc = ? ORDER BY aud_type DESC, aud_value`, strings.ToLower(name)).Scan(&rid); err != nil {
				if errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("role %q: %w", name, ErrNotFound)
				}
				return fmt.Errorf("find role %q: %w", name, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO usr_role_users (role_id, user_id) VALUES (?, ?)`, rid, u.ID); err != nil && !db.IsUniqueViolation(err) {
				return fmt.Errorf("assign role %q: %w", name, err)
			}
		}
		for _, name := range u.Groups {
			var gid string
			if err := tx.QueryRowContext(ctx, `SELECT id FROM usr_groups WHERE name_lc = ?`, strings.ToLower(name)).Scan(&gid); err != nil {
				if errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("group %q: %w", name, ErrNotFound)
				}
				return fmt.Errorf("find group %q: %w", name, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO usr_group_members (group_id, user_id) VALUES (?, ?)`, gid, u.ID); err != nil && !db.IsUniqueViolation(err) {
				return fmt.Errorf("add to group %q: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	u.PasswordHash = hash
	u.Created, u.Updated = fromMillis(now), fromMillis(now)
	return nil
}

// UpdateUser replaces the profile (user name, email, names, locked, claims).
// Role and group memberships are managed through roles and groups.
func (s *Store) UpdateUser(ctx context.Context, u *User) error {
	if err := validUsername(u.Username); err != nil {
		return err
	}
	claims, err := encodeClaims(u.Claims)
	if err != nil {
		return err
	}
	now := s.now()
	res, err := execNamed(ctx, s.d, "update", "user", u.Username, `UPDATE usr_users SET username = ?, username_lc = ?, email = ?, email_lc = ?, given_name = ?, family_name = ?, locked = ?, claims = ?, updated = ? WHERE id = ?`,
		u.Username, strings.ToLower(u.Username), u.Email, strings.ToLower(u.Email), u.GivenName, u.FamilyName, boolInt(u.Locked), claims, now, u.ID)
	if err != nil {
		return err
	}
	if err := oneRow(res, "user "+u.ID); err != nil {
		return err
	}
	u.Updated = fromMillis(now)
	return nil
}

// SetPassword replaces a user's password hash.
func (s *Store) SetPassword(ctx context.Context, id, password string) error {
	if err := s.checkPassword(password); err != nil {
		return err
	}
	hash, err := HashPassword(password, s.opts.Argon2)
	if err != nil {
		return err
	}
	res, err := s.d.ExecContext(ctx, `UPDATE usr_users SET password_hash = ?, updated = ? WHERE id = ?`, hash, s.now(), id)
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	return oneRow(res, "user "+id)
}

// DeleteUser removes the user and its memberships.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return s.deleteWithLinks(ctx, "user", "usr_users", id, `DELETE FROM usr_role_users WHERE user_id = ?`, `DELETE FROM usr_group_members WHERE user_id = ?`)
}

// userColumns maps filter attributes (SCIM names, case-insensitive) to
// lower-cased columns.
var userColumns = map[string]string{
	"username": "username_lc", "emails": "email_lc", "emails.value": "email_lc", "email": "email_lc",
	"name.givenname": "LOWER(given_name)", "name.familyname": "LOWER(family_name)", "id": "id",
}

// ListUsers lists users ordered by name; f.Attribute "" lists all.
func (s *Store) ListUsers(ctx context.Context, f Filter) ([]*User, int, error) {
	out, total, err := listPage(ctx, s.d, f, userColumns, "users", "usr_users", userCols, "username_lc", scanUser)
	if err != nil {
		return nil, 0, err
	}
	for _, u := range out {
		if err := s.fillMemberships(ctx, u); err != nil {
			return nil, 0, err
		}
	}
	return out, total, nil
}

// filterClause turns a Filter into " WHERE col op ?" with LIKE patterns
// escaped, so a user's "%" or "_" matches itself.
func filterClause(f Filter, cols map[string]string) (string, []any, error) {
	if f.Attribute == "" {
		return "", nil, nil
	}
	col, ok := cols[strings.ToLower(f.Attribute)]
	if !ok {
		return "", nil, fmt.Errorf("%w: attribute %q", ErrBadFilter, f.Attribute)
	}
	v := f.Value
	if col != "id" {
		v = strings.ToLower(v)
	}
	esc := strings.NewReplacer("!", "!!", "%", "!%", "_", "!_").Replace(v)
	switch strings.ToLower(f.Op) {
	case "eq":
		return " WHERE " + col + " = ?", []any{v}, nil
	case "co":
		return " WHERE " + col + " LIKE ? ESCAPE '!'", []any{"%" + esc + "%"}, nil
	case "sw":
		return " WHERE " + col + " LIKE ? ESCAPE '!'", []any{esc + "%"}, nil
	case "ew":
		return " WHERE " + col + " LIKE ? ESCAPE '!'", []any{"%" + esc}, nil
	}
	return "", nil, fmt.Errorf("%w: operator %q", ErrBadFilter, f.Op)
}

func limitOf(f Filter) int64 {
	if f.Limit <= 0 {
		return 1 << 40
	}
	return int64(f.Limit)
}

func encodeClaims(c map[string]string) (string, error) {
	if len(c) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encode claims: %w", err)
	}
	return string(b), nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func oneRow(res sql.Result, what string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return nil
}

func queryStrings(ctx context.Context, q db.Execer, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func dedupSorted(in []string) []string {
	sort.Strings(in)
	out := in[:0]
	for i, v := range in {
		if i == 0 || v != in[i-1] {
			out = append(out, v)
		}
	}
	return out
}
