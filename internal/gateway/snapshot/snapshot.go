// Package snapshot compiles a runtime.Snapshot into the immutable, indexed
// view the gateway serves requests from: routes per vhost, key mappings by
// consumer key and key manager, subscriptions by application and API,
// policies by name and key managers by issuer. A compiled Snapshot is never
// modified; the gateway swaps whole snapshots behind an atomic pointer.
package snapshot

import (
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/keyway/keyway/internal/gateway/router"
	"github.com/keyway/keyway/internal/runtime"
)

// Snapshot is the compiled view.
type Snapshot struct {
	Revision   int64
	Router     *router.Router
	APIs       []*API
	BackendJWT runtime.BackendJWT
	// Revoked lists the revocations the control plane included.
	Revoked []runtime.RevokedToken

	apps        map[string]*Application
	keys        map[keyRef]*runtime.KeyMapping
	subs        map[subRef]*Subscription
	kmByIssuer  map[string]*KeyManager
	kmByName    map[string]*KeyManager
	keyManagers []*KeyManager
}

type keyRef struct{ consumerKey, keyManager string }
type subRef struct{ app, api string }

// API is a deployed API with everything the request path needs resolved.
type API struct {
	runtime.API
	Index     int
	Resources []*Resource
	// AllKeyManagers is true when the API accepts every key manager.
	AllKeyManagers bool
	KeyManagerSet  map[string]bool
	OAuth2         bool
	APIKey         bool
	Policy         *Policy
	Production     *Upstream
	Sandbox        *Upstream
	CORS           *CORS
	// ThrottleKey identifies the API-level quota.
	ThrottleKey string
}

// Serving says whether the lifecycle state lets the gateway serve the API.
func (a *API) Serving() bool {
	switch strings.ToUpper(a.LifecycleState) {
	case "PUBLISHED", "PROTOTYPED", "DEPRECATED", "":
		return true
	}
	return false
}

// Blocked says whether the API is in the BLOCKED state (503 fault).
func (a *API) Blocked() bool { return strings.EqualFold(a.LifecycleState, "BLOCKED") }

// AllowsKeyManager reports whether tokens of the named key manager may call
// the API.
func (a *API) AllowsKeyManager(name string) bool { return a.AllKeyManagers || a.KeyManagerSet[name] }

// Resource is one operation of an API.
type Resource struct {
	runtime.Resource
	// Open resources (AuthType None) skip authentication.
	Open        bool
	Policy      *Policy
	ThrottleKey string
}

// Application is a consumer application with its tier resolved.
type Application struct {
	runtime.Application
	Policy *Policy
}

// Subscription is a subscription with its tier resolved.
type Subscription struct {
	runtime.Subscription
	Policy *Policy
	// ThrottleKey identifies the subscription quota (application + API).
	ThrottleKey string
}

// KeyManager is a trusted token issuer with claim names defaulted.
type KeyManager struct {
	runtime.KeyManager
}

// ConsumerKeyClaimName returns the claim holding the client id.
func (k *KeyManager) ConsumerKeyClaimName() string {
	if k.ConsumerKeyClaim != "" {
		return k.ConsumerKeyClaim
	}
	return "azp"
}

// ScopesClaimName returns the claim holding the scopes.
func (k *KeyManager) ScopesClaimName() string {
	if k.ScopesClaim != "" {
		return k.ScopesClaim
	}
	return "scope"
}

// Policy is a throttling tier reduced to what the limiter needs.
type Policy struct {
	Name   string
	Limit  int64
	Window time.Duration
	// Stop false means the tier is recorded but never blocks.
	Stop bool
	// Unlimited tiers skip the limiter entirely.
	Unlimited bool
}

// Enforced reports whether the limiter must be consulted.
func (p *Policy) Enforced() bool { return p != nil && !p.Unlimited && p.Stop }

// CORS is an API's CORS configuration with its headers pre-joined.
type CORS struct {
	AllowOrigins     map[string]bool
	AnyOrigin        bool
	AllowCredentials bool
	AllowHeaders     string
	AllowMethods     string
}

// Upstream is a production or sandbox endpoint list.
type Upstream struct {
	// Failover means try the endpoints in order on connection failure;
	// otherwise requests go round robin (one endpoint: always it).
	Failover  bool
	Endpoints []Endpoint
	next      atomic.Uint64
}

// Endpoint is one parsed backend URL with its timeout.
type Endpoint struct {
	URL     *url.URL
	Timeout time.Duration
}

// Pick returns the index of the first endpoint to try.
func (u *Upstream) Pick() int {
	if u.Failover || len(u.Endpoints) < 2 {
		return 0
	}
	return int((u.next.Add(1) - 1) % uint64(len(u.Endpoints)))
}

// Application returns the application with the given UUID.
func (s *Snapshot) Application(uuid string) *Application { return s.apps[uuid] }

// KeyMapping returns the mapping of a consumer key issued by a key manager.
func (s *Snapshot) KeyMapping(consumerKey, keyManager string) *runtime.KeyMapping {
	return s.keys[keyRef{consumerKey, keyManager}]
}

// Subscription returns an application's subscription to an API.
func (s *Snapshot) Subscription(appUUID, apiUUID string) *Subscription {
	return s.subs[subRef{appUUID, apiUUID}]
}

// KeyManagerByIssuer returns the enabled key manager whose issuer equals iss.
func (s *Snapshot) KeyManagerByIssuer(iss string) *KeyManager { return s.kmByIssuer[iss] }

// KeyManagerByName returns an enabled key manager by name.
func (s *Snapshot) KeyManagerByName(name string) *KeyManager { return s.kmByName[name] }

// KeyManagers lists the enabled key managers.
func (s *Snapshot) KeyManagers() []*KeyManager { return s.keyManagers }

// Empty returns a snapshot that serves nothing.
func Empty() *Snapshot {
	s, _ := Compile(&runtime.Snapshot{})
	return s
}

// Compile builds the indexed view. Bad endpoint URLs are errors; unknown
// policy names resolve to unlimited (the control plane validates names).
func Compile(rs *runtime.Snapshot) (*Snapshot, error) {
	s := &Snapshot{
		Revision:   rs.Revision,
		BackendJWT: rs.BackendJWT,
		Revoked:    rs.RevokedTokens,
		apps:       map[string]*Application{},
		keys:       map[keyRef]*runtime.KeyMapping{},
		subs:       map[subRef]*Subscription{},
		kmByIssuer: map[string]*KeyManager{},
		kmByName:   map[string]*KeyManager{},
	}
	subPol := policies(rs.SubscriptionPolicies)
	appPol := policies(rs.ApplicationPolicies)
	apiPol := map[string]*Policy{}
	for _, p := range rs.APIPolicies {
		apiPol[p.Name] = policy(p.Name, p.Limit, true)
	}
	for i := range rs.KeyManagers {
		km := &KeyManager{KeyManager: rs.KeyManagers[i]}
		if !km.Enabled {
			continue
		}
		s.keyManagers = append(s.keyManagers, km)
		s.kmByName[km.Name] = km
		if km.Issuer != "" {
			s.kmByIssuer[km.Issuer] = km
		}
	}
	for i := range rs.Applications {
		a := &Application{Application: rs.Applications[i]}
		a.Policy = lookup(appPol, a.Application.Policy)
		s.apps[a.UUID] = a
	}
	for i := range rs.KeyMappings {
		m := &rs.KeyMappings[i]
		s.keys[keyRef{m.ConsumerKey, m.KeyManager}] = m
	}
	for i := range rs.Subscriptions {
		sub := &Subscription{Subscription: rs.Subscriptions[i]}
		sub.Policy = lookup(subPol, sub.Subscription.Policy)
		// The tier is part of the key: a subscription moved to another tier
		// starts that tier's quota afresh, as WSO2's throttle keys do.
		sub.ThrottleKey = "sub:" + sub.ApplicationUUID + ":" + sub.APIUUID + ":" + sub.Subscription.Policy
		s.subs[subRef{sub.ApplicationUUID, sub.APIUUID}] = sub
	}
	var routes []router.API
	for i := range rs.APIs {
		ra := rs.APIs[i]
		if ra.Type != "" && !strings.EqualFold(ra.Type, "HTTP") && !strings.EqualFold(ra.Type, "REST") {
			continue
		}
		a, err := compileAPI(len(s.APIs), ra, apiPol)
		if err != nil {
			return nil, err
		}
		s.APIs = append(s.APIs, a)
		rt := router.API{Ref: a.Index, VHost: a.VHost, Context: a.Context, Version: a.Version, IsDefault: a.IsDefaultVersion}
		for j, res := range a.Resources {
			rt.Resources = append(rt.Resources, router.Resource{Ref: j, Verb: res.Verb, URITemplate: res.URITemplate})
		}
		routes = append(routes, rt)
	}
	s.Router = router.New(routes)
	return s, nil
}

func compileAPI(index int, ra runtime.API, apiPol map[string]*Policy) (*API, error) {
	a := &API{API: ra, Index: index, ThrottleKey: "api:" + ra.UUID + ":" + ra.Policy}
	a.Policy = lookup(apiPol, ra.Policy)
	a.KeyManagerSet = map[string]bool{}
	for _, k := range ra.KeyManagers {
		if strings.EqualFold(k, "all") {
			a.AllKeyManagers = true
		}
		a.KeyManagerSet[k] = true
	}
	if len(ra.KeyManagers) == 0 {
		a.AllKeyManagers = true
	}
	for _, sch := range ra.SecuritySchemes {
		switch sch {
		case "oauth2":
			a.OAuth2 = true
		case "api_key":
			a.APIKey = true
		}
	}
	if len(ra.SecuritySchemes) == 0 {
		a.OAuth2 = true
	}
	for _, r := range ra.Resources {
		res := &Resource{Resource: r, Open: strings.EqualFold(r.AuthType, "None")}
		res.Verb = strings.ToUpper(r.Verb)
		res.Policy = lookup(apiPol, r.Policy)
		res.ThrottleKey = "res:" + ra.UUID + ":" + res.Verb + ":" + r.URITemplate + ":" + r.Policy
		a.Resources = append(a.Resources, res)
	}
	failover := strings.EqualFold(ra.Endpoints.Type, "failover")
	var err error
	if a.Production, err = upstream(ra.Endpoints.Production, failover); err != nil {
		return nil, fmt.Errorf("api %s:%s production endpoints: %w", ra.Name, ra.Version, err)
	}
	if a.Sandbox, err = upstream(ra.Endpoints.Sandbox, failover); err != nil {
		return nil, fmt.Errorf("api %s:%s sandbox endpoints: %w", ra.Name, ra.Version, err)
	}
	if c := ra.CORS; c != nil && c.Enabled {
		cc := &CORS{AllowOrigins: map[string]bool{}, AllowCredentials: c.AllowCredentials,
			AllowHeaders: strings.Join(c.AllowHeaders, ","), AllowMethods: strings.Join(c.AllowMethods, ",")}
		for _, o := range c.AllowOrigins {
			if o == "*" {
				cc.AnyOrigin = true
			}
			cc.AllowOrigins[o] = true
		}
		a.CORS = cc
	}
	return a, nil
}

func upstream(eps []runtime.Endpoint, failover bool) (*Upstream, error) {
	if len(eps) == 0 {
		return nil, nil
	}
	u := &Upstream{Failover: failover}
	for _, e := range eps {
		pu, err := url.Parse(e.URL)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return nil, fmt.Errorf("bad endpoint URL %q", e.URL)
		}
		pu.Path = strings.TrimRight(pu.Path, "/")
		pu.RawPath = ""
		timeout := time.Duration(e.TimeoutMillis) * time.Millisecond
		if timeout <= 0 {
			timeout = 60 * time.Second
		}
		u.Endpoints = append(u.Endpoints, Endpoint{URL: pu, Timeout: timeout})
	}
	return u, nil
}

func policies(ps []runtime.ThrottlePolicy) map[string]*Policy {
	out := map[string]*Policy{}
	for _, p := range ps {
		out[p.Name] = policy(p.Name, p.Limit, p.StopOnQuotaReach)
	}
	return out
}

func lookup(m map[string]*Policy, name string) *Policy {
	if name == "" {
		return nil
	}
	if p, ok := m[name]; ok {
		return p
	}
	return &Policy{Name: name, Unlimited: true}
}

func policy(name string, l runtime.Limit, stop bool) *Policy {
	p := &Policy{Name: name, Stop: stop}
	window := unit(l.TimeUnit) * time.Duration(max(l.UnitTime, 1))
	// Bandwidth limits are not metered (the gateway counts requests only).
	if strings.EqualFold(name, "Unlimited") || !strings.EqualFold(l.Type, "REQUESTCOUNTLIMIT") && l.Type != "" ||
		l.RequestCount <= 0 || window <= 0 {
		p.Unlimited = true
		return p
	}
	p.Limit, p.Window = l.RequestCount, window
	return p
}

func unit(u string) time.Duration {
	switch strings.ToLower(u) {
	case "ms", "millisecond", "milliseconds":
		return time.Millisecond
	case "s", "sec", "second", "seconds":
		return time.Second
	case "m", "min", "minute", "minutes":
		return time.Minute
	case "h", "hour", "hours":
		return time.Hour
	case "d", "day", "days":
		return 24 * time.Hour
	case "month", "months":
		return 30 * 24 * time.Hour
	case "year", "years":
		return 365 * 24 * time.Hour
	}
	return 0
}
