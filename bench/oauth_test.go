// Whole-system benchmarks of the OAuth engine: a real HTTPS server on
// loopback, concurrent clients, and the RS256 signing rate measured in the
// same run as the baseline, so results compare across machines. Run with
//
//	go test -run '^$' -bench OAuth ./bench/

package bench

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyway/keyway/internal/db/dbtest"
	"github.com/keyway/keyway/internal/keystore"
	"github.com/keyway/keyway/internal/oauth"
	"github.com/keyway/keyway/internal/oauth/oauthtest"
	"github.com/keyway/keyway/internal/secret"
	"github.com/keyway/keyway/internal/user"
)

// concurrency is the number of client connections driving the server.
const concurrency = 32

type allScopes struct{}

func (allScopes) AuthorizeScopes(_ context.Context, _ *oauth.Client, _ *user.User, requested []string) ([]string, error) {
	return requested, nil
}

type oauthRig struct {
	srv    *oauth.Server
	ts     *httptest.Server
	client *http.Client
	key    *rsa.PrivateKey
}

func newOAuthRig(b *testing.B) *oauthRig {
	b.Helper()
	ks, err := keystore.Generate("wso2carbon", []string{"127.0.0.1"})
	if err != nil {
		b.Fatal(err)
	}
	sk := make([]byte, 32)
	_, _ = rand.Read(sk)
	sealer, err := secret.NewSealerFromKey(sk)
	if err != nil {
		b.Fatal(err)
	}
	dir := oauthtest.NewDirectory()
	dir.AddUser("u-admin", "admin", "admin", "admin")
	mux := http.NewServeMux()
	ts := httptest.NewUnstartedServer(mux)
	ts.StartTLS()
	b.Cleanup(ts.Close)
	srv, err := oauth.New(context.Background(), oauth.Config{
		Issuer: ts.URL + "/oauth2/token", BaseURL: ts.URL, DB: dbtest.SQLite(b), Signer: ks, Sealer: sealer,
		Users: dir, Scopes: allScopes{}, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	srv.Mount(mux)
	client := ts.Client()
	tr := client.Transport.(*http.Transport)
	tr.MaxIdleConnsPerHost = concurrency
	tr.MaxConnsPerHost = concurrency
	key, _ := ks.RSAKey()
	return &oauthRig{srv: srv, ts: ts, client: client, key: key}
}

// signRate measures RS256 signatures per second on all cores, the floor
// cost of a JWT access token, in this same run.
func (r *oauthRig) signRate() float64 {
	digest := sha256.Sum256([]byte("header.payload"))
	var n atomic.Int64
	deadline := time.Now().Add(time.Second)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < runtime.GOMAXPROCS(0); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				_, _ = rsa.SignPKCS1v15(nil, r.key, crypto.SHA256, digest[:])
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}

func (r *oauthRig) post(b *testing.B, path, body, user, pass string) {
	req, _ := http.NewRequest(http.MethodPost, r.ts.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(user, pass)
	resp, err := r.client.Do(req)
	if err != nil {
		b.Error(err)
		return
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Errorf("%s: %d %s", path, resp.StatusCode, raw)
	}
}

// run drives fn from `concurrency` goroutines and reports operations per
// second. The RS256 baseline is measured before and after the timed part
// and the higher rate kept, so a noisy neighbour during one measurement
// does not flatter the ratio.
func run(b *testing.B, r *oauthRig, unit string, withRatio bool, fn func()) {
	before := r.signRate()
	b.SetParallelism((concurrency + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			fn()
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	baseline := max(before, r.signRate())
	rate := float64(b.N) / elapsed.Seconds()
	b.ReportMetric(rate, unit)
	b.ReportMetric(baseline, "rs256_signs/s")
	if withRatio {
		b.ReportMetric(rate/baseline, "ratio_to_rs256")
	}
}

func benchClientCredentials(b *testing.B, tokenType string) {
	r := newOAuthRig(b)
	c := &oauth.Client{Name: "bench", TokenType: tokenType, GrantTypes: []string{"client_credentials"}}
	if err := r.srv.Clients().CreateClient(context.Background(), c); err != nil {
		b.Fatal(err)
	}
	body := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}.Encode()
	run(b, r, "tokens/s", tokenType == "JWT", func() { r.post(b, "/oauth2/token", body, c.ID, c.Secret) })
}

// BenchmarkOAuthClientCredentialsJWT: JWT issuance over HTTPS; the ratio
// to the RS256 signing rate shows how much beyond the signature it costs.
func BenchmarkOAuthClientCredentialsJWT(b *testing.B) { benchClientCredentials(b, "JWT") }

// BenchmarkOAuthClientCredentialsOpaque: opaque token issuance over HTTPS.
func BenchmarkOAuthClientCredentialsOpaque(b *testing.B) { benchClientCredentials(b, "Default") }

// BenchmarkOAuthIntrospect: introspection over HTTPS as the API Manager
// calls it (Basic admin credentials, opaque token).
func BenchmarkOAuthIntrospect(b *testing.B) {
	r := newOAuthRig(b)
	c := &oauth.Client{Name: "bench", TokenType: "Default"}
	ctx := context.Background()
	if err := r.srv.Clients().CreateClient(ctx, c); err != nil {
		b.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, r.ts.URL+"/oauth2/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(c.ID, c.Secret)
	resp, err := r.client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	tok := between(string(raw), `"access_token":"`, `"`)
	if tok == "" {
		b.Fatalf("no token: %s", raw)
	}
	body := url.Values{"token": {tok}}.Encode()
	run(b, r, "introspections/s", false, func() { r.post(b, "/oauth2/introspect", body, "admin", "admin") })
}

func between(s, start, end string) string {
	_, after, ok := strings.Cut(s, start)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(after, end)
	return v
}
