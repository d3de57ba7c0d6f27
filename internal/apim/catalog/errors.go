package catalog

import (
	"errors"
	"fmt"
	"net/http"
)

// Sentinel errors; every *Error unwraps to one of them.
var (
	ErrNotFound = errors.New("catalog: not found")
	ErrConflict = errors.New("catalog: conflict")
	ErrInvalid  = errors.New("catalog: invalid request")
	// ErrKeyManager wraps a failure of a key manager connector (scope sync).
	ErrKeyManager = errors.New("catalog: key manager error")
)

// Error is a failure the REST layer answers with Status and APIM's Code.
type Error struct {
	Status      int
	Code        int64
	Message     string
	Description string
	kind        error
	cause       error
}

func (e *Error) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Message, e.Description, e.cause)
	}
	return e.Message + ": " + e.Description
}

// Unwrap exposes the sentinel and the cause.
func (e *Error) Unwrap() []error {
	if e.cause != nil {
		return []error{e.kind, e.cause}
	}
	return []error{e.kind}
}

func notFound(code int64, message, format string, args ...any) *Error {
	return &Error{Status: http.StatusNotFound, Code: code, Message: message, Description: fmt.Sprintf(format, args...), kind: ErrNotFound}
}

func conflict(code int64, message, format string, args ...any) *Error {
	return &Error{Status: http.StatusConflict, Code: code, Message: message, Description: fmt.Sprintf(format, args...), kind: ErrConflict}
}

func invalid(code int64, message, format string, args ...any) *Error {
	if code == 0 {
		code = http.StatusBadRequest
	}
	return &Error{Status: http.StatusBadRequest, Code: code, Message: message, Description: fmt.Sprintf(format, args...), kind: ErrInvalid}
}

func apiNotFound(id string) *Error {
	return notFound(900301, "API Not Found", "Requested API with id '%s' not found", id)
}

func revisionNotFound(id string) *Error {
	return notFound(900347, "API Revision Not Found", "Requested API Revision with id %s not found", id)
}

// keyManagerError reports a scope registration failure: the connector's
// message goes to the caller, nothing was stored.
func keyManagerError(err error) *Error {
	return &Error{Status: http.StatusInternalServerError, Code: 900967, Message: "Error while registering scopes in the key manager",
		Description: err.Error(), kind: ErrKeyManager, cause: err}
}
