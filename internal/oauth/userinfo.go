package oauth

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/keyway/keyway/internal/user"
)

// handleUserInfo is GET|POST /oauth2/userinfo (OIDC Core §5.3): a user
// access token with the openid scope; sub is the user id, as in ID tokens.
func (s *Server) handleUserInfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	token := ""
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
		token = strings.TrimSpace(h[7:])
	} else if r.Method == http.MethodPost {
		if form, oe := parseForm(r); oe == nil {
			token = form.Get("access_token")
		}
	}
	if token == "" {
		bearerError(w, http.StatusUnauthorized, "invalid_request", "an access token is required")
		return
	}
	ctx := r.Context()
	rec, err := s.activeAccess(ctx, token)
	if err != nil {
		if !errors.Is(err, ErrInvalidToken) {
			s.log.Error("userinfo token lookup", "err", err)
		}
		bearerError(w, http.StatusUnauthorized, "invalid_token", "the access token is not valid")
		return
	}
	scopes := splitScope(rec.Scope)
	if rec.UserID == "" || !slices.Contains(scopes, "openid") {
		bearerError(w, http.StatusForbidden, "insufficient_scope", "a user token with the openid scope is required")
		return
	}
	u, err := s.cfg.Users.GetUser(ctx, rec.UserID)
	if err != nil {
		if !errors.Is(err, user.ErrNotFound) {
			s.log.Error("userinfo user lookup", "err", err)
		}
		bearerError(w, http.StatusUnauthorized, "invalid_token", "the token's user no longer exists")
		return
	}
	claims := map[string]any{"sub": u.ID}
	if slices.Contains(scopes, "profile") {
		claims["preferred_username"] = u.Username
		claims["username"] = u.Username
		if u.GivenName != "" {
			claims["given_name"] = u.GivenName
		}
		if u.FamilyName != "" {
			claims["family_name"] = u.FamilyName
		}
		if name := strings.TrimSpace(u.GivenName + " " + u.FamilyName); name != "" {
			claims["name"] = name
		}
	}
	if slices.Contains(scopes, "email") && u.Email != "" {
		claims["email"] = u.Email
		claims["email_verified"] = u.Claims["email_verified"] == "true"
	}
	raw, _ := json.Marshal(claims)
	writeOAuthJSON(w, http.StatusOK, raw)
}

// bearerError answers per RFC 6750 §3.
func bearerError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("WWW-Authenticate", `Bearer error="`+code+`", error_description="`+desc+`"`)
	raw, _ := json.Marshal(oauthError{Code: code, Description: desc})
	writeOAuthJSON(w, status, raw)
}
