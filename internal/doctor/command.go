package doctor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/keyway/keyway/internal/config"
	"github.com/keyway/keyway/internal/keystore"
	"github.com/spf13/cobra"
)

// ErrChecksFailed is returned by the command when a check failed, so the
// process exits non-zero.
var ErrChecksFailed = errors.New("the Pattern 6 wiring has problems (see FAIL above)")

// DefaultTrustStorePath is where a Keyway role keeps its truststore when
// deployment.toml names none.
func DefaultTrustStorePath(c *config.Config) string {
	return filepath.Join(c.Server.DataDir, "security", "client-truststore.pem")
}

// LoadTrustStore opens the truststore a deployment.toml names (or the
// default one) and says which file it is.
func LoadTrustStore(c *config.Config) (*keystore.TrustStore, string, error) {
	path, typ := c.Truststore.FileName, c.Truststore.Type
	if path == "" {
		path, typ = DefaultTrustStorePath(c), "PEM"
	}
	password := c.Truststore.Password
	if password == "" {
		password = "wso2carbon" // WSO2's default, as `keyway truststore` assumes
	}
	ts, err := keystore.LoadTrustStore(keystore.Options{File: path, Type: typ, Password: password})
	if err != nil {
		return nil, path, err
	}
	ts.System = c.Truststore.UseSystemRoots
	trustOwnCertificate(ts, c)
	return ts, path, nil
}

// trustOwnCertificate adds the server's own TLS certificate, as the running
// node does with its truststore (WSO2's client-truststore.jks likewise holds
// wso2carbon): the doctor then trusts exactly what the API Manager trusts.
// A keystore it cannot open is left out; the TLS check reports the result.
func trustOwnCertificate(ts *keystore.TrustStore, c *config.Config) {
	k := c.Keystore.TLS
	if k.FileName == "" {
		k = c.Keystore.Primary
	}
	if k.FileName == "" {
		return
	}
	o := keystore.Options{File: k.FileName, Type: k.Type, Password: k.Password, Alias: k.Alias, KeyPassword: k.KeyPassword}
	if o.Password == "" && k.PasswordFile != "" {
		if b, err := os.ReadFile(k.PasswordFile); err == nil {
			o.Password = strings.TrimRight(string(b), "\r\n")
		}
	}
	ks, err := keystore.Load(o)
	if err != nil {
		return
	}
	for _, e := range ts.Entries() {
		if e.Cert.Equal(ks.Certificate) {
			return
		}
	}
	ts.Add("keyway-self", ks.Certificate)
}

// NewCommand returns `keyway doctor`.
func NewCommand() *cobra.Command {
	var (
		configFile, isConfigFile, trustFile    string
		dataDir                                string
		o                                      Options
		asJSON                                 bool
		kmUser, kmPass, isAdminUser, isAdminPw string
	)
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check a Pattern 6 wiring (API Manager + Identity Server key manager) and explain what is broken",
		Long: `doctor checks, from the API Manager's side, that the API Manager and the Identity
Server it uses as key manager can work together: TLS trust both ways, the key
manager's endpoints, issuer and JWKS kid consistency, the connector's DCR
credentials, the notify endpoint IS posts revocation events to, and clocks.

The notify check posts one harmless token_revocation event: a random identifier
no token has, expiring one minute later. Turn it off with --is-notify-check=false.`,
		Example: `  keyway doctor --config repository/conf/deployment.toml
  keyway doctor --apim https://apim.example.com:9443 --is-config is/deployment.toml --json`,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := config.Default()
			if configFile != "" {
				c, err := config.Load(configFile, config.Options{})
				if err != nil {
					return fmt.Errorf("read the API Manager's configuration: %w", err)
				}
				cfg = c
				if !cmd.Flags().Changed("apim") {
					o.APIMURL = cfg.ManagementURL()
				}
			}
			if dataDir != "" {
				cfg.Server.DataDir = dataDir
			}
			if !cmd.Flags().Changed("username") {
				o.Username = cfg.SuperAdmin.Username
			}
			if !cmd.Flags().Changed("password") {
				o.Password = cfg.SuperAdmin.Password
			}
			var err error
			if trustFile != "" {
				o.Trust, err = keystore.LoadTrustStore(keystore.Options{File: trustFile, Password: firstNonEmpty(cfg.Truststore.Password, "wso2carbon")})
				o.TrustSource = trustFile
			} else {
				o.Trust, o.TrustSource, err = LoadTrustStore(cfg)
			}
			if err != nil {
				return fmt.Errorf("load the API Manager's truststore: %w", err)
			}
			o.ConnectorUsername, o.ConnectorPassword = kmUser, kmPass
			o.ISAdminUsername, o.ISAdminPassword = isAdminUser, isAdminPw
			if isConfigFile != "" {
				isCfg, err := config.Load(isConfigFile, config.Options{})
				if err != nil {
					return fmt.Errorf("read the Identity Server's configuration: %w", err)
				}
				o.ISConfig, o.ISConfigSource = isCfg, isConfigFile
				// IS signs its events with the listener's credentials: test those.
				if l, ok := isCfg.TokenRevocationListener(); ok {
					if !cmd.Flags().Changed("is-admin-username") {
						o.ISAdminUsername = l.Properties["username"]
					}
					if !cmd.Flags().Changed("is-admin-password") {
						o.ISAdminPassword = l.Properties["password"]
					}
				}
				var path string
				o.ISTrust, path, err = LoadTrustStore(isCfg)
				o.ISTrustSource = path
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "warning: cannot load IS's truststore %s: %v\n", path, err)
					o.ISTrust = nil
				}
			}
			report := Run(cmd.Context(), o)
			out := cmd.OutOrStdout()
			if asJSON {
				err = report.WriteJSON(out)
			} else {
				err = report.WriteText(out)
			}
			if err != nil {
				return err
			}
			if report.Failed() {
				return ErrChecksFailed
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&configFile, "config", "", "the API Manager's deployment.toml (truststore and admin credentials)")
	f.StringVar(&o.APIMURL, "apim", "https://localhost:9443", "the API Manager's management URL")
	f.StringVar(&o.KeyManager, "key-manager", "WSO2IS7", "the key manager's name in the API Manager")
	f.StringVar(&o.Username, "username", "admin", "API Manager admin user (default: [super_admin] of --config)")
	f.StringVar(&o.Password, "password", "admin", "API Manager admin password (default: [super_admin] of --config)")
	f.StringVar(&trustFile, "truststore", "", "use this truststore instead of the one --config names")
	f.StringVar(&dataDir, "data-dir", "", `the API Manager's data directory, for its default truststore DATA/security/client-truststore.pem ("keyway up" uses DATA/apim)`)
	f.StringVar(&kmUser, "km-username", "", "connector username to test DCR with (default: the key manager's)")
	f.StringVar(&kmPass, "km-password", "", "connector password to test DCR with (default: the key manager's)")
	f.BoolVar(&o.NotifyCheck, "is-notify-check", true, "post a harmless token_revocation event to the notify endpoint with IS's admin credentials")
	f.StringVar(&isAdminUser, "is-admin-username", "admin", "the IS admin user IS's event listener authenticates with")
	f.StringVar(&isAdminPw, "is-admin-password", "admin", "the IS admin password IS's event listener authenticates with")
	f.StringVar(&isConfigFile, "is-config", "", "the Identity Server's deployment.toml: check its [[event_listener]] and that its truststore trusts the API Manager")
	f.DurationVar(&o.Timeout, "timeout", 10*time.Second, "timeout of each HTTP call")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
