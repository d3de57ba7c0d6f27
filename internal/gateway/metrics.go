package gateway

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are per-API request counters and latencies. Labels are bounded:
// the API name and version come from the deployed snapshot (not from
// request paths) and the status is reduced to its class.
type metrics struct {
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	unmatched *apiStats
}

type apiStats struct {
	name, version string
	byClass       [6]prometheus.Counter
	dur           prometheus.Observer
}

var classes = [6]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "keyway", Subsystem: "gateway",
			Name: "api_requests_total", Help: "Gateway requests by API, version and status class."},
			[]string{"api", "version", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "keyway", Subsystem: "gateway",
			Name: "api_request_duration_seconds", Help: "Gateway request latency by API and version.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}},
			[]string{"api", "version"}),
	}
	if reg != nil {
		m.requests = register(reg, m.requests).(*prometheus.CounterVec)
		m.duration = register(reg, m.duration).(*prometheus.HistogramVec)
	}
	m.unmatched = m.forAPI("", "")
	return m
}

func register(reg prometheus.Registerer, c prometheus.Collector) prometheus.Collector {
	if err := reg.Register(c); err != nil {
		if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
			return are.ExistingCollector
		}
	}
	return c
}

func (m *metrics) forAPI(name, version string) *apiStats {
	s := &apiStats{name: name, version: version, dur: m.duration.WithLabelValues(name, version)}
	for i, c := range classes {
		s.byClass[i] = m.requests.WithLabelValues(name, version, c)
	}
	return s
}

// forget drops the series of APIs that are no longer deployed.
func (m *metrics) forget(prev, next *state) {
	keep := map[[2]string]bool{}
	for _, s := range next.stats {
		keep[[2]string{s.name, s.version}] = true
	}
	for _, s := range prev.stats {
		if !keep[[2]string{s.name, s.version}] {
			m.duration.DeleteLabelValues(s.name, s.version)
			for _, c := range classes {
				m.requests.DeleteLabelValues(s.name, s.version, c)
			}
		}
	}
}

func (s *apiStats) observe(status int, d time.Duration) {
	c := status / 100
	if c < 1 || c > 5 {
		c = 0
	}
	s.byClass[c].Inc()
	s.dur.Observe(d.Seconds())
}
