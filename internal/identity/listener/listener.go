// Package listener is the Identity Server's token_revocation event sender:
// the Keyway counterpart of WSO2's ApimOauthEventInterceptor, configured by
// the same [[event_listener]] block of deployment.toml. For every access token
// the OAuth engine revokes it POSTs a token_revocation event to the API
// Manager's /internal/data/v1/notify endpoint, byte-for-byte in the shape
// PATTERN6-WIRE §1.2–§1.4 describes.
//
// Unlike WSO2's fire-and-forget sender, delivery is durable: each event is
// first written to the idn_event_outbox table, then a background loop POSTs
// it and deletes the row only when the receiver answers 2xx. Failed attempts
// are retried with capped, jittered exponential backoff, keep the same
// eventId (the receiver deduplicates on it), and survive a restart of either
// side. Events for one token are delivered in the order they were raised.
package listener

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/keyway/keyway/internal/config"
	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/oauth"
	"github.com/keyway/keyway/internal/secret"
	"github.com/prometheus/client_golang/prometheus"
)

// Option tunes a Sender.
type Option func(*Sender)

// WithRegisterer registers the sender's Prometheus metrics (pending events,
// delivered events, failed attempts, delivery latency) with r.
func WithRegisterer(r prometheus.Registerer) Option { return func(s *Sender) { s.registerer = r } }

// WithSealer encrypts stored event bodies at rest. An opaque token revoked
// through /oauth2/revoke travels as the token string itself, so with a sealer
// the outbox never holds a usable token in clear.
func WithSealer(sl *secret.Sealer) Option { return func(s *Sender) { s.sealer = sl } }

// WithBackoff sets the first retry delay and the cap of the exponential
// backoff (defaults 200 ms and 30 s).
func WithBackoff(first, max time.Duration) Option {
	return func(s *Sender) {
		if first > 0 {
			s.backoffMin = first
		}
		if max >= first && max > 0 {
			s.backoffMax = max
		}
	}
}

// WithPollInterval sets how often the outbox is read when nothing wakes the
// sender (default 2 s); it bounds how late an event written by another node
// sharing the database, or one whose send was interrupted, is picked up.
func WithPollInterval(d time.Duration) Option {
	return func(s *Sender) {
		if d > 0 {
			s.poll = d
		}
	}
}

// WithConcurrency sets how many events are in flight at once (default 8).
func WithConcurrency(n int) Option {
	return func(s *Sender) {
		if n > 0 {
			s.concurrency = n
		}
	}
}

// Sender delivers token_revocation events to one API Manager. It implements
// oauth.RevocationListener.
type Sender struct {
	out      outbox
	endpoint string
	redacted string // endpoint without credentials, for logs
	username string
	password string
	headers  map[string]string
	client   *http.Client
	log      *slog.Logger
	sealer   *secret.Sealer

	registerer  prometheus.Registerer
	m           *metrics
	backoffMin  time.Duration
	backoffMax  time.Duration
	poll        time.Duration
	lease       time.Duration
	concurrency int
	now         func() time.Time

	mu            sync.Mutex
	lastSeq       int64
	unsaved       []outboxRow // events whose insert failed; the loop retries it
	endpointFails int
	pauseUntil    time.Time

	wake      chan struct{}
	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
}

var _ oauth.RevocationListener = (*Sender)(nil)

// New prepares the outbox table, reloads events an earlier run left pending
// and starts the delivery loop. cfg is the token_revocation [[event_listener]]
// (config.Config.TokenRevocationListener); its notification_endpoint,
// username, password and header.* properties are used as WSO2 uses them.
// client must verify the API Manager's certificate (platform.Trust.HTTPClient).
// ctx bounds only the start-up work; the loop runs until Close.
func New(ctx context.Context, d *db.DB, cfg config.EventListener, client *http.Client, logger *slog.Logger, opts ...Option) (*Sender, error) {
	if d == nil {
		return nil, errors.New("token_revocation listener: no database")
	}
	if client == nil {
		return nil, errors.New("token_revocation listener: no HTTP client (pass one that trusts the API Manager's certificate)")
	}
	if logger == nil {
		logger = slog.Default()
	}
	endpoint := strings.TrimSpace(cfg.Properties["notification_endpoint"])
	if endpoint == "" {
		return nil, errors.New("token_revocation listener: event_listener.properties.notification_endpoint is empty")
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("token_revocation listener: notification_endpoint %q is not an http(s) URL", endpoint)
	}
	s := &Sender{
		out:         outbox{d: d},
		endpoint:    endpoint,
		redacted:    u.Redacted(),
		username:    cfg.Properties["username"],
		password:    cfg.Properties["password"],
		headers:     cfg.Headers(),
		client:      client,
		log:         logger.With("component", "listener", "listener", cfg.ID),
		backoffMin:  200 * time.Millisecond,
		backoffMax:  30 * time.Second,
		poll:        2 * time.Second,
		lease:       time.Minute,
		concurrency: 8,
		now:         time.Now,
		wake:        make(chan struct{}, 1),
		done:        make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	if s.m, err = newMetrics(s.registerer); err != nil {
		return nil, fmt.Errorf("token_revocation listener: %w", err)
	}
	if err := d.Migrate(ctx, component, migrations); err != nil {
		return nil, fmt.Errorf("token_revocation listener: %w", err)
	}
	if err := s.out.retryNow(ctx, s.now().UnixMilli()); err != nil {
		return nil, fmt.Errorf("token_revocation listener: %w", err)
	}
	if s.lastSeq, err = s.out.maxSeq(ctx); err != nil {
		return nil, fmt.Errorf("token_revocation listener: %w", err)
	}
	pending, err := s.out.count(ctx)
	if err != nil {
		return nil, fmt.Errorf("token_revocation listener: %w", err)
	}
	s.m.pending.Set(float64(pending))
	if u.Scheme == "http" {
		s.log.Warn("notification_endpoint is plain http: revocation events and the Basic credentials travel unencrypted", "endpoint", s.redacted)
	}
	names := make([]string, 0, len(s.headers))
	for k := range s.headers {
		names = append(names, k)
	}
	sort.Strings(names)
	s.log.Info("token_revocation events enabled", "endpoint", s.redacted, "basic_auth", s.username != "" && s.password != "", "headers", names, "pending", pending)

	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	go s.run(loopCtx)
	return s, nil
}

// AccessTokenRevoked stores a token_revocation event for t and wakes the
// delivery loop. It waits only for the outbox insert, never for the network.
func (s *Sender) AccessTokenRevoked(ctx context.Context, t oauth.RevokedAccessToken) {
	if t.Identifier == "" {
		s.log.Warn("revoked access token without identifier: no token_revocation event sent", "client_id", t.ClientID, "kind", string(t.Kind))
		return
	}
	now := s.now()
	ev := newEvent(t, now)
	body, err := ev.marshal()
	if err != nil {
		s.log.Error("token_revocation event not created", "event_id", ev.EventID, "error", err)
		return
	}
	payload := string(body)
	if s.sealer != nil {
		if payload, err = s.sealer.Seal(payload); err != nil {
			s.log.Error("token_revocation event not created", "event_id", ev.EventID, "error", err)
			return
		}
	}
	row := outboxRow{
		EventID:     ev.EventID,
		Seq:         s.nextSeq(now),
		Kind:        EventTypeTokenRevocation,
		TokenKey:    tokenKey(t.Identifier),
		Payload:     payload,
		NextAttempt: now.UnixMilli(),
		CreatedAt:   now.UnixMilli(),
	}
	// The caller's request may end right after this call; the write must not.
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.out.insert(ictx, row); err != nil {
		// Keep it in memory; the loop stores it as soon as the database answers.
		s.log.Error("token_revocation event not stored yet; will retry", "event_id", ev.EventID, "error", err)
		s.mu.Lock()
		s.unsaved = append(s.unsaved, row)
		s.mu.Unlock()
	} else {
		s.m.pending.Inc()
	}
	s.log.Debug("token_revocation event queued", "event_id", ev.EventID, "client_id", t.ClientID, "kind", string(t.Kind))
	s.signal()
}

// Pending returns how many events wait for delivery.
func (s *Sender) Pending(ctx context.Context) (int64, error) {
	n, err := s.out.count(ctx)
	s.mu.Lock()
	n += int64(len(s.unsaved))
	s.mu.Unlock()
	return n, err
}

// Close stops the delivery loop. Pending events stay stored and are sent by
// the next Sender on the same database.
func (s *Sender) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		<-s.done
		s.mu.Lock()
		n := len(s.unsaved)
		s.mu.Unlock()
		if n > 0 {
			s.log.Error("token_revocation events lost at shutdown: the database was unavailable", "count", n)
		}
	})
	return nil
}

// nextSeq orders events: microseconds since the epoch, strictly increasing
// within this process.
func (s *Sender) nextSeq(now time.Time) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	seq := now.UnixMicro()
	if seq <= s.lastSeq {
		seq = s.lastSeq + 1
	}
	s.lastSeq = seq
	return seq
}

func (s *Sender) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}
