package catalog

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

var (
	// Patterns of the API DTO (publisher-api.yaml).
	namePattern    = regexp.MustCompile(`^[^~!@#;:%^*()+={}|\\<>"',&$\[\]/]*$`)
	versionPattern = regexp.MustCompile(`^[^~!@#;:%^*()+={}|\\<>"',&/$\[\]\s]+$`)
	contextPattern = regexp.MustCompile(`^/[A-Za-z0-9_\-./{}]*$`)
	validVerbs     = []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"}
	endpointTypes  = []string{"http", "load_balance", "failover", "address", "default"}
)

// defaultCORS is WSO2's default CORS configuration of a new API.
func defaultCORS() *CORS {
	return &CORS{Enabled: false, AllowOrigins: []string{"*"}, AllowCredentials: false,
		AllowHeaders: []string{"authorization", "Access-Control-Allow-Origin", "Content-Type", "SOAPAction", "apikey", "Internal-Key"},
		AllowMethods: []string{"GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"}}
}

// defaultOperations are the resources WSO2 gives an API created without any.
func defaultOperations() []Operation {
	var out []Operation
	for _, v := range []string{"GET", "PUT", "POST", "DELETE", "PATCH"} {
		out = append(out, Operation{Target: "/*", Verb: v, AuthType: "Application & Application User", ThrottlingPolicy: "Unlimited", Scopes: []string{}, UsedProductIDs: []string{}})
	}
	return out
}

// normalize fills defaults the way WSO2 does for a new or updated API.
func normalize(a *API) {
	a.Name = strings.TrimSpace(a.Name)
	a.Version = strings.TrimSpace(a.Version)
	a.Context = normalizeContext(a.Context)
	if a.Type == "" {
		a.Type = "HTTP"
	}
	if len(a.Transport) == 0 {
		a.Transport = []string{"http", "https"}
	}
	if len(a.Policies) == 0 {
		a.Policies = []string{"Unlimited"}
	}
	if len(a.SecurityScheme) == 0 {
		a.SecurityScheme = []string{"oauth2", "oauth_basic_auth_api_key_mandatory"}
	}
	if a.AuthorizationHeader == "" {
		a.AuthorizationHeader = "Authorization"
	}
	if a.APIKeyHeader == "" {
		a.APIKeyHeader = "ApiKey"
	}
	if a.Visibility == "" {
		a.Visibility = "PUBLIC"
	}
	if a.AccessControl == "" {
		a.AccessControl = "NONE"
	}
	if a.SubscriptionAvailability == "" {
		a.SubscriptionAvailability = "CURRENT_TENANT"
	}
	if a.EndpointImplementationType == "" {
		a.EndpointImplementationType = "ENDPOINT"
	}
	if len(a.KeyManagers) == 0 {
		a.KeyManagers = []string{"all"}
	}
	if a.GatewayVendor == "" {
		a.GatewayVendor = "wso2"
	}
	if a.GatewayType == "" {
		a.GatewayType = "wso2/synapse"
	}
	if a.CorsConfiguration == nil {
		a.CorsConfiguration = defaultCORS()
	}
	for _, l := range []*[]string{&a.Tags, &a.VisibleRoles, &a.VisibleTenants, &a.SubscriptionTenants, &a.AccessControlRoles, &a.Categories} {
		if *l == nil {
			*l = []string{}
		}
	}
	if a.AdditionalProperties == nil {
		a.AdditionalProperties = []AdditionalProperty{}
	}
	if a.Scopes == nil {
		a.Scopes = []APIScope{}
	}
	for i := range a.Scopes {
		sc := &a.Scopes[i].Scope
		sc.Name = strings.TrimSpace(sc.Name)
		if sc.Bindings == nil {
			sc.Bindings = []string{}
		}
		if sc.DisplayName == "" {
			sc.DisplayName = sc.Name
		}
	}
	for i := range a.Operations {
		o := &a.Operations[i]
		o.Verb = strings.ToUpper(strings.TrimSpace(o.Verb))
		o.Target = strings.TrimSpace(o.Target)
		if o.Target != "" && !strings.HasPrefix(o.Target, "/") {
			o.Target = "/" + o.Target
		}
		if o.AuthType == "" {
			o.AuthType = "Application & Application User"
		}
		if o.ThrottlingPolicy == "" {
			o.ThrottlingPolicy = "Unlimited"
		}
		if o.Scopes == nil {
			o.Scopes = []string{}
		}
		if o.UsedProductIDs == nil {
			o.UsedProductIDs = []string{}
		}
	}
}

func normalizeContext(c string) string {
	c = strings.TrimSpace(c)
	if c == "" {
		return c
	}
	if !strings.HasPrefix(c, "/") {
		c = "/" + c
	}
	return strings.TrimRight(c, "/")
}

// validate checks an API against the contract's rules and the known
// policies and scopes; shared maps shared scope names to their definitions.
func (s *Service) validate(ctx context.Context, a *API, shared map[string]Scope) error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if a.Name == "" || len(a.Name) > 255 || !namePattern.MatchString(a.Name) {
		add("API name %q is empty, too long or contains illegal characters", a.Name)
	}
	if a.Version == "" || len(a.Version) > 30 || !versionPattern.MatchString(a.Version) {
		add("API version %q is empty, too long or contains illegal characters", a.Version)
	}
	if a.Context == "" || len(a.Context) > 232 || !contextPattern.MatchString(a.Context) || strings.Contains(a.Context, "//") {
		add("API context %q is invalid", a.Context)
	}
	if len(a.Description) > 32766 {
		add("description is longer than 32766 characters")
	}
	if a.Type != "HTTP" {
		add("API type %q is not supported (only HTTP)", a.Type)
	}
	if !slices.Contains([]string{"PUBLIC", "PRIVATE", "RESTRICTED"}, a.Visibility) {
		add("visibility %q must be PUBLIC, PRIVATE or RESTRICTED", a.Visibility)
	}
	for _, t := range a.Transport {
		if t != "http" && t != "https" {
			add("transport %q must be http or https", t)
		}
	}
	if err := validateEndpointConfig(a.EndpointConfig); err != nil {
		add("%v", err)
	}
	if len(a.Operations) == 0 {
		add("an API needs at least one operation")
	}
	seenOps := map[string]bool{}
	for _, o := range a.Operations {
		if !slices.Contains(validVerbs, o.Verb) {
			add("operation %s %s: unsupported verb", o.Verb, o.Target)
		}
		if o.Target == "" || strings.ContainsAny(o.Target, " \t") {
			add("operation %s: invalid target %q", o.Verb, o.Target)
		}
		if seenOps[o.Verb+" "+o.Target] {
			add("operation %s %s is declared twice", o.Verb, o.Target)
		}
		seenOps[o.Verb+" "+o.Target] = true
	}
	// Scopes: local ones need a name; shared ones must exist.
	names := map[string]bool{}
	for i, sc := range a.Scopes {
		n := sc.Scope.Name
		if n == "" || len(n) > 255 || strings.ContainsAny(n, " \t") {
			add("scope name %q is invalid", n)
			continue
		}
		if names[n] {
			add("scope %s is declared twice", n)
		}
		names[n] = true
		if sc.Shared {
			def, ok := shared[n]
			if !ok {
				add("shared scope %s does not exist", n)
				continue
			}
			a.Scopes[i].Scope = def
		}
	}
	for _, o := range a.Operations {
		for _, sc := range o.Scopes {
			if !names[sc] {
				// A shared scope may be used without being listed first.
				if def, ok := shared[sc]; ok {
					a.Scopes = append(a.Scopes, APIScope{Scope: def, Shared: true})
					names[sc] = true
					continue
				}
				add("operation %s %s uses scope %s, which the API does not declare", o.Verb, o.Target, sc)
			}
		}
	}
	if len(problems) > 0 {
		return invalid(400, "Bad Request", "%s", strings.Join(problems, "; "))
	}
	return s.validatePolicies(ctx, a)
}

func (s *Service) validatePolicies(ctx context.Context, a *API) error {
	lister := s.Policies()
	subs, err := lister.ThrottlingPolicies(ctx, PolicyLevelSubscription)
	if err != nil {
		return fmt.Errorf("list subscription policies: %w", err)
	}
	apiLevel, err := lister.ThrottlingPolicies(ctx, PolicyLevelAPI)
	if err != nil {
		return fmt.Errorf("list API policies: %w", err)
	}
	has := func(list []ThrottlingPolicy, name string) bool {
		return slices.ContainsFunc(list, func(p ThrottlingPolicy) bool { return p.Name == name })
	}
	for _, p := range a.Policies {
		if !has(subs, p) {
			return invalid(900305, "The tier name is invalid.", "Invalid subscription policy %q", p)
		}
	}
	if a.APIThrottlingPolicy != "" && !has(apiLevel, a.APIThrottlingPolicy) {
		return invalid(900305, "The tier name is invalid.", "Invalid API throttling policy %q", a.APIThrottlingPolicy)
	}
	for _, o := range a.Operations {
		if o.ThrottlingPolicy != "" && !has(apiLevel, o.ThrottlingPolicy) {
			return invalid(900305, "The tier name is invalid.", "Invalid throttling policy %q of operation %s %s", o.ThrottlingPolicy, o.Verb, o.Target)
		}
	}
	return nil
}

func validateEndpointConfig(ec map[string]any) error {
	if ec == nil {
		return nil
	}
	typ := str(ec["endpoint_type"])
	if typ == "" {
		return fmt.Errorf("endpointConfig.endpoint_type is required")
	}
	if !slices.Contains(endpointTypes, typ) {
		return fmt.Errorf("endpointConfig.endpoint_type %q is not supported (http, load_balance, failover)", typ)
	}
	for _, key := range []string{"production_endpoints", "sandbox_endpoints", "production_failovers", "sandbox_failovers"} {
		for _, e := range endpointList(ec[key]) {
			if typ == "default" {
				continue
			}
			u, err := url.Parse(e.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("endpointConfig.%s: %q is not an http(s) URL", key, e.URL)
			}
		}
	}
	return nil
}
