// Package ui serves Keyway's web consoles: the API Manager's Publisher,
// Developer Portal and Admin portal, and the Identity Server's console. They
// are small single-page applications, embedded in the binary, that sign in
// with the authorization code flow and PKCE against the server's own OAuth
// engine and then call the same REST APIs that apictl and operators use.
package ui

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/keyway/keyway/internal/oauth"
)

//go:embed static
var static embed.FS

// ClientID is the public OAuth client the consoles sign in with.
const ClientID = "keyway-console"

// Portal is one console.
type Portal struct {
	// Path is where it is served, e.g. "/publisher".
	Path  string
	Title string
	// Script is the portal's own script in static/.
	Script string
	// Scopes are requested at sign-in.
	Scopes []string
}

// The consoles of each role.
var (
	Publisher = Portal{Path: "/publisher", Title: "Publisher", Script: "publisher.js", Scopes: []string{
		"openid", "apim:api_view", "apim:api_create", "apim:api_manage", "apim:api_publish", "apim:api_delete",
		"apim:subscription_view", "apim:subscription_block", "apim:tier_view"}}
	DevPortal = Portal{Path: "/devportal", Title: "Developer Portal", Script: "devportal.js", Scopes: []string{
		"openid", "apim:subscribe", "apim:app_manage", "apim:sub_manage", "apim:api_key"}}
	Admin = Portal{Path: "/admin", Title: "Admin Portal", Script: "admin.js", Scopes: []string{
		"openid", "apim:admin", "apim:tier_view", "apim:tier_manage", "apim:admin_operations", "apim:keymanagers_manage", "apim:environment_read"}}
	Console = Portal{Path: "/console", Title: "Identity Server Console", Script: "console.js", Scopes: []string{
		"openid", "internal_login", "internal_user_mgt_list", "internal_user_mgt_view", "internal_user_mgt_create",
		"internal_role_mgt_view", "internal_api_resource_view"}}
)

// Handler serves a set of portals and their shared assets.
type Handler struct {
	product string
	portals []Portal
	page    *template.Template
	assets  http.Handler
}

// New returns a handler for the portals. product names the server in titles.
func New(product string, portals ...Portal) *Handler {
	sub, _ := fs.Sub(static, "static")
	page := template.Must(template.ParseFS(static, "static/index.html"))
	return &Handler{product: product, portals: portals, page: page, assets: http.StripPrefix("/ui-assets/", http.FileServer(http.FS(sub)))}
}

// Name is the component name.
func (h *Handler) Name() string { return "consoles" }

// Mount adds the portals and their assets to mux.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.Handle("GET /ui-assets/", h.secure(h.assets))
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui-assets/favicon.svg", http.StatusMovedPermanently)
	})
	for _, p := range h.portals {
		mux.Handle("GET "+p.Path, http.RedirectHandler(p.Path+"/", http.StatusMovedPermanently))
		mux.Handle("GET "+p.Path+"/", h.secure(h.servePortal(p)))
	}
	if len(h.portals) > 0 {
		first := h.portals[0].Path + "/"
		mux.Handle("GET /{$}", http.RedirectHandler(first, http.StatusFound))
	}
}

// Close releases nothing.
func (h *Handler) Close(context.Context) error { return nil }

func (h *Handler) servePortal(p Portal) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		links := append([]Portal(nil), h.portals...)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_ = h.page.Execute(w, map[string]any{
			"Product": h.product, "Portal": p, "Portals": links,
			"ClientID": ClientID, "Scopes": strings.Join(p.Scopes, " "),
		})
	})
}

// secure adds the headers every console response carries.
func (h *Handler) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// EnsureClient registers (or updates) the consoles' public client in an OAuth
// engine, with a redirect URI for every portal at every origin users may
// browse to (the configured host name, localhost and 127.0.0.1).
func EnsureClient(ctx context.Context, clients oauth.ClientStore, baseURL string, portals ...Portal) error {
	u, err := url.Parse(baseURL)
	if err != nil {
		return fmt.Errorf("console client: parse %s: %w", baseURL, err)
	}
	port := u.Port()
	origins := []string{strings.TrimSuffix(baseURL, "/")}
	for _, host := range []string{"localhost", "127.0.0.1"} {
		o := u.Scheme + "://" + host
		if port != "" {
			o += ":" + port
		}
		if !slices.Contains(origins, o) {
			origins = append(origins, o)
		}
	}
	var redirects []string
	for _, o := range origins {
		for _, p := range portals {
			redirects = append(redirects, o+p.Path+"/")
		}
	}
	want := &oauth.Client{
		ID:                     ClientID,
		Name:                   "Keyway consoles",
		Owner:                  "admin",
		RedirectURIs:           redirects,
		PostLogoutRedirectURIs: redirects,
		GrantTypes:             []string{"authorization_code", "refresh_token"},
		TokenType:              "JWT",
		Public:                 true,
		AuthMethod:             "none",
		PKCEMandatory:          true,
		FirstParty:             true,
		DisplayName:            "Keyway consoles",
	}
	existing, err := clients.GetClient(ctx, ClientID)
	switch {
	case errors.Is(err, oauth.ErrClientNotFound):
		if err := clients.CreateClient(ctx, want); err != nil {
			return fmt.Errorf("register console client: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("look up console client: %w", err)
	}
	if slices.Equal(existing.RedirectURIs, redirects) && existing.Public {
		return nil
	}
	want.Created = existing.Created
	if err := clients.UpdateClient(ctx, want); err != nil {
		return fmt.Errorf("update console client: %w", err)
	}
	return nil
}
