package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/keyway/keyway/internal/runtime"
)

// endpointList reads an endpoint entry of endpointConfig: one object
// {"url": ..., "config": {"actionDuration": ms}} or a list of them.
func endpointList(v any) []runtime.Endpoint {
	var items []any
	switch x := v.(type) {
	case map[string]any:
		items = []any{x}
	case []any:
		items = x
	default:
		return nil
	}
	var out []runtime.Endpoint
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			continue
		}
		e := runtime.Endpoint{URL: str(m["url"])}
		if cfg, ok := m["config"].(map[string]any); ok {
			if ms, err := strconv.Atoi(str(cfg["actionDuration"])); err == nil && ms > 0 {
				e.TimeoutMillis = ms
			}
		}
		if e.URL != "" {
			out = append(out, e)
		}
	}
	return out
}

// Endpoints interprets an API's endpointConfig for the gateway. Failover
// endpoints follow the primary one in order.
func Endpoints(ec map[string]any) runtime.EndpointConfig {
	out := runtime.EndpointConfig{Type: str(ec["endpoint_type"]), Production: []runtime.Endpoint{}, Sandbox: []runtime.Endpoint{}}
	if out.Type == "" || out.Type == "address" {
		out.Type = "http"
	}
	out.Production = append(out.Production, endpointList(ec["production_endpoints"])...)
	out.Sandbox = append(out.Sandbox, endpointList(ec["sandbox_endpoints"])...)
	if out.Type == "failover" {
		out.Production = append(out.Production, endpointList(ec["production_failovers"])...)
		out.Sandbox = append(out.Sandbox, endpointList(ec["sandbox_failovers"])...)
	}
	return out
}

// RuntimeAPIs returns every deployed revision: one runtime.API per API
// revision and environment/vhost, with the lifecycle state of the API.
func (s *Service) RuntimeAPIs(ctx context.Context) ([]runtime.API, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT d.api_uuid, d.revision_uuid, d.env, d.vhost, a.status, a.is_default, r.doc
FROM am_api_deployment d JOIN am_api a ON a.uuid = d.api_uuid JOIN am_api_revision r ON r.uuid = d.revision_uuid
ORDER BY d.api_uuid, d.env`)
	if err != nil {
		return nil, fmt.Errorf("list deployed APIs: %w", err)
	}
	defer rows.Close()
	var out []runtime.API
	for rows.Next() {
		var apiID, revID, env, vhost, status, doc string
		var isDefault int
		if err := rows.Scan(&apiID, &revID, &env, &vhost, &status, &isDefault, &doc); err != nil {
			return nil, fmt.Errorf("scan deployed API: %w", err)
		}
		var a API
		if err := json.Unmarshal([]byte(doc), &a); err != nil {
			return nil, fmt.Errorf("decode revision %s: %w", revID, err)
		}
		out = append(out, toRuntime(&a, apiID, revID, env, vhost, status, isDefault == 1))
	}
	return out, rows.Err()
}

func toRuntime(a *API, apiID, revID, env, vhost, status string, isDefault bool) runtime.API {
	r := runtime.API{
		UUID: apiID, RevisionID: revID, Name: a.Name, Version: a.Version, Provider: a.Provider,
		Context: a.Context, IsDefaultVersion: isDefault, Type: a.Type, LifecycleState: status,
		Environment: env, VHost: vhost, Policy: a.APIThrottlingPolicy,
		SecuritySchemes: append([]string{}, a.SecurityScheme...), KeyManagers: append([]string{}, a.KeyManagers...),
		Endpoints: Endpoints(a.EndpointConfig), Organization: "carbon.super", Resources: []runtime.Resource{},
	}
	if r.Type == "" {
		r.Type = "HTTP"
	}
	for _, o := range a.Operations {
		auth := "Any"
		if strings.EqualFold(o.AuthType, "None") {
			auth = "None"
		}
		r.Resources = append(r.Resources, runtime.Resource{Verb: o.Verb, URITemplate: o.Target, AuthType: auth,
			Scopes: append([]string{}, o.Scopes...), Policy: o.ThrottlingPolicy})
	}
	if c := a.CorsConfiguration; c != nil {
		r.CORS = &runtime.CORS{Enabled: c.Enabled, AllowOrigins: c.AllowOrigins, AllowCredentials: c.AllowCredentials,
			AllowHeaders: c.AllowHeaders, AllowMethods: c.AllowMethods}
	}
	return r
}
