// Package fault writes the gateway's error envelope,
// {"fault":{"code":...,"message":...,"description":...}}, with the codes and
// HTTP statuses of the WSO2 API Manager gateway.
package fault

import (
	"net/http"
	"strconv"
	"strings"
)

// WSO2 gateway fault codes.
const (
	InvalidCredentials  = 900901
	MissingCredentials  = 900902
	APIBlocked          = 900907
	Forbidden           = 900908
	InvalidScope        = 900910
	APIThrottled        = 900800
	AppThrottled        = 900801
	SubThrottled        = 900802
	NotFound            = 404
	MethodNotAllowed    = 405
	BackendUnavailable  = 101503
	BackendTimeout      = 101504
	APILifecycleBlocked = 700700
)

// Fault is one gateway error: an HTTP status and the WSO2 envelope fields.
type Fault struct {
	Status      int
	Code        int
	Message     string
	Description string
	// RetryAfter, when set, is sent as the Retry-After header (seconds).
	RetryAfter string
}

// Error makes a Fault usable as an error inside the gateway chain.
func (f *Fault) Error() string {
	return strconv.Itoa(f.Code) + " " + f.Message + ": " + f.Description
}

// New returns a fault.
func New(status, code int, message, description string) *Fault {
	return &Fault{Status: status, Code: code, Message: message, Description: description}
}

// Common faults. Descriptions follow the WSO2 gateway's wording.
var (
	ErrMissingCredentials = New(http.StatusUnauthorized, MissingCredentials, "Missing Credentials",
		"Invalid Credentials. Make sure your API invocation call has a header: 'Authorization : Bearer ACCESS_TOKEN' or 'Authorization : Basic ACCESS_TOKEN' or 'apikey: API_KEY'")
	ErrNoResource    = New(http.StatusNotFound, NotFound, "Runtime Error", "No matching resource found for given API Request")
	ErrNoMethod      = New(http.StatusMethodNotAllowed, MethodNotAllowed, "Runtime Error", "Method not allowed for given API resource")
	ErrNotSubscribed = New(http.StatusForbidden, Forbidden, "Resource forbidden",
		"User is NOT authorized to access the Resource. API Subscription validation failed.")
	ErrSubscriptionBlocked = New(http.StatusForbidden, APIBlocked, "The requested API is temporarily blocked",
		"You cannot access the API as the subscription is blocked")
	ErrScope = New(http.StatusForbidden, InvalidScope, "The access token does not allow you to access the requested resource",
		"User is NOT authorized to access the Resource. Scope validation failed.")
	ErrAPIBlocked = New(http.StatusServiceUnavailable, APILifecycleBlocked, "API blocked",
		"This API has been blocked temporarily. Please try again later or contact the system administrators.")
)

// Invalid is a 900901 fault with a specific description.
func Invalid(description string) *Fault {
	return New(http.StatusUnauthorized, InvalidCredentials, "Invalid Credentials", description)
}

// Write sends f as the gateway envelope. 401 answers carry the
// WWW-Authenticate header WSO2 sends.
func Write(w http.ResponseWriter, f *Fault) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	if f.RetryAfter != "" {
		h.Set("Retry-After", f.RetryAfter)
	}
	if f.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `OAuth2 realm="WSO2 API Manager", error="invalid_token", error_description="The provided token is invalid"`)
	}
	w.WriteHeader(f.Status)
	_, _ = w.Write(Body(f))
}

// Body encodes the envelope; strings are escaped by hand so a fault costs
// no reflection.
func Body(f *Fault) []byte {
	var b strings.Builder
	b.Grow(64 + len(f.Message) + len(f.Description))
	b.WriteString(`{"fault":{"code":`)
	b.WriteString(strconv.Itoa(f.Code))
	b.WriteString(`,"message":`)
	b.WriteString(jsonString(f.Message))
	b.WriteString(`,"description":`)
	b.WriteString(jsonString(f.Description))
	b.WriteString(`}}`)
	return []byte(b.String())
}

// jsonString quotes s for JSON (strconv.Quote escapes differ for non-ASCII
// and \x sequences, so map those through \u escapes).
func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[r>>4])
			b.WriteByte("0123456789abcdef"[r&0xf])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
