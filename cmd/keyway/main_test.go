package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keyway/keyway/internal/config"
	"github.com/keyway/keyway/internal/keystore"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

// binary builds cmd/keyway once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "keyway-bin-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "keyway")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, dir string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run keyway %v: %v", args, err)
	}
	return result{code, out.String(), errb.String()}
}

// freeOffset picks a random port offset whose ports are all free, so the
// test does not clash with a running Keyway or another test.
func freeOffset(t *testing.T) int {
	t.Helper()
	for range 50 {
		o := 1000 + rand.IntN(22000) // below the ephemeral port range (32768+), where test servers on :0 land
		ok := true
		for _, base := range []int{config.BaseManagementPort, config.BaseManagementPort + 1, config.BaseGatewayHTTPSPort, config.BaseGatewayHTTPPort, config.BaseGatewayHTTPSPort + 1, config.BaseGatewayHTTPPort + 1} {
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(base+o))
			if err != nil {
				ok = false
				break
			}
			ln.Close()
		}
		if ok {
			return o
		}
	}
	t.Fatal("no free port offset")
	return 0
}

// startUp runs `keyway up` and waits until both roles answer /health/ready
// over TLS verified with the API Manager's generated truststore; it returns
// the certificates the two listeners present and a function that stops the
// process with SIGINT and returns its exit code and output.
func startUp(t *testing.T, dataDir string, offset int) (apimCert, isCert *x509.Certificate, stop func() (int, string, string)) {
	t.Helper()
	cmd := exec.Command(binary(t), "up", "--data-dir", dataDir, "--offset", strconv.Itoa(offset))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &syncBuffer{b: &out}, &syncBuffer{b: &errb}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	stop = func() (int, string, string) {
		if stopped {
			return 0, "", ""
		}
		stopped = true
		cmd.Process.Signal(syscall.SIGINT)
		select {
		case err := <-exited:
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			return code, out.String(), errb.String()
		case <-time.After(time.Minute):
			cmd.Process.Kill()
			t.Fatalf("keyway up did not stop on SIGINT; stderr:\n%s", errb.String())
			return -1, "", ""
		}
	}
	t.Cleanup(func() { stop() })

	trustFile := filepath.Join(dataDir, "apim", "security", "client-truststore.pem")
	deadline := time.Now().Add(2 * time.Minute)
	ready := func(port int) *x509.Certificate {
		for time.Now().Before(deadline) {
			select {
			case err := <-exited:
				t.Fatalf("keyway up exited early: %v\nstderr:\n%s", err, errb.String())
			default:
			}
			ts, err := keystore.LoadTrustStore(keystore.Options{File: trustFile})
			if err == nil && len(ts.Entries()) == 2 {
				res, err := ts.HTTPClient(5 * time.Second).Get("https://localhost:" + strconv.Itoa(port) + "/health/ready")
				if err == nil {
					res.Body.Close()
					if res.StatusCode == http.StatusOK {
						return res.TLS.PeerCertificates[0]
					}
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("port %d never became ready; stderr:\n%s", port, errb.String())
		return nil
	}
	apimCert = ready(config.BaseManagementPort + offset)
	isCert = ready(config.BaseManagementPort + offset + 1)
	return apimCert, isCert, stop
}

type syncBuffer struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func TestUpServesHealthAndReusesKeystores(t *testing.T) {
	dataDir := t.TempDir()
	offset := freeOffset(t)
	apimCert, isCert, stop := startUp(t, dataDir, offset)
	if apimCert.Equal(isCert) {
		t.Error("the API Manager and the Identity Server should have their own keystores")
	}
	// The Identity Server trusts the API Manager too (its truststore holds both).
	isTrust, err := keystore.LoadTrustStore(keystore.Options{File: filepath.Join(dataDir, "is", "security", "client-truststore.pem")})
	if err != nil {
		t.Fatal(err)
	}
	res, err := isTrust.HTTPClient(10 * time.Second).Get("https://127.0.0.1:" + strconv.Itoa(config.BaseManagementPort+offset) + "/health/live")
	if err != nil {
		t.Fatalf("IS truststore does not verify the API Manager: %v", err)
	}
	res.Body.Close()

	code, stdout, stderr := stop()
	if code != 0 {
		t.Fatalf("exit code %d after SIGINT; stderr:\n%s", code, stderr)
	}
	for _, want := range []string{"Keyway API Manager is ready", "Keyway Identity Server is ready", "https://localhost:" + strconv.Itoa(9443+offset) + "/health/ready"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "admin/admin") || !strings.Contains(stderr, `"msg":"stopped"`) {
		t.Errorf("stderr lacks the admin warning or the clean stop:\n%s", stderr)
	}

	// A restart on the same data directory presents the same certificates.
	apim2, is2, stop2 := startUp(t, dataDir, offset)
	if !apim2.Equal(apimCert) || !is2.Equal(isCert) {
		t.Error("restart did not reuse the generated keystores")
	}
	if code, _, stderr := stop2(); code != 0 {
		t.Fatalf("second run exit code %d:\n%s", code, stderr)
	}
}

func TestConfigCheck(t *testing.T) {
	tests := []struct {
		name, text string
		wantCode   int
		want       []string
	}{
		{"good", "[server]\nhostname = \"am.example.com\"\noffset = 2\n", 0, []string{"OK", "https://am.example.com:9445"}},
		{"unknown key", "[server]\nhostname = \"a\"\nhostnme = \"b\"\n", 1, []string{"deployment.toml:3", "server.hostnme"}},
		{"wrong type", "[server]\n\noffset = \"ten\"\n", 1, []string{"deployment.toml:3", "server.offset"}},
		{"unset env", "[super_admin]\nusername = \"admin\"\npassword = \"$env{KEYWAY_TEST_SURELY_UNSET}\"\n", 1, []string{"deployment.toml:3", "super_admin.password", "KEYWAY_TEST_SURELY_UNSET"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "deployment.toml"), []byte(tt.text), 0o600); err != nil {
				t.Fatal(err)
			}
			r := run(t, dir, "config", "check", "deployment.toml")
			if r.code != tt.wantCode {
				t.Fatalf("exit %d, want %d: %s%s", r.code, tt.wantCode, r.stdout, r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stdout+r.stderr, w) {
					t.Errorf("output lacks %q: %s%s", w, r.stdout, r.stderr)
				}
			}
			if tt.wantCode != 0 {
				// A role refuses the same file before writing anything.
				r := run(t, dir, "up", "--config", "deployment.toml")
				if r.code == 0 || !strings.Contains(r.stderr, "deployment.toml:") {
					t.Errorf("keyway up with a bad file: exit %d, %s", r.code, r.stderr)
				}
				entries, _ := os.ReadDir(dir)
				if len(entries) != 1 {
					t.Errorf("files were written: %v", entries)
				}
			}
		})
	}
}

func TestTruststoreImportAndList(t *testing.T) {
	dir := t.TempDir()
	ks, err := keystore.Generate("wso2is", []string{"is.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "is.pem"), ks.CertificatePEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "is.der"), ks.Certificate.Raw, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ file, cert, typ string }{
		{"client-truststore.jks", "is.pem", "JKS"},
		{"truststore.p12", "is.der", "PKCS12"},
		{"trust.pem", "is.pem", "PEM"},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			r := run(t, dir, "truststore", "import", "--alias", "WSO2IS", "--cert", tt.cert, "--truststore", tt.file, "--password", "wso2carbon")
			if r.code != 0 || !strings.Contains(r.stdout, "trusted wso2is") {
				t.Fatalf("import: %d %s %s", r.code, r.stdout, r.stderr)
			}
			ts, err := keystore.LoadTrustStore(keystore.Options{File: filepath.Join(dir, tt.file), Password: "wso2carbon"})
			if err != nil {
				t.Fatal(err)
			}
			if ts.Type != tt.typ || len(ts.Entries()) != 1 || !ts.Entries()[0].Cert.Equal(ks.Certificate) {
				t.Errorf("saved %s with %d entries", ts.Type, len(ts.Entries()))
			}
			pool := ts.ClientTLSConfig().RootCAs
			if _, err := ks.Certificate.Verify(x509.VerifyOptions{Roots: pool, DNSName: "is.example.com"}); err != nil {
				t.Errorf("imported certificate does not verify: %v", err)
			}
			r = run(t, dir, "truststore", "list", "--truststore", tt.file)
			if r.code != 0 || !strings.Contains(r.stdout, "CN=is.example.com") || !strings.Contains(r.stdout, fingerprint(ks.Certificate)) {
				t.Errorf("list: %d %s %s", r.code, r.stdout, r.stderr)
			}
		})
	}
	r := run(t, dir, "truststore", "list", "--truststore", "client-truststore.jks", "--password", "wrong")
	if r.code == 0 || !strings.Contains(r.stderr, "wrong password") {
		t.Errorf("wrong password: %d %s", r.code, r.stderr)
	}
	r = run(t, dir, "truststore", "import", "--cert", "is.pem")
	if r.code == 0 || !strings.Contains(r.stderr, "--alias") {
		t.Errorf("missing alias: %d %s", r.code, r.stderr)
	}
}

func TestVersionAndHelp(t *testing.T) {
	r := run(t, t.TempDir(), "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "keyway ") || !strings.Contains(r.stdout, runtime.Version()) {
		t.Errorf("version: %d %q", r.code, r.stdout)
	}
	r = run(t, t.TempDir(), "up", "--help")
	for _, w := range []string{"9444", "--offset", "--data-dir", "--config", "admin/admin"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("up --help lacks %q", w)
		}
	}
	r = run(t, t.TempDir(), "gateway")
	if r.code == 0 || !strings.Contains(r.stderr, "--control-plane") {
		t.Errorf("gateway without a control plane: %d %s", r.code, r.stderr)
	}
}
