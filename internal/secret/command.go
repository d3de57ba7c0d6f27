package secret

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyway/keyway/internal/config"
	"github.com/keyway/keyway/internal/keystore"
)

// NewCommand returns `keyway cipher` with encrypt, decrypt and encrypt-config,
// the counterpart of WSO2's cipher-tool.sh. opts (WithDefaultKeystore, WithEnv)
// apply to every subcommand.
func NewCommand(opts ...Option) *cobra.Command {
	f := &keyFlags{opts: opts}
	cmd := &cobra.Command{
		Use:   "cipher",
		Short: "Encrypt and decrypt secure-vault values with the internal keystore",
		Long: `The cipher tool encrypts passwords for deployment.toml with the internal keystore's
RSA key (RSA-OAEP, SHA-256). Put the result in [secrets] (or the [secure_vault]
secret_conf_file) under an alias and write $secret{alias} where the password goes.

The keystore is [keystore.internal] of --config (or --keystore). Its password is
read from [keystore.internal] password or password_file, [secure_vault]
password_file, or the environment variable [secure_vault] password_env
(default ` + PasswordEnv + `).`,
	}
	cmd.PersistentFlags().StringVar(&f.config, "config", "", "deployment.toml whose [keystore.internal] to use")
	cmd.PersistentFlags().StringVar(&f.keystore, "keystore", "", "internal keystore file (overrides --config)")
	cmd.PersistentFlags().StringVar(&f.keystoreType, "keystore-type", "", "JKS, PKCS12 or PEM (default: from the file name)")
	cmd.PersistentFlags().StringVar(&f.passwordFile, "password-file", "", "file holding the keystore password (default: "+PasswordEnv+")")
	cmd.AddCommand(newEncryptCommand(f), newDecryptCommand(f), newEncryptConfigCommand(f))
	return cmd
}

type keyFlags struct {
	opts                                         []Option
	config, keystore, keystoreType, passwordFile string
}

// open finds the internal keystore the flags name; cfg is the configuration
// parsed with $secret{} left as written (nil without --config).
func (f *keyFlags) open() (*keystore.KeyStore, *config.Config, error) {
	o := newOptions(f.opts)
	var cfg *config.Config
	if f.config != "" {
		c, err := config.Load(f.config, config.Options{Env: o.env, Secret: func(a string) (string, error) { return "$secret{" + a + "}", nil }})
		if err != nil {
			return nil, nil, err
		}
		if err := checkVaultSettings(c); err != nil {
			return nil, nil, err
		}
		cfg = c
	}
	if f.keystore != "" || cfg == nil {
		if f.keystore == "" && o.defaultKeystore == "" {
			return nil, nil, errors.New("name the internal keystore with --config or --keystore")
		}
		c := config.Default()
		if cfg != nil {
			c = cfg
		}
		copyCfg := *c
		copyCfg.Keystore.Internal = config.Keystore{FileName: f.keystore, Type: f.keystoreType, Alias: c.Keystore.Internal.Alias}
		copyCfg.SecureVault.PasswordFile = f.passwordFile
		ks, err := OpenInternalKeyStore(&copyCfg, o.defaultKeystore, o.env)
		return ks, cfg, err
	}
	if f.passwordFile != "" {
		cfg.SecureVault.PasswordFile = f.passwordFile
		cfg.Keystore.Internal.PasswordFile = ""
	}
	ks, err := OpenInternalKeyStore(cfg, o.defaultKeystore, o.env)
	return ks, cfg, err
}

// readValue returns the argument, or standard input for "-" (so that the
// value stays out of the shell history and the process list).
func readValue(cmd *cobra.Command, arg string) (string, error) {
	if arg != "-" {
		return arg, nil
	}
	b, err := io.ReadAll(cmd.InOrStdin())
	if err != nil {
		return "", fmt.Errorf("read standard input: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

func newEncryptCommand(f *keyFlags) *cobra.Command {
	var alias string
	cmd := &cobra.Command{
		Use:   "encrypt [--alias ALIAS] VALUE|-",
		Short: "Encrypt a value (- reads it from standard input)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			value, err := readValue(cmd, args[0])
			if err != nil {
				return err
			}
			ks, _, err := f.open()
			if err != nil {
				return err
			}
			enc, err := Encrypt(ks, value)
			if err != nil {
				return err
			}
			if alias != "" {
				// Ready to paste into [secrets] or the secret-conf file.
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s = %s\n", tomlKey(alias), strconv.Quote(enc))
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), enc)
			return err
		},
	}
	cmd.Flags().StringVar(&alias, "alias", "", "print an `alias = \"...\"` line for [secrets]")
	return cmd
}

func newDecryptCommand(f *keyFlags) *cobra.Command {
	var alias string
	cmd := &cobra.Command{
		Use:   "decrypt (--alias ALIAS | VALUE|-)",
		Short: "Decrypt a value, or the value of an alias of --config",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (alias == "") == (len(args) == 0) {
				return errors.New("give either --alias or a value")
			}
			ks, cfg, err := f.open()
			if err != nil {
				return err
			}
			var plain string
			if alias != "" {
				if cfg == nil {
					return errors.New("--alias needs --config")
				}
				v, err := NewVault(cfg, append(f.opts, WithKeyStore(ks))...)
				if err != nil {
					return err
				}
				if plain, err = v.Resolve(alias); err != nil {
					return err
				}
			} else {
				value, err := readValue(cmd, args[0])
				if err != nil {
					return err
				}
				if plain, err = Decrypt(ks, value); err != nil {
					return err
				}
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), plain)
			return err
		},
	}
	cmd.Flags().StringVar(&alias, "alias", "", "decrypt this alias from [secrets] or the secret-conf file")
	return cmd
}

func newEncryptConfigCommand(f *keyFlags) *cobra.Command {
	var secretConf string
	cmd := &cobra.Command{
		Use:   "encrypt-config --config FILE",
		Short: `Encrypt, in place, every "[plaintext]" value of [secrets] and of the secret-conf file`,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.config == "" {
				return errors.New("encrypt-config needs --config")
			}
			ks, cfg, err := f.open()
			if err != nil {
				return err
			}
			enc := func(p string) (string, error) { return Encrypt(ks, p) }
			targets := []struct{ file, table string }{{f.config, "secrets"}}
			if secretConf == "" {
				secretConf = cfg.SecureVault.SecretConfFile
			}
			if secretConf != "" {
				targets = append(targets, struct{ file, table string }{secretConf, ""})
			}
			for _, t := range targets {
				n, err := encryptFile(t.file, t.table, enc)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: encrypted %d value(s)%s\n", t.file, len(n), listAliases(n))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&secretConf, "secret-conf", "", "secret-conf file (default: [secure_vault] secret_conf_file)")
	return cmd
}

func listAliases(a []string) string {
	if len(a) == 0 {
		return ""
	}
	return ": " + strings.Join(a, ", ")
}

// encryptFile rewrites path in place, keeping its permissions.
func encryptFile(path, table string, enc func(string) (string, error)) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("encrypt-config: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("encrypt-config: %w", err)
	}
	out, done, err := EncryptPlaintextEntries(data, table, enc)
	if err != nil {
		return nil, fmt.Errorf("encrypt-config %s: %w", path, err)
	}
	if len(done) == 0 {
		return nil, nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return nil, fmt.Errorf("encrypt-config: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(out); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("encrypt-config: write %s: %w", path, err)
	}
	if err := tmp.Chmod(st.Mode().Perm()); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("encrypt-config: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("encrypt-config: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, fmt.Errorf("encrypt-config: replace %s: %w", path, err)
	}
	return done, nil
}

// tomlKey quotes an alias when it is not a bare TOML key.
func tomlKey(alias string) string {
	for _, r := range alias {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return strconv.Quote(alias)
		}
	}
	return alias
}
