// Package bench holds whole-system benchmarks that compare Keyway against a
// baseline measured in the same run.
//
// BenchmarkGateway starts a 1 KiB backend (in this process), then three
// proxies, each in its own child process so that its CPU time can be read
// with getrusage: the bare stdlib proxy (httputil.NewSingleHostReverseProxy
// with the default transport), the same proxy tuned (a transport keeping
// 1024 idle connections per host and a buffer pool), and the Keyway gateway
// serving a JWT-secured API with subscription, scope and throttling checks
// (three enforced policies). Each is loaded over loopback by 50 concurrent
// keep-alive connections. Reported per target: req/s, p50 and p99 latency
// (µs), the proxy process's CPU time per request (µs) and, for the gateway,
// the ratio of its req/s to the bare and tuned baselines. A fourth target
// runs the gateway with its verified-token cache off (an RS256 verification
// on every request), and BenchmarkTokenVerification gives the in-process
// cost of token verification with the cache on and off.
//
// Run: go test -run '^$' -bench . -benchtime 20000x ./bench/
//
// The bare baseline's default transport keeps only two idle backend
// connections, so under 50 connections it opens and closes a backend
// connection for most requests; runs far beyond 20000x can exhaust
// ephemeral ports (TIME_WAIT) on a small machine.
package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/keyway/keyway/internal/events"
	"github.com/keyway/keyway/internal/gateway"
	"github.com/keyway/keyway/internal/gateway/authn"
	"github.com/keyway/keyway/internal/gateway/gatewaytest"
	"github.com/keyway/keyway/internal/gateway/jwks"
	"github.com/keyway/keyway/internal/gateway/revocation"
	"github.com/keyway/keyway/internal/gateway/snapshot"
	"github.com/keyway/keyway/internal/runtime"
	"github.com/prometheus/client_golang/prometheus"
)

const (
	childEnv     = "KEYWAY_BENCH_CHILD"
	backendEnv   = "KEYWAY_BENCH_BACKEND"
	snapshotEnv  = "KEYWAY_BENCH_SNAPSHOT"
	connections  = 50
	responseSize = 1024
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		if err := runChild(mode); err != nil {
			fmt.Fprintln(os.Stderr, "bench child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runChild serves one proxy until stdin closes. It prints
// "LISTEN <proxy addr> <admin addr>"; the admin listener answers /rusage
// with this process's user+system CPU time in microseconds.
func runChild(mode string) error {
	backend, err := url.Parse(os.Getenv(backendEnv))
	if err != nil {
		return err
	}
	var h http.Handler
	switch mode {
	case "stdlib-bare":
		h = httputil.NewSingleHostReverseProxy(backend)
	case "stdlib-tuned":
		rp := httputil.NewSingleHostReverseProxy(backend)
		rp.Transport = &http.Transport{MaxIdleConnsPerHost: 1024, DisableCompression: true, IdleConnTimeout: 90 * time.Second}
		rp.BufferPool = &pool{}
		h = rp
	case "keyway", "keyway-nocache":
		raw, err := os.ReadFile(os.Getenv(snapshotEnv))
		if err != nil {
			return err
		}
		var snap runtime.Snapshot
		if err := json.Unmarshal(raw, &snap); err != nil {
			return err
		}
		gw, err := gateway.New(context.Background(), gateway.Config{Source: gatewaytest.NewStatic(&snap), Bus: events.NewLocal(),
			Logger:  slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
			Metrics: prometheus.NewRegistry(), DisableTokenCache: mode == "keyway-nocache"})
		if err != nil {
			return err
		}
		defer gw.Close(context.Background())
		h = gw.GatewayHandler()
	default:
		return fmt.Errorf("unknown mode %q", mode)
	}
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	al, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() { _ = http.Serve(pl, h) }()
	go func() {
		_ = http.Serve(al, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprint(w, cpuMicros())
		}))
	}()
	// KEYWAY_BENCH_CPUPROFILE=dir writes <dir>/<mode>.prof for the child's
	// whole life (warm-up included).
	if dir := os.Getenv("KEYWAY_BENCH_CPUPROFILE"); dir != "" {
		f, err := os.Create(filepath.Join(dir, mode+".prof"))
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Printf("LISTEN %s %s\n", pl.Addr(), al.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}

func cpuMicros() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano()/1000 + ru.Stime.Nano()/1000
}

type pool struct{ p sync.Pool }

func (p *pool) Get() []byte {
	if b, ok := p.p.Get().(*[]byte); ok {
		return *b
	}
	return make([]byte, 32<<10)
}
func (p *pool) Put(b []byte) { p.p.Put(&b) }

// child is a running proxy process.
type child struct {
	name  string
	url   string
	admin string
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

func startChild(b *testing.B, mode, backendURL, snapPath string) *child {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, backendEnv+"="+backendURL, snapshotEnv+"="+snapPath)
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) != 3 || f[0] != "LISTEN" {
		b.Fatalf("child %s: %q %v", mode, line, err)
	}
	c := &child{name: mode, url: "http://" + f[1], admin: "http://" + f[2] + "/rusage", cmd: cmd, stdin: stdin}
	b.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	return c
}

func (c *child) cpu(b *testing.B) int64 {
	resp, err := http.Get(c.admin)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var n int64
	if _, err := fmt.Fscan(resp.Body, &n); err != nil {
		b.Fatal(err)
	}
	return n
}

// load sends n GETs over `connections` keep-alive connections and returns
// the wall time and every latency.
func load(b *testing.B, client *http.Client, target string, header http.Header, n int) (time.Duration, []time.Duration) {
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < connections; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, target, nil)
			req.Header = header
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if f := failed.Load(); f > 0 {
		b.Fatalf("%s: %d of %d requests failed", target, f, n)
	}
	return elapsed, lat
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}

type measured struct {
	rps, p50, p99, cpu float64
}

func BenchmarkGateway(b *testing.B) {
	body := strings.Repeat("k", responseSize)
	backend := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, body)
	})}
	bl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = backend.Serve(bl) }()
	b.Cleanup(func() { backend.Close() })
	backendURL := "http://" + bl.Addr().String()

	km := gatewaytest.NewKeyManager(b, "Resident Key Manager")
	snapPath := filepath.Join(b.TempDir(), "snapshot.json")
	raw, _ := json.Marshal(benchSnapshot(km, backendURL))
	if err := os.WriteFile(snapPath, raw, 0o600); err != nil {
		b.Fatal(err)
	}
	token := km.Mint(b, gatewaytest.Claims{"azp": "bench-ck", "sub": "bench", "scope": "read", "exp": time.Now().Add(24 * time.Hour).Unix()})
	auth := http.Header{"Authorization": {"Bearer " + token}}

	// The timeout turns a stalled run (e.g. ephemeral ports exhausted by the
	// bare proxy's connection churn) into a failure instead of a hang.
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: connections, MaxConnsPerHost: connections,
		DisableCompression: true, IdleConnTimeout: time.Minute}}
	targets := []struct {
		mode, path string
		header     http.Header
	}{
		{"stdlib-bare", "/items", http.Header{}},
		{"stdlib-tuned", "/items", http.Header{}},
		{"keyway", "/bench/v1/items", auth},
		{"keyway-nocache", "/bench/v1/items", auth},
	}
	results := map[string]measured{}
	for _, tg := range targets {
		c := startChild(b, tg.mode, backendURL, snapPath)
		url := c.url + tg.path
		load(b, client, url, tg.header, 3000) // warm up: connections, JWKS, token cache
		b.Run(tg.mode, func(b *testing.B) {
			before := c.cpu(b)
			elapsed, lat := load(b, client, url, tg.header, b.N)
			cpu := c.cpu(b) - before
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			m := measured{rps: float64(b.N) / elapsed.Seconds(), p50: float64(percentile(lat, .5).Microseconds()),
				p99: float64(percentile(lat, .99).Microseconds()), cpu: float64(cpu) / float64(b.N)}
			results[tg.mode] = m
			b.ReportMetric(m.rps, "req/s")
			b.ReportMetric(m.p50, "p50-µs")
			b.ReportMetric(m.p99, "p99-µs")
			b.ReportMetric(m.cpu, "cpu-µs/req")
			if base, ok := results["stdlib-bare"]; ok && strings.HasPrefix(tg.mode, "keyway") {
				b.ReportMetric(m.rps/base.rps, "ratio-bare")
				b.ReportMetric(m.p99-base.p99, "Δp99-bare-µs")
				if tuned, ok := results["stdlib-tuned"]; ok {
					b.ReportMetric(m.rps/tuned.rps, "ratio-tuned")
				}
			}
		})
		client.CloseIdleConnections()
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n%-16s %10s %8s %8s %11s\n", "target", "req/s", "p50 µs", "p99 µs", "cpu µs/req")
	for _, tg := range targets {
		m := results[tg.mode]
		fmt.Fprintf(&sb, "%-16s %10.0f %8.0f %8.0f %11.1f\n", tg.mode, m.rps, m.p50, m.p99, m.cpu)
	}
	if g, base := results["keyway"], results["stdlib-bare"]; base.rps > 0 {
		fmt.Fprintf(&sb, "keyway / stdlib-bare: %.2fx req/s, p99 %+.0f µs, cpu %.2fx\n", g.rps/base.rps, g.p99-base.p99, g.cpu/base.cpu)
	}
	if g, c := results["keyway"], results["keyway-nocache"]; c.cpu > 0 {
		fmt.Fprintf(&sb, "token cache saves %.1f µs CPU per request\n", c.cpu-g.cpu)
	}
	b.Log(sb.String())
}

// benchSnapshot is one JWT-secured API with a subscription, a resource
// scope and three enforced (never reached) throttling policies.
func benchSnapshot(km *gatewaytest.KeyManager, backendURL string) *runtime.Snapshot {
	huge := runtime.Limit{Type: "REQUESTCOUNTLIMIT", RequestCount: 1 << 40, UnitTime: 1, TimeUnit: "min"}
	return &runtime.Snapshot{
		Revision: 1,
		APIs: []runtime.API{{UUID: "bench-api", Name: "Bench", Version: "v1", Context: "/bench", Type: "HTTP",
			LifecycleState: "PUBLISHED", SecuritySchemes: []string{"oauth2"}, KeyManagers: []string{"all"}, Policy: "BenchAPI",
			Resources: []runtime.Resource{{Verb: "GET", URITemplate: "/items", AuthType: "Any", Scopes: []string{"read"}}},
			Endpoints: runtime.EndpointConfig{Type: "http", Production: []runtime.Endpoint{{URL: backendURL}}}}},
		Applications:         []runtime.Application{{ID: 1, UUID: "bench-app", Name: "Bench", Owner: "bench", Policy: "BenchApp"}},
		KeyMappings:          []runtime.KeyMapping{{ApplicationUUID: "bench-app", ConsumerKey: "bench-ck", KeyType: "PRODUCTION", KeyManager: km.Name}},
		Subscriptions:        []runtime.Subscription{{UUID: "s", APIUUID: "bench-api", ApplicationUUID: "bench-app", Policy: "BenchSub", Status: "UNBLOCKED"}},
		SubscriptionPolicies: []runtime.ThrottlePolicy{{Name: "BenchSub", Limit: huge, StopOnQuotaReach: true}},
		ApplicationPolicies:  []runtime.ThrottlePolicy{{Name: "BenchApp", Limit: huge, StopOnQuotaReach: true}},
		APIPolicies:          []runtime.APIPolicy{{Name: "BenchAPI", Limit: huge, ApplyLevel: "apiLevel"}},
		KeyManagers:          []runtime.KeyManager{km.Runtime()},
	}
}

// BenchmarkTokenVerification is the in-process cost of authenticating one
// request's JWT with the verified-token cache on and off.
func BenchmarkTokenVerification(b *testing.B) {
	km := gatewaytest.NewKeyManager(b, "Resident Key Manager")
	snap, err := snapshot.Compile(benchSnapshot(km, "http://127.0.0.1:1"))
	if err != nil {
		b.Fatal(err)
	}
	cache := jwks.New(http.DefaultClient, jwks.Options{})
	b.Cleanup(cache.Close)
	h := http.Header{"Authorization": {"Bearer " + km.Mint(b, gatewaytest.Claims{"azp": "bench-ck", "scope": "read"})}}
	for _, off := range []bool{false, true} {
		name := "cache=on"
		if off {
			name = "cache=off"
		}
		b.Run(name, func(b *testing.B) {
			a := authn.New(authn.Config{JWKS: cache, Revoked: revocation.NewSet(), DisableCache: off})
			ctx := context.Background()
			if _, f := a.Authenticate(ctx, snap, snap.APIs[0], h); f != nil {
				b.Fatal(f)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, f := a.Authenticate(ctx, snap, snap.APIs[0], h); f != nil {
					b.Fatal(f)
				}
			}
		})
	}
}
