package keymanager

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// caller sends the requests of a remote connector. Every client comes from
// the platform truststore, so TLS verification is never off.
type caller struct {
	http *http.Client
}

// request describes one call to a key manager.
type request struct {
	op     string
	method string
	url    string
	// header is added to the request (Authorization, X-WSO2-Tenant ...).
	header http.Header
	// json or form is the body.
	json any
	form url.Values
	// out receives a JSON response body when not nil.
	out any
	// ok lists the statuses treated as success (default 2xx).
	ok []int
}

// maxResponse bounds a key manager's response body.
const maxResponse = 4 << 20

// do sends r and returns the status. A status outside r.ok (or 2xx) is a
// *RemoteError carrying the error_description of the body, falling back to
// the reason phrase (KMClientErrorDecoder).
func (c *caller) do(ctx context.Context, r request) (int, error) {
	var body io.Reader
	ctype := ""
	switch {
	case r.json != nil:
		b, err := json.Marshal(r.json)
		if err != nil {
			return 0, fmt.Errorf("key manager %s: encode body: %w", r.op, err)
		}
		body, ctype = bytes.NewReader(b), "application/json"
	case r.form != nil:
		body, ctype = strings.NewReader(r.form.Encode()), "application/x-www-form-urlencoded"
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
	if err != nil {
		return 0, fmt.Errorf("key manager %s: %w", r.op, err)
	}
	for k, vs := range r.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if ctype != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("key manager %s: %s %s: %w", r.op, r.method, redact(r.url), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("key manager %s: read response: %w", r.op, err)
	}
	success := resp.StatusCode/100 == 2
	for _, s := range r.ok {
		if resp.StatusCode == s {
			success = true
		}
	}
	if !success {
		var e struct {
			Description string `json:"error_description"`
			Detail      string `json:"detail"`
			Message     string `json:"message"`
		}
		_ = json.Unmarshal(data, &e)
		msg := e.Description
		if msg == "" {
			msg = http.StatusText(resp.StatusCode)
		}
		return resp.StatusCode, &RemoteError{Op: r.op, Status: resp.StatusCode, Message: msg}
	}
	if r.out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, r.out); err != nil {
			return resp.StatusCode, fmt.Errorf("key manager %s: decode response: %w", r.op, err)
		}
	}
	return resp.StatusCode, nil
}

// redact drops the query of a URL for error messages.
func redact(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

func basic(user, password string) http.Header {
	req := http.Request{Header: http.Header{}}
	req.SetBasicAuth(user, password)
	return req.Header
}
