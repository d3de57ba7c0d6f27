package throttle

import (
	"context"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// script increments the window counter, starting the window (its TTL) on
// the first hit, and returns the count and the time left in the window.
var script = redis.NewScript(`
local c = redis.call('INCR', KEYS[1])
if c == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {c, ttl}
`)

// Redis is a cluster-wide fixed-window limiter. While Redis fails it counts
// locally (per node), increments keyway_gateway_throttle_redis_fallback_total
// and logs once per outage.
type Redis struct {
	client    redis.UniversalClient
	prefix    string
	local     *Local
	logger    *slog.Logger
	fallbacks prometheus.Counter
	// downUntil skips Redis for a short time after a failure so an outage
	// costs no per-request timeouts.
	downUntil atomic.Int64
	down      atomic.Bool
	timeout   time.Duration
	// backoffNanos is how long Redis is skipped after a failure.
	backoffNanos int64
}

// RedisOptions tune the Redis limiter.
type RedisOptions struct {
	// Prefix namespaces the counters (default "keyway:throttle:").
	Prefix string
	// Timeout bounds one Redis call (default 200 ms).
	Timeout time.Duration
	// Backoff is how long Redis is skipped after a failure (default 1 s).
	Backoff time.Duration
	Logger  *slog.Logger
	Metrics prometheus.Registerer
}

// NewRedis returns a limiter over client.
func NewRedis(client redis.UniversalClient, o RedisOptions) *Redis {
	if o.Prefix == "" {
		o.Prefix = "keyway:throttle:"
	}
	if o.Timeout <= 0 {
		o.Timeout = 200 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: "keyway", Subsystem: "gateway",
		Name: "throttle_redis_fallback_total", Help: "Throttling decisions taken locally because Redis was unavailable."})
	if o.Metrics != nil {
		if err := o.Metrics.Register(c); err != nil {
			if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
				c = are.ExistingCollector.(prometheus.Counter)
			}
		}
	}
	r := &Redis{client: client, prefix: o.Prefix, local: NewLocal(), logger: o.Logger, fallbacks: c, timeout: o.Timeout}
	backoff := o.Backoff
	if backoff <= 0 {
		backoff = time.Second
	}
	r.backoffNanos = int64(backoff)
	return r
}

// Allow implements Limiter.
func (r *Redis) Allow(ctx context.Context, key string, limit int64, win time.Duration) Result {
	if time.Now().UnixNano() < r.downUntil.Load() {
		r.fallbacks.Inc()
		return r.local.Allow(ctx, key, limit, win)
	}
	ms := win.Milliseconds()
	if ms <= 0 {
		ms = 1
	}
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	vals, err := script.Run(cctx, r.client, []string{r.prefix + key + ":" + strconv.FormatInt(ms, 10)}, ms).Int64Slice()
	cancel()
	if err != nil || len(vals) != 2 {
		if ctx.Err() != nil {
			// The caller went away; no verdict on Redis.
			return r.local.Allow(ctx, key, limit, win)
		}
		r.downUntil.Store(time.Now().UnixNano() + r.backoffNanos)
		if r.down.CompareAndSwap(false, true) {
			r.logger.Warn("redis throttling unavailable, falling back to local limits", "error", err)
		}
		r.fallbacks.Inc()
		return r.local.Allow(ctx, key, limit, win)
	}
	if r.down.CompareAndSwap(true, false) {
		r.logger.Info("redis throttling recovered")
	}
	if vals[0] <= limit {
		return Result{Allowed: true}
	}
	return Result{RetryAfter: time.Duration(vals[1]) * time.Millisecond}
}
