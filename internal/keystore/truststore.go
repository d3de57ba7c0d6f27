package keystore

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// TrustedCert is one entry of a truststore.
type TrustedCert struct {
	Alias string
	Cert  *x509.Certificate
}

// TrustStore is the set of certificates Keyway trusts as TLS peers: key
// managers, notify endpoints, backends and the other Pattern 6 server.
type TrustStore struct {
	mu       sync.RWMutex
	entries  []TrustedCert
	Path     string
	Type     string // JKS, PKCS12 or PEM
	Password string
	// System also trusts the operating system's roots.
	System bool
}

// NewTrustStore returns an empty PEM truststore that saves to path.
func NewTrustStore(path string) *TrustStore {
	return &TrustStore{Path: path, Type: "PEM"}
}

// LoadTrustStore opens a truststore file; a missing PEM file is an empty store
// (it is created on the first Save).
func LoadTrustStore(o Options) (*TrustStore, error) {
	ts := &TrustStore{Path: o.File, Type: typeOf(o.File, o.Type), Password: o.Password}
	data, err := os.ReadFile(o.File)
	if err != nil {
		if os.IsNotExist(err) && ts.Type == "PEM" {
			return ts, nil
		}
		return nil, fmt.Errorf("read truststore %s: %w", o.File, err)
	}
	switch ts.Type {
	case "PEM":
		ts.entries, err = parsePEMCerts(data)
	case "JKS":
		ts.entries, err = parseJKSTrust(data, o.Password)
	case "PKCS12":
		ts.entries, err = parsePKCS12Trust(data, o.Password)
	}
	if err != nil {
		return nil, fmt.Errorf("load truststore %s: %w", o.File, err)
	}
	return ts, nil
}

// pemAliasPrefix starts the comment line that names the next certificate of
// a PEM truststore. A comment outside the PEM block (rather than a PEM
// header) keeps the file readable by OpenSSL, curl --cacert and Java.
const pemAliasPrefix = "# alias: "

func parsePEMCerts(data []byte) ([]TrustedCert, error) {
	var out []TrustedCert
	for {
		before := data
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return out, nil
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		alias := block.Headers["Alias"] // files written by earlier versions
		if alias == "" {
			alias = commentAlias(before)
		}
		if alias == "" {
			alias = c.Subject.CommonName
		}
		out = append(out, TrustedCert{Alias: alias, Cert: c})
	}
}

// commentAlias finds the "# alias: NAME" line in the text before the first
// PEM block of data.
func commentAlias(data []byte) string {
	i := bytes.Index(data, []byte("-----BEGIN"))
	if i < 0 {
		return ""
	}
	alias := ""
	for _, line := range strings.Split(string(data[:i]), "\n") {
		if a, ok := strings.CutPrefix(strings.TrimSpace(line), strings.TrimSpace(pemAliasPrefix)); ok {
			alias = strings.TrimSpace(a)
		}
	}
	return alias
}

// Entries returns a copy of the trusted certificates.
func (t *TrustStore) Entries() []TrustedCert {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return append([]TrustedCert(nil), t.entries...)
}

// Add trusts cert under alias, replacing an entry with the same alias.
func (t *TrustStore) Add(alias string, cert *x509.Certificate) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, e := range t.entries {
		if e.Alias == alias {
			t.entries[i].Cert = cert
			return
		}
	}
	t.entries = append(t.entries, TrustedCert{Alias: alias, Cert: cert})
}

// Save writes the truststore back to Path in its own format.
func (t *TrustStore) Save() error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var data []byte
	var err error
	switch t.Type {
	case "JKS":
		data, err = encodeJKSTrust(t.entries, t.Password)
	case "PKCS12":
		data, err = encodePKCS12Trust(t.entries, t.Password)
	default:
		for _, e := range t.entries {
			data = append(data, pemAliasPrefix+strings.ReplaceAll(e.Alias, "\n", " ")+"\n"...)
			data = append(data, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.Cert.Raw})...)
		}
	}
	if err != nil {
		return fmt.Errorf("encode truststore %s: %w", t.Path, err)
	}
	if err := os.MkdirAll(filepath.Dir(t.Path), 0o700); err != nil {
		return err
	}
	tmp := t.Path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write truststore %s: %w", t.Path, err)
	}
	return os.Rename(tmp, t.Path)
}

// Pool returns the trusted certificates as a pool (with the system roots when
// System is set).
func (t *TrustStore) Pool() *x509.CertPool {
	var pool *x509.CertPool
	if t.System {
		if p, err := x509.SystemCertPool(); err == nil {
			pool = p
		}
	}
	if pool == nil {
		pool = x509.NewCertPool()
	}
	for _, e := range t.Entries() {
		pool.AddCert(e.Cert)
	}
	return pool
}

// ClientTLSConfig verifies servers against the truststore. Verification is
// never switched off.
func (t *TrustStore) ClientTLSConfig() *tls.Config {
	return &tls.Config{RootCAs: t.Pool(), MinVersion: tls.VersionTLS12}
}

// HTTPClient returns an HTTP client that verifies TLS peers against the
// truststore, for calls to key managers, notify endpoints and backends.
func (t *TrustStore) HTTPClient(timeout time.Duration) *http.Client {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       t.ClientTLSConfig(),
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   20,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}
