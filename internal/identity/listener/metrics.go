package listener

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	pending   prometheus.Gauge
	delivered prometheus.Counter
	failed    *prometheus.CounterVec
	latency   prometheus.Histogram
}

func newMetrics(r prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "keyway_identity_revocation_events_pending",
			Help: "token_revocation events stored and not yet acknowledged by the API Manager.",
		}),
		delivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "keyway_identity_revocation_events_delivered_total",
			Help: "token_revocation events the API Manager acknowledged with 2xx.",
		}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyway_identity_revocation_delivery_failures_total",
			Help: "Failed token_revocation delivery attempts, by reason (transport, status_4xx, status_5xx, other).",
		}, []string{"reason"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "keyway_identity_revocation_delivery_seconds",
			Help:    "Time from revocation to the API Manager's acknowledgement.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 5, 30, 300},
		}),
	}
	if r == nil {
		return m, nil
	}
	var err error
	if m.pending, err = register(r, m.pending); err != nil {
		return nil, err
	}
	if m.delivered, err = register(r, m.delivered); err != nil {
		return nil, err
	}
	if m.failed, err = register(r, m.failed); err != nil {
		return nil, err
	}
	if m.latency, err = register(r, m.latency); err != nil {
		return nil, err
	}
	return m, nil
}

// register adopts an identical collector that is already registered, so a
// Sender re-created in the same process (a restart of the role) keeps
// counting on the same series.
func register[C prometheus.Collector](r prometheus.Registerer, c C) (C, error) {
	if err := r.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}
