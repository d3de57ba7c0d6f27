package devportal

import (
	"errors"
	"net/http"
	"strings"

	"github.com/keyway/keyway/internal/apim/keymanager"
	"github.com/keyway/keyway/internal/apim/restapi"
	"github.com/keyway/keyway/internal/apim/subscription"
)

type applicationToken struct {
	AccessToken  string   `json:"accessToken"`
	TokenScopes  []string `json:"tokenScopes"`
	ValidityTime int64    `json:"validityTime"`
}

type applicationKey struct {
	KeyMappingID         string            `json:"keyMappingId"`
	KeyManager           string            `json:"keyManager"`
	ConsumerKey          string            `json:"consumerKey"`
	ConsumerSecret       string            `json:"consumerSecret,omitempty"`
	SupportedGrantTypes  []string          `json:"supportedGrantTypes"`
	CallbackURL          string            `json:"callbackUrl,omitempty"`
	KeyState             string            `json:"keyState"`
	KeyType              string            `json:"keyType"`
	Mode                 string            `json:"mode"`
	GroupID              string            `json:"groupId,omitempty"`
	Token                *applicationToken `json:"token,omitempty"`
	AdditionalProperties map[string]any    `json:"additionalProperties"`
}

func toToken(t *keymanager.Token) *applicationToken {
	if t == nil {
		return nil
	}
	return &applicationToken{AccessToken: t.AccessToken, TokenScopes: nonNil(t.Scopes), ValidityTime: t.ExpiresIn}
}

// keyDTO renders a key mapping; c (the key manager's client) adds the
// secret and current settings when known.
func (h *Handler) keyDTO(_ *http.Request, k *subscription.KeyMapping, c *keymanager.Client, t *keymanager.Token) applicationKey {
	d := applicationKey{KeyMappingID: k.UUID, KeyManager: k.KeyManager, ConsumerKey: k.ConsumerKey, SupportedGrantTypes: nonNil(k.GrantTypes),
		CallbackURL: k.CallbackURL, KeyState: k.State, KeyType: k.KeyType, Mode: k.Mode, Token: toToken(t),
		AdditionalProperties: k.AdditionalProperties}
	if c != nil {
		d.ConsumerSecret = c.ClientSecret
		if c.GrantTypes != nil {
			d.SupportedGrantTypes = c.GrantTypes
		}
		if c.CallbackURL != "" {
			d.CallbackURL = c.CallbackURL
		}
	}
	if d.AdditionalProperties == nil {
		d.AdditionalProperties = map[string]any{}
	}
	return d
}

// generateRequest is ApplicationKeyGenerateRequest; validityTime is a
// string in the contract but apictl sends a number, so any is accepted.
type generateRequest struct {
	KeyType                 string         `json:"keyType"`
	KeyManager              string         `json:"keyManager"`
	GrantTypesToBeSupported []string       `json:"grantTypesToBeSupported"`
	CallbackURL             string         `json:"callbackUrl"`
	Scopes                  []string       `json:"scopes"`
	ValidityTime            any            `json:"validityTime"`
	ClientID                string         `json:"clientId"`
	ClientSecret            string         `json:"clientSecret"`
	AdditionalProperties    map[string]any `json:"additionalProperties"`
}

func (h *Handler) generateKeys(w http.ResponseWriter, r *http.Request) {
	app, err := h.ownApplication(r)
	if err != nil {
		h.respond(w, err)
		return
	}
	var req generateRequest
	if !restapi.DecodeJSON(w, r, &req, 1<<20) {
		return
	}
	if req.KeyType != subscription.Production && req.KeyType != subscription.Sandbox {
		restapi.BadRequest(w, "keyType must be PRODUCTION or SANDBOX")
		return
	}
	if req.GrantTypesToBeSupported == nil {
		restapi.BadRequest(w, "grantTypesToBeSupported is required")
		return
	}
	keys, err := h.Keys.GenerateKeys(r.Context(), app, subscription.GenerateRequest{KeyType: req.KeyType, KeyManager: h.keyManagerName(r, req.KeyManager),
		GrantTypes: req.GrantTypesToBeSupported, CallbackURL: req.CallbackURL, Scopes: req.Scopes, Properties: req.AdditionalProperties,
		ClientID: req.ClientID, ClientSecret: req.ClientSecret})
	if err != nil {
		h.keyError(w, err)
		return
	}
	restapi.WriteJSON(w, http.StatusOK, h.keyDTO(r, keys.Mapping, keys.Client, keys.Token))
}

// keyError answers key manager lookups that fail as a bad request naming
// the key manager, and everything else as usual.
func (h *Handler) keyError(w http.ResponseWriter, err error) {
	if errors.Is(err, keymanager.ErrNotFound) {
		restapi.BadRequest(w, "Key manager not found or not enabled")
		return
	}
	h.respond(w, err)
}

type mapRequest struct {
	ConsumerKey    string `json:"consumerKey"`
	ConsumerSecret string `json:"consumerSecret"`
	KeyManager     string `json:"keyManager"`
	KeyType        string `json:"keyType"`
}

func (h *Handler) mapKeys(w http.ResponseWriter, r *http.Request) {
	app, err := h.ownApplication(r)
	if err != nil {
		h.respond(w, err)
		return
	}
	var req mapRequest
	if !restapi.DecodeJSON(w, r, &req, 1<<20) {
		return
	}
	keys, err := h.Keys.MapKeys(r.Context(), app, req.KeyType, h.keyManagerName(r, req.KeyManager), req.ConsumerKey, req.ConsumerSecret)
	if err != nil {
		h.keyError(w, err)
		return
	}
	restapi.WriteJSON(w, http.StatusOK, h.keyDTO(r, keys.Mapping, keys.Client, nil))
}

// ownKeyMappings lists the key mappings of the caller's application.
func (h *Handler) ownKeyMappings(r *http.Request) ([]*subscription.KeyMapping, error) {
	app, err := h.ownApplication(r)
	if err != nil {
		return nil, err
	}
	return h.Store.KeyMappingsOf(r.Context(), app.UUID)
}

// withClient renders a key mapping with its OAuth client; a client the key
// manager no longer knows is shown without its client details.
func (h *Handler) withClient(r *http.Request, k *subscription.KeyMapping) (applicationKey, error) {
	c, err := h.Keys.Client(r.Context(), k)
	if err != nil && !errors.Is(err, keymanager.ErrClientNotFound) {
		return applicationKey{}, err
	}
	return h.keyDTO(r, k, c, nil), nil
}

func (h *Handler) listKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := h.ownKeyMappings(r)
	if err != nil {
		h.respond(w, err)
		return
	}
	if kt := r.PathValue("keyType"); kt != "" {
		keys = filterKeys(keys, kt)
	}
	out := []applicationKey{}
	for _, k := range keys {
		d, err := h.withClient(r, k)
		if err != nil {
			h.respond(w, err)
			return
		}
		out = append(out, d)
	}
	restapi.WriteJSON(w, http.StatusOK, map[string]any{"count": len(out), "list": out})
}

func filterKeys(keys []*subscription.KeyMapping, keyType string) []*subscription.KeyMapping {
	out := []*subscription.KeyMapping{}
	for _, k := range keys {
		if strings.EqualFold(k.KeyType, keyType) {
			out = append(out, k)
		}
	}
	return out
}

// getKeysByType serves the deprecated /keys/{keyType}: the resident key
// manager's keys of that type.
func (h *Handler) getKeysByType(w http.ResponseWriter, r *http.Request) {
	keys, err := h.ownKeyMappings(r)
	if err != nil {
		h.respond(w, err)
		return
	}
	for _, k := range filterKeys(keys, r.PathValue("keyType")) {
		if k.KeyManager != keymanager.ResidentName {
			continue
		}
		d, err := h.withClient(r, k)
		if err != nil {
			h.respond(w, err)
			return
		}
		restapi.WriteJSON(w, http.StatusOK, d)
		return
	}
	restapi.NotFound(w, "no "+r.PathValue("keyType")+" keys of the resident key manager")
}

// ownKeys loads a key mapping of the caller's application.
func (h *Handler) ownKeys(r *http.Request) (*subscription.Application, *subscription.KeyMapping, error) {
	app, err := h.ownApplication(r)
	if err != nil {
		return nil, nil, err
	}
	id := r.PathValue("keyMappingId")
	k, err := h.Store.GetKeyMapping(r.Context(), id)
	if err != nil || k.ApplicationUUID != app.UUID {
		return nil, nil, restapi.ErrNotFound("Key mapping '" + id + "' not found for the application")
	}
	return app, k, nil
}

func (h *Handler) getKeys(w http.ResponseWriter, r *http.Request) {
	_, k, err := h.ownKeys(r)
	if err != nil {
		h.respond(w, err)
		return
	}
	d, err := h.withClient(r, k)
	if err != nil {
		h.respond(w, err)
		return
	}
	restapi.WriteJSON(w, http.StatusOK, d)
}

type updateKeysRequest struct {
	SupportedGrantTypes  []string       `json:"supportedGrantTypes"`
	CallbackURL          string         `json:"callbackUrl"`
	AdditionalProperties map[string]any `json:"additionalProperties"`
}

func (h *Handler) updateKeys(w http.ResponseWriter, r *http.Request) {
	app, k, err := h.ownKeys(r)
	if err != nil {
		h.respond(w, err)
		return
	}
	var req updateKeysRequest
	if !restapi.DecodeJSON(w, r, &req, 1<<20) {
		return
	}
	if req.SupportedGrantTypes == nil {
		req.SupportedGrantTypes = k.GrantTypes
	}
	keys, err := h.Keys.UpdateKeys(r.Context(), app, k, req.SupportedGrantTypes, req.CallbackURL, req.AdditionalProperties)
	if err != nil {
		h.keyError(w, err)
		return
	}
	restapi.WriteJSON(w, http.StatusOK, h.keyDTO(r, keys.Mapping, keys.Client, nil))
}

func (h *Handler) deleteKeys(w http.ResponseWriter, r *http.Request) {
	_, k, err := h.ownKeys(r)
	if err != nil {
		h.respond(w, err)
		return
	}
	if err := h.Keys.DeleteKeys(r.Context(), k); err != nil {
		h.keyError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (h *Handler) regenerateSecret(w http.ResponseWriter, r *http.Request) {
	_, k, err := h.ownKeys(r)
	if err != nil {
		h.respond(w, err)
		return
	}
	s, err := h.Keys.RegenerateSecret(r.Context(), k)
	if err != nil {
		h.keyError(w, err)
		return
	}
	restapi.WriteJSON(w, http.StatusOK, map[string]string{"consumerKey": k.ConsumerKey, "consumerSecret": s})
}

type tokenRequest struct {
	ConsumerSecret string   `json:"consumerSecret"`
	ValidityPeriod int64    `json:"validityPeriod"`
	Scopes         []string `json:"scopes"`
	RevokeToken    string   `json:"revokeToken"`
	GrantType      string   `json:"grantType"`
}

func (h *Handler) generateToken(w http.ResponseWriter, r *http.Request) {
	_, k, err := h.ownKeys(r)
	if err != nil {
		h.respond(w, err)
		return
	}
	var req tokenRequest
	if !restapi.DecodeJSON(w, r, &req, 1<<20) {
		return
	}
	if req.GrantType != "" && req.GrantType != "CLIENT_CREDENTIALS" {
		restapi.BadRequest(w, "only the CLIENT_CREDENTIALS grant is supported")
		return
	}
	t, err := h.Keys.Token(r.Context(), k, req.ConsumerSecret, req.Scopes)
	if err != nil {
		h.keyError(w, err)
		return
	}
	restapi.WriteJSON(w, http.StatusOK, toToken(t))
}

// keyManagerName accepts a key manager's name or id (the portal UI sends
// either, depending on the version) and returns the name.
func (h *Handler) keyManagerName(r *http.Request, v string) string {
	if v == "" {
		return v
	}
	all, err := h.KeyManagers.List(r.Context())
	if err != nil {
		return v
	}
	for _, c := range all {
		if c.ID == v {
			return c.Name
		}
	}
	return v
}
