// Package keystore loads the key material Keyway serves TLS and signs tokens
// with (PEM, PKCS#12 and JKS keystores, including WSO2's wso2carbon.jks), the
// truststores it verifies peers against (JKS, PKCS#12 or a PEM bundle, such as
// client-truststore.jks), and generates a default keystore on first start.
package keystore

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// KeyStore is one private key with its certificate chain.
type KeyStore struct {
	Alias       string
	Key         crypto.Signer
	Certificate *x509.Certificate
	// Chain is the full chain, leaf first.
	Chain []*x509.Certificate
	// Path is the file the keystore came from.
	Path string
	// Generated is true when Keyway created the keystore itself.
	Generated bool
}

// TLSCertificate returns the keystore as a tls.Certificate.
func (k *KeyStore) TLSCertificate() tls.Certificate {
	c := tls.Certificate{PrivateKey: k.Key, Leaf: k.Certificate}
	for _, cert := range k.Chain {
		c.Certificate = append(c.Certificate, cert.Raw)
	}
	return c
}

// RSAKey returns the private key when it is RSA (token signing needs RSA).
func (k *KeyStore) RSAKey() (*rsa.PrivateKey, bool) {
	r, ok := k.Key.(*rsa.PrivateKey)
	return r, ok
}

// KeyID is a stable identifier of the public key, used as the JWKS `kid`:
// the base64url SHA-256 thumbprint of the certificate (as WSO2 does, with
// SHA-256 instead of SHA-1).
func (k *KeyStore) KeyID() string {
	sum := sha256.Sum256(k.Certificate.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Thumbprint returns the certificate's SHA-1 thumbprint (x5t), which WSO2
// puts in JWT headers.
func (k *KeyStore) Thumbprint() string {
	sum := sha1.Sum(k.Certificate.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Options say where a keystore lives and how to open it; they mirror a
// [keystore.*] block.
type Options struct {
	File        string
	Type        string // JKS, PKCS12 or PEM; empty means guess from the file name
	Password    string
	Alias       string
	KeyPassword string
}

// Load opens a keystore file of any supported type.
func Load(o Options) (*KeyStore, error) {
	data, err := os.ReadFile(o.File)
	if err != nil {
		return nil, fmt.Errorf("read keystore %s: %w", o.File, err)
	}
	var ks *KeyStore
	switch typeOf(o.File, o.Type) {
	case "PEM":
		ks, err = parsePEMKeyStore(data)
	case "PKCS12":
		ks, err = parsePKCS12(data, o.Password)
	case "JKS":
		ks, err = parseJKS(data, o)
	default:
		err = fmt.Errorf("unknown keystore type %q", o.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("load keystore %s: %w", o.File, err)
	}
	if ks.Alias == "" {
		ks.Alias = o.Alias
	}
	ks.Path = o.File
	return ks, nil
}

func typeOf(file, typ string) string {
	switch t := strings.ToUpper(typ); t {
	case "PKCS12", "P12", "PFX":
		return "PKCS12"
	case "JKS", "PEM":
		return t
	}
	switch strings.ToLower(filepath.Ext(file)) {
	case ".p12", ".pfx":
		return "PKCS12"
	case ".pem", ".crt", ".cer", ".key":
		return "PEM"
	}
	return "JKS"
}

func parsePEMKeyStore(data []byte) (*KeyStore, error) {
	ks := &KeyStore{}
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		switch block.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse certificate: %w", err)
			}
			ks.Chain = append(ks.Chain, c)
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
			k, err := parsePrivateKey(block.Bytes)
			if err != nil {
				return nil, err
			}
			ks.Key = k
		}
	}
	return finish(ks)
}

func parsePrivateKey(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
		return nil, errors.New("private key type is not supported")
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("private key is not PKCS#8, PKCS#1 or SEC 1")
}

// finish checks that the key matches the leaf certificate and orders the chain.
func finish(ks *KeyStore) (*KeyStore, error) {
	if ks.Key == nil {
		return nil, errors.New("no private key found")
	}
	if len(ks.Chain) == 0 {
		return nil, errors.New("no certificate found")
	}
	for i, c := range ks.Chain {
		if publicKeysEqual(c.PublicKey, ks.Key.Public()) {
			ks.Chain[0], ks.Chain[i] = ks.Chain[i], ks.Chain[0]
			ks.Certificate = ks.Chain[0]
			return ks, nil
		}
	}
	return nil, errors.New("no certificate matches the private key")
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	switch k := a.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		return k.(equaler).Equal(b)
	}
	return false
}

// Generate creates a self-signed RSA-2048 keystore whose certificate names the
// given hosts (DNS names or IP addresses) in its SANs, valid for ten years.
func Generate(alias string, hosts []string) (*KeyStore, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate RSA key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	cn := "localhost"
	if len(hosts) > 0 {
		cn = hosts[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Keyway"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	seen := map[string]bool{}
	for _, h := range hosts {
		if h == "" || seen[h] {
			continue
		}
		seen[h] = true
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &KeyStore{Alias: alias, Key: key, Certificate: cert, Chain: []*x509.Certificate{cert}, Generated: true}, nil
}

// WritePEM stores the keystore as a PEM file (key then chain), readable by the
// owner only.
func (k *KeyStore) WritePEM(path string) error {
	der, err := x509.MarshalPKCS8PrivateKey(k.Key)
	if err != nil {
		return fmt.Errorf("encode private key: %w", err)
	}
	var b []byte
	b = append(b, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})...)
	for _, c := range k.Chain {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write keystore %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

// CertificatePEM returns the leaf certificate in PEM form, for export to the
// other side's truststore.
func (k *KeyStore) CertificatePEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.Certificate.Raw})
}

// LoadOrGenerate opens the configured keystore, or, when o.File is empty,
// the default one at defaultPath, generating it (with SANs for hosts) on first
// use so that restarts reuse the same key.
func LoadOrGenerate(o Options, defaultPath string, hosts []string) (*KeyStore, error) {
	if o.File != "" {
		return Load(o)
	}
	if _, err := os.Stat(defaultPath); err == nil {
		return Load(Options{File: defaultPath, Type: "PEM", Alias: o.Alias})
	}
	alias := o.Alias
	if alias == "" {
		alias = "wso2carbon"
	}
	ks, err := Generate(alias, hosts)
	if err != nil {
		return nil, err
	}
	if err := ks.WritePEM(defaultPath); err != nil {
		return nil, err
	}
	ks.Path = defaultPath
	return ks, nil
}
