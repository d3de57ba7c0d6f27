package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/keyway/keyway/internal/runtime"
)

// SnapshotPath is the control plane's Keyway endpoint that returns the
// current runtime.Snapshot as JSON (Basic auth, ETag = revision).
const SnapshotPath = "/internal/data/v1/runtime-snapshot"

// RemoteSource is the runtime.Source of a gateway-only node: it pulls the
// snapshot from the control plane's internal data API.
type RemoteSource struct {
	url        string
	client     *http.Client
	user, pass string

	mu   sync.Mutex
	last *runtime.Snapshot
	etag string
	// sum fingerprints last without its revision: the control plane
	// stamps every snapshot it builds with the build time and sends no
	// ETag, so the content is what tells a change from a periodic re-read.
	sum [sha256.Size]byte

	cache  *SnapshotCache
	logger *slog.Logger
	// cacheTried: the persisted snapshot is read at most once, when the
	// very first pull fails; fromCache: last came from it and no pull has
	// succeeded since.
	cacheTried, fromCache bool
}

// RemoteOption configures a RemoteSource.
type RemoteOption func(*RemoteSource)

// WithSnapshotCache persists every changed snapshot to c and, when the
// first pull fails (a node restarted during a control-plane outage), serves
// the persisted one until the control plane answers.
func WithSnapshotCache(c *SnapshotCache) RemoteOption {
	return func(s *RemoteSource) { s.cache = c }
}

// WithRemoteLogger sets the logger for persistence events (default slog.Default()).
func WithRemoteLogger(l *slog.Logger) RemoteOption {
	return func(s *RemoteSource) {
		if l != nil {
			s.logger = l
		}
	}
}

// NewRemoteSource returns a source reading <controlPlaneURL>/internal/data/v1/runtime-snapshot.
// client should verify TLS against the truststore (TrustStore.HTTPClient).
func NewRemoteSource(controlPlaneURL string, client *http.Client, basicUser, basicPass string, opts ...RemoteOption) *RemoteSource {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	s := &RemoteSource{url: strings.TrimRight(controlPlaneURL, "/") + SnapshotPath, client: client,
		user: basicUser, pass: basicPass, logger: slog.Default()}
	for _, o := range opts {
		o(s)
	}
	s.logger = s.logger.With("component", "gateway")
	return s
}

// Snapshot implements runtime.Source. A 304 answer (If-None-Match with the
// last ETag), or a snapshot whose content equals the last one's, returns
// the previous snapshot pointer, which Reload skips: polling an unchanged
// control plane costs no recompilation and logs nothing. With a
// SnapshotCache, a failed first pull returns the persisted snapshot instead
// of the error (later failures return the error: the gateway keeps serving
// what it has, and FollowRemote keeps retrying).
func (s *RemoteSource) Snapshot(ctx context.Context) (*runtime.Snapshot, error) {
	snap, err := s.pull(ctx)
	if err != nil {
		return s.persisted(ctx, err)
	}
	return snap, nil
}

func (s *RemoteSource) pull(ctx context.Context) (*runtime.Snapshot, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, fmt.Errorf("snapshot request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if s.user != "" {
		req.SetBasicAuth(s.user, s.pass)
	}
	s.mu.Lock()
	last, etag := s.last, s.etag
	s.mu.Unlock()
	if last != nil && etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch snapshot from %s: %w", s.url, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && last != nil:
		return last, nil
	case resp.StatusCode != http.StatusOK:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("fetch snapshot from %s: status %d: %s", s.url, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	var snap runtime.Snapshot
	if err := json.NewDecoder(io.LimitReader(resp.Body, 256<<20)).Decode(&snap); err != nil {
		return nil, fmt.Errorf("decode snapshot from %s: %w", s.url, err)
	}
	sum, err := fingerprint(&snap)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.etag = resp.Header.Get("ETag")
	if s.fromCache {
		s.fromCache = false
		s.logger.Info("control plane reachable; fresh snapshot replaces the persisted one",
			"revision", snap.Revision, "unchanged", s.last != nil && sum == s.sum)
	}
	if s.last != nil && sum == s.sum {
		return s.last, nil
	}
	s.last, s.sum = &snap, sum
	if s.cache != nil {
		// Written under mu, so concurrent pulls cannot leave an older
		// snapshot on disk; a failure costs only the restart fallback.
		if err := s.cache.Save(ctx, &snap); err != nil {
			s.logger.Warn("could not persist the runtime snapshot", "path", s.cache.Path(), "error", err)
		}
	}
	return &snap, nil
}

// persisted answers a failed pull: the persisted snapshot when nothing was
// ever pulled (read once), else pullErr.
func (s *RemoteSource) persisted(ctx context.Context, pullErr error) (*runtime.Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cache == nil || s.last != nil || s.cacheTried {
		return nil, pullErr
	}
	s.cacheTried = true
	snap, savedAt, err := s.cache.Load(ctx)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.logger.Info("no persisted snapshot to fall back on", "path", s.cache.Path())
		return nil, pullErr
	case err != nil:
		s.logger.Error("persisted snapshot ignored: it cannot be read", "path", s.cache.Path(), "error", err)
		return nil, pullErr
	}
	sum, err := fingerprint(snap)
	if err != nil {
		s.logger.Error("persisted snapshot ignored", "path", s.cache.Path(), "error", err)
		return nil, pullErr
	}
	s.last, s.sum, s.etag, s.fromCache = snap, sum, "", true
	s.logger.Warn("control plane unreachable; serving the snapshot persisted at "+savedAt.Format(time.RFC3339)+" until it answers",
		"saved_at", savedAt, "revision", snap.Revision, "apis", len(snap.APIs), "path", s.cache.Path(), "error", pullErr)
	return snap, nil
}

// fingerprint hashes everything in snap but its revision.
func fingerprint(snap *runtime.Snapshot) ([sha256.Size]byte, error) {
	c := *snap
	c.Revision = 0
	raw, err := json.Marshal(&c)
	if err != nil {
		return [sha256.Size]byte{}, fmt.Errorf("fingerprint snapshot: %w", err)
	}
	return sha256.Sum256(raw), nil
}

// FollowRemote reloads the gateway every interval (default 10 s) until ctx
// ends. Events on a shared bus trigger reloads sooner; polling covers nodes
// without one and events lost during an outage. While the control plane is
// down the last snapshot keeps serving; the outage is logged once.
func FollowRemote(ctx context.Context, g *Gateway, interval time.Duration) {
	if interval <= 0 {
		interval = 10 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	down := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, interval+30*time.Second)
		err := g.Reload(rctx)
		cancel()
		switch {
		case err != nil && !down:
			down = true
			g.logger.Warn("control plane unreachable; serving the last snapshot", "error", err)
		case err == nil && down:
			down = false
			g.logger.Info("control plane reachable again", "revision", g.Revision())
		}
	}
}
