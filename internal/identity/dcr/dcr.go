// Package dcr serves the Identity Server's OAuth 2.0 Dynamic Client
// Registration API v1.1 (/api/identity/oauth2/dcr/v1.1/register), the one the
// API Manager's WSO2-IS-7 key-manager connector calls to create, read, update
// and delete the OAuth clients of its applications. Every ext_* member of
// is-dcr.yaml is honoured. Clients live in an oauth.ClientStore (secrets
// sealed at rest); a deleted client or a changed secret revokes the client's
// tokens.
package dcr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/keyway/keyway/internal/config"
	"github.com/keyway/keyway/internal/httpx"
	"github.com/keyway/keyway/internal/identity/access"
	"github.com/keyway/keyway/internal/oauth"
)

// Path is the registration endpoint.
const Path = "/api/identity/oauth2/dcr/v1.1/register"

// Revoker revokes every token of a client; *oauth.Server implements it.
type Revoker interface {
	RevokeClientTokens(ctx context.Context, clientID string, kind oauth.RevocationKind) error
}

// Options configure the Handler.
type Options struct {
	Clients oauth.ClientStore
	// Revoker may be nil when the store revokes by itself.
	Revoker Revoker
	Guard   *access.Guard
	// Defaults are reported for lifetimes a client leaves at 0.
	Defaults config.TokenExpiry
	Logger   *slog.Logger
}

// Handler serves DCR.
type Handler struct{ o Options }

// NewHandler returns the DCR handler.
func NewHandler(o Options) *Handler {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Handler{o: o}
}

// Mount registers the routes.
func (h *Handler) Mount(mux *http.ServeMux) {
	p := func(pattern string, fn http.HandlerFunc) {
		mux.Handle(pattern, h.o.Guard.Protect(access.OAuth, access.ByMethod(access.DCRScopes), fn))
	}
	p("POST "+Path, h.register)
	p("GET "+Path, h.getByName)
	p("GET "+Path+"/{client_id}", h.get)
	p("PUT "+Path+"/{client_id}", h.update)
	p("DELETE "+Path+"/{client_id}", h.delete)
}

// RFC 7591 §3.2.2 error codes.
const (
	errMetadata    = "invalid_client_metadata"
	errRedirectURI = "invalid_redirect_uri"
)

// metaError is a client mistake with its RFC 7591 code.
type metaError struct {
	code, msg string
}

func (e *metaError) Error() string { return e.msg }

func invalid(format string, a ...any) error {
	return &metaError{code: errMetadata, msg: fmt.Sprintf(format, a...)}
}

func badRedirect(format string, a ...any) error {
	return &metaError{code: errRedirectURI, msg: fmt.Sprintf(format, a...)}
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var me *metaError
	switch {
	case errors.As(err, &me):
		access.WriteError(w, r, access.OAuth, http.StatusBadRequest, me.code, me.msg)
	case errors.Is(err, oauth.ErrClientNotFound):
		access.WriteError(w, r, access.OAuth, http.StatusNotFound, "not_found", "no application with this client id or name")
	case errors.Is(err, oauth.ErrClientConflict):
		access.WriteError(w, r, access.OAuth, http.StatusConflict, errMetadata, "an application with this client_name or client_id already exists")
	default:
		h.o.Logger.Error("DCR request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		access.WriteError(w, r, access.OAuth, http.StatusInternalServerError, "server_error", "the server could not complete the request")
	}
}

func decode(r *http.Request) (*request, error) {
	var in request
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	if err := dec.Decode(&in); err != nil {
		return nil, invalid("the request body is not a valid registration request: %v", err)
	}
	return &in, nil
}

func (h *Handler) register(w http.ResponseWriter, r *http.Request) {
	in, err := decode(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	c := &oauth.Client{Extra: map[string]any{}}
	if err := apply(c, in, true); err != nil {
		h.fail(w, r, err)
		return
	}
	c.Owner = owner(r, in.ExtApplicationOwner)
	if err := h.o.Clients.CreateClient(r.Context(), c); err != nil {
		h.fail(w, r, err)
		return
	}
	h.o.Logger.Info("registered OAuth client", "client_id", c.ID, "client_name", c.Name, "owner", c.Owner)
	httpx.WriteJSON(w, http.StatusCreated, h.toApplication(c))
}

// owner is the application owner: an admin may register for someone else
// (ext_application_owner), anyone else registers for themselves.
func owner(r *http.Request, requested string) string {
	p := access.FromContext(r.Context())
	if p == nil {
		return requested
	}
	if requested != "" && p.Admin {
		return requested
	}
	return p.Username()
}

func (h *Handler) getByName(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("client_name")
	if name == "" {
		h.fail(w, r, invalid("the client_name query parameter is required"))
		return
	}
	c, err := h.o.Clients.GetClientByName(r.Context(), name)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, h.toApplication(c))
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	c, err := h.o.Clients.GetClient(r.Context(), r.PathValue("client_id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, h.toApplication(c))
}

func (h *Handler) update(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("client_id")
	in, err := decode(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if in.ClientID != "" && in.ClientID != id {
		h.fail(w, r, invalid("client_id in the body does not match the path"))
		return
	}
	ctx := r.Context()
	c, err := h.o.Clients.GetClient(ctx, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	oldSecret := c.Secret
	if c.Extra == nil {
		c.Extra = map[string]any{}
	}
	if err := apply(c, in, false); err != nil {
		h.fail(w, r, err)
		return
	}
	if in.ExtApplicationOwner != "" {
		c.Owner = owner(r, in.ExtApplicationOwner)
	}
	rotated := in.ClientSecret != "" && in.ClientSecret != oldSecret
	if in.ClientSecret != "" {
		if c.Public {
			h.fail(w, r, invalid("a public client has no secret"))
			return
		}
		c.Secret = in.ClientSecret
	} else {
		// An empty Secret keeps the stored one (ClientStore contract).
		c.Secret = ""
	}
	if err := h.o.Clients.UpdateClient(ctx, c); err != nil {
		h.fail(w, r, err)
		return
	}
	if rotated && h.o.Revoker != nil {
		// Tokens issued under the old secret must not outlive it.
		if err := h.o.Revoker.RevokeClientTokens(ctx, id, oauth.RevokedBySystem); err != nil {
			h.o.Logger.Error("revoke tokens after a secret change", "client_id", id, "error", err)
		}
	}
	got, err := h.o.Clients.GetClient(ctx, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, h.toApplication(got))
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("client_id")
	ctx := r.Context()
	if _, err := h.o.Clients.GetClient(ctx, id); err != nil {
		h.fail(w, r, err)
		return
	}
	// Revoke first, so no token of the client outlives it even when the
	// deletion below fails half-way.
	if h.o.Revoker != nil {
		if err := h.o.Revoker.RevokeClientTokens(ctx, id, oauth.RevokedBySystem); err != nil {
			h.fail(w, r, fmt.Errorf("revoke tokens of %s: %w", id, err))
			return
		}
	}
	if err := h.o.Clients.DeleteClient(ctx, id); err != nil {
		h.fail(w, r, err)
		return
	}
	h.o.Logger.Info("deleted OAuth client", "client_id", id)
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) toApplication(c *oauth.Client) application {
	d := h.o.Defaults
	life := func(v int64, def int) int64 {
		if v > 0 {
			return v
		}
		return int64(def)
	}
	a := application{
		ClientID:                    c.ID,
		ClientSecret:                c.Secret,
		RedirectURIs:                nonNil(c.RedirectURIs),
		GrantTypes:                  nonNil(c.GrantTypes),
		ClientName:                  c.Name,
		ExtApplicationDisplayName:   c.DisplayName,
		ExtApplicationOwner:         c.Owner,
		ExtApplicationTokenLifetime: life(c.ApplicationAccessTokenLifetime, d.ApplicationAccessToken),
		ExtUserTokenLifetime:        life(c.UserAccessTokenLifetime, d.UserAccessToken),
		ExtRefreshTokenLifetime:     life(c.RefreshTokenLifetime, d.RefreshToken),
		ExtIDTokenLifetime:          life(c.IDTokenLifetime, d.IDToken),
		ExtPKCEMandatory:            c.PKCEMandatory,
		ExtPKCESupportPlain:         c.PKCESupportPlain,
		ExtPublicClient:             c.Public,
		TokenTypeExtension:          tokenTypeOut(c.TokenType),
		ExtTokenType:                tokenTypeOut(c.TokenType),
		JWKSURI:                     c.JWKSURI,
		TokenEndpointAuthMethod:     c.AuthMethod,
		PostLogoutRedirectURIs:      c.PostLogoutRedirectURIs,
		ExtAllowedAudience:          extraString(c, "ext_allowed_audience"),
		ExtApplicationVersion:       extraString(c, "ext_application_version"),
		TokenEndpointAuthSigningAlg: extraString(c, "token_endpoint_auth_signing_alg"),
		SectorIdentifierURI:         extraString(c, "sector_identifier_uri"),
		IDTokenSignedResponseAlg:    extraString(c, "id_token_signed_response_alg"),
		IDTokenEncryptedAlg:         extraString(c, "id_token_encrypted_response_alg"),
		IDTokenEncryptedEnc:         extraString(c, "id_token_encrypted_response_enc"),
		RequestObjectSigningAlg:     extraString(c, "request_object_signing_alg"),
		TLSClientAuthSubjectDN:      extraString(c, "tls_client_auth_subject_dn"),
		SubjectType:                 extraString(c, "subject_type"),
		RequestObjectEncryptionAlg:  extraString(c, "request_object_encryption_alg"),
		RequestObjectEncryptionEnc:  extraString(c, "request_object_encryption_enc"),
		SoftwareStatement:           extraString(c, "software_statement"),
		BackchannelLogoutURI:        extraString(c, "backchannel_logout_uri"),
	}
	if b, ok := c.Extra["backchannel_logout_session_required"].(bool); ok {
		a.BackchannelLogoutSession = b
	}
	if a.ExtAllowedAudience == "" {
		a.ExtAllowedAudience = audienceOrganization
	}
	if !c.Public {
		exp := c.SecretExpiresAt
		a.ClientSecretExpiresAt = &exp
	}
	return a
}

func tokenTypeOut(t string) string {
	if strings.EqualFold(t, "JWT") {
		return "JWT"
	}
	return "Default"
}

func extraString(c *oauth.Client, k string) string {
	s, _ := c.Extra[k].(string)
	return s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
