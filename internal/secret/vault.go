package secret

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/pelletier/go-toml/v2"

	"github.com/keyway/keyway/internal/config"
	"github.com/keyway/keyway/internal/keystore"
)

// The secure vault resolves $secret{alias} in deployment.toml. The encrypted
// values live in the [secrets] table of deployment.toml or in a secret-conf
// file named by [secure_vault] secret_conf_file (TOML lines `alias =
// "base64"`, the TOML form of WSO2's cipher-text.properties). They are
// decrypted with the internal keystore ([keystore.internal], or Keyway's
// generated default), whose password comes from, in order:
//
//  1. [keystore.internal] password
//  2. [keystore.internal] password_file
//  3. [secure_vault] password_file (a file mounted by the Secrets Store CSI driver)
//  4. the environment variable named by [secure_vault] password_env, or
//     KEYWAY_INTERNAL_KEYSTORE_PASSWORD when that is not set.
//
// A PEM keystore needs no password. No decrypted value is ever logged or put
// into an error.

// PasswordEnv is the default environment variable holding the internal
// keystore password.
const PasswordEnv = "KEYWAY_INTERNAL_KEYSTORE_PASSWORD"

// Option changes how the vault finds its keystore and environment.
type Option func(*options)

type options struct {
	env             func(string) (string, bool)
	defaultKeystore string
	keystore        *keystore.KeyStore
}

// WithEnv replaces os.LookupEnv (tests, or a filtered environment).
func WithEnv(env func(string) (string, bool)) Option {
	return func(o *options) { o.env = env }
}

// WithDefaultKeystore is the keystore used when [keystore.internal] names no
// file: the one Keyway generates in its data directory.
func WithDefaultKeystore(path string) Option {
	return func(o *options) { o.defaultKeystore = path }
}

// WithKeyStore uses an already opened internal keystore.
func WithKeyStore(ks *keystore.KeyStore) Option {
	return func(o *options) { o.keystore = ks }
}

func newOptions(opts []Option) options {
	o := options{env: os.LookupEnv}
	for _, fn := range opts {
		fn(&o)
	}
	return o
}

// Vault holds the encrypted entries and opens the internal keystore on first use,
// so a configuration without $secret{} never needs the keystore password.
type Vault struct {
	cfg     *config.Config
	opts    options
	entries map[string]string

	once  sync.Once
	ks    *keystore.KeyStore
	ksErr error
}

// NewVault reads the [secrets] table and the secret-conf file of cfg. Entries
// in [secrets] win over the secret-conf file.
func NewVault(cfg *config.Config, opts ...Option) (*Vault, error) {
	v := &Vault{cfg: cfg, opts: newOptions(opts), entries: map[string]string{}}
	if f := cfg.SecureVault.SecretConfFile; f != "" {
		conf, err := ReadSecretConf(f)
		if err != nil {
			return nil, err
		}
		for k, val := range conf {
			v.entries[k] = val
		}
	}
	for k, val := range cfg.Secrets {
		v.entries[k] = val
	}
	return v, nil
}

// NewResolver returns the function config.Options.Secret expects.
func NewResolver(cfg *config.Config, opts ...Option) (func(alias string) (string, error), error) {
	v, err := NewVault(cfg, opts...)
	if err != nil {
		return nil, err
	}
	return v.Resolve, nil
}

// Aliases lists the aliases the vault knows, sorted.
func (v *Vault) Aliases() []string {
	out := make([]string, 0, len(v.entries))
	for k := range v.entries {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Resolve decrypts the value stored under alias.
func (v *Vault) Resolve(alias string) (string, error) {
	enc, ok := v.entries[alias]
	if !ok {
		where := "[secrets]"
		if v.cfg.SecureVault.SecretConfFile != "" {
			where += " or " + v.cfg.SecureVault.SecretConfFile
		}
		return "", fmt.Errorf("$secret{%s}: unknown alias (not in %s)", alias, where)
	}
	if _, plain := IsPlaceholderPlaintext(enc); plain {
		return "", fmt.Errorf("$secret{%s}: the value is still plaintext in brackets; run `keyway cipher encrypt-config` to encrypt it", alias)
	}
	ks, err := v.KeyStore()
	if err != nil {
		return "", fmt.Errorf("$secret{%s}: %w", alias, err)
	}
	out, err := Decrypt(ks, enc)
	if err != nil {
		return "", fmt.Errorf("$secret{%s}: %w", alias, err)
	}
	return out, nil
}

// KeyStore opens the internal keystore once.
func (v *Vault) KeyStore() (*keystore.KeyStore, error) {
	v.once.Do(func() {
		if v.opts.keystore != nil {
			v.ks = v.opts.keystore
			return
		}
		v.ks, v.ksErr = OpenInternalKeyStore(v.cfg, v.opts.defaultKeystore, v.opts.env)
	})
	return v.ks, v.ksErr
}

// OpenInternalKeyStore opens [keystore.internal], or defaultPath when it names
// no file, with the password found as described in the package notes.
func OpenInternalKeyStore(cfg *config.Config, defaultPath string, env func(string) (string, bool)) (*keystore.KeyStore, error) {
	if env == nil {
		env = os.LookupEnv
	}
	in := cfg.Keystore.Internal
	file, typ := in.FileName, in.Type
	if file == "" {
		if defaultPath == "" {
			return nil, errors.New("no internal keystore: set [keystore.internal] file_name")
		}
		file, typ = defaultPath, "PEM"
	}
	password, err := InternalKeystorePassword(cfg, env)
	if err != nil {
		return nil, err
	}
	keyPassword := in.KeyPassword
	if keyPassword == "" {
		keyPassword = password
	}
	ks, err := keystore.Load(keystore.Options{File: file, Type: typ, Password: password, Alias: in.Alias, KeyPassword: keyPassword})
	if err != nil {
		// keystore errors name the file; a wrong password shows up here.
		return nil, fmt.Errorf("open internal keystore (wrong password or key?): %w", err)
	}
	return ks, nil
}

// InternalKeystorePassword finds the internal keystore password; "" when none
// is configured (fine for PEM keystores).
func InternalKeystorePassword(cfg *config.Config, env func(string) (string, bool)) (string, error) {
	if env == nil {
		env = os.LookupEnv
	}
	in := cfg.Keystore.Internal
	if in.Password != "" {
		return in.Password, nil
	}
	for _, f := range []struct{ key, path string }{
		{"keystore.internal.password_file", in.PasswordFile},
		{"secure_vault.password_file", cfg.SecureVault.PasswordFile},
	} {
		if f.path == "" {
			continue
		}
		b, err := os.ReadFile(f.path)
		if err != nil {
			return "", fmt.Errorf("read internal keystore password (%s): %w", f.key, err)
		}
		// Files written by `echo` or mounted by the CSI driver often end in a newline.
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	name := cfg.SecureVault.PasswordEnv
	if name == "" {
		name = PasswordEnv
	}
	if p, ok := env(name); ok {
		return p, nil
	}
	return "", nil
}

// ReadSecretConf reads a secret-conf file: TOML with one `alias = "encrypted"`
// per line at the top level.
func ReadSecretConf(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read secret-conf file: %w", err)
	}
	var raw map[string]any
	if err := toml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("secret-conf file %s: %w", path, err)
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("secret-conf file %s: alias %q: value must be a string", path, k)
		}
		out[k] = s
	}
	return out, nil
}

// LoadConfig loads deployment.toml with $secret{} resolved. [keystore.internal]
// and [secure_vault] live in the same file as the secrets they unlock, so the
// file is parsed twice: once with $secret{} left as written to learn where the
// keystore and the encrypted values are, then again with the vault.
func LoadConfig(path string, opts ...Option) (*config.Config, error) {
	o := newOptions(opts)
	first, err := config.Load(path, config.Options{Env: o.env, Secret: func(alias string) (string, error) {
		return "$secret{" + alias + "}", nil
	}})
	if err != nil {
		return nil, err
	}
	if err := checkVaultSettings(first); err != nil {
		return nil, err
	}
	v, err := NewVault(first, opts...)
	if err != nil {
		return nil, err
	}
	return config.Load(path, config.Options{Env: o.env, Secret: v.Resolve})
}

// checkVaultSettings rejects $secret{} in the settings that open the vault:
// they cannot be decrypted before the vault is open.
func checkVaultSettings(c *config.Config) error {
	in := c.Keystore.Internal
	for key, val := range map[string]string{
		"keystore.internal.file_name":     in.FileName,
		"keystore.internal.type":          in.Type,
		"keystore.internal.password":      in.Password,
		"keystore.internal.key_password":  in.KeyPassword,
		"keystore.internal.password_file": in.PasswordFile,
		"keystore.internal.alias":         in.Alias,
		"secure_vault.secret_conf_file":   c.SecureVault.SecretConfFile,
		"secure_vault.password_file":      c.SecureVault.PasswordFile,
		"secure_vault.password_env":       c.SecureVault.PasswordEnv,
	} {
		if strings.Contains(val, "$secret{") {
			return &config.Error{File: c.File, Key: key, Msg: "cannot be a $secret{}: it is needed to open the secure vault (use $env{} or a password file)"}
		}
	}
	return nil
}
