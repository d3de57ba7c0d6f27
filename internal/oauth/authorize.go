package oauth

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/user"
)

// authzRequest is a validated authorization request.
type authzRequest struct {
	client      *Client
	redirectURI string // effective redirect URI
	given       string // redirect_uri as sent ("" when omitted)
	state       string
	nonce       string
	scope       []string
	challenge   string
	method      string
	prompt      []string
	maxAge      int64 // seconds; -1 when absent
	params      url.Values
}

// handleAuthorize is GET|POST /oauth2/authorize: the authorization code
// flow with login page, SSO session, consent page, PKCE, prompt and max_age.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		s.errorPage(w, http.StatusMethodNotAllowed, "Use GET or POST.")
		return
	}
	params, ok := s.authorizeParams(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	ar, ok := s.validateAuthorize(ctx, w, r, params)
	if !ok {
		return
	}
	action := ""
	if r.Method == http.MethodPost {
		action = params.Get("kw_action")
		if action != "" && !csrfValid(r, params.Get("csrf")) {
			s.renderLogin(w, r, ar, http.StatusBadRequest, "Your session expired. Please sign in again.")
			return
		}
	}
	var sess *ssoSession
	var err error
	if action == "login" {
		var msg string
		sess, msg, err = s.login(ctx, w, r, params.Get("username"), params.Get("password"))
		if err != nil {
			s.log.Error("login", "err", err)
			s.errorPage(w, http.StatusInternalServerError, "The sign-in could not be completed.")
			return
		}
		if sess == nil {
			s.renderLogin(w, r, ar, http.StatusOK, msg)
			return
		}
	} else {
		if sess, err = s.currentSession(ctx, r); err != nil {
			s.log.Error("load session", "err", err)
			s.errorPage(w, http.StatusInternalServerError, "The sign-in could not be completed.")
			return
		}
		tooOld := sess != nil && ar.maxAge >= 0 && time.Since(time.UnixMilli(sess.AuthTime)) > time.Duration(ar.maxAge)*time.Second
		if sess == nil || tooOld || (action == "" && slices.Contains(ar.prompt, "login")) {
			if slices.Contains(ar.prompt, "none") {
				s.redirectError(w, r, ar, "login_required", "the user must sign in")
				return
			}
			s.renderLogin(w, r, ar, http.StatusOK, "")
			return
		}
	}
	u, err := s.cfg.Users.GetUser(ctx, sess.UserID)
	if err != nil || u.Locked {
		if err != nil && !errors.Is(err, user.ErrNotFound) {
			s.log.Error("load session user", "err", err)
		}
		_ = s.endSession(ctx, w, r)
		s.renderLogin(w, r, ar, http.StatusOK, "")
		return
	}
	scopes, oe := s.grantScopes(ctx, ar.client, u, ar.scope)
	if oe != nil {
		s.redirectError(w, r, ar, "server_error", "scopes could not be authorized")
		return
	}
	if !ar.client.FirstParty {
		if action == "consent" {
			if params.Get("consent") != "approve" {
				s.redirectError(w, r, ar, "access_denied", "the user denied the request")
				return
			}
			if err := s.saveConsent(ctx, u.ID, ar.client.ID, scopes); err != nil {
				s.log.Error("save consent", "err", err)
				s.redirectError(w, r, ar, "server_error", "consent could not be saved")
				return
			}
		} else {
			given, err := s.hasConsent(ctx, u.ID, ar.client.ID, scopes)
			if err != nil {
				s.log.Error("load consent", "err", err)
				s.redirectError(w, r, ar, "server_error", "consent could not be read")
				return
			}
			if !given || slices.Contains(ar.prompt, "consent") {
				if slices.Contains(ar.prompt, "none") {
					s.redirectError(w, r, ar, "consent_required", "the user must approve the request")
					return
				}
				s.renderPage(w, http.StatusOK, "consent", pageData{Action: s.cfg.BaseURL + "/oauth2/authorize",
					CSRF: csrfToken(w, r), Client: clientLabel(ar.client), Hidden: hiddenFrom(ar.params), Scopes: scopes})
				return
			}
		}
	}
	code, err := s.storeCode(ctx, ar, u, scopes, sess)
	if err != nil {
		s.log.Error("store authorization code", "err", err)
		s.redirectError(w, r, ar, "server_error", "the code could not be issued")
		return
	}
	s.redirectWith(w, r, ar, url.Values{"code": {code}})
}

// authorizeParams reads the request parameters (query for GET, form for
// POST) and refuses repeated ones.
func (s *Server) authorizeParams(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	var params url.Values
	if r.Method == http.MethodPost {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt != "application/x-www-form-urlencoded" {
			s.errorPage(w, http.StatusBadRequest, "The request body must be a form.")
			return nil, false
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			s.errorPage(w, http.StatusBadRequest, "The request cannot be parsed.")
			return nil, false
		}
		params = r.PostForm
	} else {
		params = r.URL.Query()
	}
	return params, true
}

func (s *Server) validateAuthorize(ctx context.Context, w http.ResponseWriter, r *http.Request, params url.Values) (*authzRequest, bool) {
	if len(params["client_id"]) != 1 || params.Get("client_id") == "" {
		s.errorPage(w, http.StatusBadRequest, "The request has no valid client_id.")
		return nil, false
	}
	c, err := s.clients.get(ctx, params.Get("client_id"))
	if err != nil {
		if !errors.Is(err, ErrClientNotFound) {
			s.log.Error("load client", "err", err)
		}
		s.errorPage(w, http.StatusBadRequest, "The client is not registered.")
		return nil, false
	}
	ar := &authzRequest{client: c, params: params, maxAge: -1}
	given := params["redirect_uri"]
	switch {
	case len(given) > 1:
		s.errorPage(w, http.StatusBadRequest, "redirect_uri is repeated.")
		return nil, false
	case len(given) == 1:
		if !slices.Contains(c.RedirectURIs, given[0]) {
			s.errorPage(w, http.StatusBadRequest, "The redirect_uri is not registered for this client.")
			return nil, false
		}
		ar.redirectURI, ar.given = given[0], given[0]
	case len(c.RedirectURIs) == 1:
		ar.redirectURI = c.RedirectURIs[0]
	default:
		s.errorPage(w, http.StatusBadRequest, "The request must name a registered redirect_uri.")
		return nil, false
	}
	ar.state = params.Get("state")
	for k, v := range params {
		if len(v) > 1 {
			s.redirectError(w, r, ar, "invalid_request", "parameter "+k+" is repeated")
			return nil, false
		}
	}
	if rt := params.Get("response_type"); rt != "code" {
		if rt == "" {
			s.redirectError(w, r, ar, "invalid_request", "response_type is required")
		} else {
			s.redirectError(w, r, ar, "unsupported_response_type", "only response_type=code is supported")
		}
		return nil, false
	}
	if rm := params.Get("response_mode"); rm != "" && rm != "query" {
		s.redirectError(w, r, ar, "invalid_request", "only response_mode=query is supported")
		return nil, false
	}
	if !c.allowsGrant(grantCode) {
		s.redirectError(w, r, ar, "unauthorized_client", "the client may not use the authorization code flow")
		return nil, false
	}
	ar.challenge, ar.method = params.Get("code_challenge"), params.Get("code_challenge_method")
	if ar.challenge == "" {
		if c.Public || c.PKCEMandatory {
			s.redirectError(w, r, ar, "invalid_request", "PKCE code_challenge is required")
			return nil, false
		}
	} else {
		if ar.method == "" {
			ar.method = "plain"
		}
		switch {
		case ar.method != "S256" && ar.method != "plain":
			s.redirectError(w, r, ar, "invalid_request", "code_challenge_method must be S256")
			return nil, false
		case ar.method == "plain" && !c.PKCESupportPlain:
			s.redirectError(w, r, ar, "invalid_request", "code_challenge_method plain is not allowed for this client")
			return nil, false
		case len(ar.challenge) < 43 || len(ar.challenge) > 128:
			s.redirectError(w, r, ar, "invalid_request", "code_challenge must be 43 to 128 characters")
			return nil, false
		}
	}
	ar.scope = strings.Fields(params.Get("scope"))
	ar.nonce = params.Get("nonce")
	ar.prompt = strings.Fields(params.Get("prompt"))
	if slices.Contains(ar.prompt, "none") && len(ar.prompt) > 1 {
		s.redirectError(w, r, ar, "invalid_request", "prompt=none cannot be combined")
		return nil, false
	}
	if ma := params.Get("max_age"); ma != "" {
		n, err := strconv.ParseInt(ma, 10, 64)
		if err != nil || n < 0 {
			s.redirectError(w, r, ar, "invalid_request", "max_age must be a non-negative integer")
			return nil, false
		}
		ar.maxAge = n
	}
	return ar, true
}

// login checks the form credentials; on failure it returns a nil session
// and the message for the page (never saying which part was wrong).
func (s *Server) login(ctx context.Context, w http.ResponseWriter, r *http.Request, username, password string) (*ssoSession, string, error) {
	if username == "" || password == "" {
		return nil, "Enter your username and password.", nil
	}
	u, err := s.cfg.Users.Authenticate(ctx, username, password, remoteIP(r))
	switch {
	case errors.Is(err, user.ErrThrottled):
		return nil, "Too many failed attempts. Try again later.", nil
	case errors.Is(err, user.ErrInvalidCredentials), errors.Is(err, user.ErrNotFound):
		return nil, "Invalid username or password.", nil
	case err != nil:
		return nil, "", err
	case u.Locked:
		return nil, "Invalid username or password.", nil
	}
	sess, err := s.startSession(ctx, w, r, u.ID)
	return sess, "", err
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, ar *authzRequest, status int, msg string) {
	s.renderPage(w, status, "login", pageData{Action: s.cfg.BaseURL + "/oauth2/authorize", CSRF: csrfToken(w, r),
		Client: clientLabel(ar.client), Hidden: hiddenFrom(ar.params), Error: msg})
}

func clientLabel(c *Client) string {
	if c.DisplayName != "" {
		return c.DisplayName
	}
	return c.Name
}

// redirectWith sends the authorization response: extra plus state and iss
// (RFC 9207) appended to the redirect URI's own query.
func (s *Server) redirectWith(w http.ResponseWriter, r *http.Request, ar *authzRequest, extra url.Values) {
	u, err := url.Parse(ar.redirectURI)
	if err != nil {
		s.errorPage(w, http.StatusBadRequest, "The redirect_uri is not valid.")
		return
	}
	q := u.Query()
	for k, v := range extra {
		q[k] = v
	}
	if ar.state != "" {
		q.Set("state", ar.state)
	}
	q.Set("iss", s.cfg.Issuer)
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func (s *Server) redirectError(w http.ResponseWriter, r *http.Request, ar *authzRequest, code, desc string) {
	s.redirectWith(w, r, ar, url.Values{"error": {code}, "error_description": {desc}})
}

func (s *Server) storeCode(ctx context.Context, ar *authzRequest, u *user.User, scopes []string, sess *ssoSession) (string, error) {
	code := randomToken()
	exp := nowMS() + int64(s.cfg.Expiry.AuthorizationCode)*1000
	_, err := s.db.ExecContext(ctx, `INSERT INTO oauth_codes (k, client_id, user_id, redirect_uri, scope, challenge, method, nonce, auth_time, sid, family, exp, used) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)`,
		hashToken(code), ar.client.ID, u.ID, ar.given, strings.Join(scopes, " "), ar.challenge, ar.method, ar.nonce, sess.AuthTime, sess.Sid, newJTI(), exp)
	return code, err
}

func (s *Server) hasConsent(ctx context.Context, userID, clientID string, scopes []string) (bool, error) {
	var granted string
	err := s.db.QueryRowContext(ctx, `SELECT scope FROM oauth_consents WHERE user_id = ? AND client_id = ?`, userID, clientID).Scan(&granted)
	if err != nil {
		if errors.Is(err, errNoRows) {
			return false, nil
		}
		return false, err
	}
	have := strings.Fields(granted)
	for _, sc := range scopes {
		if !slices.Contains(have, sc) {
			return false, nil
		}
	}
	return true, nil
}

func (s *Server) saveConsent(ctx context.Context, userID, clientID string, scopes []string) error {
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM oauth_consents WHERE user_id = ? AND client_id = ?`, userID, clientID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO oauth_consents (user_id, client_id, scope, updated) VALUES (?, ?, ?, ?)`,
			userID, clientID, strings.Join(scopes, " "), nowMS())
		return err
	})
}
