package devportal

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/keyway/keyway/internal/apim/restapi"
	"github.com/keyway/keyway/internal/apim/subscription"
	"github.com/keyway/keyway/internal/gateway/apikey"
)

// APIKeyRevoker records a revoked API key (its jti, remembered until
// expiryMillis, 0 for a key that never expires) as a revoked token of type
// API_KEY, so every gateway rejects it.
type APIKeyRevoker func(ctx context.Context, jti string, expiryMillis int64) error

// APIKeys is how the portal issues and revokes API keys: self-contained
// JWTs signed by the control plane (see package apikey).
type APIKeys struct {
	Issuer apikey.Issuer
	Revoke APIKeyRevoker
}

// RevokedAPIKeyType is the token type API key revocations are recorded
// with, as WSO2 records them.
const RevokedAPIKeyType = "API_KEY"

// apiKeyScopes are the scopes devportal-api.yaml declares for both operations.
var apiKeyScopes = []string{"apim:subscribe", "apim:app_manage", "apim:api_key"}

// apiKeyDTO is the APIKey schema. keyName is Keyway's addition (the
// optional name a client gave the key); WSO2 4.5 answers apikey and
// validityTime.
type apiKeyDTO struct {
	KeyName      string `json:"keyName,omitempty"`
	APIKey       string `json:"apikey"`
	ValidityTime int64  `json:"validityTime"`
}

// apiKeyGenerateRequest is APIKeyGenerateRequest. validityPeriod is in
// seconds; absent, zero or negative means the key never expires (WSO2's -1).
type apiKeyGenerateRequest struct {
	KeyName              string         `json:"keyName"`
	ValidityPeriod       *int64         `json:"validityPeriod"`
	AdditionalProperties map[string]any `json:"additionalProperties"`
}

type apiKeyRevokeRequest struct {
	APIKey string `json:"apikey"`
}

// apiKeyType reads the {keyType} path parameter.
func apiKeyType(r *http.Request) (string, error) {
	switch kt := r.PathValue("keyType"); kt {
	case subscription.Production, subscription.Sandbox:
		return kt, nil
	default:
		return "", restapi.ErrBadRequest("Invalid keyType. KeyType should be either PRODUCTION or SANDBOX")
	}
}

// decodeOptional decodes a JSON body the contract marks as optional: an
// empty body leaves v as it is.
func decodeOptional(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return restapi.ErrBadRequest("Invalid request body: " + err.Error())
	}
	return nil
}

// apiKeyApplication checks the feature, the key type and ownership shared
// by both operations.
func (h *Handler) apiKeyApplication(r *http.Request) (*subscription.Application, string, error) {
	if h.APIKeys == nil || h.APIKeys.Revoke == nil || h.APIKeys.Issuer.Key == nil {
		return nil, "", restapi.NewProblem(http.StatusNotImplemented, "API keys are not enabled on this node")
	}
	keyType, err := apiKeyType(r)
	if err != nil {
		return nil, "", err
	}
	app, err := h.ownApplication(r)
	if err != nil {
		return nil, "", err
	}
	return app, keyType, nil
}

func (h *Handler) generateAPIKey(w http.ResponseWriter, r *http.Request) {
	app, keyType, err := h.apiKeyApplication(r)
	if err != nil {
		h.respond(w, err)
		return
	}
	var req apiKeyGenerateRequest
	if err := decodeOptional(w, r, &req); err != nil {
		h.respond(w, err)
		return
	}
	validity := int64(-1)
	if req.ValidityPeriod != nil && *req.ValidityPeriod > 0 {
		validity = *req.ValidityPeriod
	}
	if validity > math.MaxInt32 {
		restapi.BadRequest(w, fmt.Sprintf("validityPeriod must not exceed %d seconds", math.MaxInt32))
		return
	}
	// WSO2 binds a key to client IPs or referers through these properties;
	// Keyway's gateway does not enforce them, so a key is refused rather
	// than issued with a restriction that would silently not apply.
	for _, p := range []string{"permittedIP", "permittedReferer"} {
		if v, ok := req.AdditionalProperties[p]; ok && v != nil && v != "" {
			restapi.BadRequest(w, p+" restrictions on API keys are not supported")
			return
		}
	}
	ctx := r.Context()
	subs, _, err := h.Store.ListSubscriptions(ctx, subscription.SubscriptionQuery{ApplicationUUID: app.UUID})
	if err != nil {
		h.respond(w, fmt.Errorf("api key: subscriptions of %s: %w", app.UUID, err))
		return
	}
	// As WSO2, the key names the APIs subscribed at issue time; the gateway
	// still checks the live subscription (blocking applies at once).
	permitted := make([]string, 0, len(subs))
	for _, s := range subs {
		permitted = append(permitted, s.APIUUID)
	}
	var ttl time.Duration
	if validity > 0 {
		ttl = time.Duration(validity) * time.Second
	}
	subject := app.Owner
	if !strings.Contains(subject, "@") {
		subject += "@carbon.super"
	}
	token, jti, err := h.APIKeys.Issuer.Issue(apikey.Application{UUID: app.UUID, Name: app.Name, Owner: app.Owner, Tier: app.ThrottlingPolicy},
		subject, keyType, permitted, ttl)
	if err != nil {
		h.respond(w, fmt.Errorf("api key: issue for %s: %w", app.UUID, err))
		return
	}
	h.Logger.Info("api key issued", "application", app.UUID, "key_type", keyType, "jti", jti, "validity_s", validity,
		"permitted_apis", len(permitted))
	restapi.WriteJSON(w, http.StatusOK, apiKeyDTO{KeyName: req.KeyName, APIKey: token, ValidityTime: validity})
}

func (h *Handler) revokeAPIKey(w http.ResponseWriter, r *http.Request) {
	app, keyType, err := h.apiKeyApplication(r)
	if err != nil {
		h.respond(w, err)
		return
	}
	var req apiKeyRevokeRequest
	if err := decodeOptional(w, r, &req); err != nil {
		h.respond(w, err)
		return
	}
	if strings.TrimSpace(req.APIKey) == "" {
		restapi.BadRequest(w, "apikey is required")
		return
	}
	pub, ok := h.APIKeys.Issuer.Key.Public().(*rsa.PublicKey)
	if !ok {
		h.respond(w, errors.New("api key: the signing key is not RSA"))
		return
	}
	// Only a key this portal signed, for this application and key type, may
	// be revoked here; an expired key is accepted (there is nothing left to
	// revoke, and the caller's intent is met).
	k, err := apikey.Verifier{Key: pub, Issuer: h.APIKeys.Issuer.Name}.Inspect(strings.TrimSpace(req.APIKey))
	if err != nil {
		restapi.BadRequest(w, "Invalid API key")
		return
	}
	if k.ApplicationUUID != app.UUID || k.KeyType != keyType {
		restapi.BadRequest(w, "The API key was not issued to this application for key type "+keyType)
		return
	}
	var expiry int64
	if !k.Expiry.IsZero() {
		if time.Now().After(k.Expiry) {
			w.WriteHeader(http.StatusOK)
			return
		}
		expiry = k.Expiry.UnixMilli()
	}
	if err := h.APIKeys.Revoke(r.Context(), k.ID, expiry); err != nil {
		h.respond(w, fmt.Errorf("api key: revoke %s: %w", k.ID, err))
		return
	}
	h.Logger.Info("api key revoked", "application", app.UUID, "key_type", keyType, "jti", k.ID)
	w.WriteHeader(http.StatusOK)
}
