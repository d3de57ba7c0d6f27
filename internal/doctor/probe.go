package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/keyway/keyway/internal/keystore"
)

// httpClient makes the doctor's calls: TLS verified against one truststore,
// redirects not followed (a redirect is an answer, and a discovery document
// behind a redirect is itself a problem).
type httpClient struct{ c *http.Client }

func newClient(ts *keystore.TrustStore, timeout time.Duration) *httpClient {
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: timeout}).DialContext,
		TLSClientConfig:     ts.ClientTLSConfig(),
		TLSHandshakeTimeout: timeout,
		DisableKeepAlives:   true,
	}
	return &httpClient{c: &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// response is a fully read answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (h *httpClient) do(ctx context.Context, method, rawURL string, body io.Reader, header map[string]string) (*response, error) {
	req, err := http.NewRequestWithContext(ctx, method, rawURL, body)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := h.c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("read response from %s: %w", rawURL, err)
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// problem is a failed connection explained.
type problem struct {
	Message string
	Fix     string
}

// peer names the two sides of one connection, for messages: who connects,
// to whom, and how to import the server's certificate into the client's
// truststore.
type peer struct {
	Client     string // "APIM"
	Server     string // "IS"
	Alias      string // truststore alias suggested for the server's certificate
	CertFile   string // the file name suggested for the exported certificate
	ImportHint string // extra words for the import command (e.g. --config for IS)
}

var (
	apimToIS   = peer{Client: "APIM", Server: "IS", Alias: "wso2is", CertFile: "is.crt"}
	doctorAPIM = peer{Client: "the doctor (with APIM's truststore)", Server: "APIM", Alias: "wso2am", CertFile: "apim.crt"}
)

// explain turns a connection error into plain words. Each kind of failure
// gets its own message, because each has a different fix.
func explain(err error, target string, p peer) problem {
	host := target
	if u, perr := url.Parse(target); perr == nil && u.Host != "" {
		host = u.Host
	}
	hostname := host
	if h, _, serr := net.SplitHostPort(host); serr == nil {
		hostname = h
	}
	importCmd := fmt.Sprintf("`keyway truststore import --alias %s --cert %s%s`", p.Alias, p.CertFile, p.ImportHint)

	var unknown x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	var dnsErr *net.DNSError
	var recordErr tls.RecordHeaderError
	switch {
	case errors.As(err, &hostErr):
		return problem{
			Message: fmt.Sprintf("%s's certificate is not valid for the host name %q: it names %s.", p.Server, hostname, certNames(hostErr.Certificate)),
			Fix:     fmt.Sprintf("use a host name the certificate names in the URL, or regenerate %s's certificate with %q in its subject alternative names (keystore hosts), then import the new certificate with %s", p.Server, hostname, importCmd),
		}
	case errors.As(err, &unknown):
		return problem{
			Message: fmt.Sprintf("%s does not trust %s's certificate: import it with %s", p.Client, p.Server, importCmd),
			Fix:     fmt.Sprintf("export %s's public certificate (its TLS keystore) to %s and run %s on the %s side, then restart %s", p.Server, p.CertFile, importCmd, p.Client, p.Client),
		}
	case errors.As(err, &invalid):
		why := "is not valid"
		if invalid.Reason == x509.Expired {
			why = "has expired or is not valid yet"
		}
		return problem{
			Message: fmt.Sprintf("%s's certificate %s (%s).", p.Server, why, invalid.Error()),
			Fix:     fmt.Sprintf("renew %s's TLS certificate and import the new one with %s", p.Server, importCmd),
		}
	case errors.As(err, &verify):
		return problem{
			Message: fmt.Sprintf("%s does not trust %s's certificate: import it with %s", p.Client, p.Server, importCmd),
			Fix:     fmt.Sprintf("export %s's public certificate to %s and run %s", p.Server, p.CertFile, importCmd),
		}
	case errors.As(err, &dnsErr):
		return problem{
			Message: fmt.Sprintf("The host name %q does not resolve (DNS).", hostname),
			Fix:     fmt.Sprintf("add a DNS record for %s, or an /etc/hosts entry such as `127.0.0.1 %s` on the machine that runs %s", hostname, hostname, p.Client),
		}
	case errors.Is(err, syscall.ECONNREFUSED):
		return problem{
			Message: fmt.Sprintf("Nothing listens at %s (connection refused).", host),
			Fix:     fmt.Sprintf("start %s, or correct the port in the URL (IS runs with --offset 1 on 9444 next to an API Manager on 9443)", p.Server),
		}
	case errors.As(err, &recordErr) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return problem{
			Message: fmt.Sprintf("%s answers plain HTTP at %s, but the URL is https.", host, p.Server),
			Fix:     "point the URL at the HTTPS port",
		}
	case isTimeout(err):
		return problem{
			Message: fmt.Sprintf("%s did not answer in time (a firewall, a wrong IP address, or a server that is not ready).", host),
			Fix:     fmt.Sprintf("check that %s is reachable from the %s host", host, p.Client),
		}
	}
	return problem{
		Message: fmt.Sprintf("%s cannot be reached: %v", host, err),
		Fix:     fmt.Sprintf("check the URL and that %s is running", p.Server),
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded)
}

func certNames(c *x509.Certificate) string {
	if c == nil {
		return "no names"
	}
	var names []string
	names = append(names, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		return fmt.Sprintf("only the common name %q", c.Subject.CommonName)
	}
	return strings.Join(names, ", ")
}

// dateSample is one server's Date header and when it was read.
type dateSample struct {
	Server string
	Date   time.Time
	At     time.Time
}

func sampleDate(server string, r *response, now time.Time) dateSample {
	if r == nil {
		return dateSample{}
	}
	t, err := http.ParseTime(r.Header.Get("Date"))
	if err != nil {
		return dateSample{}
	}
	return dateSample{Server: server, Date: t, At: now}
}
