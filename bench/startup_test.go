// Start-up benchmark of the keyway binary. It runs only with -bench, never as
// part of the plain test run:
//
//	go test -run '^$' -bench Startup ./bench/
//
// BenchmarkStartup reports how long `keyway up` takes from exec to both roles
// answering /health/ready (first start on a fresh data directory, which
// includes generating the keystores, and a restart that reuses them) and the
// process's resident memory once idle. Issue 2's targets: under 1 s to ready
// and under 80 MB; WSO2 API Manager and Identity Server need minutes and
// gigabytes.

package bench

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyway/keyway/internal/keystore"
)

// Management ports of `keyway up` before the offset.
const apimPort, isPort = 9443, 9444

func BenchmarkStartup(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "keyway")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/keyway").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	var fresh, warm time.Duration
	var rssKB int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		offset := freeOffset(b)

		p, d := startAndWait(b, bin, dir, offset)
		fresh += d
		// Let start-up garbage be collected and the process settle before
		// measuring its idle footprint.
		time.Sleep(2 * time.Second)
		rssKB += vmRSS(b, p.Process.Pid)
		stop(b, p)

		p, d = startAndWait(b, bin, dir, offset)
		warm += d
		stop(b, p)
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(fresh.Milliseconds())/n, "ms-to-ready")
	b.ReportMetric(float64(warm.Milliseconds())/n, "ms-to-ready-restart")
	b.ReportMetric(float64(rssKB)/1024/n, "MB-rss")
}

// startAndWait runs `keyway up` and returns once both roles are ready, with
// the time that took.
func startAndWait(b *testing.B, bin, dir string, offset int) (*exec.Cmd, time.Duration) {
	b.Helper()
	cmd := exec.Command(bin, "up", "--data-dir", dir, "--offset", strconv.Itoa(offset))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	trustFile := filepath.Join(dir, "apim", "security", "client-truststore.pem")
	deadline := start.Add(time.Minute)
	var client *http.Client
	for _, port := range []int{apimPort + offset, isPort + offset} {
		url := "https://localhost:" + strconv.Itoa(port) + "/health/ready"
		for {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				b.Fatalf("keyway up not ready after a minute:\n%s", stderr.String())
			}
			if client == nil {
				// The truststore appears once the keystores exist and holds
				// both roles' certificates once they trust each other.
				if ts, err := keystore.LoadTrustStore(keystore.Options{File: trustFile}); err == nil && len(ts.Entries()) == 2 {
					client = ts.HTTPClient(5 * time.Second)
				}
			}
			if client != nil {
				if res, err := client.Get(url); err == nil {
					res.Body.Close()
					if res.StatusCode == http.StatusOK {
						break
					}
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	d := time.Since(start)
	client.CloseIdleConnections()
	return cmd, d
}

func stop(b *testing.B, cmd *exec.Cmd) {
	b.Helper()
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		msg := ""
		if sb, ok := cmd.Stderr.(*strings.Builder); ok {
			msg = sb.String()
			if len(msg) > 3000 {
				msg = msg[len(msg)-3000:]
			}
		}
		b.Fatalf("keyway up did not stop cleanly: %v\n%s", err, msg)
	}
}

// vmRSS reads the resident set size of pid in kB from /proc.
func vmRSS(b *testing.B, pid int) int64 {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Skipf("no /proc on this system: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				b.Fatalf("parse VmRSS %q: %v", line, err)
			}
			return kb
		}
	}
	b.Fatal("VmRSS not found")
	return 0
}

// freeOffset picks a random port offset whose ports are all free.
func freeOffset(b *testing.B) int {
	b.Helper()
	for range 50 {
		o := 1000 + rand.IntN(22000) // below the ephemeral port range (32768+), where test servers on :0 land
		free := true
		for _, base := range []int{apimPort, isPort, 8243, 8280, 8244, 8281} {
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(base+o))
			if err != nil {
				free = false
				break
			}
			ln.Close()
		}
		if free {
			return o
		}
	}
	b.Fatal("no free port offset")
	return 0
}
