// Package runtime defines what the control plane hands to the gateway: the
// deployed APIs, applications, key mappings, subscriptions, throttling
// policies, key managers and revocations, as one immutable Snapshot. The API
// Manager builds snapshots (in-process, or served at /internal/data/v1/ for a
// gateway on another node); the gateway only reads them.
//
// JSON names follow the gateway artifacts of WSO2's internal data API
// (wso2/internal-api.yaml) where one exists.
package runtime

import "context"

// Snapshot is everything a gateway needs to serve traffic. A Snapshot is
// never modified after it is built.
type Snapshot struct {
	// Revision increases with every change the control plane makes.
	Revision             int64                `json:"revision"`
	APIs                 []API                `json:"apis"`
	Applications         []Application        `json:"applications"`
	KeyMappings          []KeyMapping         `json:"applicationKeyMappings"`
	Subscriptions        []Subscription       `json:"subscriptions"`
	SubscriptionPolicies []ThrottlePolicy     `json:"subscriptionPolicies"`
	ApplicationPolicies  []ThrottlePolicy     `json:"applicationPolicies"`
	APIPolicies          []APIPolicy          `json:"apiPolicies"`
	KeyManagers          []KeyManager         `json:"keyManagers"`
	RevokedTokens        []RevokedToken       `json:"revokedJWTList"`
	RevokedConsumerKeys  []RevokedConsumerKey `json:"revokedJWTConsumerKeyList"`
	// BackendJWT configures the X-JWT-Assertion header sent to backends.
	BackendJWT BackendJWT `json:"backendJwt"`
	// APIKeyIssuers are the issuers whose API keys (apikey header) the
	// gateway accepts, with the certificates that verify them, so a gateway
	// on another node needs no configuration to check API keys.
	APIKeyIssuers []APIKeyIssuer `json:"apiKeyIssuers,omitempty"`
}

// Source gives the gateway the current snapshot: the control plane in
// process, or an HTTP client of /internal/data/v1 on a gateway-only node.
type Source interface {
	Snapshot(ctx context.Context) (*Snapshot, error)
}

// API is one deployed API revision on one gateway environment and vhost.
type API struct {
	UUID       string `json:"apiId"`
	RevisionID string `json:"revisionId"`
	Name       string `json:"name"`
	Version    string `json:"version"`
	Provider   string `json:"provider"`
	// Context is the base path without the version, e.g. "/pizzashack"; the
	// gateway serves /<context>/<version>/... and, for the default version,
	// /<context>/... (WSO2 stores "{version}" in the context when the version
	// sits elsewhere; Keyway accepts the same placeholder).
	Context          string `json:"context"`
	IsDefaultVersion bool   `json:"isDefaultVersion"`
	// Type is HTTP (REST); others are not served yet.
	Type string `json:"apiType"`
	// LifecycleState is PUBLISHED, PROTOTYPED, BLOCKED, DEPRECATED, ...
	LifecycleState string `json:"status"`
	// Environment and VHost say where the revision is deployed.
	Environment string `json:"environment"`
	VHost       string `json:"vhost"`
	// Policy is the API-level advanced throttling policy ("" for none).
	Policy string `json:"apiPolicy"`
	// SecuritySchemes are "oauth2", "api_key", "basic_auth",
	// "oauth_basic_auth_api_key_mandatory", as in the publisher API.
	SecuritySchemes []string `json:"securityScheme"`
	// KeyManagers lists the key manager names allowed for this API; "all" or
	// empty means every enabled key manager.
	KeyManagers []string       `json:"keyManagers"`
	Resources   []Resource     `json:"urlMappings"`
	Endpoints   EndpointConfig `json:"endpointConfig"`
	CORS        *CORS          `json:"corsConfiguration,omitempty"`
	// Organization is the tenant; always "carbon.super" in Keyway for now.
	Organization string `json:"organization"`
}

// Resource is one operation of an API.
type Resource struct {
	Verb        string `json:"httpMethod"`
	URITemplate string `json:"urlPattern"`
	// AuthType is "Any" (secured) or "None" (open), as WSO2 stores it.
	AuthType string   `json:"authScheme"`
	Scopes   []string `json:"scopes"`
	// Policy is the resource-level advanced throttling policy.
	Policy string `json:"throttlingPolicy"`
}

// EndpointConfig is where the gateway sends a request.
type EndpointConfig struct {
	// Type is "http" (single), "load_balance" or "failover".
	Type       string     `json:"endpoint_type"`
	Production []Endpoint `json:"production_endpoints"`
	Sandbox    []Endpoint `json:"sandbox_endpoints"`
}

// Endpoint is one backend URL.
type Endpoint struct {
	URL string `json:"url"`
	// TimeoutMillis bounds a call (actionDuration in WSO2); 0 means 60 s.
	TimeoutMillis int `json:"timeoutMillis"`
}

// CORS is an API's CORS configuration.
type CORS struct {
	Enabled          bool     `json:"corsConfigurationEnabled"`
	AllowOrigins     []string `json:"accessControlAllowOrigins"`
	AllowCredentials bool     `json:"accessControlAllowCredentials"`
	AllowHeaders     []string `json:"accessControlAllowHeaders"`
	AllowMethods     []string `json:"accessControlAllowMethods"`
}

// Application is a consumer application.
type Application struct {
	ID        int    `json:"id"`
	UUID      string `json:"uuid"`
	Name      string `json:"name"`
	Owner     string `json:"subName"`
	Policy    string `json:"policy"`
	TokenType string `json:"tokenType"`
	// Attributes are the application's custom attributes.
	Attributes map[string]string `json:"attributes"`
	// Groups sharing the application (groupIds).
	Organization string `json:"organization"`
}

// KeyMapping binds an OAuth client of a key manager to an application.
type KeyMapping struct {
	ApplicationUUID string `json:"applicationUUID"`
	ApplicationID   int    `json:"applicationId"`
	ConsumerKey     string `json:"consumerKey"`
	// KeyType is PRODUCTION or SANDBOX.
	KeyType string `json:"keyType"`
	// KeyManager is the key manager's name (e.g. "Resident Key Manager", "WSO2IS7").
	KeyManager string `json:"keyManager"`
}

// Subscription is an application's subscription to an API.
type Subscription struct {
	UUID            string `json:"subscriptionUUId"`
	APIUUID         string `json:"apiUUID"`
	ApplicationUUID string `json:"appUUID"`
	Policy          string `json:"policyId"`
	// Status is UNBLOCKED, BLOCKED, PROD_ONLY_BLOCKED, ON_HOLD or REJECTED.
	Status string `json:"subscriptionState"`
}

// Limit is a quota: Count requests (or DataAmount bytes) per UnitTime TimeUnit.
type Limit struct {
	// Type is REQUESTCOUNTLIMIT or BANDWIDTHLIMIT.
	Type         string `json:"type"`
	RequestCount int64  `json:"requestCount,omitempty"`
	DataAmount   int64  `json:"dataAmount,omitempty"`
	DataUnit     string `json:"dataUnit,omitempty"`
	UnitTime     int64  `json:"unitTime"`
	// TimeUnit is "sec", "min", "hour" or "day" (WSO2 also writes "s", "m"...).
	TimeUnit string `json:"timeUnit"`
}

// ThrottlePolicy is a subscription or application tier.
type ThrottlePolicy struct {
	Name  string `json:"name"`
	Limit Limit  `json:"defaultLimit"`
	// StopOnQuotaReach false means the tier only records, never blocks.
	StopOnQuotaReach bool `json:"stopOnQuotaReach"`
	// RateLimitCount/RateLimitTimeUnit is the burst control of subscription tiers.
	RateLimitCount    int64  `json:"rateLimitCount,omitempty"`
	RateLimitTimeUnit string `json:"rateLimitTimeUnit,omitempty"`
}

// APIPolicy is an advanced (API or resource level) policy.
type APIPolicy struct {
	Name  string `json:"name"`
	Limit Limit  `json:"defaultLimit"`
	// ApplyLevel is "apiLevel" or "resourceLevel".
	ApplyLevel string `json:"applyLevel"`
}

// KeyManager is a token issuer the gateway trusts.
type KeyManager struct {
	UUID    string `json:"uuid"`
	Name    string `json:"name"`
	Type    string `json:"type"`
	Enabled bool   `json:"enabled"`
	// Issuer must equal a JWT's iss exactly.
	Issuer  string `json:"issuer"`
	JWKSURL string `json:"jwksEndpoint"`
	// CertificatePEM is used instead of JWKS when the certificate type is PEM.
	CertificatePEM        string `json:"certificate,omitempty"`
	IntrospectionEndpoint string `json:"introspectionEndpoint"`
	// IntrospectionUsername/Password authenticate introspection calls.
	IntrospectionUsername string `json:"introspectionUsername,omitempty"`
	IntrospectionPassword string `json:"introspectionPassword,omitempty"`
	// ConsumerKeyClaim names the claim that holds the client id (default azp).
	ConsumerKeyClaim string `json:"consumerKeyClaim"`
	// ScopesClaim names the claim with the scopes (default scope).
	ScopesClaim string `json:"scopesClaim"`
	// ValidateJWT and ValidateOpaque say which token formats the gateway accepts.
	ValidateJWT    bool `json:"validateJWT"`
	ValidateOpaque bool `json:"validateOpaque"`
}

// RevokedToken is a revoked JWT (keyed by jti, or signature when there is
// none) or opaque token, remembered until it would have expired anyway.
type RevokedToken struct {
	Token string `json:"jwt_signature"`
	// ExpiryMillis is when the token expires (epoch ms).
	ExpiryMillis int64 `json:"expiry_time"`
	// TokenType is JWT or Default (opaque).
	TokenType string `json:"type,omitempty"`
}

// RevokedConsumerKey revokes every token of a client issued before a time.
type RevokedConsumerKey struct {
	ConsumerKey    string `json:"consumer_key"`
	RevocationTime int64  `json:"revocation_time"`
	Type           string `json:"type"`
	Organization   string `json:"organization"`
}

// APIKeyIssuer is a signer of API keys: the developer portal of a control
// plane. Issuer must equal a key's iss claim exactly.
type APIKeyIssuer struct {
	Issuer string `json:"issuer"`
	// CertificatePEM holds the X.509 certificate of the signing key.
	CertificatePEM string `json:"certificate"`
}

// BackendJWT configures the JWT the gateway sends to backends.
type BackendJWT struct {
	Enabled bool   `json:"enabled"`
	Header  string `json:"header"`
}
