package browser

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// keyway is a running `keyway up`: the API Manager and the Identity Server.
type keyway struct {
	// APIM and IS are the management origins, e.g. https://localhost:16754.
	APIM, IS string
	out      *syncBuffer
}

// Lines of the quick-start text that name the two management origins.
var (
	publisherLine = regexp.MustCompile(`(?m)^\s*Publisher\s+(https://\S+)/publisher\s*$`)
	consoleLine   = regexp.MustCompile(`(?m)^\s*IS console\s+(https://\S+)/console\s*$`)
)

// startKeyway builds cmd/keyway from the repository, runs `keyway up` on a
// fresh data directory and waits for its quick start (sample API, application
// and the WSO2IS7 key manager) to finish.
func startKeyway(t *testing.T) *keyway {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "keyway")
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", bin, "./cmd/keyway")
	build.Dir = root // the product's own module, not this one
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/keyway: %v\n%s", err, out)
	}

	off := freeOffset(t)
	out := &syncBuffer{}
	cmd := exec.Command(bin, "up", "--data-dir", filepath.Join(dir, "data"), "--offset", fmt.Sprint(off))
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start keyway up: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("--- keyway up output (tail) ---\n%s", tail(out.String(), 60))
		}
	})

	// Generous bound: on a busy machine key generation and migrations are slow.
	deadline := time.After(3 * time.Minute)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		s := out.String()
		if strings.Contains(s, "Keyway is up") && strings.Contains(s, "Call the API through the gateway") {
			p, c := publisherLine.FindStringSubmatch(s), consoleLine.FindStringSubmatch(s)
			if p == nil || c == nil {
				t.Fatalf("quick-start text names no Publisher or IS console URL:\n%s", tail(s, 40))
			}
			return &keyway{APIM: p[1], IS: c[1], out: out}
		}
		select {
		case err := <-done:
			t.Fatalf("keyway up exited before it was up: %v\n%s", err, tail(s, 60))
		case <-deadline:
			t.Fatalf("keyway up did not print its quick start within 3 minutes\n%s", tail(s, 60))
		case <-tick.C:
		}
	}
}

// freeOffset picks a port offset whose management, gateway and sample
// backend ports are free. It copies test/harness.FreeOffset, which lives in
// the product's module.
func freeOffset(t *testing.T) int {
	t.Helper()
	for range 200 {
		off := 1000 + rand.IntN(22000) // below the ephemeral range (32768+), where :0 listeners land
		if portsFree(9443+off, 9444+off, 8243+off, 8280+off, 8290+off) {
			return off
		}
	}
	t.Fatal("no free port offset found")
	return 0
}

func portsFree(ports ...int) bool {
	for _, p := range ports {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			return false
		}
		ln.Close()
	}
	return true
}

// syncBuffer collects a process's output for concurrent reading.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
