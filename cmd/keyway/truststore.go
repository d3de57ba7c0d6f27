package main

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/keyway/keyway/internal/keystore"
	"github.com/keyway/keyway/internal/node"
	"github.com/spf13/cobra"
)

// trustFlags say which truststore a command works on.
type trustFlags struct {
	file, typ, password string
	config, dataDir     string
}

func (f *trustFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.file, "truststore", "", "truststore file (default: [truststore] file_name of --config, else DATA/security/client-truststore.pem)")
	cmd.Flags().StringVar(&f.typ, "type", "", "truststore type: JKS, PKCS12 or PEM (default: from --config or the file name)")
	cmd.Flags().StringVar(&f.password, "password", "", `truststore password for JKS and PKCS12 (default: [truststore] password, else WSO2's "wso2carbon")`)
	cmd.Flags().StringVarP(&f.config, "config", "c", "", "deployment.toml whose [truststore] to use")
	cmd.Flags().StringVar(&f.dataDir, "data-dir", "", `data directory holding the default truststore (default: [server] data_dir, "data"; "keyway up" uses DATA/apim and DATA/is)`)
}

// options resolves the flags, the configuration and the defaults.
func (f *trustFlags) options() (keystore.Options, error) {
	cfg, err := loadConfig(f.config, "")
	if err != nil {
		return keystore.Options{}, err
	}
	o := keystore.Options{File: f.file, Type: f.typ, Password: f.password}
	if o.File == "" {
		if cfg.Truststore.FileName != "" {
			o.File = cfg.Truststore.FileName
			if o.Type == "" {
				o.Type = cfg.Truststore.Type
			}
		} else {
			dir := f.dataDir
			if dir == "" {
				dir = cfg.Server.DataDir
			}
			o.File = filepath.Join(dir, node.SecurityDir, node.TrustStoreFile)
		}
	}
	if o.Password == "" {
		o.Password = cfg.Truststore.Password
	}
	if o.Password == "" {
		o.Password = "wso2carbon"
	}
	return o, nil
}

func newTruststoreCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "truststore",
		Short: "Import and list trusted certificates (replaces keytool)",
		Long: `Manage the truststore Keyway verifies TLS peers against: key managers, notify
endpoints, backends and the other Pattern 6 server. JKS (client-truststore.jks),
PKCS#12 and PEM bundles are supported; a file is written back in its own format.`,
	}
	var imp trustFlags
	var alias, certFile string
	importCmd := &cobra.Command{
		Use:   "import --alias NAME --cert FILE",
		Short: "Trust a certificate (keytool -importcert)",
		Long: `Add the certificate(s) in FILE (PEM or DER) to the truststore under NAME; a
bundle's further certificates get NAME-2, NAME-3... An entry with the same alias
is replaced. A missing truststore file is created. Restart the roles that use the
truststore to pick the change up.`,
		Example: `  keyway truststore import --alias wso2is --cert is.pem
  keyway truststore import --alias apim --cert apim.crt --truststore client-truststore.jks --password wso2carbon`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if alias == "" || certFile == "" {
				return usageError("--alias and --cert are required")
			}
			certs, err := readCertificates(certFile)
			if err != nil {
				return err
			}
			o, err := imp.options()
			if err != nil {
				return err
			}
			ts, err := keystore.LoadTrustStore(o)
			if errors.Is(err, fs.ErrNotExist) {
				ts, err = &keystore.TrustStore{Path: o.File, Type: typeFor(o), Password: o.Password}, nil
			}
			if err != nil {
				return err
			}
			for i, c := range certs {
				name := strings.ToLower(alias)
				if i > 0 {
					name = fmt.Sprintf("%s-%d", name, i+1)
				}
				ts.Add(name, c)
				fmt.Fprintf(cmd.OutOrStdout(), "trusted %s: %s (SHA-256 %s)\n", name, c.Subject, fingerprint(c))
			}
			if err := ts.Save(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "saved %s (%s, %d entries)\n", ts.Path, ts.Type, len(ts.Entries()))
			return nil
		},
	}
	imp.register(importCmd)
	importCmd.Flags().StringVar(&alias, "alias", "", "name of the entry (required)")
	importCmd.Flags().StringVar(&certFile, "cert", "", "certificate file, PEM or DER (required)")

	var list trustFlags
	listCmd := &cobra.Command{
		Use:   "list",
		Short: "List trusted certificates (keytool -list)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := list.options()
			if err != nil {
				return err
			}
			ts, err := keystore.LoadTrustStore(o)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ALIAS\tSUBJECT\tEXPIRES\tSHA-256")
			for _, e := range ts.Entries() {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", e.Alias, e.Cert.Subject, e.Cert.NotAfter.Format("2006-01-02"), fingerprint(e.Cert))
			}
			return w.Flush()
		},
	}
	list.register(listCmd)
	cmd.AddCommand(importCmd, listCmd)
	return cmd
}

// typeFor names the format of a new truststore file.
func typeFor(o keystore.Options) string {
	switch t := strings.ToUpper(o.Type); t {
	case "JKS", "PEM":
		return t
	case "PKCS12", "P12", "PFX":
		return "PKCS12"
	}
	switch strings.ToLower(filepath.Ext(o.File)) {
	case ".p12", ".pfx":
		return "PKCS12"
	case ".jks":
		return "JKS"
	}
	return "PEM"
}

func readCertificates(file string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	if !strings.Contains(string(data), "-----BEGIN") {
		c, err := x509.ParseCertificate(data)
		if err != nil {
			return nil, fmt.Errorf("%s is neither PEM nor a DER certificate: %w", file, err)
		}
		return []*x509.Certificate{c}, nil
	}
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no CERTIFICATE block", file)
	}
	return out, nil
}

func fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}
