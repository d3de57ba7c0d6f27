package ui

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestPortalsRender(t *testing.T) {
	mux := http.NewServeMux()
	New("Keyway API Manager", Publisher, DevPortal, Admin).Mount(mux)
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	tests := []struct {
		path     string
		code     int
		contains []string
	}{
		{"/publisher/", 200, []string{"<title>Publisher · Keyway API Manager</title>", `data-client-id="keyway-console"`, "apim:api_create", "/ui-assets/publisher.js"}},
		{"/devportal/", 200, []string{"Developer Portal", "apim:subscribe", "/ui-assets/devportal.js"}},
		{"/admin/", 200, []string{"Admin Portal", "apim:keymanagers_manage", "/ui-assets/admin.js"}},
		{"/publisher", 301, nil},
		{"/", 302, nil},
		{"/ui-assets/portal.js", 200, []string{"code_challenge_method", "S256"}},
		{"/ui-assets/admin.js", 200, []string{"WSO2-IS-7", "api_resource_management_endpoint", "is7_roles_endpoint"}},
		{"/console/", 404, nil},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := client.Get(srv.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.code {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.code)
			}
			for _, c := range tt.contains {
				if !strings.Contains(string(body), c) {
					t.Errorf("body lacks %q", c)
				}
			}
			if tt.code == 200 && !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
				t.Errorf("missing CSP: %v", resp.Header)
			}
		})
	}
}
