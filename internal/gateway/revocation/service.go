package revocation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/events"
	"github.com/keyway/keyway/internal/runtime"
	"github.com/keyway/keyway/internal/user"
)

// Authenticator checks the Basic credentials of the notify caller (the
// Identity Server sends its own admin user). user.Directory satisfies it.
type Authenticator interface {
	Authenticate(ctx context.Context, username, password, remote string) (*user.User, error)
}

// Service receives revocation notifications, persists them and fans them out
// on the event bus so every gateway node applies them.
type Service struct {
	store  *store
	bus    events.Bus
	auth   Authenticator
	logger *slog.Logger
	now    func() time.Time

	// requiredRole, when set, is a role the notify caller must hold.
	requiredRole string

	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

// PruneInterval is how often expired revocations are deleted.
const PruneInterval = time.Hour

// maxBody bounds a notification body.
const maxBody = 1 << 20

// NewService migrates gw_revoked_tokens, prunes expired rows and starts the
// periodic pruner, which stops with ctx or Close.
func NewService(ctx context.Context, d *db.DB, bus events.Bus, auth Authenticator, logger *slog.Logger) (*Service, error) {
	if d == nil || bus == nil || auth == nil {
		return nil, errors.New("revocation: database, bus and authenticator are required")
	}
	if logger == nil {
		logger = slog.Default()
	}
	st, err := newStore(ctx, d)
	if err != nil {
		return nil, err
	}
	s := &Service{store: st, bus: bus, auth: auth, logger: logger.With("component", "revocation"),
		now: time.Now, stop: make(chan struct{}), done: make(chan struct{})}
	if _, err := st.prune(ctx, s.now().UnixMilli()); err != nil {
		return nil, err
	}
	go s.pruneLoop(ctx)
	return s, nil
}

func (s *Service) pruneLoop(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(PruneInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.stop:
			return
		case <-t.C:
			pctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if n, err := s.store.prune(pctx, s.now().UnixMilli()); err != nil {
				s.logger.Warn("prune revoked tokens", "error", err)
			} else if n > 0 {
				s.logger.Info("pruned expired revocations", "count", n)
			}
			cancel()
		}
	}
}

// Close stops the pruner.
func (s *Service) Close() error {
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
	return nil
}

// RequireRole makes the notification endpoints accept only callers holding
// role (the Identity Server sends its super admin, who holds the admin role).
// Call it before Mount.
func (s *Service) RequireRole(role string) { s.requiredRole = role }

// Mount registers POST /internal/data/v1/notify and GET /internal/data/v1/revokedjwt.
func (s *Service) Mount(mux *http.ServeMux) {
	mux.HandleFunc("POST /internal/data/v1/notify", s.serveNotify)
	mux.HandleFunc("GET /internal/data/v1/revokedjwt", s.serveRevokedJWT)
}

// List returns the live revocations, for the control plane's snapshots.
func (s *Service) List(ctx context.Context) ([]runtime.RevokedToken, error) {
	return s.store.live(ctx, s.now().UnixMilli())
}

func (s *Service) authenticate(w http.ResponseWriter, r *http.Request) bool {
	u, p, ok := r.BasicAuth()
	if ok && u != "" {
		if usr, err := s.auth.Authenticate(r.Context(), u, p, r.RemoteAddr); err == nil {
			if s.requiredRole == "" || slices.Contains(usr.Roles, s.requiredRole) {
				return true
			}
			writeJSON(w, http.StatusForbidden, map[string]any{"code": 900910, "message": "Forbidden",
				"description": "The user is not allowed to send key manager notifications", "moreInfo": "", "error": []any{}})
			return false
		}
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="WSO2 API Manager"`)
	writeJSON(w, http.StatusUnauthorized, map[string]any{"code": 900901, "message": "Unauthenticated request",
		"description": "Valid Basic credentials are required", "moreInfo": "", "error": []any{}})
	return false
}

// tokenRevocation is the IS handler's TokenRevocationEvent (PATTERN6-WIRE §1.3.1).
type tokenRevocation struct {
	AccessToken  string `json:"accessToken"`
	ExpiryTime   int64  `json:"expiryTime"`
	User         string `json:"user"`
	ConsumerKey  string `json:"consumerKey"`
	TokenType    string `json:"tokenType"`
	EventID      string `json:"eventId"`
	TimeStamp    int64  `json:"timeStamp"`
	Type         string `json:"type"`
	TenantID     int64  `json:"tenantId"`
	TenantDomain string `json:"tenantDomain"`
}

type consumerAppRevocation struct {
	ConsumerKey    string `json:"consumerKey"`
	RevocationTime int64  `json:"revocationTime"`
	EventID        string `json:"eventId"`
	TenantDomain   string `json:"tenantDomain"`
}

func (s *Service) serveNotify(w http.ResponseWriter, r *http.Request) {
	if !s.authenticate(w, r) {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		s.fail(w, fmt.Errorf("read notification body: too large or unreadable"))
		return
	}
	kmType := r.Header.Get("X-WSO2-KEY-MANAGER")
	if kmType == "" {
		kmType = "default"
	}
	raw := string(body)
	// Dispatch by substring on the raw body, first match wins, as APIM's
	// DefaultKeyManagerEventHandlerImpl does (§1.5).
	switch {
	case strings.Contains(raw, events.ConsumerKeyRevoked):
		err = s.consumerApp(r.Context(), body)
	case strings.Contains(raw, events.SubjectEntityRevoked):
		s.logger.Info("subject entity revocation received; not applied by this gateway", "key_manager_type", kmType)
	case strings.Contains(raw, events.TokenRevoked):
		err = s.tokenRevocation(r.Context(), body, kmType)
	default:
		s.logger.Debug("notification with no known event type ignored", "key_manager_type", kmType)
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Service) fail(w http.ResponseWriter, err error) {
	s.logger.Error("notification failed", "error", err)
	writeJSON(w, http.StatusInternalServerError, map[string]string{"Message": err.Error()})
}

func (s *Service) tokenRevocation(ctx context.Context, body []byte, kmType string) error {
	var ev tokenRevocation
	if err := json.Unmarshal(body, &ev); err != nil {
		return fmt.Errorf("decode token_revocation event: %w", err)
	}
	if ev.AccessToken == "" {
		return errors.New("token_revocation event without accessToken")
	}
	if ev.EventID == "" {
		ev.EventID = uuid.NewString()
	}
	if ev.ExpiryTime <= 0 {
		ev.ExpiryTime = 1<<63 - 1
	}
	rt := runtime.RevokedToken{Token: ev.AccessToken, ExpiryMillis: ev.ExpiryTime, TokenType: ev.TokenType}
	if rt.TokenType == "" {
		rt.TokenType = "JWT"
	}
	if !isJWTIdentifier(rt.TokenType) {
		// Opaque tokens are never stored in clear; the gateway checks both
		// the token and its hash.
		rt.Token = opaqueKey(ev.AccessToken)
	}
	fresh, err := s.store.insert(ctx, record{EventID: ev.EventID, TokenID: rt.Token, TokenType: rt.TokenType,
		ExpiryMs: rt.ExpiryMillis, ConsumerKey: ev.ConsumerKey, TenantID: ev.TenantID})
	if err != nil {
		return err
	}
	if !fresh {
		s.logger.Debug("duplicate revocation event ignored", "event_id", ev.EventID)
		return nil
	}
	e := events.New(events.TokenRevoked, rt)
	e.ID = ev.EventID
	if err := s.bus.Publish(ctx, e); err != nil {
		// The revocation is stored and this node's gateways already apply it
		// (the bus delivers locally first); other nodes pick it up from the
		// stored list with their next snapshot. Failing the notification
		// would only make the sender retry an event that is now a duplicate.
		s.logger.Warn("revocation stored but not fanned out to other nodes", "event_id", ev.EventID, "error", err)
	}
	s.logger.Info("token revoked", "event_id", ev.EventID, "token_type", rt.TokenType,
		"consumer_key", ev.ConsumerKey, "key_manager_type", kmType)
	return nil
}

func isJWTIdentifier(tokenType string) bool {
	return strings.EqualFold(tokenType, "JWT") || strings.EqualFold(tokenType, "API_KEY")
}

func (s *Service) consumerApp(ctx context.Context, body []byte) error {
	var ev consumerAppRevocation
	if err := json.Unmarshal(body, &ev); err != nil {
		return fmt.Errorf("decode consumer_app_revocation_event: %w", err)
	}
	if ev.ConsumerKey == "" {
		return errors.New("consumer_app_revocation_event without consumerKey")
	}
	e := events.New(events.ConsumerKeyRevoked, runtime.RevokedConsumerKey{ConsumerKey: ev.ConsumerKey,
		RevocationTime: ev.RevocationTime, Type: "CLIENT_ID", Organization: ev.TenantDomain})
	if ev.EventID != "" {
		e.ID = ev.EventID
	}
	if err := s.bus.Publish(ctx, e); err != nil {
		s.logger.Warn("consumer key revocation applied here but not fanned out to other nodes", "consumer_key", ev.ConsumerKey, "error", err)
	}
	return nil
}

type revokedJWT struct {
	Signature string `json:"jwt_signature"`
	Expiry    int64  `json:"expiry_time"`
}

func (s *Service) serveRevokedJWT(w http.ResponseWriter, r *http.Request) {
	if !s.authenticate(w, r) {
		return
	}
	list, err := s.List(r.Context())
	if err != nil {
		s.logger.Error("list revoked tokens", "error", err)
		writeJSON(w, http.StatusInternalServerError, map[string]any{"code": 900967, "message": "General Error",
			"description": "Server Error Occurred", "moreInfo": "", "error": []any{}})
		return
	}
	out := make([]revokedJWT, 0, len(list))
	for _, t := range list {
		out = append(out, revokedJWT{Signature: t.Token, Expiry: t.ExpiryMillis})
	}
	writeJSON(w, http.StatusOK, map[string]any{"revokedJWTList": out,
		"revokedJWTConsumerKeyList": []any{}, "revokedJWTSubjectEntityList": []any{}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
