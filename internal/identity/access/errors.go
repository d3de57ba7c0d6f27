package access

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/google/uuid"
	"github.com/keyway/keyway/internal/httpx"
)

// Family is an API family with its own error shape.
type Family int

const (
	// SCIM answers {schemas, detail, status} (RFC 7644 §3.12).
	SCIM Family = iota
	// OAuth answers {error, error_description} (DCR, RFC 6749/7591).
	OAuth
	// REST answers {code, message, description, traceId} (IS server APIs).
	REST
)

// SCIMErrorSchema is the URN of SCIM error responses.
const SCIMErrorSchema = "urn:ietf:params:scim:api:messages:2.0:Error"

// SCIMError is the SCIM error body. Status is a string, as RFC 7644 says.
type SCIMError struct {
	Schemas  []string `json:"schemas"`
	ScimType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail"`
	Status   string   `json:"status"`
}

// OAuthError is the RFC 6749 / RFC 7591 error body.
type OAuthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
	TraceID     string `json:"traceId,omitempty"`
}

// RESTError is the IS server API error body.
type RESTError struct {
	Code        string `json:"code"`
	Message     string `json:"message"`
	Description string `json:"description"`
	TraceID     string `json:"traceId"`
}

// WriteError writes an error in the family's shape. code is the SCIM
// scimType, the OAuth error code or the REST error code ("" when none).
func WriteError(w http.ResponseWriter, r *http.Request, fam Family, status int, code, detail string) {
	switch fam {
	case SCIM:
		WriteSCIM(w, status, SCIMError{Schemas: []string{SCIMErrorSchema}, ScimType: code, Detail: detail, Status: strconv.Itoa(status)})
	case OAuth:
		if code == "" {
			code = oauthCode(status)
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
		httpx.WriteJSON(w, status, OAuthError{Error: code, Description: detail, TraceID: traceID(r)})
	default:
		if code == "" {
			code = "IDN-" + strconv.Itoa(status*100)
		}
		httpx.WriteJSON(w, status, RESTError{Code: code, Message: http.StatusText(status), Description: detail, TraceID: traceID(r)})
	}
}

// SCIMContentType is the media type of SCIM responses (RFC 7644 §3.1).
const SCIMContentType = "application/scim+json"

// WriteSCIM writes a SCIM JSON response.
func WriteSCIM(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", SCIMContentType)
	w.WriteHeader(status)
	if v == nil {
		return
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func oauthCode(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "invalid_client"
	case http.StatusForbidden:
		return "access_denied"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusConflict:
		return "invalid_client_metadata"
	case http.StatusBadRequest:
		return "invalid_request"
	}
	return "server_error"
}

func traceID(r *http.Request) string {
	if r != nil {
		if id := httpx.RequestID(r.Context()); id != "" {
			return id
		}
	}
	return uuid.NewString()
}
