package oauth

import (
	"context"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/keystore"
)

// signingKey is one RSA key of the ring. priv is nil for a key whose private
// half this node cannot load (a replaced keystore's key kept for JWKS).
type signingKey struct {
	kid         string
	priv        *rsa.PrivateKey
	pub         *rsa.PublicKey
	cert        *x509.Certificate
	created     int64
	active      bool
	retireUntil int64
	// Pre-encoded JOSE headers, so signing only encodes claims.
	hdrAccess, hdrIDRS, hdrIDPS string
}

const psSuffix = "_PS256"

// keyRing holds the signing keys loaded from oauth_keys. The primary
// keystore key is recorded as kind "primary" (its private key stays in the
// keystore file); rotated keys are kind "generated" with the PKCS#8 key
// sealed in the row, so every node can load them.
type keyRing struct {
	s          *Server
	mu         sync.RWMutex
	cur        *signingKey
	byKid      map[string]*signingKey
	jwks       []byte
	lastReload atomic.Int64
}

func loadKeyRing(ctx context.Context, s *Server) (*keyRing, error) {
	r := &keyRing{s: s}
	primary := s.cfg.Signer
	if _, ok := primary.RSAKey(); !ok {
		return nil, errors.New("oauth: the primary keystore key must be RSA to sign tokens")
	}
	kid := primary.KeyID()
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM oauth_keys WHERE kid = ?`, kid).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		var active int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM oauth_keys WHERE active = 1`).Scan(&active); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO oauth_keys (kid, kind, private_key, cert, created, active, retire_until) VALUES (?, 'primary', '', ?, ?, ?, 0)`,
			kid, primary.Certificate.Raw, nowMS(), boolInt(active == 0))
		return err
	})
	if err != nil && !db.IsUniqueViolation(err) {
		return nil, fmt.Errorf("oauth: record primary signing key: %w", err)
	}
	if err := r.reload(ctx); err != nil {
		return nil, err
	}
	if r.active() == nil {
		// The active key belongs to a keystore this node no longer has:
		// retire it and sign with the current primary key.
		if err := r.activate(ctx, kid); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// active returns the key new tokens are signed with.
func (r *keyRing) active() *signingKey {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.cur
}

// lookup finds a published key by kid (RS256 or PS256 variant).
func (r *keyRing) lookup(ctx context.Context, kid string) (*signingKey, string) {
	alg := algRS256
	if base, ok := strings.CutSuffix(kid, psSuffix); ok {
		kid, alg = base, algPS256
	}
	r.mu.RLock()
	k := r.byKid[kid]
	r.mu.RUnlock()
	if k == nil {
		// Another node may have rotated; reload at most every 5 s.
		last := r.lastReload.Load()
		if time.Since(time.UnixMilli(last)) > 5*time.Second && r.lastReload.CompareAndSwap(last, nowMS()) {
			if err := r.reload(ctx); err != nil {
				r.s.log.Warn("reload signing keys", "err", err)
			}
			r.mu.RLock()
			k = r.byKid[kid]
			r.mu.RUnlock()
		}
	}
	return k, alg
}

// reload reads every published key from the database.
func (r *keyRing) reload(ctx context.Context) error {
	r.lastReload.Store(nowMS())
	rows, err := r.s.db.QueryContext(ctx, `SELECT kid, kind, private_key, cert, created, active, retire_until FROM oauth_keys WHERE active = 1 OR retire_until > ?`, nowMS())
	if err != nil {
		return fmt.Errorf("oauth: load signing keys: %w", err)
	}
	defer rows.Close()
	primary := r.s.cfg.Signer
	primaryKey, _ := primary.RSAKey()
	var keys []*signingKey
	for rows.Next() {
		var (
			k            signingKey
			kind, sealed string
			der          []byte
			active       int
		)
		if err := rows.Scan(&k.kid, &kind, &sealed, &der, &k.created, &active, &k.retireUntil); err != nil {
			return fmt.Errorf("oauth: read signing key: %w", err)
		}
		k.active = active == 1
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("oauth: signing key %s: parse certificate: %w", k.kid, err)
		}
		pub, ok := cert.PublicKey.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("oauth: signing key %s is not RSA", k.kid)
		}
		k.cert, k.pub = cert, pub
		switch kind {
		case "primary":
			if k.kid == primary.KeyID() {
				k.priv = primaryKey
			}
		case "generated":
			priv, err := r.openPrivate(sealed)
			if err != nil {
				r.s.log.Warn("signing key cannot be opened on this node; publishing its public key only", "kid", k.kid, "err", err)
			} else {
				k.priv = priv
			}
		}
		k.hdrAccess = encodedHeader(algRS256, k.kid, "at+jwt")
		k.hdrIDRS = encodedHeader(algRS256, k.kid, "JWT")
		k.hdrIDPS = encodedHeader(algPS256, k.kid+psSuffix, "JWT")
		keys = append(keys, &k)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("oauth: load signing keys: %w", err)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].created > keys[j].created })
	var cur *signingKey
	byKid := make(map[string]*signingKey, len(keys))
	for _, k := range keys {
		byKid[k.kid] = k
		if cur == nil && k.active && k.priv != nil {
			cur = k
		}
	}
	jwks, err := buildJWKS(keys)
	if err != nil {
		return err
	}
	r.mu.Lock()
	if cur != nil || r.cur == nil {
		r.cur = cur
	}
	r.byKid, r.jwks = byKid, jwks
	r.mu.Unlock()
	return nil
}

func (r *keyRing) openPrivate(sealed string) (*rsa.PrivateKey, error) {
	plain, err := r.s.cfg.Sealer.Open(sealed)
	if err != nil {
		return nil, err
	}
	der, err := base64.StdEncoding.DecodeString(plain)
	if err != nil {
		return nil, err
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, err
	}
	rk, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("not an RSA key")
	}
	rk.Precompute()
	return rk, nil
}

// activate makes kid the active key and retires the others.
func (r *keyRing) activate(ctx context.Context, kid string) error {
	until := time.Now().Add(r.s.maxTokenLifetime(ctx)).UnixMilli()
	err := r.s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE oauth_keys SET active = 0, retire_until = ? WHERE active = 1 AND kid <> ?`, until, kid); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE oauth_keys SET active = 1, retire_until = 0 WHERE kid = ?`, kid)
		return err
	})
	if err != nil {
		return fmt.Errorf("oauth: activate signing key %s: %w", kid, err)
	}
	return r.reload(ctx)
}

// jwksDoc returns the encoded JWK Set.
func (r *keyRing) jwksDoc() []byte {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.jwks
}

type jwk struct {
	Kty     string   `json:"kty"`
	E       string   `json:"e"`
	N       string   `json:"n"`
	Use     string   `json:"use"`
	Kid     string   `json:"kid"`
	Alg     string   `json:"alg"`
	X5C     []string `json:"x5c"`
	X5T     string   `json:"x5t"`
	X5TS256 string   `json:"x5t#S256"`
}

// buildJWKS publishes each key once per algorithm with distinct kids, as
// IS does: kid for RS256, kid_PS256 for PS256. Only public members.
func buildJWKS(keys []*signingKey) ([]byte, error) {
	out := struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{}}
	for _, k := range keys {
		s1 := sha1.Sum(k.cert.Raw)
		s256 := sha256.Sum256(k.cert.Raw)
		base := jwk{
			Kty: "RSA",
			E:   b64.EncodeToString(big.NewInt(int64(k.pub.E)).Bytes()),
			N:   b64.EncodeToString(k.pub.N.Bytes()),
			Use: "sig", Kid: k.kid, Alg: algRS256,
			X5C: []string{base64.StdEncoding.EncodeToString(k.cert.Raw)},
			X5T: b64.EncodeToString(s1[:]), X5TS256: b64.EncodeToString(s256[:]),
		}
		ps := base
		ps.Kid, ps.Alg = k.kid+psSuffix, algPS256
		out.Keys = append(out.Keys, base, ps)
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("oauth: encode JWKS: %w", err)
	}
	return raw, nil
}

// RotateKey generates a new RSA-2048 signing key, stores it sealed, makes
// it active and keeps the previous key published until every token it
// signed has expired. If another node rotated at the same moment, this
// call adopts that node's key instead of adding a second one.
func (s *Server) RotateKey(ctx context.Context) error {
	cur := s.keys.active()
	ks, err := keystore.Generate("oauth-signing", []string{hostOf(s.cfg.BaseURL)})
	if err != nil {
		return fmt.Errorf("oauth: rotate key: %w", err)
	}
	rk, _ := ks.RSAKey()
	der, err := x509.MarshalPKCS8PrivateKey(rk)
	if err != nil {
		return fmt.Errorf("oauth: rotate key: %w", err)
	}
	sealed, err := s.cfg.Sealer.Seal(base64.StdEncoding.EncodeToString(der))
	if err != nil {
		return fmt.Errorf("oauth: rotate key: %w", err)
	}
	until := time.Now().Add(s.maxTokenLifetime(ctx)).UnixMilli()
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE oauth_keys SET active = 0, retire_until = ? WHERE kid = ? AND active = 1`, until, cur.kid)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errRotatedElsewhere
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO oauth_keys (kid, kind, private_key, cert, created, active, retire_until) VALUES (?, 'generated', ?, ?, ?, 1, 0)`,
			ks.KeyID(), sealed, ks.Certificate.Raw, nowMS())
		return err
	})
	if err != nil && !errors.Is(err, errRotatedElsewhere) {
		return fmt.Errorf("oauth: rotate key: %w", err)
	}
	if err := s.keys.reload(ctx); err != nil {
		return err
	}
	s.log.Info("signing key rotated", "previous_kid", cur.kid, "kid", s.keys.active().kid)
	return nil
}

var errRotatedElsewhere = errors.New("key already rotated by another node")

func (s *Server) rotateIfDue(ctx context.Context) error {
	cur := s.keys.active()
	if time.Since(time.UnixMilli(cur.created)) < s.cfg.KeyRotation {
		return nil
	}
	return s.RotateKey(ctx)
}

// maxTokenLifetime is how long a retired key must stay published: the
// longest lifetime any JWT signed by it can have, plus clock skew.
func (s *Server) maxTokenLifetime(ctx context.Context) time.Duration {
	e := s.cfg.Expiry
	m := int64(max(e.ApplicationAccessToken, e.UserAccessToken, e.IDToken))
	if cs, err := s.clients.ListClients(ctx, ""); err == nil {
		for _, c := range cs {
			m = max(m, c.ApplicationAccessTokenLifetime, c.UserAccessTokenLifetime, c.IDTokenLifetime)
		}
	}
	return time.Duration(m)*time.Second + 5*time.Minute
}

func hostOf(u string) string {
	h := strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")
	if i := strings.IndexAny(h, "/"); i >= 0 {
		h = h[:i]
	}
	if strings.HasPrefix(h, "[") {
		if i := strings.Index(h, "]"); i > 0 {
			return h[1:i]
		}
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	return h
}
