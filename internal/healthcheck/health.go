// Package healthcheck is `keyway health`: a probe the container image runs as
// its HEALTHCHECK (distroless images have no curl). It GETs a health URL of
// the running server and exits non-zero unless the answer is 200. Kubernetes
// probes do not use it: they call /health/live and /health/ready with httpGet.
package healthcheck

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/spf13/cobra"
)

// DefaultURL is the readiness endpoint of a role on the default port.
const DefaultURL = "https://127.0.0.1:9443/health/ready"

// Options are the probe's settings.
type Options struct {
	URL     string
	Timeout time.Duration
	// CAFile verifies the server against these PEM certificates.
	CAFile string
	// Insecure skips certificate verification. It is implied for loopback
	// URLs without CAFile: the probe checks our own process, sends no
	// credentials, and the generated keystore's certificate is self-signed.
	Insecure bool
}

// Check performs one probe.
func Check(ctx context.Context, o Options) error {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("health: %q is not an http(s) URL", o.URL)
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	switch {
	case o.CAFile != "":
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return fmt.Errorf("health: read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("health: %s holds no PEM certificate", o.CAFile)
		}
		tlsCfg.RootCAs = pool
	case o.Insecure || isLoopback(u.Hostname()):
		tlsCfg.InsecureSkipVerify = true //nolint:gosec // see Options.Insecure
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg, Proxy: nil}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health: %s answered %d: %s", u.Redacted(), resp.StatusCode, body)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// NewHealthCommand returns `keyway health [--url URL] [--timeout D] [--ca FILE] [--insecure]`.
func NewHealthCommand() *cobra.Command {
	o := Options{}
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Probe a running Keyway server's health endpoint (exit 0 when healthy)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := Check(cmd.Context(), o); err != nil {
				return err
			}
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "healthy")
			return err
		},
		SilenceUsage: true,
	}
	cmd.Flags().StringVar(&o.URL, "url", DefaultURL, "health URL (/health/live or /health/ready)")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 5*time.Second, "give up after this long")
	cmd.Flags().StringVar(&o.CAFile, "ca", "", "PEM file to verify the server certificate with")
	cmd.Flags().BoolVar(&o.Insecure, "insecure", false, "skip certificate verification (implied for loopback URLs without --ca)")
	return cmd
}
