package catalog

import (
	"regexp"
	"strings"
)

// Patterns of the admin contract (Environment.name, VHost.httpContext).
var (
	envNamePattern     = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)
	httpContextPattern = regexp.MustCompile(`^/?([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9])*$`)
	// hostPattern accepts DNS names and IPv4 addresses: a vhost is matched
	// against the request's Host, so schemes, paths and ports are mistakes.
	hostPattern = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*$`)
)

// WSO2's VHost defaults for ports left out (0).
const (
	defaultVHostHTTPPort        = 80
	defaultVHostHTTPSPort       = 443
	defaultVHostWSPort          = 9099
	defaultVHostWSSPort         = 8099
	defaultVHostWebsubHTTPPort  = 9021
	defaultVHostWebsubHTTPSPort = 8021
)

// validEnvironment checks an admin-given environment and fills WSO2's
// defaults; the error says what is wrong.
func validEnvironment(e *Environment) error {
	bad := func(format string, args ...any) error { return invalid(400, "Bad Request", format, args...) }
	// Defaults are filled in copies: the caller's slices stay as given.
	e.VHosts = append([]VHost(nil), e.VHosts...)
	if e.Permissions != nil {
		p := *e.Permissions
		e.Permissions = &p
	}
	e.Name = strings.TrimSpace(e.Name)
	switch {
	case e.Name == "":
		return bad("environment name is required")
	case len(e.Name) > 255 || !envNamePattern.MatchString(e.Name):
		return bad("environment name %q must be 1-255 letters, digits, '_' or '-'", e.Name)
	case len(e.DisplayName) > 255:
		return bad("environment display name is longer than 255 characters")
	case len(e.Description) > 1023:
		return bad("environment description is longer than 1023 characters")
	}
	if strings.TrimSpace(e.DisplayName) == "" {
		e.DisplayName = e.Name
	}
	switch strings.ToLower(e.Type) {
	case "":
		e.Type = "hybrid"
	case "hybrid", "production", "sandbox":
		e.Type = strings.ToLower(e.Type)
	default:
		return bad("environment type %q is not one of hybrid, production, sandbox", e.Type)
	}
	// Keyway's gateway is WSO2's Regular (Synapse-compatible) one; other
	// gateway types need agents Keyway does not have.
	if e.GatewayType == "" {
		e.GatewayType = "Regular"
	}
	if e.GatewayType != "Regular" {
		return bad("gateway type %q is not supported; use Regular", e.GatewayType)
	}
	if e.Provider == "" {
		e.Provider = "wso2"
	}
	e.ShowInAPIConsole = true
	if len(e.VHosts) == 0 {
		return bad("environment %s needs at least one vhost", e.Name)
	}
	seen := map[string]bool{}
	for i := range e.VHosts {
		if err := validVHost(&e.VHosts[i]); err != nil {
			return err
		}
		h := strings.ToLower(e.VHosts[i].Host)
		if seen[h] {
			return bad("vhost %s is given twice", e.VHosts[i].Host)
		}
		seen[h] = true
	}
	for _, u := range e.EndpointURIs {
		if strings.TrimSpace(u.Protocol) == "" || strings.TrimSpace(u.EndpointURI) == "" {
			return bad("every endpointURI needs a protocol and an endpointURI")
		}
	}
	for _, p := range e.AdditionalProperties {
		if strings.TrimSpace(p.Key) == "" {
			return bad("every additional property needs a key")
		}
	}
	if p := e.Permissions; p != nil {
		switch strings.ToUpper(p.PermissionType) {
		case "":
			p.PermissionType = "PUBLIC"
		case "PUBLIC", "ALLOW", "DENY":
			p.PermissionType = strings.ToUpper(p.PermissionType)
		default:
			return bad("permission type %q is not one of PUBLIC, ALLOW, DENY", p.PermissionType)
		}
		if p.Roles == nil {
			p.Roles = []string{}
		}
	}
	return nil
}

func validVHost(v *VHost) error {
	bad := func(format string, args ...any) error { return invalid(400, "Bad Request", format, args...) }
	v.Host = strings.TrimSpace(v.Host)
	if v.Host == "" {
		return bad("every vhost needs a host")
	}
	if len(v.Host) > 255 || !hostPattern.MatchString(v.Host) {
		return bad("vhost host %q is not a host name (no scheme, port or path)", v.Host)
	}
	if len(v.HTTPContext) > 255 || !httpContextPattern.MatchString(v.HTTPContext) {
		return bad("vhost httpContext %q is invalid", v.HTTPContext)
	}
	for _, p := range []struct {
		name string
		port *int
		def  int
	}{
		{"httpPort", &v.HTTPPort, defaultVHostHTTPPort}, {"httpsPort", &v.HTTPSPort, defaultVHostHTTPSPort},
		{"wsPort", &v.WSPort, defaultVHostWSPort}, {"wssPort", &v.WSSPort, defaultVHostWSSPort},
		{"websubHttpPort", &v.WebsubHTTPPort, defaultVHostWebsubHTTPPort}, {"websubHttpsPort", &v.WebsubHTTPSPort, defaultVHostWebsubHTTPSPort},
	} {
		switch {
		case *p.port == 0:
			*p.port = p.def
		case *p.port < 1 || *p.port > 65535:
			return bad("vhost %s %s %d is not a port (1-65535)", v.Host, p.name, *p.port)
		}
	}
	return nil
}
