package bench

import (
	"sort"
	"testing"
	"time"

	"github.com/keyway/keyway/test/harness"
)

// BenchmarkRevocationPropagation measures, on the two-process Pattern 6
// deployment, the time from the revoke call at the Identity Server to the
// first 401 at the gateway. It reports p50 and p99 (target p99 < 100 ms on
// one machine).
func BenchmarkRevocationPropagation(b *testing.B) {
	p := harness.NewPattern6(b)
	var samples []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		tok := p.Token("pizza_read")
		if status, body := p.Call(tok, "/menu"); status != 200 {
			b.Fatalf("fresh token rejected: %d %s", status, body)
		}
		b.StartTimer()
		start := time.Now()
		p.Revoke(tok)
		for {
			if status, _ := p.Call(tok, "/menu"); status == 401 {
				break
			}
			if time.Since(start) > 30*time.Second {
				b.Fatal("revocation did not reach the gateway in 30 s")
			}
		}
		samples = append(samples, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	pct := func(q float64) float64 {
		return float64(samples[int(q*float64(len(samples)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}
