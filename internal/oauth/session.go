package oauth

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Cookie names. Both are HttpOnly, Secure and SameSite=Lax, scoped to /oauth2.
const (
	sessionCookie = "kw_oauth_session"
	csrfCookie    = "kw_oauth_csrf"
)

// ssoSession is a row of oauth_sessions; the cookie holds a random value
// whose SHA-256 keys the row.
type ssoSession struct {
	Sid, UserID   string
	AuthTime, Exp int64
}

func (s *Server) currentSession(ctx context.Context, r *http.Request) (*ssoSession, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil, nil
	}
	var ss ssoSession
	err = s.db.QueryRowContext(ctx, `SELECT sid, user_id, auth_time, exp FROM oauth_sessions WHERE k = ?`, hashToken(ck.Value)).
		Scan(&ss.Sid, &ss.UserID, &ss.AuthTime, &ss.Exp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("oauth: load session: %w", err)
	}
	if ss.Exp <= nowMS() {
		return nil, nil
	}
	return &ss, nil
}

// startSession records a new SSO session for userID and sets its cookie.
func (s *Server) startSession(ctx context.Context, w http.ResponseWriter, r *http.Request, userID string) (*ssoSession, error) {
	// A login replaces any session the browser had (session fixation).
	if ck, err := r.Cookie(sessionCookie); err == nil && ck.Value != "" {
		_, _ = s.db.ExecContext(ctx, `DELETE FROM oauth_sessions WHERE k = ?`, hashToken(ck.Value))
	}
	value := randomToken()
	now := time.Now()
	ss := &ssoSession{Sid: newJTI(), UserID: userID, AuthTime: now.UnixMilli(), Exp: now.Add(s.cfg.SessionLifetime).UnixMilli()}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO oauth_sessions (k, sid, user_id, auth_time, exp) VALUES (?, ?, ?, ?, ?)`,
		hashToken(value), ss.Sid, ss.UserID, ss.AuthTime, ss.Exp); err != nil {
		return nil, fmt.Errorf("oauth: store session: %w", err)
	}
	setCookie(w, sessionCookie, value, int(s.cfg.SessionLifetime.Seconds()))
	return ss, nil
}

func (s *Server) endSession(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	setCookie(w, sessionCookie, "", -1)
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM oauth_sessions WHERE k = ?`, hashToken(ck.Value)); err != nil {
		return fmt.Errorf("oauth: end session: %w", err)
	}
	return nil
}

func setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/oauth2", MaxAge: maxAge,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
}

// csrfToken returns the form token bound to the browser's CSRF cookie,
// setting a new cookie when there is none (double-submit: a cross-site
// page can neither read the cookie nor derive the form value).
func csrfToken(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(csrfCookie); err == nil && len(ck.Value) >= 32 {
		return hashToken("csrf:" + ck.Value)
	}
	v := randomToken()
	setCookie(w, csrfCookie, v, 3600)
	// Later code in this request reads the new value too.
	r.AddCookie(&http.Cookie{Name: csrfCookie, Value: v})
	return hashToken("csrf:" + v)
}

func csrfValid(r *http.Request, form string) bool {
	ck, err := r.Cookie(csrfCookie)
	if err != nil || len(ck.Value) < 32 || form == "" {
		return false
	}
	want := hashToken("csrf:" + ck.Value)
	return subtle.ConstantTimeCompare([]byte(want), []byte(form)) == 1
}
