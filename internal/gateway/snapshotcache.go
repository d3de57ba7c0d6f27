package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/keyway/keyway/internal/runtime"
	"github.com/keyway/keyway/internal/secret"
)

// SnapshotCacheFile is the persisted snapshot's name under <data dir>/gateway.
const SnapshotCacheFile = "last-snapshot"

// SnapshotCachePath is where a gateway-only node keeps its last snapshot.
func SnapshotCachePath(dataDir string) string {
	return filepath.Join(dataDir, "gateway", SnapshotCacheFile)
}

// maxSnapshotFile bounds what Load reads: a sealed snapshot is base64 of
// the JSON the control plane sends (itself bounded to 256 MiB).
const maxSnapshotFile = 360 << 20

// SnapshotCache keeps the last snapshot a gateway-only node pulled in one
// file, so that a node restarted while its control plane is down still
// serves. The file is sealed (it holds key-manager introspection
// credentials) and replaced atomically, so a crash mid-write leaves the
// previous copy.
type SnapshotCache struct {
	path   string
	sealer *secret.Sealer
	// mu orders writes so that the file always holds the newest Save.
	mu sync.Mutex
}

// persistedSnapshot is the sealed file's plaintext.
type persistedSnapshot struct {
	SavedAt  time.Time         `json:"savedAt"`
	Snapshot *runtime.Snapshot `json:"snapshot"`
}

// NewSnapshotCache persists to path (usually SnapshotCachePath(p.DataDir)),
// sealed with sealer (p.Sealer).
func NewSnapshotCache(path string, sealer *secret.Sealer) (*SnapshotCache, error) {
	if path == "" {
		return nil, errors.New("snapshot cache: a file path is required")
	}
	if sealer == nil {
		return nil, errors.New("snapshot cache: a sealer is required (the snapshot holds credentials)")
	}
	return &SnapshotCache{path: path, sealer: sealer}, nil
}

// Path is the file the cache writes.
func (c *SnapshotCache) Path() string { return c.path }

// Save seals snap and replaces the file with it (temp file + rename, mode
// 0600, directory 0700).
func (c *SnapshotCache) Save(ctx context.Context, snap *runtime.Snapshot) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("persist snapshot: %w", err)
	}
	plain, err := json.Marshal(persistedSnapshot{SavedAt: time.Now().UTC(), Snapshot: snap})
	if err != nil {
		return fmt.Errorf("persist snapshot: encode: %w", err)
	}
	sealed, err := c.sealer.Seal(string(plain))
	if err != nil {
		return fmt.Errorf("persist snapshot: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := writeFileAtomic(c.path, []byte(sealed)); err != nil {
		return fmt.Errorf("persist snapshot: %w", err)
	}
	return nil
}

// Load reads the persisted snapshot and when it was saved. A missing file
// gives an error matching os.ErrNotExist; a corrupt file, or one sealed with
// another key, a descriptive error.
func (c *SnapshotCache) Load(ctx context.Context) (*runtime.Snapshot, time.Time, error) {
	if err := ctx.Err(); err != nil {
		return nil, time.Time{}, fmt.Errorf("read persisted snapshot: %w", err)
	}
	f, err := os.Open(c.path)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("read persisted snapshot: %w", err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxSnapshotFile+1))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("read persisted snapshot %s: %w", c.path, err)
	}
	if len(raw) > maxSnapshotFile {
		return nil, time.Time{}, fmt.Errorf("read persisted snapshot %s: larger than a snapshot can be", c.path)
	}
	plain, err := c.sealer.Open(string(raw))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("open persisted snapshot %s: %w", c.path, err)
	}
	var p persistedSnapshot
	if err := json.Unmarshal([]byte(plain), &p); err != nil {
		return nil, time.Time{}, fmt.Errorf("decode persisted snapshot %s: %w", c.path, err)
	}
	if p.Snapshot == nil {
		return nil, time.Time{}, fmt.Errorf("decode persisted snapshot %s: no snapshot in it", c.path)
	}
	return p.Snapshot, p.SavedAt, nil
}
