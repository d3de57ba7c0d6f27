package oauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/user"
)

// Token formats (Client.TokenType) and authorized user types (aut).
const (
	formatJWT     = "JWT"
	formatOpaque  = "Default"
	autApp        = "APPLICATION"
	autAppUser    = "APPLICATION_USER"
	tokenTypeBear = "Bearer"
)

// ErrInvalidToken means a token is unknown, expired, revoked or malformed.
var ErrInvalidToken = errors.New("oauth: invalid token")

// accessRecord is one row of oauth_access_tokens. Key is the jti of a JWT
// or the hex SHA-256 of an opaque token.
type accessRecord struct {
	Key, Format, ClientID, UserID, Username, Scope, Aut, Aud, Family string
	IssuedAt, ExpiresAt                                              int64
	Revoked                                                          bool
}

// refreshRecord is one row of oauth_refresh_tokens.
type refreshRecord struct {
	Key, Family, ClientID, UserID, Username, Scope, Sid, Nonce, AccessKey string
	IssuedAt, ExpiresAt, AuthTime                                         int64
	State                                                                 int
}

// Refresh token states.
const (
	refreshActive  = 0
	refreshRotated = 1
	refreshRevoked = 2
)

// grant is what a grant handler decided; issue turns it into tokens.
type grant struct {
	client *Client
	user   *user.User // nil for application tokens
	scopes []string   // granted scopes, "openid" included when requested
	family string     // refresh-token family; generated when empty
	// authTime is the user's authentication time (Unix ms).
	authTime   int64
	nonce, sid string
	refresh    bool
	idToken    bool
	act        map[string]any
	// issuedTokenType is set for token exchange responses.
	issuedTokenType string
}

// tokenResponse is the RFC 6749 §5.1 body.
type tokenResponse struct {
	AccessToken     string `json:"access_token"`
	RefreshToken    string `json:"refresh_token,omitempty"`
	IDToken         string `json:"id_token,omitempty"`
	IssuedTokenType string `json:"issued_token_type,omitempty"`
	Scope           string `json:"scope,omitempty"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int64  `json:"expires_in"`
}

func hashToken(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

// randomToken returns 32 random bytes, base64url encoded (43 characters,
// no dots, so gateways never mistake it for a JWT).
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return b64.EncodeToString(b[:])
}

// newJTI returns a random UUID v4 string.
func newJTI() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = (u[6] & 0x0f) | 0x40
	u[8] = (u[8] & 0x3f) | 0x80
	var out [36]byte
	hex.Encode(out[0:8], u[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], u[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], u[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], u[8:10])
	out[23] = '-'
	hex.Encode(out[24:], u[10:])
	return string(out[:])
}

func (s *Server) accessLifetime(g *grant) int64 {
	if g.user == nil {
		if g.client.ApplicationAccessTokenLifetime > 0 {
			return g.client.ApplicationAccessTokenLifetime
		}
		return int64(s.cfg.Expiry.ApplicationAccessToken)
	}
	if g.client.UserAccessTokenLifetime > 0 {
		return g.client.UserAccessTokenLifetime
	}
	return int64(s.cfg.Expiry.UserAccessToken)
}

func (s *Server) refreshLifetime(c *Client) int64 {
	if c.RefreshTokenLifetime > 0 {
		return c.RefreshTokenLifetime
	}
	return int64(s.cfg.Expiry.RefreshToken)
}

func (s *Server) idTokenLifetime(c *Client) int64 {
	if c.IDTokenLifetime > 0 {
		return c.IDTokenLifetime
	}
	return int64(s.cfg.Expiry.IDToken)
}

// issue mints the tokens of g and stores them (group-committed). extra,
// when set, runs in the same transaction (for example consuming a code).
func (s *Server) issue(ctx context.Context, g *grant, extra func(ctx context.Context, tx *db.Tx) error) (*tokenResponse, error) {
	s.journal.announce()
	defer s.journal.settle()
	now := time.Now()
	iat := now.Unix()
	life := s.accessLifetime(g)
	key := s.keys.active()
	scope := strings.Join(g.scopes, " ")
	rec := accessRecord{Format: g.client.TokenType, ClientID: g.client.ID, Scope: scope,
		Aut: autApp, IssuedAt: now.UnixMilli(), ExpiresAt: now.UnixMilli() + life*1000}
	sub := g.client.ID
	if g.user != nil {
		rec.UserID, rec.Username, rec.Aut = g.user.ID, g.user.Username, autAppUser
		sub = g.user.ID
	}
	aud := audience{g.client.ID}
	for _, a := range g.client.Audiences {
		if a != g.client.ID && a != "" {
			aud = append(aud, a)
		}
	}
	rec.Aud = strings.Join(aud, " ")
	resp := &tokenResponse{TokenType: tokenTypeBear, ExpiresIn: life, Scope: scope, IssuedTokenType: g.issuedTokenType}
	if rec.Format == formatJWT {
		rec.Key = newJTI()
		claims := accessClaims{Iss: s.cfg.Issuer, Sub: sub, Aud: aud, Azp: g.client.ID, ClientID: g.client.ID,
			Scope: scope, Aut: rec.Aut, Jti: rec.Key, Iat: iat, Nbf: iat, Exp: iat + life,
			OrgID: s.cfg.OrgID, OrgName: s.cfg.OrgName, Act: g.act}
		if g.user != nil {
			claims.AuthTime = g.authTime / 1000
		}
		tok, err := signJWT(key.priv, algRS256, key.hdrAccess, &claims)
		if err != nil {
			return nil, err
		}
		resp.AccessToken = tok
	} else {
		rec.Format = formatOpaque
		resp.AccessToken = randomToken()
		rec.Key = hashToken(resp.AccessToken)
	}
	var ref *refreshRecord
	if g.refresh && g.user != nil {
		if g.family == "" {
			g.family = newJTI()
		}
		resp.RefreshToken = randomToken()
		ref = &refreshRecord{Key: hashToken(resp.RefreshToken), Family: g.family, ClientID: g.client.ID,
			UserID: rec.UserID, Username: rec.Username, Scope: scope, Sid: g.sid, Nonce: g.nonce,
			AccessKey: rec.Key, IssuedAt: rec.IssuedAt, AuthTime: g.authTime,
			ExpiresAt: rec.IssuedAt + s.refreshLifetime(g.client)*1000}
	}
	rec.Family = g.family
	if g.idToken && g.user != nil {
		idt, err := s.signIDToken(g, resp.AccessToken, now)
		if err != nil {
			return nil, err
		}
		resp.IDToken = idt
	}
	err := s.journal.write(ctx, func(ctx context.Context, tx *db.Tx) error {
		if extra != nil {
			if err := extra(ctx, tx); err != nil {
				return err
			}
		}
		if _, err := tx.StmtContext(ctx, s.st.insAccess).ExecContext(ctx,
			rec.Key, rec.Format, rec.ClientID, rec.UserID, rec.Username, rec.Scope, rec.Aut, rec.Aud, rec.IssuedAt, rec.ExpiresAt, rec.Family); err != nil {
			return err
		}
		if ref != nil {
			_, err := tx.StmtContext(ctx, s.st.insRefresh).ExecContext(ctx,
				ref.Key, ref.Family, ref.ClientID, ref.UserID, ref.Username, ref.Scope, ref.IssuedAt, ref.ExpiresAt, ref.AuthTime, ref.Sid, ref.Nonce, ref.AccessKey)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

func (s *Server) signIDToken(g *grant, accessToken string, now time.Time) (string, error) {
	key := s.keys.active()
	iat := now.Unix()
	claims := idClaims{Iss: s.cfg.Issuer, Sub: g.user.ID, Aud: audience{g.client.ID}, Exp: iat + s.idTokenLifetime(g.client),
		Iat: iat, AuthTime: g.authTime / 1000, Nonce: g.nonce, Azp: g.client.ID, Sid: g.sid,
		PreferredUsername: g.user.Username}
	if accessToken != "" {
		claims.AtHash = atHash(accessToken)
	}
	if alg, _ := g.client.Extra["id_token_signed_response_alg"].(string); alg == algPS256 {
		return signJWT(key.priv, algPS256, key.hdrIDPS, &claims)
	}
	return signJWT(key.priv, algRS256, key.hdrIDRS, &claims)
}

// verifyOwnJWT checks the signature of a JWT this server signed and
// returns its header and payload. Expiry is the caller's business.
func (s *Server) verifyOwnJWT(ctx context.Context, token string) (jwtHeader, []byte, error) {
	hdr, signed, payload, sig, err := splitJWT(token)
	if err != nil {
		return hdr, nil, err
	}
	k, alg := s.keys.lookup(ctx, hdr.Kid)
	if k == nil || alg != hdr.Alg {
		return hdr, nil, errors.New("unknown signing key")
	}
	if err := verifyRSA(k.pub, alg, signed, sig); err != nil {
		return hdr, nil, errors.New("bad signature")
	}
	return hdr, payload, nil
}

// accessKeyOf finds the storage key of an access token: the jti of a JWT
// this server signed (signature checked) or the hash of an opaque token.
func (s *Server) accessKeyOf(ctx context.Context, token string) (key string, claims *accessClaims, err error) {
	if strings.Count(token, ".") != 2 {
		return hashToken(token), nil, nil
	}
	hdr, payload, err := s.verifyOwnJWT(ctx, token)
	if err != nil {
		return "", nil, ErrInvalidToken
	}
	if hdr.Typ != "at+jwt" {
		return "", nil, ErrInvalidToken
	}
	var c accessClaims
	if err := json.Unmarshal(payload, &c); err != nil || c.Jti == "" || c.Iss != s.cfg.Issuer {
		return "", nil, ErrInvalidToken
	}
	return c.Jti, &c, nil
}

const accessCols = `k, fmt, client_id, user_id, username, scope, aut, aud, iat, exp, family, revoked`

func scanAccess(row interface{ Scan(...any) error }) (*accessRecord, error) {
	var r accessRecord
	var revoked int
	if err := row.Scan(&r.Key, &r.Format, &r.ClientID, &r.UserID, &r.Username, &r.Scope, &r.Aut, &r.Aud, &r.IssuedAt, &r.ExpiresAt, &r.Family, &revoked); err != nil {
		return nil, err
	}
	r.Revoked = revoked == 1
	return &r, nil
}

func (s *Server) loadAccess(ctx context.Context, key string) (*accessRecord, error) {
	r, err := scanAccess(s.st.selAccess.QueryRowContext(ctx, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, fmt.Errorf("oauth: load access token: %w", err)
	}
	return r, nil
}

const refreshCols = `k, family, client_id, user_id, username, scope, iat, exp, auth_time, sid, nonce, access_k, state`

func scanRefresh(row interface{ Scan(...any) error }) (*refreshRecord, error) {
	var r refreshRecord
	err := row.Scan(&r.Key, &r.Family, &r.ClientID, &r.UserID, &r.Username, &r.Scope, &r.IssuedAt, &r.ExpiresAt, &r.AuthTime, &r.Sid, &r.Nonce, &r.AccessKey, &r.State)
	if err != nil {
		return nil, err
	}
	return &r, nil
}

func (s *Server) loadRefresh(ctx context.Context, token string) (*refreshRecord, error) {
	r, err := scanRefresh(s.st.selRefresh.QueryRowContext(ctx, hashToken(token)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, fmt.Errorf("oauth: load refresh token: %w", err)
	}
	return r, nil
}

// activeAccess returns the stored record of a live access token.
func (s *Server) activeAccess(ctx context.Context, token string) (*accessRecord, error) {
	key, _, err := s.accessKeyOf(ctx, token)
	if err != nil {
		return nil, err
	}
	r, err := s.loadAccess(ctx, key)
	if err != nil {
		return nil, err
	}
	if r.Revoked || r.ExpiresAt <= nowMS() {
		return nil, ErrInvalidToken
	}
	return r, nil
}

func (r *accessRecord) info(token, issuer string) *TokenInfo {
	ti := &TokenInfo{Active: true, Token: token, ClientID: r.ClientID, Username: r.Username,
		Scopes: splitScope(r.Scope), TokenType: tokenTypeBear, AuthorizedUserType: r.Aut,
		Audience: strings.Fields(r.Aud), IssuedAt: time.UnixMilli(r.IssuedAt), NotBefore: time.UnixMilli(r.IssuedAt),
		ExpiresAt: time.UnixMilli(r.ExpiresAt), Issuer: issuer, Subject: r.UserID}
	if r.Format == formatJWT {
		ti.JTI = r.Key
	}
	if ti.Subject == "" {
		ti.Subject = r.ClientID
	}
	return ti
}

// ValidateAccessToken implements TokenValidator: the token must be a live
// access token issued by this server. User tokens carry the user's roles.
func (s *Server) ValidateAccessToken(ctx context.Context, token string) (*TokenInfo, error) {
	r, err := s.activeAccess(ctx, token)
	if err != nil {
		return nil, err
	}
	ti := r.info(token, s.cfg.Issuer)
	if r.UserID != "" {
		u, err := s.cfg.Users.GetUser(ctx, r.UserID)
		if err != nil {
			if errors.Is(err, user.ErrNotFound) {
				return nil, ErrInvalidToken
			}
			return nil, fmt.Errorf("oauth: load token user: %w", err)
		}
		if u.Locked {
			return nil, ErrInvalidToken
		}
		ti.Roles = u.Roles
	}
	return ti, nil
}

var _ TokenValidator = (*Server)(nil)

func splitScope(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Fields(s)
}
