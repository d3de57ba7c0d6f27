package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
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
}

// NewRemoteSource returns a source reading <controlPlaneURL>/internal/data/v1/runtime-snapshot.
// client should verify TLS against the truststore (TrustStore.HTTPClient).
func NewRemoteSource(controlPlaneURL string, client *http.Client, basicUser, basicPass string) *RemoteSource {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	return &RemoteSource{url: strings.TrimRight(controlPlaneURL, "/") + SnapshotPath, client: client,
		user: basicUser, pass: basicPass}
}

// Snapshot implements runtime.Source. A 304 answer (If-None-Match with the
// last ETag), or a snapshot whose content equals the last one's, returns
// the previous snapshot pointer, which Reload skips: polling an unchanged
// control plane costs no recompilation and logs nothing.
func (s *RemoteSource) Snapshot(ctx context.Context) (*runtime.Snapshot, error) {
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
	if s.last != nil && sum == s.sum {
		return s.last, nil
	}
	s.last, s.sum = &snap, sum
	return &snap, nil
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
