package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/keyway/keyway/internal/config"
	"github.com/keyway/keyway/internal/node"
	"github.com/keyway/keyway/internal/platform"
	"github.com/keyway/keyway/internal/secret"
	"github.com/spf13/cobra"
)

// roleFlags are the flags every role takes; set flags override the file.
type roleFlags struct {
	config  string
	dataDir string
	offset  int
}

func (f *roleFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.config, "config", "c", "", "deployment.toml to read (default: built-in defaults, see docs/configuration.md)")
	cmd.Flags().StringVar(&f.dataDir, "data-dir", "", `directory for embedded databases and generated keystores (default: [server] data_dir, "data")`)
	cmd.Flags().IntVar(&f.offset, "offset", 0, "port offset added to every port, like [server] offset (default: [server] offset)")
}

// load reads the configuration and applies the flags that were set.
func (f *roleFlags) load(cmd *cobra.Command) (*config.Config, error) {
	cfg, err := loadConfig(f.config, f.dataDir)
	if err != nil {
		return nil, err
	}
	if cmd.Flags().Changed("offset") {
		cfg.Server.Offset = f.offset
	}
	if f.dataDir != "" {
		cfg.Server.DataDir = f.dataDir
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// loadConfig reads deployment.toml (or the defaults when path is empty),
// strictly, with every placeholder resolved. A file that uses $secret{} is
// opened through the secure vault, whose internal keystore defaults to the
// one generated in the data directory (dataDir, else [server] data_dir's
// default "data").
func loadConfig(path, dataDir string) (*config.Config, error) {
	if path == "" {
		return config.Load("", config.Options{})
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	if !strings.Contains(string(raw), "$secret{") {
		return config.Load(path, config.Options{})
	}
	if dataDir == "" {
		dataDir = config.Default().Server.DataDir
	}
	return secret.LoadConfig(path, secret.WithDefaultKeystore(filepath.Join(dataDir, node.SecurityDir, node.InternalKeyFile)))
}

func newAPIMCommand() *cobra.Command {
	var f roleFlags
	cmd := &cobra.Command{
		Use:   "apim",
		Short: "Run the API Manager all-in-one role",
		Long: `Run the API Manager all-in-one role: publisher, developer portal and admin REST
APIs and portals, the key managers, and the gateway.

Listeners (plus [server] offset or --offset):
  https://HOST:9443   management: REST APIs, portals, /health/live, /health/ready, /metrics
  https://HOST:8243   gateway (HTTPS)
  http://HOST:8280    gateway (HTTP)

Stop it with Ctrl-C (SIGINT) or SIGTERM; requests in flight are finished first.`,
		Example: `  keyway apim
  keyway apim --config deployment.toml --offset 1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load(cmd)
			if err != nil {
				return err
			}
			return node.Run(cmd.Context(), node.Role{Name: "apim", Title: "API Manager", Config: cfg, Components: apimComponents})
		},
	}
	f.register(cmd)
	return cmd
}

func newISCommand() *cobra.Command {
	var f roleFlags
	cmd := &cobra.Command{
		Use:   "is",
		Short: "Run the Identity Server role",
		Long: `Run the Identity Server role: OAuth2 and OpenID Connect endpoints, dynamic client
registration, SCIM2 users and roles, API resources and scopes, and the console.

Listener (plus [server] offset or --offset):
  https://HOST:9443   /oauth2/*, /scim2/*, /api/*, /health/live, /health/ready, /metrics

When it runs beside an API Manager on the same host, start it with --offset 1
(https://HOST:9444), as "keyway up" does.`,
		Example: `  keyway is --offset 1
  keyway is --config is-deployment.toml --data-dir /var/lib/keyway`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load(cmd)
			if err != nil {
				return err
			}
			return node.Run(cmd.Context(), node.Role{Name: "is", Title: "Identity Server", Config: cfg, Components: identityComponents})
		},
	}
	f.register(cmd)
	return cmd
}

func newGatewayCommand() *cobra.Command {
	var f roleFlags
	var controlPlane string
	cmd := &cobra.Command{
		Use:   "gateway",
		Short: "Run a gateway-only node fed by an API Manager control plane",
		Long: `Run a gateway-only node: it pulls deployed APIs, applications, subscriptions,
policies and revocations from an API Manager control plane and serves API traffic.

Listeners (plus [server] offset or --offset):
  https://HOST:8243   gateway (HTTPS)
  http://HOST:8280    gateway (HTTP)
  https://HOST:9443   /health/live, /health/ready, /metrics

The control plane's certificate must be in the truststore ([truststore], or
import it with "keyway truststore import").`,
		Example: `  keyway gateway --control-plane https://apim.example.com:9443`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load(cmd)
			if err != nil {
				return err
			}
			if controlPlane != "" {
				cfg.APIM.ControlPlaneURL = controlPlane
			}
			if cfg.APIM.ControlPlaneURL == "" {
				return errors.New("keyway gateway needs --control-plane URL or [apim] control_plane_url")
			}
			url := cfg.APIM.ControlPlaneURL
			return node.Run(cmd.Context(), node.Role{
				Name: "gateway", Title: "Gateway", Config: cfg,
				Components: func(ctx context.Context, p *platform.Platform) ([]platform.Component, error) {
					return gatewayComponents(ctx, p, url)
				},
			})
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&controlPlane, "control-plane", "", "https URL of the API Manager control plane (default: [apim] control_plane_url)")
	return cmd
}

func newUpCommand() *cobra.Command {
	var f roleFlags
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run the API Manager and the Identity Server in one process",
		Long: `Run Pattern 6 on one machine: the API Manager all-in-one and the Identity Server
in one process, each with its own embedded databases and generated keystore, and
each trusting the other's certificate (the seed's certificate exchange, done).

Listeners (plus [server] offset or --offset):
  https://HOST:9443   API Manager management, portals, health, metrics
  https://HOST:8243   API Manager gateway (HTTPS)
  http://HOST:8280    API Manager gateway (HTTP)
  https://HOST:9444   Identity Server (the offset plus one)

Once both listen, it sets Pattern 6 up through the REST APIs, as an operator would:
the Identity Server becomes key manager WSO2IS7 (type WSO2-IS-7, the seed's table
of endpoints), the sample API PizzaShackAPI 1.0.0 is created from an OpenAPI file,
deployed and published (a built-in backend serves it on 127.0.0.1:8290 plus the
offset), and application KeywaySampleApp is subscribed with keys from the Identity
Server. It then prints the console URLs and two commands: get a token from the
Identity Server, call the API through the gateway. Each step is idempotent, so a
restart keeps everything and prints the same commands.

Data lives under DATA/apim and DATA/is. The super admin is admin/admin until you
set [super_admin]. Stop with Ctrl-C.`,
		Example: `  keyway up
  curl --cacert data/apim/security/client-truststore.pem https://localhost:9443/health/ready`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load(cmd)
			if err != nil {
				return err
			}
			return node.RunThen(cmd.Context(), quickStart(cmd.OutOrStdout(), cfg.Server.DataDir, cfg.Server.Offset), upRoles(cfg)...)
		},
	}
	f.register(cmd)
	return cmd
}

// upRoles splits one configuration into the two roles of `keyway up`: the
// Identity Server one port above the API Manager, each with its own data
// directory. The Identity Server starts first so that the API Manager's key
// manager finds it.
func upRoles(cfg *config.Config) []node.Role {
	data := cfg.Server.DataDir
	apim, is := *cfg, *cfg
	is.Server.Offset++
	return []node.Role{
		{Name: "is", Title: "Identity Server", Config: &is, Options: node.Options{DataDir: filepath.Join(data, "is")}, Components: identityComponents},
		{Name: "apim", Title: "API Manager", Config: &apim, Options: node.Options{DataDir: filepath.Join(data, "apim")}, Components: apimComponents},
	}
}

// errUsage marks an error caused by bad arguments.
var errUsage = errors.New("usage")

func usageError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errUsage}, args...)...)
}
