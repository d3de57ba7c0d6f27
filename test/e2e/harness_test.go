// Package e2e runs Keyway as a user would: it builds the binary, starts the
// roles as separate processes with their own keystores and truststores, and
// drives them over HTTPS.
package e2e

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

// keywayBinary builds cmd/keyway once per test run.
func keywayBinary(t *testing.T) string {
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

// freeOffset picks a port offset whose management and gateway ports are free.
func freeOffset(t *testing.T) int {
	t.Helper()
	for range 200 {
		off := 10000 + rand.IntN(40000)
		if portsFree(9443+off, 8243+off, 8280+off) {
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

// process is a running keyway role.
type process struct {
	t    *testing.T
	name string
	args []string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan error
}

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

func startKeyway(t *testing.T, name string, args ...string) *process {
	t.Helper()
	p := &process{t: t, name: name, args: args}
	p.start()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("--- output of %s ---\n%s", name, tail(p.out.String(), 80))
		}
	})
	return p
}

func (p *process) start() {
	p.t.Helper()
	p.out = &syncBuffer{}
	p.cmd = exec.Command(keywayBinary(p.t), p.args...)
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.out
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.name, err)
	}
	p.done = make(chan error, 1)
	go func() { p.done <- p.cmd.Wait() }()
}

// stop sends SIGTERM and waits for a clean exit.
func (p *process) stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.cmd = nil
}

func tail(s string, lines int) string {
	parts := strings.Split(s, "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

// waitReady polls a health URL until it answers 200.
func waitReady(t *testing.T, client *http.Client, url string, p *process) {
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
		case err := <-p.done:
			p.done <- err
			t.Fatalf("%s exited before it was ready: %v\n%s", p.name, err, tail(p.out.String(), 60))
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("%s not ready at %s\n%s", p.name, url, tail(p.out.String(), 60))
}

// writeKeystore generates a PEM keystore for localhost and returns its path.
func writeKeystore(t *testing.T, dir, name string) (*keystore.KeyStore, string) {
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

func clientTrusting(certs ...*keystore.KeyStore) *http.Client {
	ts := keystore.NewTrustStore("")
	for i, c := range certs {
		ts.Add(fmt.Sprintf("c%d", i), c.Certificate)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ts.Pool(), MinVersion: tls.VersionTLS12}}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// api is a small JSON-over-HTTPS client with Basic credentials.
type api struct {
	t      *testing.T
	client *http.Client
	user   string
	pass   string
	bearer string
}

func (a *api) do(method, url string, body any, want int, out any) []byte {
	a.t.Helper()
	status, data := a.raw(method, url, body)
	if status != want {
		a.t.Fatalf("%s %s: status %d, want %d: %s", method, url, status, want, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			a.t.Fatalf("%s %s: decode %s: %v", method, url, data, err)
		}
	}
	return data
}

func (a *api) raw(method, url string, body any) (int, []byte) {
	a.t.Helper()
	var rdr io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rdr = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, url, rdr)
	if err != nil {
		a.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if a.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+a.bearer)
	} else if a.user != "" {
		req.SetBasicAuth(a.user, a.pass)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// scanLines returns the lines of s that contain substr.
func scanLines(s, substr string) []string {
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
