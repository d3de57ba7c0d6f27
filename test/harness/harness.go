// Package harness runs Keyway as a user would, for end-to-end tests and
// whole-system benchmarks: it builds the binary, starts roles as separate
// Processes with their own keystores and truststores, and drives them over
// HTTPS.
package harness

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keyway/keyway/internal/keystore"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds cmd/keyway once per test run.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "keyway-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "keyway")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/keyway/keyway/cmd/keyway")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// FreeOffset picks a port offset whose management and gateway ports are free.
func FreeOffset(t testing.TB) int {
	t.Helper()
	for range 200 {
		off := 1000 + rand.IntN(22000) // below the ephemeral port range (32768+), where test servers on :0 land
		if portsFree(9443+off, 9444+off, 8243+off, 8280+off, 8290+off) {
			return off
		}
	}
	t.Fatal("no free port offset found")
	return 0
}

func portsFree(ports ...int) bool {
	for _, p := range ports {
		if p > 65535 {
			return false
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			return false
		}
		ln.Close()
	}
	return true
}

// Process is a running keyway role.
type Process struct {
	t    testing.TB
	name string
	args []string
	cmd  *exec.Cmd
	Out  *SyncBuffer
	Done chan error
}

// SyncBuffer collects a process's output safely.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func Start(t testing.TB, name string, args ...string) *Process {
	t.Helper()
	p := &Process{t: t, name: name, args: args}
	p.Restart()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("--- output of %s ---\n%s", name, Tail(p.Out.String(), 80))
		}
	})
	return p
}

func (p *Process) Restart() {
	p.t.Helper()
	p.Out = &SyncBuffer{}
	p.cmd = exec.Command(Binary(p.t), p.args...)
	p.cmd.Stdout = p.Out
	p.cmd.Stderr = p.Out
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.name, err)
	}
	p.Done = make(chan error, 1)
	go func() { p.Done <- p.cmd.Wait() }()
}

// stop sends SIGTERM and waits for a clean exit.
func (p *Process) Stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.Done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.Done
	}
	p.cmd = nil
}

func Tail(s string, lines int) string {
	parts := strings.Split(s, "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

// WaitReady polls a health URL until it answers 200.
func WaitReady(t testing.TB, client *http.Client, url string, p *Process) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case err := <-p.Done:
			p.Done <- err
			t.Fatalf("%s exited before it was ready: %v\n%s", p.name, err, Tail(p.Out.String(), 60))
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("%s not ready at %s\n%s", p.name, url, Tail(p.Out.String(), 60))
}

// WriteKeystore generates a PEM keystore for localhost and returns its path.
func WriteKeystore(t testing.TB, dir, name string) (*keystore.KeyStore, string) {
	t.Helper()
	ks, err := keystore.Generate(name, []string{"localhost", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".pem")
	if err := ks.WritePEM(path); err != nil {
		t.Fatal(err)
	}
	return ks, path
}

func ClientTrusting(certs ...*keystore.KeyStore) *http.Client {
	ts := keystore.NewTrustStore("")
	for i, c := range certs {
		ts.Add(fmt.Sprintf("c%d", i), c.Certificate)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ts.Pool(), MinVersion: tls.VersionTLS12}}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// api is a small JSON-over-HTTPS client with Basic credentials.
type API struct {
	T      testing.TB
	Client *http.Client
	User   string
	Pass   string
	Bearer string
}

func (a *API) Do(method, url string, body any, want int, out any) []byte {
	a.T.Helper()
	status, data := a.Raw(method, url, body)
	if status != want {
		a.T.Fatalf("%s %s: status %d, want %d: %s", method, url, status, want, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			a.T.Fatalf("%s %s: decode %s: %v", method, url, data, err)
		}
	}
	return data
}

func (a *API) Raw(method, url string, body any) (int, []byte) {
	a.T.Helper()
	var rdr io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rdr = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, url, rdr)
	if err != nil {
		a.T.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if a.Bearer != "" {
		req.Header.Set("Authorization", "Bearer "+a.Bearer)
	} else if a.User != "" {
		req.SetBasicAuth(a.User, a.Pass)
	}
	resp, err := a.Client.Do(req)
	if err != nil {
		a.T.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// ScanLines returns the lines of s that contain substr.
func ScanLines(s, substr string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), substr) {
			out = append(out, sc.Text())
		}
	}
	return out
}
