// Package jwks caches the signing keys of each key manager: fetched from its
// JWKS endpoint with the truststore's HTTP client (or parsed from its PEM
// certificate), looked up by kid without locks, refetched at a bounded rate
// when an unknown kid appears (key rotation without downtime) and refreshed
// in the background.
package jwks

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// ErrUnknownKey means no key of the key manager matches the token's kid.
var ErrUnknownKey = errors.New("jwks: no key for kid")

// Options tune the cache.
type Options struct {
	// MinRefetch bounds how often an unknown kid triggers a download (default 10 s).
	MinRefetch time.Duration
	// Refresh is the background refresh period (default 15 min).
	Refresh time.Duration
	Logger  *slog.Logger
	// Now is the clock that ages sets and rate-limits downloads (default
	// time.Now); tests freeze it so only the refresh period drives refetches.
	Now func() time.Time
}

// Cache holds one key set per JWKS URL or PEM certificate.
type Cache struct {
	client *http.Client
	opts   Options
	sets   sync.Map // source string -> *keySet
	stop   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
}

type keySet struct {
	source string
	isPEM  bool
	keys   atomic.Pointer[map[string]*rsa.PublicKey]
	// single is used when a token carries no kid and the set has one key.
	single      atomic.Pointer[rsa.PublicKey]
	mu          sync.Mutex
	lastAttempt atomic.Int64
	lastUsed    atomic.Int64
}

// New starts a cache whose background refresher runs until Close.
func New(client *http.Client, o Options) *Cache {
	if o.MinRefetch <= 0 {
		o.MinRefetch = 10 * time.Second
	}
	if o.Refresh <= 0 {
		o.Refresh = 15 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &Cache{client: client, opts: o, stop: make(chan struct{})}
	c.wg.Add(1)
	go c.refreshLoop()
	return c
}

// Close stops the background refresh.
func (c *Cache) Close() {
	c.once.Do(func() { close(c.stop) })
	c.wg.Wait()
}

// Key returns the RSA public key for kid from a key manager's JWKS URL or,
// when jwksURL is empty, from its PEM certificate.
func (c *Cache) Key(ctx context.Context, jwksURL, certPEM, kid string) (*rsa.PublicKey, error) {
	source, isPEM := jwksURL, false
	if source == "" {
		if certPEM == "" {
			return nil, errors.New("jwks: key manager has neither a JWKS endpoint nor a certificate")
		}
		source, isPEM = "pem:"+certPEM, true
	}
	v, ok := c.sets.Load(source)
	if !ok {
		v, _ = c.sets.LoadOrStore(source, &keySet{source: source, isPEM: isPEM})
	}
	ks := v.(*keySet)
	now := c.opts.Now().UnixNano()
	if ks.lastUsed.Load() < now-int64(time.Second) {
		ks.lastUsed.Store(now)
	}
	if k := ks.lookup(kid); k != nil {
		return k, nil
	}
	if err := c.refetch(ctx, ks, kid, false); err != nil {
		return nil, err
	}
	if k := ks.lookup(kid); k != nil {
		return k, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownKey, kid)
}

func (ks *keySet) lookup(kid string) *rsa.PublicKey {
	if kid == "" || ks.isPEM {
		return ks.single.Load()
	}
	if m := ks.keys.Load(); m != nil {
		return (*m)[kid]
	}
	return nil
}

// refetch downloads the set unless the kid appeared meanwhile or the last
// attempt was too recent (force skips the rate limit for the refresher).
func (c *Cache) refetch(ctx context.Context, ks *keySet, kid string, force bool) error {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if !force && ks.lookup(kid) != nil {
		return nil
	}
	now := c.opts.Now()
	if !force && ks.lastAttempt.Load() != 0 && now.Sub(time.Unix(0, ks.lastAttempt.Load())) < c.opts.MinRefetch {
		return nil
	}
	ks.lastAttempt.Store(now.UnixNano())
	if ks.isPEM {
		k, err := parsePEM(ks.source[len("pem:"):])
		if err != nil {
			return err
		}
		ks.single.Store(k)
		return nil
	}
	keys, err := c.download(ctx, ks.source)
	if err != nil {
		return err
	}
	ks.keys.Store(&keys)
	if len(keys) == 1 {
		for _, k := range keys {
			ks.single.Store(k)
		}
	} else {
		ks.single.Store(nil)
	}
	return nil
}

func (c *Cache) download(ctx context.Context, url string) (map[string]*rsa.PublicKey, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks request %s: %w", url, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch jwks %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch jwks %s: status %d", url, resp.StatusCode)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return nil, fmt.Errorf("decode jwks %s: %w", url, err)
	}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		pub, ok := k.Key.(*rsa.PublicKey)
		if !ok {
			continue
		}
		keys[k.KeyID] = pub
	}
	return keys, nil
}

func parsePEM(s string) (*rsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("jwks: key manager certificate is not PEM")
	}
	var pub any
	switch block.Type {
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("jwks: parse key manager certificate: %w", err)
		}
		pub = cert.PublicKey
	default:
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("jwks: parse key manager public key: %w", err)
		}
		pub = k
	}
	rk, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("jwks: key manager key is not RSA")
	}
	return rk, nil
}

// refreshLoop re-downloads the sets used recently, so a key that rotated
// out is dropped and a new one is present before the first token uses it.
func (c *Cache) refreshLoop() {
	defer c.wg.Done()
	t := time.NewTicker(c.opts.Refresh)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			cutoff := c.opts.Now().Add(-2 * c.opts.Refresh).UnixNano()
			c.sets.Range(func(k, v any) bool {
				ks := v.(*keySet)
				if ks.isPEM {
					return true
				}
				if ks.lastUsed.Load() < cutoff {
					c.sets.Delete(k)
					return true
				}
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				if err := c.refetch(ctx, ks, "", true); err != nil {
					c.opts.Logger.Warn("refresh jwks", "url", ks.source, "error", err)
				}
				cancel()
				return true
			})
		}
	}
}
