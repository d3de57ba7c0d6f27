package oauth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/keyway/keyway/internal/db"
)

const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// authenticateClient identifies and authenticates the calling client by
// client_secret_basic (id and secret URL-decoded after Base64, RFC 6749
// §2.3.1), client_secret_post, private_key_jwt (RFC 7523 §2.2) or none for
// public clients. The returned client is the cached, read-only copy.
func (s *Server) authenticateClient(r *http.Request, form url.Values) (*Client, *oauthError) {
	ctx := r.Context()
	if h := r.Header.Get("Authorization"); h != "" {
		id, secret, ok := parseBasic(h)
		if !ok {
			return nil, errInvalidClient("malformed Basic client credentials", true)
		}
		if fid := form.Get("client_id"); fid != "" && fid != id {
			return nil, errInvalidRequest("client_id does not match the Authorization header")
		}
		c, err := s.clients.get(ctx, id)
		if err != nil {
			if !errors.Is(err, ErrClientNotFound) {
				s.log.Error("load client", "err", err)
				return nil, errServer()
			}
			return nil, errInvalidClient("client authentication failed", true)
		}
		if c.Public && secret == "" {
			// Some libraries send "client_id:" in Basic for public clients.
			return c, nil
		}
		if c.Public || c.AuthMethod == "private_key_jwt" || !secretValid(c, secret) {
			return nil, errInvalidClient("client authentication failed", true)
		}
		return c, nil
	}
	if form.Get("client_assertion_type") != "" || form.Get("client_assertion") != "" {
		return s.authenticateAssertion(ctx, form)
	}
	id := form.Get("client_id")
	if id == "" {
		return nil, errInvalidClient("client authentication is required", true)
	}
	c, err := s.clients.get(ctx, id)
	if err != nil {
		if !errors.Is(err, ErrClientNotFound) {
			s.log.Error("load client", "err", err)
			return nil, errServer()
		}
		return nil, errInvalidClient("client authentication failed", false)
	}
	secret, hasSecret := form["client_secret"]
	switch {
	case c.Public:
		if hasSecret && secret[0] != "" {
			return nil, errInvalidClient("public clients have no secret", false)
		}
		return c, nil
	case !hasSecret:
		return nil, errInvalidClient("client authentication is required", true)
	case c.AuthMethod == "private_key_jwt" || !secretValid(c, secret[0]):
		return nil, errInvalidClient("client authentication failed", false)
	}
	return c, nil
}

// parseBasic decodes a Basic header and form-decodes both halves.
func parseBasic(h string) (id, secret string, ok bool) {
	r := http.Request{Header: http.Header{"Authorization": {h}}}
	rawID, rawSecret, ok := r.BasicAuth()
	if !ok {
		return "", "", false
	}
	id, err1 := url.QueryUnescape(rawID)
	secret, err2 := url.QueryUnescape(rawSecret)
	if err1 != nil || err2 != nil || id == "" {
		return "", "", false
	}
	return id, secret, true
}

// secretValid checks the secret and its expiry (SecretExpiresAt is Unix
// seconds, 0 for never, as in RFC 7591).
func secretValid(c *Client, given string) bool {
	ok := secretEqual(c.Secret, given)
	return ok && (c.SecretExpiresAt == 0 || time.Now().Unix() < c.SecretExpiresAt)
}

// secretEqual compares in constant time, also over the length.
func secretEqual(stored, given string) bool {
	if stored == "" {
		return false
	}
	a := sha256.Sum256([]byte(stored))
	b := sha256.Sum256([]byte(given))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// assertionAlgs are the signature algorithms accepted from clients.
var assertionAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512, jose.ES256, jose.ES384, jose.ES512, jose.EdDSA}

func (s *Server) authenticateAssertion(ctx context.Context, form url.Values) (*Client, *oauthError) {
	if form.Get("client_assertion_type") != clientAssertionType {
		return nil, errInvalidClient("unsupported client_assertion_type", false)
	}
	tok, err := jwt.ParseSigned(form.Get("client_assertion"), assertionAlgs)
	if err != nil {
		return nil, errInvalidClient("client_assertion is not a signed JWT", false)
	}
	var unverified jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil || unverified.Issuer == "" {
		return nil, errInvalidClient("client_assertion has no issuer", false)
	}
	if id := form.Get("client_id"); id != "" && id != unverified.Issuer {
		return nil, errInvalidClient("client_id does not match the client assertion", false)
	}
	c, err := s.clients.get(ctx, unverified.Issuer)
	if err != nil {
		return nil, errInvalidClient("client authentication failed", false)
	}
	if c.AuthMethod != "private_key_jwt" {
		return nil, errInvalidClient("client is not registered for private_key_jwt", false)
	}
	claims, oe := s.verifyClientJWT(ctx, c, tok, true)
	if oe != nil {
		return nil, errInvalidClient(oe.Description, false)
	}
	if claims.Subject != c.ID {
		return nil, errInvalidClient("client assertion sub must be the client id", false)
	}
	return c, nil
}

// verifyClientJWT checks a JWT signed with one of the client's keys (a
// client assertion or a jwt-bearer grant assertion): signature, audience
// (the token endpoint or the issuer), expiry, and single use of its jti.
func (s *Server) verifyClientJWT(ctx context.Context, c *Client, tok *jwt.JSONWebToken, requireJTI bool) (*jwt.Claims, *oauthError) {
	set, err := s.clientKeys(ctx, c)
	if err != nil {
		s.log.Warn("load client keys", "client_id", c.ID, "err", err)
		return nil, errInvalidGrant("the client's keys cannot be loaded")
	}
	var claims jwt.Claims
	verified := false
	for _, k := range set.Keys {
		if len(tok.Headers) > 0 && tok.Headers[0].KeyID != "" && k.KeyID != "" && k.KeyID != tok.Headers[0].KeyID {
			continue
		}
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		if err := tok.Claims(k.Key, &claims); err == nil {
			verified = true
			break
		}
	}
	if !verified {
		return nil, errInvalidGrant("assertion signature is not valid")
	}
	if err := claims.ValidateWithLeeway(jwt.Expected{Issuer: c.ID, Time: time.Now()}, time.Minute); err != nil {
		return nil, errInvalidGrant("assertion is not valid: " + err.Error())
	}
	if claims.Expiry == nil {
		return nil, errInvalidGrant("assertion has no exp")
	}
	if !claims.Audience.Contains(s.tokenURL) && !claims.Audience.Contains(s.cfg.Issuer) {
		return nil, errInvalidGrant("assertion audience must be the token endpoint")
	}
	if claims.ID == "" {
		if requireJTI {
			return nil, errInvalidGrant("assertion has no jti")
		}
		return &claims, nil
	}
	if err := s.useJTI(ctx, c.ID, claims.ID, claims.Expiry.Time()); err != nil {
		if errors.Is(err, errReplay) {
			return nil, errInvalidGrant("assertion was already used")
		}
		s.log.Error("record assertion jti", "err", err)
		return nil, errServer()
	}
	return &claims, nil
}

var errReplay = errors.New("jti replayed")

// useJTI records a (client, jti) pair until exp; a second use is a replay.
func (s *Server) useJTI(ctx context.Context, clientID, jti string, exp time.Time) error {
	sum := sha256.Sum256([]byte(clientID + "\x00" + jti))
	k := hex.EncodeToString(sum[:])
	now := nowMS()
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		var old int64
		err := tx.QueryRowContext(ctx, `SELECT exp FROM oauth_jtis WHERE k = ?`, k).Scan(&old)
		if err == nil {
			if old > now {
				return errReplay
			}
			_, err = tx.ExecContext(ctx, `UPDATE oauth_jtis SET exp = ? WHERE k = ?`, exp.UnixMilli()+60_000, k)
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO oauth_jtis (k, exp) VALUES (?, ?)`, k, exp.UnixMilli()+60_000)
		if db.IsUniqueViolation(err) {
			return errReplay
		}
		return err
	})
}

// jwksCache keeps fetched client jwks_uri documents for five minutes.
type jwksCache struct {
	mu sync.Mutex
	m  map[string]jwksEntry
}

type jwksEntry struct {
	set jose.JSONWebKeySet
	at  time.Time
}

func (s *Server) clientKeys(ctx context.Context, c *Client) (*jose.JSONWebKeySet, error) {
	if c.JWKS != "" {
		var set jose.JSONWebKeySet
		if err := json.Unmarshal([]byte(c.JWKS), &set); err != nil {
			return nil, fmt.Errorf("client %s jwks: %w", c.ID, err)
		}
		return &set, nil
	}
	if c.JWKSURI == "" {
		return nil, fmt.Errorf("client %s has no jwks or jwks_uri", c.ID)
	}
	s.jwks.mu.Lock()
	e, ok := s.jwks.m[c.JWKSURI]
	s.jwks.mu.Unlock()
	if ok && time.Since(e.at) < 5*time.Minute {
		return &e.set, nil
	}
	if !strings.HasPrefix(c.JWKSURI, "https://") {
		return nil, fmt.Errorf("client %s jwks_uri must be https", c.ID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.JWKSURI, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", c.JWKSURI, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch %s: status %d", c.JWKSURI, resp.StatusCode)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return nil, fmt.Errorf("decode %s: %w", c.JWKSURI, err)
	}
	s.jwks.mu.Lock()
	s.jwks.m[c.JWKSURI] = jwksEntry{set: set, at: time.Now()}
	s.jwks.mu.Unlock()
	return &set, nil
}
