package catalog

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/keyway/keyway/internal/config"
)

// Environment is a gateway environment APIs deploy to (publisher Environment).
type Environment struct {
	ID               string  `json:"id"`
	Name             string  `json:"name"`
	DisplayName      string  `json:"displayName"`
	Description      string  `json:"description,omitempty"`
	Type             string  `json:"type"`
	GatewayType      string  `json:"gatewayType"`
	ServerURL        string  `json:"serverUrl"`
	Provider         string  `json:"provider"`
	ShowInAPIConsole bool    `json:"showInApiConsole"`
	IsReadOnly       bool    `json:"isReadOnly"`
	VHosts           []VHost `json:"vhosts"`
	// EndpointURIs, AdditionalProperties and Permissions are kept for
	// admin-created environments as given; configured ones have none.
	EndpointURIs         []EndpointURI `json:"endpointURIs,omitempty"`
	AdditionalProperties []Property    `json:"additionalProperties,omitempty"`
	Permissions          *Permissions  `json:"permissions,omitempty"`
}

// EndpointURI is a protocol and URI an environment is reached on
// (GatewayEnvironmentProtocolURI).
type EndpointURI struct {
	Protocol    string `json:"protocol"`
	EndpointURI string `json:"endpointURI"`
}

// Property is an additional gateway property (AdditionalProperty).
type Property struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Permissions restrict who sees an environment: PUBLIC, or ALLOW/DENY for Roles.
type Permissions struct {
	PermissionType string   `json:"permissionType"`
	Roles          []string `json:"roles"`
}

// VHost is a virtual host of an environment.
type VHost struct {
	Host        string `json:"host"`
	HTTPContext string `json:"httpContext"`
	HTTPPort    int    `json:"httpPort"`
	HTTPSPort   int    `json:"httpsPort"`
	WSPort      int    `json:"wsPort"`
	WSSPort     int    `json:"wssPort"`
	// WebSub ports are set for admin-created environments (WSO2 defaults
	// 9021/8021); configured environments leave them out.
	WebsubHTTPPort  int `json:"websubHttpPort,omitempty"`
	WebsubHTTPSPort int `json:"websubHttpsPort,omitempty"`
}

// DefaultEnvironment is the environment every Keyway API Manager has.
const DefaultEnvironment = "Default"

// environments builds the environment list: "Default" (vhost localhost,
// ports 8280/8243) and every configured [[apim.gateway.environment]]; a
// configured "Default" replaces the built-in one.
func environments(cfg []config.GatewayEnvironment) []Environment {
	def := Environment{
		ID: envID(DefaultEnvironment), Name: DefaultEnvironment, DisplayName: DefaultEnvironment,
		Description: "This is a hybrid gateway that handles both production and sandbox token traffic.",
		Type:        "hybrid", GatewayType: "Regular", Provider: "wso2", ShowInAPIConsole: true, IsReadOnly: true,
		ServerURL: "https://localhost:9443/services/",
		VHosts:    []VHost{{Host: "localhost", HTTPPort: config.BaseGatewayHTTPPort, HTTPSPort: config.BaseGatewayHTTPSPort, WSPort: 9099, WSSPort: 8099}},
	}
	var out []Environment
	seenDefault := false
	for _, c := range cfg {
		if strings.TrimSpace(c.Name) == "" {
			continue
		}
		e := Environment{ID: envID(c.Name), Name: c.Name, DisplayName: c.DisplayName, Description: c.Description,
			Type: c.Type, GatewayType: c.GatewayType, Provider: c.Provider, ShowInAPIConsole: c.DisplayInAPIConsole,
			ServerURL: c.ServiceURL, IsReadOnly: true}
		if e.DisplayName == "" {
			e.DisplayName = c.Name
		}
		if e.Type == "" {
			e.Type = "hybrid"
		}
		if e.GatewayType == "" {
			e.GatewayType = "Regular"
		}
		if e.Provider == "" {
			e.Provider = "wso2"
		}
		base := VHost{HTTPPort: portOf(c.HTTPEndpoint, config.BaseGatewayHTTPPort), HTTPSPort: portOf(c.HTTPSEndpoint, config.BaseGatewayHTTPSPort),
			WSPort: portOf(c.WSEndpoint, 9099), WSSPort: portOf(c.WSSEndpoint, 8099)}
		hosts := c.VHosts
		if len(hosts) == 0 {
			h := hostOf(c.HTTPSEndpoint)
			if h == "" {
				h = hostOf(c.HTTPEndpoint)
			}
			if h == "" {
				h = "localhost"
			}
			hosts = []string{h}
		}
		for _, h := range hosts {
			v := base
			v.Host = h
			e.VHosts = append(e.VHosts, v)
		}
		if e.Name == DefaultEnvironment {
			seenDefault = true
		}
		out = append(out, e)
	}
	if !seenDefault {
		out = append([]Environment{def}, out...)
	}
	return out
}

func envID(name string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("keyway:gateway-environment:"+name)).String()
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

func portOf(raw string, def int) int {
	u, err := url.Parse(raw)
	if err != nil || u.Port() == "" {
		return def
	}
	p, err := strconv.Atoi(u.Port())
	if err != nil {
		return def
	}
	return p
}
