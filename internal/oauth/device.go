package oauth

import (
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/user"
)

// Device code states.
const (
	devicePending  = 0
	deviceApproved = 1
	deviceDenied   = 2
	deviceUsed     = 3
)

const deviceInterval = 5 // seconds between polls

// userCodeAlphabet has no vowels (no words) and no look-alike characters.
const userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"

func newUserCode() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	out := make([]byte, 0, 9)
	for i, x := range b {
		if i == 4 {
			out = append(out, '-')
		}
		out = append(out, userCodeAlphabet[int(x)%len(userCodeAlphabet)])
	}
	return string(out)
}

// normalizeUserCode accepts lower case, spaces and a missing dash.
func normalizeUserCode(in string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(in) {
		if r >= 'A' && r <= 'Z' {
			b.WriteRune(r)
		}
	}
	s := b.String()
	if len(s) != 8 {
		return s
	}
	return s[:4] + "-" + s[4:]
}

// handleDeviceAuthorize is POST /oauth2/device_authorize (RFC 8628 §3.1).
func (s *Server) handleDeviceAuthorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeOAuthError(w, &oauthError{Code: "invalid_request", Description: "use POST", status: http.StatusMethodNotAllowed})
		return
	}
	form, oe := parseForm(r)
	if oe != nil {
		writeOAuthError(w, oe)
		return
	}
	c, oe := s.authenticateClient(r, form)
	if oe != nil {
		writeOAuthError(w, oe)
		return
	}
	if !c.allowsGrant(grantDeviceCode) {
		writeOAuthError(w, errUnauthorizedClient("the client may not use the device flow"))
		return
	}
	ctx := r.Context()
	deviceCode := randomToken()
	life := s.cfg.DeviceCodeLifetime
	exp := time.Now().Add(life).UnixMilli()
	var userCode string
	for attempt := 0; ; attempt++ {
		userCode = newUserCode()
		_, err := s.db.ExecContext(ctx, `INSERT INTO oauth_device_codes (k, user_code, client_id, scope, status, user_id, granted_scope, auth_time, last_poll, exp) VALUES (?, ?, ?, ?, 0, '', '', 0, 0, ?)`,
			hashToken(deviceCode), userCode, c.ID, strings.Join(strings.Fields(form.Get("scope")), " "), exp)
		if err == nil {
			break
		}
		if !db.IsUniqueViolation(err) || attempt > 5 {
			s.log.Error("store device code", "err", err)
			writeOAuthError(w, errServer())
			return
		}
	}
	verify := s.cfg.BaseURL + "/oauth2/device"
	raw, _ := json.Marshal(map[string]any{
		"device_code": deviceCode, "user_code": userCode, "verification_uri": verify,
		"verification_uri_complete": verify + "?user_code=" + url.QueryEscape(userCode),
		"expires_in":                int64(life.Seconds()), "interval": deviceInterval,
	})
	writeOAuthJSON(w, http.StatusOK, raw)
}

// handleDevicePage is GET|POST /oauth2/device: the user signs in (if
// needed), enters the code shown on the device and approves or denies.
func (s *Server) handleDevicePage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	action := s.cfg.BaseURL + "/oauth2/device"
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		s.errorPage(w, http.StatusMethodNotAllowed, "Use GET or POST.")
		return
	}
	var params url.Values
	if r.Method == http.MethodPost {
		form, oe := parseForm(r)
		if oe != nil {
			s.errorPage(w, http.StatusBadRequest, oe.Description)
			return
		}
		params = form
	} else {
		params = r.URL.Query()
	}
	userCode := normalizeUserCode(params.Get("user_code"))
	if r.Method == http.MethodPost && !csrfValid(r, params.Get("csrf")) {
		s.renderPage(w, http.StatusBadRequest, "login", pageData{Action: action, CSRF: csrfToken(w, r), AskUserCode: true,
			UserCode: userCode, Error: "Your session expired. Please try again."})
		return
	}
	sess, err := s.currentSession(ctx, r)
	if err != nil {
		s.log.Error("load session", "err", err)
		s.errorPage(w, http.StatusInternalServerError, "The request could not be completed.")
		return
	}
	if r.Method == http.MethodPost && params.Get("kw_action") == "login" {
		var msg string
		if sess, msg, err = s.login(ctx, w, r, params.Get("username"), params.Get("password")); err != nil {
			s.log.Error("login", "err", err)
			s.errorPage(w, http.StatusInternalServerError, "The sign-in could not be completed.")
			return
		}
		if sess == nil {
			s.renderPage(w, http.StatusOK, "login", pageData{Action: action, CSRF: csrfToken(w, r), AskUserCode: true, UserCode: userCode, Error: msg})
			return
		}
	}
	if sess == nil {
		s.renderPage(w, http.StatusOK, "login", pageData{Action: action, CSRF: csrfToken(w, r), AskUserCode: true, UserCode: userCode})
		return
	}
	if r.Method == http.MethodGet || params.Get("kw_action") != "device" {
		s.renderPage(w, http.StatusOK, "device", pageData{Action: action, CSRF: csrfToken(w, r), UserCode: userCode})
		return
	}
	u, err := s.cfg.Users.GetUser(ctx, sess.UserID)
	if err != nil || u.Locked {
		_ = s.endSession(ctx, w, r)
		s.renderPage(w, http.StatusOK, "login", pageData{Action: action, CSRF: csrfToken(w, r), AskUserCode: true, UserCode: userCode})
		return
	}
	var clientID, scope string
	var status int
	var exp int64
	err = s.db.QueryRowContext(ctx, `SELECT client_id, scope, status, exp FROM oauth_device_codes WHERE user_code = ?`, userCode).Scan(&clientID, &scope, &status, &exp)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && (status != devicePending || exp <= nowMS())) {
		s.renderPage(w, http.StatusOK, "device", pageData{Action: action, CSRF: csrfToken(w, r), UserCode: userCode, Error: "That code is not valid or has expired."})
		return
	}
	if err != nil {
		s.log.Error("load device code", "err", err)
		s.errorPage(w, http.StatusInternalServerError, "The request could not be completed.")
		return
	}
	if params.Get("consent") != "approve" {
		_, _ = s.db.ExecContext(ctx, `UPDATE oauth_device_codes SET status = ? WHERE user_code = ? AND status = ?`, deviceDenied, userCode, devicePending)
		s.renderPage(w, http.StatusOK, "message", pageData{Title: "Request denied", Message: "The device was not connected."})
		return
	}
	c, err := s.clients.get(ctx, clientID)
	if err != nil {
		s.errorPage(w, http.StatusBadRequest, "The device's client is no longer registered.")
		return
	}
	granted, oe := s.grantScopes(ctx, c, u, strings.Fields(scope))
	if oe != nil {
		s.errorPage(w, http.StatusInternalServerError, "The request could not be completed.")
		return
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE oauth_device_codes SET status = ?, user_id = ?, granted_scope = ?, auth_time = ? WHERE user_code = ? AND status = ?`,
		deviceApproved, u.ID, strings.Join(granted, " "), sess.AuthTime, userCode, devicePending); err != nil {
		s.log.Error("approve device code", "err", err)
		s.errorPage(w, http.StatusInternalServerError, "The request could not be completed.")
		return
	}
	s.renderPage(w, http.StatusOK, "message", pageData{Title: "Device connected", Message: "You can return to your device."})
}

// grantDeviceCode (RFC 8628 §3.4-3.5) polls for the user's decision.
func (s *Server) grantDeviceCode(r *http.Request, c *Client, form url.Values) (*tokenResponse, *oauthError) {
	ctx := r.Context()
	dc := form.Get("device_code")
	if dc == "" {
		return nil, errInvalidRequest("device_code is required")
	}
	k := hashToken(dc)
	var clientID, userID, granted string
	var status int
	var authTime, lastPoll, exp int64
	err := s.db.QueryRowContext(ctx, `SELECT client_id, status, user_id, granted_scope, auth_time, last_poll, exp FROM oauth_device_codes WHERE k = ?`, k).
		Scan(&clientID, &status, &userID, &granted, &authTime, &lastPoll, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errInvalidGrant("device_code is not valid")
	}
	if err != nil {
		s.log.Error("load device code", "err", err)
		return nil, errServer()
	}
	if clientID != c.ID {
		return nil, errInvalidGrant("device_code was issued to another client")
	}
	now := nowMS()
	if exp <= now {
		return nil, &oauthError{Code: "expired_token", Description: "the device code has expired", status: http.StatusBadRequest}
	}
	switch status {
	case devicePending:
		_, _ = s.db.ExecContext(ctx, `UPDATE oauth_device_codes SET last_poll = ? WHERE k = ?`, now, k)
		if now-lastPoll < deviceInterval*1000 {
			return nil, &oauthError{Code: "slow_down", Description: "poll less often", status: http.StatusBadRequest}
		}
		return nil, &oauthError{Code: "authorization_pending", Description: "the user has not decided yet", status: http.StatusBadRequest}
	case deviceDenied:
		return nil, &oauthError{Code: "access_denied", Description: "the user denied the request", status: http.StatusBadRequest}
	case deviceUsed:
		return nil, errInvalidGrant("device_code was already used")
	}
	res, err := s.db.ExecContext(ctx, `UPDATE oauth_device_codes SET status = ? WHERE k = ? AND status = ?`, deviceUsed, k, deviceApproved)
	if err != nil {
		s.log.Error("consume device code", "err", err)
		return nil, errServer()
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil, errInvalidGrant("device_code was already used")
	}
	u, err := s.cfg.Users.GetUser(ctx, userID)
	if errors.Is(err, user.ErrNotFound) || (err == nil && u.Locked) {
		return nil, errInvalidGrant("the user cannot sign in")
	}
	if err != nil {
		s.log.Error("load user", "err", err)
		return nil, errServer()
	}
	scopes := splitScope(granted)
	return s.issueOrFail(ctx, &grant{client: c, user: u, scopes: scopes, authTime: authTime,
		refresh: c.allowsGrant(grantRefresh), idToken: slices.Contains(scopes, "openid")})
}
