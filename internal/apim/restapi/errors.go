// Package restapi is the plumbing shared by the API Manager's REST families
// (publisher v4, devportal v3, admin v4): the APIM error envelope, the list
// envelope with pagination, query parsing, and the authenticator that turns a
// resident-key-manager token or Basic credentials into a Caller with apim:*
// scopes and enforces each operation's declared scopes.
package restapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
)

// Error is APIM's error envelope (publisher/devportal/admin Error schema).
// Code is APIM's internal error code: the HTTP status for generic errors, as
// RestApiUtil does, or a specific code such as 900300 "The API already
// exists.".
type Error struct {
	Code        int64       `json:"code"`
	Message     string      `json:"message"`
	Description string      `json:"description"`
	MoreInfo    string      `json:"moreInfo"`
	Errors      []ErrorItem `json:"error"`
}

// ErrorItem is one entry of Error.Errors (ErrorListItem in the contract).
type ErrorItem struct {
	Code        string `json:"code"`
	Message     string `json:"message"`
	Description string `json:"description,omitempty"`
}

// Problem is an error that knows how it is answered: domain packages return
// it (or wrap it) so that handlers map every failure to one response shape.
type Problem struct {
	Status int
	Body   Error
	// Cause is logged, never sent.
	Cause error
}

func (p *Problem) Error() string {
	msg := fmt.Sprintf("%d %s: %s", p.Status, p.Body.Message, p.Body.Description)
	if p.Cause != nil {
		msg += ": " + p.Cause.Error()
	}
	return msg
}

func (p *Problem) Unwrap() error { return p.Cause }

// Messages WSO2 uses for the generic statuses (RestApiConstants).
var statusMessages = map[int]string{
	http.StatusBadRequest:            "Bad Request",
	http.StatusUnauthorized:          "Unauthenticated request",
	http.StatusForbidden:             "Forbidden",
	http.StatusNotFound:              "Not Found",
	http.StatusConflict:              "Conflict",
	http.StatusPreconditionFailed:    "Precondition Failed",
	http.StatusUnsupportedMediaType:  "Unsupported Media Type",
	http.StatusNotAcceptable:         "Not Acceptable",
	http.StatusInternalServerError:   "Internal server error",
	http.StatusNotImplemented:        "Not Implemented",
	http.StatusRequestEntityTooLarge: "Request Entity Too Large",
}

// NewProblem builds a Problem with the generic code (the status) and message.
func NewProblem(status int, description string, items ...ErrorItem) *Problem {
	msg := statusMessages[status]
	if msg == "" {
		msg = http.StatusText(status)
	}
	if items == nil {
		items = []ErrorItem{}
	}
	return &Problem{Status: status, Body: Error{Code: int64(status), Message: msg, Description: description, Errors: items}}
}

// WithCode replaces the generic code and message with an APIM-specific one.
func (p *Problem) WithCode(code int64, message string) *Problem {
	p.Body.Code = code
	if message != "" {
		p.Body.Message = message
	}
	return p
}

// WithCause records the underlying error for the log.
func (p *Problem) WithCause(err error) *Problem {
	p.Cause = err
	return p
}

// Constructors for the common statuses.
func ErrBadRequest(description string, items ...ErrorItem) *Problem {
	return NewProblem(http.StatusBadRequest, description, items...)
}
func ErrNotFound(description string) *Problem { return NewProblem(http.StatusNotFound, description) }
func ErrConflict(description string) *Problem { return NewProblem(http.StatusConflict, description) }
func ErrForbidden(description string) *Problem {
	return NewProblem(http.StatusForbidden, description)
}

// WriteError writes an error envelope with the given status.
func WriteError(w http.ResponseWriter, status int, e Error) {
	if e.Errors == nil {
		e.Errors = []ErrorItem{}
	}
	if e.Message == "" {
		e.Message = statusMessages[status]
	}
	if e.Code == 0 {
		e.Code = int64(status)
	}
	WriteJSON(w, status, e)
}

func write(w http.ResponseWriter, p *Problem) { WriteError(w, p.Status, p.Body) }

// BadRequest answers 400.
func BadRequest(w http.ResponseWriter, description string, items ...ErrorItem) {
	write(w, ErrBadRequest(description, items...))
}

// NotFound answers 404.
func NotFound(w http.ResponseWriter, description string) { write(w, ErrNotFound(description)) }

// Conflict answers 409.
func Conflict(w http.ResponseWriter, description string) { write(w, ErrConflict(description)) }

// Forbidden answers 403.
func Forbidden(w http.ResponseWriter, description string) { write(w, ErrForbidden(description)) }

// NotImplemented answers 501.
func NotImplemented(w http.ResponseWriter, description string) {
	write(w, NewProblem(http.StatusNotImplemented, description))
}

// Unauthorized answers 401 with a Bearer challenge (WSO2 sends code 900902
// "Missing Credentials" or 900901 "Invalid Credentials").
func Unauthorized(w http.ResponseWriter, description string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="keyway", error="invalid_token"`)
	code, msg := int64(900901), "Invalid Credentials"
	if description == "" {
		code, msg, description = 900902, "Missing Credentials", "Make sure your API invocation call has a header: 'Authorization : Bearer ACCESS_TOKEN' or 'Authorization : Basic ACCESS_TOKEN'"
	}
	WriteError(w, http.StatusUnauthorized, Error{Code: code, Message: msg, Description: description})
}

// Internal answers 500 without leaking err, which is logged.
func Internal(w http.ResponseWriter, logger *slog.Logger, err error) {
	if logger == nil {
		logger = slog.Default()
	}
	logger.Error("internal error in REST API", "err", err)
	WriteError(w, http.StatusInternalServerError, Error{Code: 900967, Message: "General Error", Description: "Server Error Occurred"})
}

// Respond writes err: a Problem (anywhere in the chain) as itself, anything
// else as 500. 5xx causes are logged.
func Respond(w http.ResponseWriter, logger *slog.Logger, err error) {
	var p *Problem
	if errors.As(err, &p) {
		if p.Status >= 500 {
			if logger == nil {
				logger = slog.Default()
			}
			logger.Error("REST API error", "status", p.Status, "err", err)
		}
		write(w, p)
		return
	}
	Internal(w, logger, err)
}

// WriteJSON writes v as JSON with the status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v == nil {
		return
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// DecodeJSON reads a JSON body of at most limit bytes (0: 10 MiB) into v; on
// failure it answers 400 and returns false.
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any, limit int64) bool {
	if limit == 0 {
		limit = 10 << 20
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	if err := dec.Decode(v); err != nil {
		BadRequest(w, "Invalid request body: "+err.Error())
		return false
	}
	return true
}
