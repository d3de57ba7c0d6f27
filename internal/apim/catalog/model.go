package catalog

import "encoding/json"

// Lifecycle states as the API DTO's lifeCycleStatus carries them.
const (
	StatusCreated    = "CREATED"
	StatusPrototyped = "PROTOTYPED"
	StatusPublished  = "PUBLISHED"
	StatusBlocked    = "BLOCKED"
	StatusDeprecated = "DEPRECATED"
	StatusRetired    = "RETIRED"
)

// API is an API's working copy (or, with IsRevision, a frozen revision). Its
// JSON form is WSO2's publisher v4 API DTO, which is also the `data` of an
// apictl project's api.yaml, so the same type serves the REST API, storage and
// import/export.
type API struct {
	ID                       string               `json:"id,omitempty"`
	Name                     string               `json:"name"`
	Description              string               `json:"description,omitempty"`
	Context                  string               `json:"context"`
	Version                  string               `json:"version"`
	Provider                 string               `json:"provider,omitempty"`
	LifeCycleStatus          string               `json:"lifeCycleStatus,omitempty"`
	ResponseCachingEnabled   bool                 `json:"responseCachingEnabled"`
	CacheTimeout             int                  `json:"cacheTimeout"`
	HasThumbnail             bool                 `json:"hasThumbnail"`
	IsDefaultVersion         bool                 `json:"isDefaultVersion"`
	IsRevision               bool                 `json:"isRevision"`
	RevisionedAPIID          string               `json:"revisionedApiId,omitempty"`
	RevisionID               int                  `json:"revisionId"`
	EnableSchemaValidation   bool                 `json:"enableSchemaValidation"`
	Type                     string               `json:"type,omitempty"`
	Audiences                []string             `json:"audiences,omitempty"`
	Transport                []string             `json:"transport"`
	Tags                     []string             `json:"tags"`
	Policies                 []string             `json:"policies"`
	APIThrottlingPolicy      string               `json:"apiThrottlingPolicy,omitempty"`
	AuthorizationHeader      string               `json:"authorizationHeader,omitempty"`
	APIKeyHeader             string               `json:"apiKeyHeader,omitempty"`
	SecurityScheme           []string             `json:"securityScheme"`
	Visibility               string               `json:"visibility,omitempty"`
	VisibleRoles             []string             `json:"visibleRoles"`
	VisibleTenants           []string             `json:"visibleTenants"`
	SubscriptionAvailability string               `json:"subscriptionAvailability,omitempty"`
	SubscriptionTenants      []string             `json:"subscriptionAvailableTenants"`
	AdditionalProperties     []AdditionalProperty `json:"additionalProperties"`
	AccessControl            string               `json:"accessControl,omitempty"`
	AccessControlRoles       []string             `json:"accessControlRoles"`
	BusinessInformation      *BusinessInformation `json:"businessInformation,omitempty"`
	CorsConfiguration        *CORS                `json:"corsConfiguration,omitempty"`
	WorkflowStatus           string               `json:"workflowStatus,omitempty"`
	CreatedTime              string               `json:"createdTime,omitempty"`
	LastUpdatedTime          string               `json:"lastUpdatedTime,omitempty"`
	LastUpdatedTimestamp     string               `json:"lastUpdatedTimestamp,omitempty"`
	// EndpointConfig is kept verbatim (its shape depends on endpoint_type);
	// Endpoints() interprets it.
	EndpointConfig             map[string]any `json:"endpointConfig,omitempty"`
	EndpointImplementationType string         `json:"endpointImplementationType,omitempty"`
	Scopes                     []APIScope     `json:"scopes"`
	Operations                 []Operation    `json:"operations"`
	Categories                 []string       `json:"categories"`
	// KeyManagers lists the key managers whose tokens the API accepts;
	// ["all"] by default. WSO2 declares it an object but sends a list.
	KeyManagers   []string `json:"keyManagers,omitempty"`
	GatewayVendor string   `json:"gatewayVendor,omitempty"`
	GatewayType   string   `json:"gatewayType,omitempty"`
	// MediationPolicies, APIPolicies and similar gateway extensions are
	// kept verbatim so that an import/export round trip loses nothing.
	MediationPolicies json.RawMessage `json:"mediationPolicies,omitempty"`
	APIPolicies       json.RawMessage `json:"apiPolicies,omitempty"`
}

// AdditionalProperty is a custom property of an API.
type AdditionalProperty struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	Display bool   `json:"display"`
}

// BusinessInformation names the API's owners.
type BusinessInformation struct {
	BusinessOwner       string `json:"businessOwner,omitempty"`
	BusinessOwnerEmail  string `json:"businessOwnerEmail,omitempty"`
	TechnicalOwner      string `json:"technicalOwner,omitempty"`
	TechnicalOwnerEmail string `json:"technicalOwnerEmail,omitempty"`
}

// CORS is an API's CORS configuration.
type CORS struct {
	Enabled          bool     `json:"corsConfigurationEnabled"`
	AllowOrigins     []string `json:"accessControlAllowOrigins"`
	AllowCredentials bool     `json:"accessControlAllowCredentials"`
	AllowHeaders     []string `json:"accessControlAllowHeaders"`
	AllowMethods     []string `json:"accessControlAllowMethods"`
}

// Operation is one resource (verb + URI template) of an API.
type Operation struct {
	ID     string `json:"id,omitempty"`
	Target string `json:"target"`
	Verb   string `json:"verb"`
	// AuthType is "Application & Application User" (secured, WSO2's
	// default, also written "Any") or "None".
	AuthType         string          `json:"authType,omitempty"`
	ThrottlingPolicy string          `json:"throttlingPolicy,omitempty"`
	Scopes           []string        `json:"scopes"`
	UsedProductIDs   []string        `json:"usedProductIds"`
	PayloadSchema    string          `json:"payloadSchema,omitempty"`
	URIMapping       string          `json:"uriMapping,omitempty"`
	OperationPolices json.RawMessage `json:"operationPolicies,omitempty"`
}

// APIScope is a scope of an API; Shared scopes live in the shared scope list.
type APIScope struct {
	Scope  Scope `json:"scope"`
	Shared bool  `json:"shared"`
}

// Scope is an OAuth scope with the roles allowed to obtain it.
type Scope struct {
	ID          string   `json:"id,omitempty"`
	Name        string   `json:"name"`
	DisplayName string   `json:"displayName,omitempty"`
	Description string   `json:"description,omitempty"`
	Bindings    []string `json:"bindings"`
	UsageCount  int      `json:"usageCount,omitempty"`
}

// Revision is a frozen copy of an API.
type Revision struct {
	ID          string       `json:"id"`
	DisplayName string       `json:"displayName"`
	Description string       `json:"description"`
	CreatedTime string       `json:"createdTime"`
	APIInfo     RevisionAPI  `json:"apiInfo"`
	Deployments []Deployment `json:"deploymentInfo"`
	// Number is N of "Revision N".
	Number int `json:"-"`
}

// RevisionAPI is APIRevisionAPIInfo.
type RevisionAPI struct {
	ID string `json:"id"`
}

// Deployment is a revision deployed on a gateway environment and vhost
// (APIRevisionDeployment).
type Deployment struct {
	RevisionUUID        string `json:"revisionUuid,omitempty"`
	Name                string `json:"name"`
	Status              string `json:"status,omitempty"`
	VHost               string `json:"vhost,omitempty"`
	DisplayOnDevportal  bool   `json:"displayOnDevportal"`
	DeployedTime        string `json:"deployedTime,omitempty"`
	SuccessDeployedTime string `json:"successDeployedTime,omitempty"`
}

// DeploymentRequest is one entry of a deploy/undeploy body. DisplayOnDevportal
// is a pointer because WSO2 defaults it to true.
type DeploymentRequest struct {
	RevisionUUID       string `json:"revisionUuid,omitempty"`
	Name               string `json:"name"`
	VHost              string `json:"vhost,omitempty"`
	DisplayOnDevportal *bool  `json:"displayOnDevportal,omitempty"`
}

// LifecycleHistoryItem is one lifecycle change.
type LifecycleHistoryItem struct {
	PreviousState string `json:"previousState"`
	PostState     string `json:"postState"`
	User          string `json:"user"`
	UpdatedTime   string `json:"updatedTime"`
}

// Query selects APIs in ListAPIs.
type Query struct {
	// Text is a publisher search query: free text (matched against name,
	// context, description, tags and provider) or attribute:value terms
	// (name, version, context, provider, status, tag, description, type,
	// id). Quoted values match exactly; others match as substrings.
	Text string
	// Statuses restricts the lifecycle states (upper case); empty means all.
	Statuses []string
	Offset   int
	// Limit 0 means no limit.
	Limit int
	// SortBy is name, version, createdTime, context, provider or status
	// (default createdTime); SortDesc reverses it.
	SortBy   string
	SortDesc bool
}
