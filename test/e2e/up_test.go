package e2e

import (
	"crypto/tls"
	"fmt"
	"github.com/keyway/keyway/test/harness"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUpQuickStart runs `keyway up` on a clean data directory and executes
// the two commands it prints, as a first-time user would; then restarts it
// and checks that everything is kept.
func TestUpQuickStart(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	dir := t.TempDir()
	off := harness.FreeOffset(t)
	data := filepath.Join(dir, "data")
	args := []string{"up", "--data-dir", data, "--offset", fmt.Sprint(off)}
	p := harness.Start(t, "keyway up", args...)

	tokenCmd, callCmd := waitForCommands(t, p)
	out, err := exec.Command("sh", "-c", tokenCmd+"\n"+callCmd).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Margherita") {
		t.Fatalf("printed commands failed: %v\n%s\ncommands:\n%s\n%s", err, out, tokenCmd, callCmd)
	}

	// Restarting keeps the deployment: the same commands work again.
	p.Stop()
	p.Restart()
	tokenCmd2, callCmd2 := waitForCommands(t, p)
	if tokenCmd2 != tokenCmd || callCmd2 != callCmd {
		t.Errorf("restart printed different commands:\n%s\n%s", tokenCmd2, callCmd2)
	}
	out, err = exec.Command("sh", "-c", tokenCmd2+"\n"+callCmd2).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Margherita") {
		t.Fatalf("printed commands failed after restart: %v\n%s", err, out)
	}

	// The management listener answers health checks over TLS.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 5 * time.Second} //nolint:gosec // only the status is read
	resp, err := client.Get(fmt.Sprintf("https://localhost:%d/health/ready", 9443+off))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("health: %v %v", err, resp)
	}
	resp.Body.Close()
}

// waitForCommands waits until keyway up has printed its two commands.
func waitForCommands(t *testing.T, p *harness.Process) (string, string) {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for time.Now().Before(deadline) {
		out := p.Out.String()
		toks := harness.ScanLines(out, "TOKEN=$(curl")
		calls := harness.ScanLines(out, `-H "Authorization: Bearer $TOKEN"`)
		if len(toks) > 0 && len(calls) > 0 {
			return strings.TrimSpace(toks[len(toks)-1]), strings.TrimSpace(calls[len(calls)-1])
		}
		select {
		case err := <-p.Done:
			p.Done <- err
			t.Fatalf("keyway up exited: %v\n%s", err, harness.Tail(out, 80))
		case <-time.After(200 * time.Millisecond):
		}
	}
	t.Fatalf("keyway up printed no commands\n%s", harness.Tail(p.Out.String(), 80))
	return "", ""
}
