package oauth

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
)

// handleLogout is GET|POST /oauth2/logout: RP-initiated logout. It ends
// the SSO session; post_logout_redirect_uri must be registered by the
// client named by id_token_hint (signature checked, expiry not, as the
// spec allows expired hints) or client_id.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
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
	ctx := r.Context()
	clientID := params.Get("client_id")
	if hint := params.Get("id_token_hint"); hint != "" {
		_, payload, err := s.verifyOwnJWT(ctx, hint)
		var c idClaims
		if err != nil || json.Unmarshal(payload, &c) != nil || c.Iss != s.cfg.Issuer {
			s.errorPage(w, http.StatusBadRequest, "The id_token_hint is not valid.")
			return
		}
		if clientID != "" && !c.Aud.contains(clientID) {
			s.errorPage(w, http.StatusBadRequest, "The id_token_hint was not issued to client_id.")
			return
		}
		if clientID == "" && len(c.Aud) > 0 {
			clientID = c.Aud[0]
		}
	}
	target := params.Get("post_logout_redirect_uri")
	if target != "" {
		if clientID == "" {
			s.errorPage(w, http.StatusBadRequest, "post_logout_redirect_uri needs id_token_hint or client_id.")
			return
		}
		c, err := s.clients.get(ctx, clientID)
		if err != nil || !slices.Contains(c.PostLogoutRedirectURIs, target) {
			s.errorPage(w, http.StatusBadRequest, "The post_logout_redirect_uri is not registered for this client.")
			return
		}
	}
	if err := s.endSession(ctx, w, r); err != nil {
		s.log.Error("logout", "err", err)
		s.errorPage(w, http.StatusInternalServerError, "The sign-out could not be completed.")
		return
	}
	if target == "" {
		s.renderPage(w, http.StatusOK, "message", pageData{Title: "Signed out", Message: "You have signed out."})
		return
	}
	u, err := url.Parse(target)
	if err != nil {
		s.errorPage(w, http.StatusBadRequest, "The post_logout_redirect_uri is not valid.")
		return
	}
	if st := params.Get("state"); st != "" {
		q := u.Query()
		q.Set("state", st)
		u.RawQuery = q.Encode()
	}
	http.Redirect(w, r, u.String(), http.StatusFound)
}
