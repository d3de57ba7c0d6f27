package gateway

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// KeySetCachePath is where a gateway-only node keeps the key sets (JWKS)
// it last downloaded.
func KeySetCachePath(dataDir string) string {
	return filepath.Join(dataDir, "gateway", "keysets")
}

// maxKeySet matches what the JWKS cache reads from a key manager.
const maxKeySet = 1 << 20

// KeySetCache is an http.RoundTripper for the gateway's key-manager client
// (Config.KeyManagerClient): it persists every key set (a GET answered 200
// with a JSON "keys" array) and answers from the persisted copy when the
// key manager cannot be reached (transport error or 5xx). A node restarted
// while the control plane, usually also its resident key manager, is down
// can then still verify the tokens issued before. The in-memory JWKS cache
// keeps old keys through an outage anyway; this only carries that across
// a restart. Introspection (POST) passes through untouched.
type KeySetCache struct {
	next   http.RoundTripper
	dir    string
	logger *slog.Logger

	mu sync.Mutex
	// saved fingerprints what is on disk per file, so that periodic
	// refreshes of an unchanged set write nothing.
	saved map[string][sha256.Size]byte
	// stale names the URLs currently answered from disk (logged once).
	stale map[string]bool
}

// NewKeySetCache wraps next (nil means http.DefaultTransport), persisting
// under dir (usually KeySetCachePath(p.DataDir)).
func NewKeySetCache(next http.RoundTripper, dir string, logger *slog.Logger) *KeySetCache {
	if next == nil {
		next = http.DefaultTransport
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &KeySetCache{next: next, dir: dir, logger: logger.With("component", "gateway"),
		saved: map[string][sha256.Size]byte{}, stale: map[string]bool{}}
}

// RoundTrip implements http.RoundTripper.
func (c *KeySetCache) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet {
		return c.next.RoundTrip(req)
	}
	url := req.URL.String()
	resp, err := c.next.RoundTrip(req)
	switch {
	case err != nil:
		return c.fallback(req, url, nil, err)
	case resp.StatusCode >= 500:
		return c.fallback(req, url, resp, fmt.Errorf("status %d", resp.StatusCode))
	case resp.StatusCode != http.StatusOK:
		return resp, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxKeySet+1))
	resp.Body.Close()
	if err != nil {
		return c.fallback(req, url, nil, fmt.Errorf("read key set: %w", err))
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	if len(body) <= maxKeySet && isKeySet(body) {
		c.save(url, body)
	}
	return resp, nil
}

func isKeySet(body []byte) bool {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	return json.Unmarshal(body, &set) == nil && len(set.Keys) > 0
}

func (c *KeySetCache) file(url string) string {
	sum := sha256.Sum256([]byte(url))
	return filepath.Join(c.dir, hex.EncodeToString(sum[:16])+".json")
}

func (c *KeySetCache) save(url string, body []byte) {
	sum := sha256.Sum256(body)
	path := c.file(url)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stale[url] {
		delete(c.stale, url)
		c.logger.Info("key manager reachable again; its key set is fresh", "jwks", url)
	}
	if c.saved[path] == sum {
		return
	}
	if err := writeFileAtomic(path, body); err != nil {
		c.logger.Warn("could not persist a key set", "jwks", url, "error", err)
		return
	}
	c.saved[path] = sum
}

// fallback answers from disk, or returns the original outcome (resp or
// cause) when nothing was persisted for url.
func (c *KeySetCache) fallback(req *http.Request, url string, resp *http.Response, cause error) (*http.Response, error) {
	path := c.file(url)
	f, err := os.Open(path)
	if err == nil {
		defer f.Close()
		var body []byte
		body, err = io.ReadAll(io.LimitReader(f, maxKeySet+1))
		if err == nil && (len(body) > maxKeySet || !isKeySet(body)) {
			err = fmt.Errorf("%s is not a key set", path)
		}
		if err == nil {
			st, _ := f.Stat()
			c.mu.Lock()
			first := !c.stale[url]
			c.stale[url] = true
			c.mu.Unlock()
			if first {
				var saved time.Time
				if st != nil {
					saved = st.ModTime()
				}
				c.logger.Warn("key manager unreachable; verifying with its key set persisted at "+saved.UTC().Format(time.RFC3339),
					"jwks", url, "error", cause)
			}
			if resp != nil {
				_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
				resp.Body.Close()
			}
			return &http.Response{Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
				Header:        http.Header{"Content-Type": {"application/json"}, "Content-Length": {strconv.Itoa(len(body))}},
				Body:          io.NopCloser(bytes.NewReader(body)),
				ContentLength: int64(len(body)), Request: req}, nil
		}
	}
	if !os.IsNotExist(err) {
		c.logger.Warn("persisted key set ignored", "jwks", url, "error", err)
	}
	if resp != nil {
		return resp, nil
	}
	return nil, cause
}

// writeFileAtomic replaces path with data (temp file + rename, mode 0600,
// directory 0700), so a crash mid-write leaves the previous copy.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*.tmp")
	if err != nil {
		return fmt.Errorf("create temp file in %s: %w", dir, err)
	}
	name := tmp.Name()
	fail := func(err error) error {
		_ = tmp.Close()
		_ = os.Remove(name)
		return err
	}
	// CreateTemp already uses 0600; Chmod states the requirement rather
	// than relying on that detail.
	if err := tmp.Chmod(0o600); err != nil {
		return fail(fmt.Errorf("chmod %s: %w", name, err))
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(fmt.Errorf("write %s: %w", name, err))
	}
	if err := tmp.Sync(); err != nil {
		return fail(fmt.Errorf("sync %s: %w", name, err))
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(name)
		return fmt.Errorf("close %s: %w", name, err)
	}
	if err := os.Rename(name, path); err != nil {
		_ = os.Remove(name)
		return fmt.Errorf("rename to %s: %w", path, err)
	}
	// Make the rename durable; best effort, as not every filesystem can
	// sync a directory.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
