package httpx

import "net/http"

// StatusWriter wraps a ResponseWriter and records the status and size of the
// response for metrics and access logs. Its zero value is not usable: build
// one with NewStatusWriter, or call Reset on a pooled one so that hot paths
// (the gateway) can record without allocating.
type StatusWriter struct {
	http.ResponseWriter
	status int
	size   int64
}

// NewStatusWriter returns a StatusWriter around w.
func NewStatusWriter(w http.ResponseWriter) *StatusWriter {
	return &StatusWriter{ResponseWriter: w}
}

// Reset points the writer at w and forgets what it recorded, so a pooled
// or embedded StatusWriter can serve another request.
func (w *StatusWriter) Reset(rw http.ResponseWriter) {
	*w = StatusWriter{ResponseWriter: rw}
}

// Status is the status sent so far, or 0 when nothing has been written.
func (w *StatusWriter) Status() int { return w.status }

// Size is the number of body bytes written so far.
func (w *StatusWriter) Size() int64 { return w.size }

// WriteHeader records the first status and passes it on.
func (w *StatusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200 and counts the bytes written.
func (w *StatusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.size += int64(n)
	return n, err
}

// Flush passes a flush on when the underlying writer supports it
// (streaming responses and server-sent events through the gateway).
func (w *StatusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
