// Package node is the role runtime: it turns a loaded deployment.toml into the
// platform.Platform every component is built from (logger, data directory,
// keystores, truststore, sealer, metrics, health, event bus), opens the
// configured databases, and serves a role's components on the management and
// gateway listeners until the context ends, then stops them in reverse order.
// cmd/keyway only chooses which components a role has.
package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/keyway/keyway/internal/config"
	"github.com/keyway/keyway/internal/events"
	"github.com/keyway/keyway/internal/httpx"
	"github.com/keyway/keyway/internal/keystore"
	"github.com/keyway/keyway/internal/platform"
	"github.com/keyway/keyway/internal/secret"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Options adjust how NewPlatform builds a platform.
type Options struct {
	// Role names the role in logs ("apim", "is", "gateway").
	Role string
	// DataDir overrides [server] data_dir (the --data-dir flag).
	DataDir string
	// LogOutput receives the logs; nil means standard error.
	LogOutput io.Writer
}

// Default file names under <data>/security/.
const (
	SecurityDir         = "security"
	PrimaryKeyStoreFile = "primary.pem"
	InternalKeyFile     = "internal.pem"
	TrustStoreFile      = "client-truststore.pem"
)

// NewPlatform builds everything a role's components share. It creates the
// data directory and, on first start, the default keystores in it.
func NewPlatform(ctx context.Context, cfg *config.Config, opts Options) (*platform.Platform, error) {
	logger, err := NewLogger(cfg.Log, opts.LogOutput)
	if err != nil {
		return nil, err
	}
	if opts.Role != "" {
		logger = logger.With("role", opts.Role)
	}
	dataDir := opts.DataDir
	if dataDir == "" {
		dataDir = cfg.Server.DataDir
	}
	if dataDir == "" {
		dataDir = "data"
	}
	if err := os.MkdirAll(filepath.Join(dataDir, SecurityDir), 0o700); err != nil {
		return nil, fmt.Errorf("create data directory %s: %w", dataDir, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	keys, err := loadKeys(cfg, dataDir)
	if err != nil {
		return nil, err
	}
	for _, k := range []struct {
		use string
		ks  *keystore.KeyStore
	}{{"primary", keys.primary}, {"tls", keys.tls}, {"internal", keys.internal}} {
		if k.ks.Generated && (k.use != "tls" || keys.tls != keys.primary) {
			logger.Info("generated a default keystore; restarts reuse it", "use", k.use, "file", k.ks.Path)
		}
	}
	trust, err := loadTrust(cfg, dataDir, keys.tls)
	if err != nil {
		return nil, err
	}
	sealer, err := secret.NewSealer(keys.internal)
	if err != nil {
		return nil, err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	if cfg.UsesDefaultAdminPassword() {
		logger.Warn("the super admin is admin/admin; change [super_admin] password before exposing this server")
	}
	return &platform.Platform{
		Config:   cfg,
		Logger:   logger,
		DataDir:  dataDir,
		Primary:  keys.primary,
		TLS:      keys.tls,
		Internal: keys.internal,
		Sealer:   sealer,
		Trust:    trust,
		Metrics:  reg,
		Health:   httpx.NewHealth(),
		Bus:      events.NewLocal(),
		BaseURL:  cfg.ManagementURL(),
	}, nil
}

// NewLogger builds the slog logger [log] describes.
func NewLogger(c config.Log, w io.Writer) (*slog.Logger, error) {
	if w == nil {
		w = os.Stderr
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		return nil, fmt.Errorf("[log] level: %w", err)
	}
	ho := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(c.Format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, ho)), nil
	case "json", "":
		return slog.New(slog.NewJSONHandler(w, ho)), nil
	}
	return nil, fmt.Errorf("[log] format %q is not json or text", c.Format)
}

type keySet struct{ primary, tls, internal *keystore.KeyStore }

// hosts are the SANs of generated certificates: the configured hostname and
// the loopback names, so local clients and the other local role verify it.
func hosts(cfg *config.Config) []string {
	return []string{cfg.Server.Hostname, "localhost", "127.0.0.1", "::1"}
}

func keystoreOptions(k config.Keystore) (keystore.Options, error) {
	o := keystore.Options{File: k.FileName, Type: k.Type, Password: k.Password, Alias: k.Alias, KeyPassword: k.KeyPassword}
	if o.Password == "" && k.PasswordFile != "" {
		b, err := os.ReadFile(k.PasswordFile)
		if err != nil {
			return o, fmt.Errorf("read keystore password file: %w", err)
		}
		o.Password = strings.TrimRight(string(b), "\r\n")
	}
	return o, nil
}

// loadKeys opens the configured keystores. Without configuration the
// primary key is generated once into <data>/security/primary.pem and, as in
// WSO2 where [keystore.tls] defaults to the primary keystore, also serves
// TLS. The internal key (which seals secrets at rest) is its own file so that
// exporting or rotating the signing key never exposes stored secrets.
func loadKeys(cfg *config.Config, dataDir string) (keySet, error) {
	sec := filepath.Join(dataDir, SecurityDir)
	var ks keySet
	var mu sync.Mutex
	var firstErr error
	load := func(name string, k config.Keystore, file string, dst **keystore.KeyStore) {
		o, err := keystoreOptions(k)
		if err == nil {
			*dst, err = keystore.LoadOrGenerate(o, filepath.Join(sec, file), hosts(cfg))
		}
		if err != nil {
			mu.Lock()
			if firstErr == nil {
				firstErr = fmt.Errorf("[keystore.%s]: %w", name, err)
			}
			mu.Unlock()
		}
	}
	// Key generation is the slowest part of a first start: do both at once.
	var wg sync.WaitGroup
	wg.Go(func() { load("primary", cfg.Keystore.Primary, PrimaryKeyStoreFile, &ks.primary) })
	internal := cfg.Keystore.Internal
	if internal.FileName != "" && internal.Password == "" && internal.PasswordFile == "" {
		// The internal keystore's password may come from the secure vault's
		// sources too ([secure_vault] password_file, as the Secrets Store CSI
		// driver mounts it, or an environment variable).
		if pw, err := secret.InternalKeystorePassword(cfg, nil); err == nil {
			internal.Password = pw
		}
	}
	wg.Go(func() { load("internal", internal, InternalKeyFile, &ks.internal) })
	if cfg.Keystore.TLS.FileName != "" {
		wg.Go(func() { load("tls", cfg.Keystore.TLS, "tls.pem", &ks.tls) })
	}
	wg.Wait()
	if firstErr != nil {
		return ks, firstErr
	}
	if ks.tls == nil {
		ks.tls = ks.primary
	}
	return ks, nil
}

// loadTrust opens [truststore], or the default PEM truststore in the data
// directory, and makes sure it trusts this node's own TLS certificate (so
// that one role can call another role of the same node, as WSO2's
// client-truststore.jks holds wso2carbon). Only the default file is written.
func loadTrust(cfg *config.Config, dataDir string, tlsKS *keystore.KeyStore) (*keystore.TrustStore, error) {
	o := keystore.Options{File: cfg.Truststore.FileName, Type: cfg.Truststore.Type, Password: cfg.Truststore.Password}
	isDefault := o.File == ""
	if isDefault {
		o = keystore.Options{File: filepath.Join(dataDir, SecurityDir, TrustStoreFile), Type: "PEM"}
	}
	ts, err := keystore.LoadTrustStore(o)
	if err != nil {
		return nil, fmt.Errorf("[truststore]: %w", err)
	}
	ts.System = cfg.Truststore.UseSystemRoots
	alias := tlsKS.Alias
	if alias == "" {
		alias = "wso2carbon"
	}
	if AddTrusted(ts, alias, tlsKS) && isDefault {
		if err := ts.Save(); err != nil {
			return nil, fmt.Errorf("[truststore]: %w", err)
		}
	}
	return ts, nil
}

// AddTrusted adds ks's certificate to ts under alias unless ts already trusts
// that certificate, and reports whether it changed ts.
func AddTrusted(ts *keystore.TrustStore, alias string, ks *keystore.KeyStore) bool {
	for _, e := range ts.Entries() {
		if e.Cert.Equal(ks.Certificate) {
			return false
		}
	}
	ts.Add(alias, ks.Certificate)
	return true
}

// IsDefaultTrustStore reports whether p uses the generated truststore in its
// data directory (which Keyway may write), rather than a configured file.
func IsDefaultTrustStore(p *platform.Platform) bool {
	return p.Config.Truststore.FileName == ""
}
