package keystore

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	jks "github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"
)

// ErrWrongPassword means a keystore or truststore could not be opened with
// the password given; the message says which password to check.
var ErrWrongPassword = errors.New("wrong password")

// jksMagic starts every Java KeyStore file (0xFEEDFEED).
const jksMagic = 0xFEEDFEED

// isJKS reports whether data is a Java KeyStore rather than PKCS#12. Since
// Java 9, keytool writes PKCS#12 even into files named *.jks, so the content
// decides, not the name or the configured type.
func isJKS(data []byte) bool {
	return len(data) >= 4 && binary.BigEndian.Uint32(data) == jksMagic
}

// isDER reports whether data looks like DER (a PKCS#12 PFX is an ASN.1 SEQUENCE).
func isDER(data []byte) bool { return len(data) > 0 && data[0] == 0x30 }

func parsePKCS12(data []byte, password string) (*KeyStore, error) {
	if isJKS(data) {
		return parseJKS(data, Options{Password: password})
	}
	key, cert, chain, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			return nil, fmt.Errorf("PKCS#12: %w (check the keystore password)", ErrWrongPassword)
		}
		return nil, fmt.Errorf("PKCS#12: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("PKCS#12: private key type %T is not supported", key)
	}
	return finish(&KeyStore{Key: signer, Chain: append([]*x509.Certificate{cert}, chain...)})
}

// loadJKS decodes a Java KeyStore, verifying its integrity with password.
// Aliases keep their case so that lookups below can match case-insensitively,
// as keytool does.
func loadJKS(data []byte, password string) (jks.KeyStore, error) {
	ks := jks.New(jks.WithCaseExactAliases(), jks.WithOrderedAliases())
	if err := ks.Load(bytes.NewReader(data), []byte(password)); err != nil {
		if strings.Contains(err.Error(), "invalid digest") {
			return ks, fmt.Errorf("JKS: %w (check the keystore password)", ErrWrongPassword)
		}
		return ks, fmt.Errorf("JKS: %w", err)
	}
	return ks, nil
}

// isPEM reports whether data is PEM text.
func isPEM(data []byte) bool { return bytes.Contains(data, []byte("-----BEGIN ")) }

func parseJKS(data []byte, o Options) (*KeyStore, error) {
	switch {
	case isJKS(data):
	case isDER(data):
		// A PKCS#12 file named *.jks (keytool's default since Java 9).
		return parsePKCS12(data, o.Password)
	case isPEM(data):
		return parsePEMKeyStore(data)
	default:
		return nil, errors.New("not a JKS, PKCS#12 or PEM keystore")
	}
	store, err := loadJKS(data, o.Password)
	if err != nil {
		return nil, err
	}
	alias, err := pickKeyAlias(store, o.Alias)
	if err != nil {
		return nil, err
	}
	// WSO2 keystores often use the store password for the key; try the key
	// password first, then the store password.
	passwords := []string{o.KeyPassword, o.Password}
	if o.KeyPassword == "" || o.KeyPassword == o.Password {
		passwords = []string{o.Password}
	}
	var entry jks.PrivateKeyEntry
	for i, pw := range passwords {
		entry, err = store.GetPrivateKeyEntry(alias, []byte(pw))
		if err == nil {
			break
		}
		if i == len(passwords)-1 {
			return nil, fmt.Errorf("JKS: decrypt private key %q: %w (check key_password)", alias, ErrWrongPassword)
		}
	}
	key, err := parsePrivateKey(entry.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("JKS: private key %q: %w", alias, err)
	}
	ks := &KeyStore{Alias: alias, Key: key}
	for _, c := range entry.CertificateChain {
		cert, err := x509.ParseCertificate(c.Content)
		if err != nil {
			return nil, fmt.Errorf("JKS: certificate of %q: %w", alias, err)
		}
		ks.Chain = append(ks.Chain, cert)
	}
	return finish(ks)
}

// pickKeyAlias returns the private key entry named want (case-insensitive),
// or, when want is empty or absent, the only private key entry of the store.
func pickKeyAlias(store jks.KeyStore, want string) (string, error) {
	var keys []string
	for _, a := range store.Aliases() {
		if store.IsPrivateKeyEntry(a) {
			keys = append(keys, a)
		}
	}
	for _, a := range keys {
		if strings.EqualFold(a, want) {
			return a, nil
		}
	}
	switch len(keys) {
	case 0:
		return "", errors.New("JKS: no private key entry found")
	case 1:
		return keys[0], nil
	}
	if want == "" {
		return "", fmt.Errorf("JKS: several private key entries (%s); set alias", strings.Join(keys, ", "))
	}
	return "", fmt.Errorf("JKS: no private key entry %q (entries: %s)", want, strings.Join(keys, ", "))
}

func parseJKSTrust(data []byte, password string) ([]TrustedCert, error) {
	switch {
	case isJKS(data):
	case isDER(data):
		return parsePKCS12Trust(data, password)
	case isPEM(data):
		return parsePEMCerts(data)
	default:
		return nil, errors.New("not a JKS, PKCS#12 or PEM truststore")
	}
	store, err := loadJKS(data, password)
	if err != nil {
		return nil, err
	}
	var out []TrustedCert
	for _, a := range store.Aliases() {
		var raw []byte
		if store.IsTrustedCertificateEntry(a) {
			e, err := store.GetTrustedCertificateEntry(a)
			if err != nil {
				return nil, fmt.Errorf("JKS: entry %q: %w", a, err)
			}
			raw = e.Certificate.Content
		} else {
			// A private key entry's certificate is trusted too, as keytool's
			// truststores (and Java's TrustManager) treat it.
			chain, err := store.GetPrivateKeyEntryCertificateChain(a)
			if err != nil || len(chain) == 0 {
				continue
			}
			raw = chain[0].Content
		}
		c, err := x509.ParseCertificate(raw)
		if err != nil {
			return nil, fmt.Errorf("JKS: certificate %q: %w", a, err)
		}
		out = append(out, TrustedCert{Alias: a, Cert: c})
	}
	return out, nil
}

func parsePKCS12Trust(data []byte, password string) ([]TrustedCert, error) {
	if isJKS(data) {
		return parseJKSTrust(data, password)
	}
	certs, err := pkcs12.DecodeTrustStore(data, password)
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			return nil, fmt.Errorf("PKCS#12: %w (check the truststore password)", ErrWrongPassword)
		}
		return nil, fmt.Errorf("PKCS#12: %w", err)
	}
	// go-pkcs12 does not return friendly names; the subject's common name
	// stands in for the alias.
	out := make([]TrustedCert, 0, len(certs))
	for _, c := range certs {
		alias := c.Subject.CommonName
		if alias == "" {
			alias = c.Subject.String()
		}
		out = append(out, TrustedCert{Alias: strings.ToLower(alias), Cert: c})
	}
	return out, nil
}

func encodeJKSTrust(entries []TrustedCert, password string) ([]byte, error) {
	if password == "" {
		return nil, errors.New("JKS: a truststore password is required")
	}
	store := jks.New(jks.WithCaseExactAliases(), jks.WithOrderedAliases())
	sorted := append([]TrustedCert(nil), entries...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Alias < sorted[j].Alias })
	for _, e := range sorted {
		err := store.SetTrustedCertificateEntry(e.Alias, jks.TrustedCertificateEntry{
			CreationTime: time.Now(),
			Certificate:  jks.Certificate{Type: "X.509", Content: e.Cert.Raw},
		})
		if err != nil {
			return nil, fmt.Errorf("JKS: entry %q: %w", e.Alias, err)
		}
	}
	var buf bytes.Buffer
	if err := store.Store(&buf, []byte(password)); err != nil {
		return nil, fmt.Errorf("JKS: %w", err)
	}
	return buf.Bytes(), nil
}

func encodePKCS12Trust(entries []TrustedCert, password string) ([]byte, error) {
	list := make([]pkcs12.TrustStoreEntry, 0, len(entries))
	for _, e := range entries {
		list = append(list, pkcs12.TrustStoreEntry{Cert: e.Cert, FriendlyName: e.Alias})
	}
	enc := pkcs12.Modern2023
	if password == "" {
		enc = pkcs12.Passwordless
	}
	data, err := enc.WithRand(rand.Reader).EncodeTrustStoreEntries(list, password)
	if err != nil {
		return nil, fmt.Errorf("PKCS#12: %w", err)
	}
	return data, nil
}
