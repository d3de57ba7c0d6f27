package oauth

import (
	"encoding/json"
	"net/http"
)

// oauthError is an RFC 6749 §5.2 error.
type oauthError struct {
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
	status      int
	// basic marks invalid_client errors where the client used (or tried)
	// HTTP Basic, which must answer WWW-Authenticate.
	basic bool
}

func (e *oauthError) Error() string { return e.Code + ": " + e.Description }

func errInvalidRequest(d string) *oauthError {
	return &oauthError{Code: "invalid_request", Description: d, status: http.StatusBadRequest}
}

func errInvalidGrant(d string) *oauthError {
	return &oauthError{Code: "invalid_grant", Description: d, status: http.StatusBadRequest}
}

func errInvalidClient(d string, basic bool) *oauthError {
	return &oauthError{Code: "invalid_client", Description: d, status: http.StatusUnauthorized, basic: basic}
}

func errUnauthorizedClient(d string) *oauthError {
	return &oauthError{Code: "unauthorized_client", Description: d, status: http.StatusBadRequest}
}

func errServer() *oauthError {
	return &oauthError{Code: "server_error", Description: "internal error", status: http.StatusInternalServerError}
}

// noStore sets the RFC 6749 §5.1 cache headers.
func noStore(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

// writeOAuthJSON writes a no-store JSON response.
func writeOAuthJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	noStore(h)
	h.Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeOAuthError(w http.ResponseWriter, e *oauthError) {
	if e.status == 0 {
		e.status = http.StatusBadRequest
	}
	if e.Code == "invalid_client" && e.basic {
		w.Header().Set("WWW-Authenticate", `Basic realm="oauth2", charset="UTF-8"`)
	}
	raw, _ := json.Marshal(e)
	writeOAuthJSON(w, e.status, raw)
}

func mustJSON(v any) []byte {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return raw
}
