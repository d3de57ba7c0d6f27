package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/keyway/keyway/internal/gateway"
	"github.com/keyway/keyway/internal/runtime"
)

// TestRemoteSourceSkipsUnchangedSnapshots: the control plane stamps every
// snapshot with a new revision and sends no ETag; an unchanged content must
// still come back as the previous pointer (which Reload skips), and a
// changed one as a new snapshot.
func TestRemoteSourceSkipsUnchangedSnapshots(t *testing.T) {
	var rev atomic.Int64
	var apis atomic.Value
	apis.Store([]runtime.API{{UUID: "a1", Name: "Pizza", Version: "1.0.0"}})
	cp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(runtime.Snapshot{Revision: rev.Add(1), APIs: apis.Load().([]runtime.API)})
	}))
	defer cp.Close()
	src := gateway.NewRemoteSource(cp.URL, cp.Client(), "admin", "admin")
	ctx := context.Background()
	first, err := src.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	again, err := src.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Fatalf("unchanged content with revision %d came back as a new snapshot (first %d)", again.Revision, first.Revision)
	}
	apis.Store([]runtime.API{{UUID: "a1", Name: "Pizza", Version: "1.0.0"}, {UUID: "a2", Name: "Pasta", Version: "1.0.0"}})
	changed, err := src.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if changed == first || len(changed.APIs) != 2 || changed.Revision != 3 {
		t.Fatalf("changed content: %+v", changed)
	}
}
