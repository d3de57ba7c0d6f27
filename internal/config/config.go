// Package config models deployment.toml, the configuration file format of the
// WSO2 products that Keyway replaces: it decodes it strictly (an unknown key or
// a wrong type is an error naming file, line and key), fills documented
// defaults, resolves the $env{}, ${ref} and $secret{} placeholders, and derives
// the listening ports from [server] offset.
//
// Every key is listed with its default in docs/configuration.md; keep the two
// in step.
package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Base ports before the offset, as in the WSO2 products.
const (
	BaseManagementPort   = 9443
	BaseGatewayHTTPSPort = 8243
	BaseGatewayHTTPPort  = 8280
)

// Config is the whole deployment.toml.
type Config struct {
	Server     Server          `toml:"server"`
	SuperAdmin SuperAdmin      `toml:"super_admin"`
	Database   Databases       `toml:"database"`
	Keystore   Keystores       `toml:"keystore"`
	Truststore Truststore      `toml:"truststore"`
	APIM       APIM            `toml:"apim"`
	OAuth      OAuth           `toml:"oauth"`
	Listeners  []EventListener `toml:"event_listener"`
	Resource   Resource        `toml:"resource"`
	Log        Log             `toml:"log"`
	// Secrets maps a secure-vault alias to its encrypted value (base64), as
	// written by `keyway cipher encrypt`; $secret{alias} reads from here or from
	// the secret-conf file.
	Secrets     map[string]string `toml:"secrets"`
	SecureVault SecureVault       `toml:"secure_vault"`

	// File is the path the configuration was read from ("" for defaults).
	File string `toml:"-"`
}

// Server is [server].
type Server struct {
	// Hostname is the host name clients use; it goes into issuer URLs and the
	// generated certificate's SANs.
	Hostname string `toml:"hostname"`
	// NodeIP is accepted for compatibility with WSO2 files and otherwise unused.
	NodeIP string `toml:"node_ip"`
	// Offset shifts every listening port (management 9443, gateway 8243/8280).
	Offset int `toml:"offset"`
	// BasePath is a path prefix under which a reverse proxy exposes the server.
	BasePath string `toml:"base_path"`
	// ServerRole is accepted for compatibility (default, api-key-manager, ...).
	ServerRole string `toml:"server_role"`
	// DataDir holds the embedded databases and generated keystores.
	DataDir string `toml:"data_dir"`
	// BindAddress is the interface the listeners bind to.
	BindAddress string `toml:"bind_address"`
	// Mode is "production" or "development"; unused by Keyway beyond logging.
	Mode string `toml:"mode"`
}

// SuperAdmin is [super_admin].
type SuperAdmin struct {
	Username           string `toml:"username"`
	Password           string `toml:"password"`
	CreateAdminAccount bool   `toml:"create_admin_account"`
	AdminRole          string `toml:"admin_role"`
}

// Databases is [database.*].
type Databases struct {
	APIM     Database `toml:"apim_db"`
	Shared   Database `toml:"shared_db"`
	Identity Database `toml:"identity_db"`
	User     Database `toml:"user"`
}

// Database is one [database.NAME] block.
type Database struct {
	// Type is h2 (embedded, served by SQLite), sqlite, postgre, mysql or mariadb.
	Type     string `toml:"type"`
	URL      string `toml:"url"`
	Hostname string `toml:"hostname"`
	Name     string `toml:"name"`
	Port     int    `toml:"port"`
	Username string `toml:"username"`
	Password string `toml:"password"`
	// Driver is the JDBC driver class; accepted and ignored.
	Driver      string      `toml:"driver"`
	Validation  string      `toml:"validationQuery"`
	PoolOptions PoolOptions `toml:"pool_options"`
}

// PoolOptions is [database.NAME.pool_options], with the JDBC pool's names.
type PoolOptions struct {
	MaxActive          int    `toml:"maxActive"`
	MaxWait            int    `toml:"maxWait"`
	MinIdle            int    `toml:"minIdle"`
	MaxIdle            int    `toml:"maxIdle"`
	TestOnBorrow       bool   `toml:"testOnBorrow"`
	ValidationQuery    string `toml:"validationQuery"`
	ValidationInterval int    `toml:"validationInterval"`
	DefaultAutoCommit  bool   `toml:"defaultAutoCommit"`
	MaxLifetime        int    `toml:"maxLifetime"`
}

// Keystores is [keystore.*].
type Keystores struct {
	Primary  Keystore `toml:"primary"`
	TLS      Keystore `toml:"tls"`
	Internal Keystore `toml:"internal"`
}

// Keystore is one keystore block. FileName empty means "generate and keep a
// default one in the data directory".
type Keystore struct {
	FileName    string `toml:"file_name"`
	Type        string `toml:"type"`
	Password    string `toml:"password"`
	Alias       string `toml:"alias"`
	KeyPassword string `toml:"key_password"`
	// PasswordFile reads the password from a file (a mounted secret).
	PasswordFile string `toml:"password_file"`
}

// Truststore is [truststore].
type Truststore struct {
	FileName string `toml:"file_name"`
	// Type is JKS, PKCS12 or PEM (a bundle of certificates).
	Type     string `toml:"type"`
	Password string `toml:"password"`
	// UseSystemRoots also trusts the operating system's CA roots.
	UseSystemRoots bool `toml:"use_system_roots"`
}

// APIM is [apim].
type APIM struct {
	Gateway     APIMGateway `toml:"gateway"`
	RedisConfig RedisConfig `toml:"redis_config"`
	// ControlPlaneURL is where a gateway-only node pulls its snapshot from.
	ControlPlaneURL string     `toml:"control_plane_url"`
	Throttling      Throttling `toml:"throttling"`
	Analytics       Toggle     `toml:"analytics"`
	DevPortal       DevPortal  `toml:"devportal"`
}

// APIMGateway is [apim.gateway].
type APIMGateway struct {
	Environments []GatewayEnvironment `toml:"environment"`
	// BackendJWT enables the X-JWT-Assertion header sent to backends.
	BackendJWT BackendJWT `toml:"jwt"`
}

// BackendJWT is [apim.gateway.jwt] (WSO2: [apim.jwt]).
type BackendJWT struct {
	Enable bool   `toml:"enable"`
	Header string `toml:"header"`
}

// GatewayEnvironment is one [[apim.gateway.environment]].
type GatewayEnvironment struct {
	Name                string `toml:"name"`
	Type                string `toml:"type"`
	GatewayType         string `toml:"gateway_type"`
	Provider            string `toml:"provider"`
	DisplayInAPIConsole bool   `toml:"display_in_api_console"`
	DisplayName         string `toml:"display_name"`
	Description         string `toml:"description"`
	ShowAsTokenEndpoint bool   `toml:"show_as_token_endpoint_url"`
	ServiceURL          string `toml:"service_url"`
	Username            string `toml:"username"`
	Password            string `toml:"password"`
	HTTPEndpoint        string `toml:"http_endpoint"`
	HTTPSEndpoint       string `toml:"https_endpoint"`
	WSEndpoint          string `toml:"ws_endpoint"`
	WSSEndpoint         string `toml:"wss_endpoint"`
	WebSubHTTPEndpoint  string `toml:"websub_event_receiver_http_endpoint"`
	WebSubHTTPSEndpoint string `toml:"websub_event_receiver_https_endpoint"`
	// VHosts lists the virtual hosts; empty means one, "localhost" or the server hostname.
	VHosts []string `toml:"vhosts"`
}

// RedisConfig is [apim.redis_config]: the distributed throttle counters and
// the event fan-out between nodes. Empty Host and URL mean "no Redis".
type RedisConfig struct {
	URL        string `toml:"url"`
	Host       string `toml:"host"`
	Port       int    `toml:"port"`
	User       string `toml:"user"`
	Password   string `toml:"password"`
	DB         int    `toml:"database"`
	SSLEnabled bool   `toml:"ssl_enabled"`
}

// Enabled reports whether Redis is configured.
func (r RedisConfig) Enabled() bool { return r.URL != "" || r.Host != "" }

// Address returns a redis:// URL for the configuration.
func (r RedisConfig) Address() string {
	if r.URL != "" {
		return r.URL
	}
	scheme := "redis"
	if r.SSLEnabled {
		scheme = "rediss"
	}
	port := r.Port
	if port == 0 {
		port = 6379
	}
	auth := ""
	if r.User != "" || r.Password != "" {
		auth = r.User + ":" + r.Password + "@"
	}
	return fmt.Sprintf("%s://%s%s:%d/%d", scheme, auth, r.Host, port, r.DB)
}

// Throttling is [apim.throttling].
type Throttling struct {
	// EnableUnlimitedTier keeps the Unlimited policies available.
	EnableUnlimitedTier bool `toml:"enable_unlimited_tier"`
}

// Toggle is a block with a single enable switch.
type Toggle struct {
	Enable bool `toml:"enable"`
}

// DevPortal is [apim.devportal].
type DevPortal struct {
	URL string `toml:"url"`
}

// OAuth is [oauth].
type OAuth struct {
	// AuthorizeAllScopes makes every API-resource scope available to every
	// application, as the seed's IS block sets.
	AuthorizeAllScopes bool        `toml:"authorize_all_scopes"`
	TokenExpiry        TokenExpiry `toml:"token_expiry"`
	// AllowedSigningAlgorithms for ID tokens and JWT access tokens.
	SigningAlgorithm string `toml:"signing_algorithm"`
	// KeyRotationDays rotates the token-signing key this often; 0 disables.
	KeyRotationDays int `toml:"key_rotation_days"`
	// HashTokensAndSecrets is accepted for compatibility: Keyway always stores
	// opaque tokens as hashes and client secrets encrypted.
	HashTokensAndSecrets bool `toml:"hash_tokens_and_secrets"`
}

// TokenExpiry is [oauth.token_expiry], in seconds.
type TokenExpiry struct {
	ApplicationAccessToken int `toml:"application_access_token"`
	UserAccessToken        int `toml:"user_access_token"`
	RefreshToken           int `toml:"refresh_token"`
	AuthorizationCode      int `toml:"authorization_code"`
	IDToken                int `toml:"id_token"`
}

// EventListener is one [[event_listener]].
type EventListener struct {
	ID         string            `toml:"id"`
	Type       string            `toml:"type"`
	Name       string            `toml:"name"`
	Order      int               `toml:"order"`
	Enable     *bool             `toml:"enable"`
	Properties map[string]string `toml:"properties"`
}

// Enabled reports whether the listener is on (it is unless enable = false).
func (l EventListener) Enabled() bool { return l.Enable == nil || *l.Enable }

// Headers returns the extra HTTP headers from `header.NAME` properties.
func (l EventListener) Headers() map[string]string {
	h := map[string]string{}
	for k, v := range l.Properties {
		if name, ok := strings.CutPrefix(k, "header."); ok && name != "" {
			h[name] = v
		}
	}
	return h
}

// Resource is [resource].
type Resource struct {
	AccessControl []AccessControl `toml:"access_control"`
}

// AccessControl is one [[resource.access_control]]: which permissions or
// scopes a management path needs.
type AccessControl struct {
	Context             string   `toml:"context"`
	Secure              bool     `toml:"secure"`
	HTTPMethod          string   `toml:"http_method"`
	CrossTenant         bool     `toml:"cross_tenant"`
	Permissions         []string `toml:"permissions"`
	Scopes              []string `toml:"scopes"`
	AllowedAuthHandlers []string `toml:"allowed_auth_handlers"`
}

// Log is [log].
type Log struct {
	// Level is debug, info, warn or error.
	Level string `toml:"level"`
	// Format is json or text.
	Format string `toml:"format"`
	// AccessLog turns the per-request access log on.
	AccessLog bool `toml:"access_log"`
}

// SecureVault is [secure_vault].
type SecureVault struct {
	// SecretConfFile holds alias = "encrypted" lines (TOML) next to [secrets].
	SecretConfFile string `toml:"secret_conf_file"`
	// PasswordEnv and PasswordFile say where the internal keystore password
	// comes from when [keystore.internal] password is empty.
	PasswordEnv  string `toml:"password_env"`
	PasswordFile string `toml:"password_file"`
}

// Ports are the derived listening ports.
type Ports struct {
	Management   int
	GatewayHTTPS int
	GatewayHTTP  int
}

// Ports applies [server] offset to the base ports.
func (c *Config) Ports() Ports {
	o := c.Server.Offset
	return Ports{
		Management:   BaseManagementPort + o,
		GatewayHTTPS: BaseGatewayHTTPSPort + o,
		GatewayHTTP:  BaseGatewayHTTPPort + o,
	}
}

// ManagementURL is the public https base URL of the management listener,
// including the base path, without a trailing slash.
func (c *Config) ManagementURL() string {
	return "https://" + c.Server.Hostname + ":" + strconv.Itoa(c.Ports().Management) + strings.TrimSuffix(c.Server.BasePath, "/")
}
