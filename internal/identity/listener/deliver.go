package listener

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// batch is how many stored events one round reads.
const batch = 256

// requestTimeout bounds one POST when the client sets no timeout.
const requestTimeout = 10 * time.Second

func (s *Sender) run(ctx context.Context) {
	defer close(s.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wait := s.round(ctx)
		if ctx.Err() != nil {
			return
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-timer.C:
		}
	}
}

// attemptResult is the outcome of one POST.
type attemptResult struct {
	ok bool
	// endpointWide failures (network errors, 401/403, 5xx) would hit every
	// event alike, so the round stops and the whole endpoint backs off.
	endpointWide bool
	reason       string // metric label
	detail       string // for logs and last_error; never holds the token
}

// round stores events kept in memory, then sends every due event that has
// no older pending event for the same token, and says how long to sleep.
func (s *Sender) round(ctx context.Context) time.Duration {
	book := context.WithoutCancel(ctx)
	if !s.saveUnsaved(book) {
		return s.backoffMin
	}
	now := s.now()
	s.mu.Lock()
	pause := s.pauseUntil
	s.mu.Unlock()
	if now.Before(pause) {
		return pause.Sub(now)
	}
	rows, err := s.out.head(ctx, batch)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("token_revocation outbox unreadable", "error", err)
		}
		return s.poll
	}
	nowMs := now.UnixMilli()
	wait := s.poll
	blocked := map[string]bool{}
	var due []outboxRow
	for _, r := range rows {
		if blocked[r.TokenKey] {
			continue
		}
		// Later events for this token wait until this one is delivered.
		blocked[r.TokenKey] = true
		if r.NextAttempt > nowMs {
			wait = min(wait, time.Duration(r.NextAttempt-nowMs)*time.Millisecond)
			continue
		}
		due = append(due, r)
	}

	var (
		stop      atomic.Bool
		successes atomic.Int64
		wideFails atomic.Int64
		firstFail atomic.Pointer[string]
		nextMu    sync.Mutex
		wg        sync.WaitGroup
		sem       = make(chan struct{}, s.concurrency)
	)
	for _, r := range due {
		if stop.Load() || ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		if stop.Load() || ctx.Err() != nil {
			<-sem
			break
		}
		wg.Add(1)
		go func(r outboxRow) {
			defer wg.Done()
			defer func() { <-sem }()
			claimed, err := s.out.claim(book, r, s.now().Add(s.lease).UnixMilli())
			if err != nil {
				s.log.Error("token_revocation event not claimed", "event_id", r.EventID, "error", err)
				return
			}
			if !claimed {
				return // another node took this attempt
			}
			res := s.attempt(ctx, r)
			if res.ok {
				successes.Add(1)
				s.m.delivered.Inc()
				s.m.pending.Dec()
				s.m.latency.Observe(time.Since(time.UnixMilli(r.CreatedAt)).Seconds())
				if err := s.out.delivered(book, r.EventID); err != nil {
					s.log.Error("delivered token_revocation event not pruned (it may be sent again; the receiver deduplicates)", "event_id", r.EventID, "error", err)
				}
				return
			}
			if ctx.Err() != nil {
				// Interrupted by Close: due again at once for the next run.
				_ = s.out.failed(book, r.EventID, s.now().UnixMilli(), "interrupted by shutdown")
				return
			}
			s.m.failed.WithLabelValues(res.reason).Inc()
			if res.endpointWide {
				wideFails.Add(1)
				stop.Store(true)
			}
			detail := fmt.Sprintf("attempt %d: %s", r.Attempts+1, res.detail)
			firstFail.CompareAndSwap(nil, &detail)
			delay := s.backoff(int(r.Attempts + 1))
			if err := s.out.failed(book, r.EventID, s.now().Add(delay).UnixMilli(), res.detail); err != nil {
				s.log.Error("token_revocation retry not scheduled", "event_id", r.EventID, "error", err)
			}
			nextMu.Lock()
			wait = min(wait, delay)
			nextMu.Unlock()
		}(r)
	}
	wg.Wait()
	if ctx.Err() != nil {
		return 0
	}

	s.mu.Lock()
	switch {
	case wideFails.Load() > 0 && successes.Load() == 0:
		s.endpointFails++
		s.pauseUntil = s.now().Add(s.backoff(s.endpointFails))
		wait = max(wait, s.pauseUntil.Sub(s.now()))
	case successes.Load() > 0:
		s.endpointFails = 0
		s.pauseUntil = time.Time{}
	}
	fails := s.endpointFails
	s.mu.Unlock()
	if f := firstFail.Load(); f != nil {
		s.log.Warn("token_revocation delivery failed; will retry", "endpoint", s.redacted, "detail", *f, "consecutive_endpoint_failures", fails, "retry_in", wait.String())
	}
	if n, err := s.out.count(book); err == nil {
		s.m.pending.Set(float64(n))
	}
	if len(rows) == batch && successes.Load() > 0 {
		return 0 // a full batch went through: more may be waiting
	}
	return max(wait, time.Millisecond)
}

// saveUnsaved stores events whose first insert failed; false means the
// database still refuses.
func (s *Sender) saveUnsaved(ctx context.Context) bool {
	s.mu.Lock()
	rows := s.unsaved
	s.unsaved = nil
	s.mu.Unlock()
	for i, r := range rows {
		ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := s.out.insert(ictx, r)
		cancel()
		if err != nil {
			s.mu.Lock()
			s.unsaved = append(rows[i:], s.unsaved...)
			s.mu.Unlock()
			return false
		}
		s.m.pending.Inc()
	}
	return true
}

// attempt POSTs one stored event as PATTERN6-WIRE §1.2 describes.
func (s *Sender) attempt(ctx context.Context, r outboxRow) attemptResult {
	body := r.Payload
	if s.sealer != nil {
		var err error
		if body, err = s.sealer.Open(r.Payload); err != nil {
			return attemptResult{reason: "other", detail: "stored event cannot be decrypted with this node's internal key"}
		}
	}
	if s.client.Timeout == 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, requestTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint, bytes.NewReader([]byte(body)))
	if err != nil {
		return attemptResult{reason: "other", detail: "build request: " + err.Error()}
	}
	// Header names are set as configured (not canonicalised) so a receiver
	// that compares them case-sensitively sees WSO2's spelling.
	req.Header["Content-Type"] = []string{"application/json"}
	for k, v := range s.headers {
		req.Header[k] = []string{v}
	}
	if s.username != "" && s.password != "" {
		req.Header["Authorization"] = []string{"Basic " + base64.StdEncoding.EncodeToString([]byte(s.username+":"+s.password))}
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return attemptResult{endpointWide: true, reason: "transport", detail: transportDetail(err)}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return attemptResult{ok: true}
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return attemptResult{endpointWide: true, reason: "status_4xx", detail: fmt.Sprintf("HTTP %d: the API Manager rejected the notify credentials (event_listener username/password)", resp.StatusCode)}
	case resp.StatusCode >= 500:
		return attemptResult{endpointWide: true, reason: "status_5xx", detail: fmt.Sprintf("HTTP %d from the API Manager", resp.StatusCode)}
	default:
		return attemptResult{reason: "status_4xx", detail: fmt.Sprintf("HTTP %d from the API Manager", resp.StatusCode)}
	}
}

// transportDetail describes a failed request without the URL's credentials
// (url.Error carries the URL, which has none here, but stay safe).
func transportDetail(err error) string {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner.Error()
		}
	}
	return err.Error()
}

// backoff is the delay before attempt n+1: exponential from backoffMin,
// capped at backoffMax, with jitter in [d/2, d] so many events (or many IS
// nodes) do not retry in lockstep.
func (s *Sender) backoff(n int) time.Duration {
	d := s.backoffMin
	for i := 1; i < n && d < s.backoffMax; i++ {
		d *= 2
	}
	d = min(d, s.backoffMax)
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(half+1)
}
