package oauth

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keyway/keyway/internal/db"
)

// sqlClients is the ClientStore over oauth_clients. Secrets are sealed with
// the Sealer (reversible, because IS's DCR GET returns the plaintext and
// the API Manager compares it) and compared in constant time after Open, so
// the token endpoint never runs a slow password hash. Decrypted clients
// are cached for ClientCacheTTL; writes on this node invalidate at once,
// writes on another node are seen within the TTL.
type sqlClients struct {
	s     *Server
	mu    sync.RWMutex
	cache map[string]cachedClient
}

type cachedClient struct {
	c  *Client
	at time.Time
}

var _ ClientStore = (*sqlClients)(nil)

func newSQLClients(s *Server) *sqlClients {
	return &sqlClients{s: s, cache: map[string]cachedClient{}}
}

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomString returns n characters from idAlphabet (about 5.95 bits each).
func randomString(n int) string {
	buf := make([]byte, n)
	rnd := make([]byte, n+n/2)
	i := 0
	for i < n {
		_, _ = rand.Read(rnd)
		for _, b := range rnd {
			// 248 = 4*62: reject the tail to avoid modulo bias.
			if b < 248 && i < n {
				buf[i] = idAlphabet[int(b)%len(idAlphabet)]
				i++
			}
		}
	}
	return string(buf)
}

func cloneClient(c *Client) *Client {
	cp := *c
	cp.RedirectURIs = slices.Clone(c.RedirectURIs)
	cp.GrantTypes = slices.Clone(c.GrantTypes)
	cp.Audiences = slices.Clone(c.Audiences)
	cp.PostLogoutRedirectURIs = slices.Clone(c.PostLogoutRedirectURIs)
	if c.Extra != nil {
		cp.Extra = make(map[string]any, len(c.Extra))
		for k, v := range c.Extra {
			cp.Extra[k] = v
		}
	}
	return &cp
}

func normalizeClient(c *Client) error {
	c.Name = strings.TrimSpace(c.Name)
	if c.Name == "" {
		return errors.New("oauth: client name is required")
	}
	switch c.TokenType {
	case "", "JWT", "jwt":
		c.TokenType = "JWT"
	case "Default", "default", "Opaque", "opaque":
		c.TokenType = "Default"
	default:
		return fmt.Errorf("oauth: token type %q is not JWT or Default", c.TokenType)
	}
	if c.Public {
		c.Secret = ""
		c.AuthMethod = "none"
	} else if c.AuthMethod == "" || c.AuthMethod == "none" {
		c.AuthMethod = "client_secret_basic"
	}
	switch c.AuthMethod {
	case "none", "client_secret_basic", "client_secret_post", "private_key_jwt":
	default:
		return fmt.Errorf("oauth: token endpoint auth method %q is not supported", c.AuthMethod)
	}
	for _, u := range c.RedirectURIs {
		if strings.Contains(u, "#") {
			return fmt.Errorf("oauth: redirect URI %q must not have a fragment", u)
		}
	}
	return nil
}

func (st *sqlClients) CreateClient(ctx context.Context, c *Client) error {
	if err := normalizeClient(c); err != nil {
		return err
	}
	if c.ID == "" {
		c.ID = randomString(28)
	}
	if !c.Public && c.Secret == "" {
		c.Secret = randomString(32)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	c.Created, c.Updated = now, now
	sealed, data, err := st.encode(c)
	if err != nil {
		return err
	}
	_, err = st.s.db.ExecContext(ctx, `INSERT INTO oauth_clients (id, name, owner, secret, data, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Name, c.Owner, sealed, data, now.UnixMilli(), now.UnixMilli())
	if db.IsUniqueViolation(err) {
		return ErrClientConflict
	}
	if err != nil {
		return fmt.Errorf("oauth: create client %s: %w", c.Name, err)
	}
	st.put(cloneClient(c))
	return nil
}

func (st *sqlClients) encode(c *Client) (sealed, data string, err error) {
	if c.Secret != "" {
		if sealed, err = st.s.cfg.Sealer.Seal(c.Secret); err != nil {
			return "", "", fmt.Errorf("oauth: seal client secret: %w", err)
		}
	}
	cp := *c
	cp.Secret = ""
	raw, err := json.Marshal(&cp)
	if err != nil {
		return "", "", fmt.Errorf("oauth: encode client: %w", err)
	}
	return sealed, string(raw), nil
}

func (st *sqlClients) put(c *Client) {
	st.mu.Lock()
	st.cache[c.ID] = cachedClient{c: c, at: time.Now()}
	st.mu.Unlock()
}

func (st *sqlClients) forget(id string) {
	st.mu.Lock()
	delete(st.cache, id)
	st.mu.Unlock()
}

// get returns the cached client (read-only: callers must not modify it).
func (st *sqlClients) get(ctx context.Context, id string) (*Client, error) {
	st.mu.RLock()
	e, ok := st.cache[id]
	st.mu.RUnlock()
	if ok && time.Since(e.at) < st.s.cfg.ClientCacheTTL {
		return e.c, nil
	}
	c, err := st.load(ctx, `SELECT id, secret, data FROM oauth_clients WHERE id = ?`, id)
	if err != nil {
		return nil, err
	}
	st.put(c)
	return c, nil
}

func (st *sqlClients) load(ctx context.Context, q string, arg string) (*Client, error) {
	var id, sealed, data string
	err := st.s.db.QueryRowContext(ctx, q, arg).Scan(&id, &sealed, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrClientNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("oauth: load client %s: %w", arg, err)
	}
	return st.decode(sealed, data)
}

func (st *sqlClients) decode(sealed, data string) (*Client, error) {
	var c Client
	if err := json.Unmarshal([]byte(data), &c); err != nil {
		return nil, fmt.Errorf("oauth: decode client: %w", err)
	}
	if sealed != "" {
		secret, err := st.s.cfg.Sealer.Open(sealed)
		if err != nil {
			return nil, fmt.Errorf("oauth: open secret of client %s: %w", c.ID, err)
		}
		c.Secret = secret
	}
	return &c, nil
}

func (st *sqlClients) GetClient(ctx context.Context, id string) (*Client, error) {
	c, err := st.get(ctx, id)
	if err != nil {
		return nil, err
	}
	return cloneClient(c), nil
}

func (st *sqlClients) GetClientByName(ctx context.Context, name string) (*Client, error) {
	c, err := st.load(ctx, `SELECT id, secret, data FROM oauth_clients WHERE name = ?`, name)
	if err != nil {
		return nil, err
	}
	st.put(cloneClient(c))
	return c, nil
}

func (st *sqlClients) UpdateClient(ctx context.Context, c *Client) error {
	old, err := st.load(ctx, `SELECT id, secret, data FROM oauth_clients WHERE id = ?`, c.ID)
	if err != nil {
		return err
	}
	if c.Secret == "" && !c.Public {
		c.Secret = old.Secret
	}
	if err := normalizeClient(c); err != nil {
		return err
	}
	c.Created = old.Created
	c.Updated = time.Now().UTC().Truncate(time.Millisecond)
	sealed, data, err := st.encode(c)
	if err != nil {
		return err
	}
	_, err = st.s.db.ExecContext(ctx, `UPDATE oauth_clients SET name = ?, owner = ?, secret = ?, data = ?, updated = ? WHERE id = ?`,
		c.Name, c.Owner, sealed, data, c.Updated.UnixMilli(), c.ID)
	if db.IsUniqueViolation(err) {
		return ErrClientConflict
	}
	if err != nil {
		return fmt.Errorf("oauth: update client %s: %w", c.ID, err)
	}
	st.forget(c.ID)
	// A new secret (or a client turned public) ends every token issued
	// under the old credentials, as IS does on secret regeneration.
	if old.Secret != c.Secret {
		if err := st.s.RevokeClientTokens(ctx, c.ID, RevokedBySystem); err != nil {
			return err
		}
	}
	return nil
}

func (st *sqlClients) DeleteClient(ctx context.Context, id string) error {
	res, err := st.s.db.ExecContext(ctx, `DELETE FROM oauth_clients WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("oauth: delete client %s: %w", id, err)
	}
	st.forget(id)
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrClientNotFound
	}
	if _, err := st.s.db.ExecContext(ctx, `DELETE FROM oauth_consents WHERE client_id = ?`, id); err != nil {
		return fmt.Errorf("oauth: delete consents of client %s: %w", id, err)
	}
	return st.s.RevokeClientTokens(ctx, id, RevokedBySystem)
}

func (st *sqlClients) ListClients(ctx context.Context, owner string) ([]*Client, error) {
	q, args := `SELECT id, secret, data FROM oauth_clients ORDER BY name`, []any{}
	if owner != "" {
		q, args = `SELECT id, secret, data FROM oauth_clients WHERE owner = ? ORDER BY name`, []any{owner}
	}
	rows, err := st.s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("oauth: list clients: %w", err)
	}
	defer rows.Close()
	var out []*Client
	for rows.Next() {
		var id, sealed, data string
		if err := rows.Scan(&id, &sealed, &data); err != nil {
			return nil, fmt.Errorf("oauth: list clients: %w", err)
		}
		c, err := st.decode(sealed, data)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// allowsGrant reports whether the client may use grant; an empty list
// allows every grant the engine supports.
func (c *Client) allowsGrant(grant string) bool {
	return len(c.GrantTypes) == 0 || slices.Contains(c.GrantTypes, grant)
}
