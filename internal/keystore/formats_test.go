package keystore_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyway/keyway/internal/httpx"
	"github.com/keyway/keyway/internal/keystore"
	jks "github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"
)

func generate(t *testing.T, alias string) *keystore.KeyStore {
	t.Helper()
	ks, err := keystore.Generate(alias, []string{"localhost", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

type jksKey struct {
	alias, password string
	ks              *keystore.KeyStore
}

// writeJKS writes a Java KeyStore as keytool would: private key entries
// (PKCS#8, encrypted with their own password) and trusted certificates.
func writeJKS(t *testing.T, path, storePassword string, keys []jksKey, trusted map[string]*x509.Certificate) {
	t.Helper()
	store := jks.New()
	for _, k := range keys {
		der, err := x509.MarshalPKCS8PrivateKey(k.ks.Key)
		if err != nil {
			t.Fatal(err)
		}
		var chain []jks.Certificate
		for _, c := range k.ks.Chain {
			chain = append(chain, jks.Certificate{Type: "X.509", Content: c.Raw})
		}
		if err := store.SetPrivateKeyEntry(k.alias, jks.PrivateKeyEntry{CreationTime: time.Now(), PrivateKey: der, CertificateChain: chain}, []byte(k.password)); err != nil {
			t.Fatal(err)
		}
	}
	for alias, c := range trusted {
		if err := store.SetTrustedCertificateEntry(alias, jks.TrustedCertificateEntry{CreationTime: time.Now(), Certificate: jks.Certificate{Type: "X.509", Content: c.Raw}}); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := store.Store(&buf, []byte(storePassword)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func writePKCS12(t *testing.T, path, password string, ks *keystore.KeyStore) {
	t.Helper()
	data, err := pkcs12.Modern2023.WithRand(rand.Reader).Encode(ks.Key, ks.Certificate, ks.Chain[1:], password)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// serveAndCall serves TLS with ks on 127.0.0.1:0 and calls it with a client
// that trusts only ks's certificate.
func serveAndCall(t *testing.T, ks *keystore.KeyStore, trust *keystore.TrustStore) {
	t.Helper()
	srv := &httpx.Server{
		Name: "test", Addr: "127.0.0.1:0", TLS: httpx.ServerTLS(ks.TLSCertificate()),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello over TLS") }),
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(t.Context()) })
	if trust == nil {
		trust = keystore.NewTrustStore(filepath.Join(t.TempDir(), "trust.pem"))
		trust.Add("server", ks.Certificate)
	}
	res, err := trust.HTTPClient(10 * time.Second).Get("https://127.0.0.1:" + strconv.Itoa(srv.Port()) + "/")
	if err != nil {
		t.Fatalf("TLS call: %v", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || string(body) != "hello over TLS" {
		t.Fatalf("got %d %q", res.StatusCode, body)
	}
	if !res.TLS.PeerCertificates[0].Equal(ks.Certificate) {
		t.Error("server presented another certificate")
	}
}

func TestKeyStoreFormatsServeTLS(t *testing.T) {
	dir := t.TempDir()
	carbon := generate(t, "wso2carbon")
	other := generate(t, "other")
	internal := generate(t, "wso2carbon")
	p12 := generate(t, "p12")
	pemKS := generate(t, "pem")
	modern := generate(t, "modern")

	// WSO2's defaults: store and key password wso2carbon, alias wso2carbon,
	// plus trusted certificates in the same file.
	writeJKS(t, filepath.Join(dir, "wso2carbon.jks"), "wso2carbon",
		[]jksKey{{"wso2carbon", "wso2carbon", carbon}}, map[string]*x509.Certificate{"other": other.Certificate})
	// A key with its own password, beside a second key entry.
	writeJKS(t, filepath.Join(dir, "two-keys.jks"), "storepass",
		[]jksKey{{"first", "keypass", other}, {"Second", "storepass", carbon}}, nil)
	writeJKS(t, filepath.Join(dir, "wso2internal.jks"), "wso2carbon", []jksKey{{"wso2carbon", "wso2carbon", internal}}, nil)
	writePKCS12(t, filepath.Join(dir, "keystore.p12"), "secret", p12)
	// keytool since Java 9 writes PKCS#12 even into *.jks files.
	writePKCS12(t, filepath.Join(dir, "modern.jks"), "secret", modern)
	if err := pemKS.WritePEM(filepath.Join(dir, "tls.pem")); err != nil {
		t.Fatal(err)
	}
	if err := pemKS.WritePEM(filepath.Join(dir, "pem-named.jks")); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		opts keystore.Options
		want *keystore.KeyStore
	}{
		{"wso2carbon.jks", keystore.Options{File: "wso2carbon.jks", Password: "wso2carbon", Alias: "wso2carbon", KeyPassword: "wso2carbon"}, carbon},
		{"wso2internal.jks, type given", keystore.Options{File: "wso2internal.jks", Type: "JKS", Password: "wso2carbon", Alias: "wso2carbon"}, internal},
		{"JKS key password", keystore.Options{File: "two-keys.jks", Password: "storepass", Alias: "first", KeyPassword: "keypass"}, other},
		{"JKS key password falls back to store password", keystore.Options{File: "two-keys.jks", Password: "storepass", Alias: "second", KeyPassword: "keypass"}, carbon},
		{"JKS alias missing, single key", keystore.Options{File: "wso2carbon.jks", Password: "wso2carbon", Alias: "nope"}, carbon},
		{"PKCS12", keystore.Options{File: "keystore.p12", Password: "secret"}, p12},
		{"PKCS12 type", keystore.Options{File: "keystore.p12", Type: "pkcs12", Password: "secret"}, p12},
		{"PKCS12 named jks", keystore.Options{File: "modern.jks", Type: "JKS", Password: "secret"}, modern},
		{"PEM", keystore.Options{File: "tls.pem"}, pemKS},
		{"PEM named jks", keystore.Options{File: "pem-named.jks", Password: "ignored"}, pemKS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.File = filepath.Join(dir, tt.opts.File)
			ks, err := keystore.Load(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !ks.Certificate.Equal(tt.want.Certificate) {
				t.Fatal("loaded another certificate")
			}
			if !ks.Key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(tt.want.Key.Public()) {
				t.Fatal("loaded another key")
			}
			if ks.Path != tt.opts.File {
				t.Errorf("path = %q", ks.Path)
			}
			serveAndCall(t, ks, nil)
		})
	}
}

func TestKeyStoreErrors(t *testing.T) {
	dir := t.TempDir()
	a, b := generate(t, "a"), generate(t, "b")
	writeJKS(t, filepath.Join(dir, "wso2carbon.jks"), "wso2carbon", []jksKey{{"wso2carbon", "keypass", a}}, nil)
	writeJKS(t, filepath.Join(dir, "two.jks"), "pw", []jksKey{{"a", "pw", a}, {"b", "pw", b}}, nil)
	writeJKS(t, filepath.Join(dir, "certs-only.jks"), "pw", nil, map[string]*x509.Certificate{"a": a.Certificate})
	writePKCS12(t, filepath.Join(dir, "ks.p12"), "secret", a)
	if err := os.WriteFile(filepath.Join(dir, "garbage.jks"), []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		opts      keystore.Options
		wrongPass bool
		want      []string
	}{
		{"JKS store password", keystore.Options{File: "wso2carbon.jks", Password: "nope"}, true, []string{"wso2carbon.jks", "wrong password", "keystore password"}},
		{"JKS key password", keystore.Options{File: "wso2carbon.jks", Password: "wso2carbon", KeyPassword: "nope"}, true, []string{"wso2carbon.jks", "key_password"}},
		{"PKCS12 password", keystore.Options{File: "ks.p12", Password: "nope"}, true, []string{"ks.p12", "wrong password"}},
		{"JKS several keys, no alias", keystore.Options{File: "two.jks", Password: "pw"}, false, []string{"several private key entries", "a, b"}},
		{"JKS several keys, unknown alias", keystore.Options{File: "two.jks", Password: "pw", Alias: "c"}, false, []string{`no private key entry "c"`}},
		{"JKS without keys", keystore.Options{File: "certs-only.jks", Password: "pw"}, false, []string{"no private key entry"}},
		{"missing file", keystore.Options{File: "missing.jks", Password: "pw"}, false, []string{"missing.jks"}},
		{"not a keystore", keystore.Options{File: "garbage.jks", Password: "pw"}, false, []string{"garbage.jks", "not a JKS, PKCS#12 or PEM keystore"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.File = filepath.Join(dir, tt.opts.File)
			_, err := keystore.Load(tt.opts)
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, keystore.ErrWrongPassword) != tt.wrongPass {
				t.Errorf("errors.Is(ErrWrongPassword) = %v: %v", !tt.wrongPass, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestTrustStoreRoundTrip(t *testing.T) {
	a, b, c := generate(t, "a"), generate(t, "b"), generate(t, "c")
	tests := []struct {
		file, typ, password string
		keepsAliases        bool
	}{
		{"client-truststore.jks", "JKS", "wso2carbon", true},
		{"truststore.p12", "PKCS12", "secret", false},
		{"client-truststore.pem", "PEM", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tt.file)
			ts := &keystore.TrustStore{Path: path, Type: tt.typ, Password: tt.password}
			ts.Add("keyway-is", a.Certificate)
			ts.Add("keyway-apim", b.Certificate)
			if err := ts.Save(); err != nil {
				t.Fatal(err)
			}
			loaded, err := keystore.LoadTrustStore(keystore.Options{File: path, Password: tt.password})
			if err != nil {
				t.Fatal(err)
			}
			checkEntries(t, loaded, tt.keepsAliases, map[string]*keystore.KeyStore{"keyway-is": a, "keyway-apim": b})

			// Add to the reloaded store, save in its own format, reload again.
			loaded.Add("backend", c.Certificate)
			if err := loaded.Save(); err != nil {
				t.Fatal(err)
			}
			again, err := keystore.LoadTrustStore(keystore.Options{File: path, Type: tt.typ, Password: tt.password})
			if err != nil {
				t.Fatal(err)
			}
			checkEntries(t, again, tt.keepsAliases, map[string]*keystore.KeyStore{"keyway-is": a, "keyway-apim": b, "backend": c})
			serveAndCall(t, c, again)

			if tt.password != "" {
				_, err := keystore.LoadTrustStore(keystore.Options{File: path, Type: tt.typ, Password: "wrong"})
				if !errors.Is(err, keystore.ErrWrongPassword) || !strings.Contains(err.Error(), tt.file) {
					t.Errorf("wrong password: %v", err)
				}
			}
		})
	}
}

func checkEntries(t *testing.T, ts *keystore.TrustStore, keepsAliases bool, want map[string]*keystore.KeyStore) {
	t.Helper()
	entries := ts.Entries()
	if len(entries) != len(want) {
		t.Fatalf("%d entries, want %d", len(entries), len(want))
	}
	var gotAliases, wantAliases []string
	for _, e := range entries {
		gotAliases = append(gotAliases, e.Alias)
		found := false
		for alias, ks := range want {
			if e.Cert.Equal(ks.Certificate) {
				found = true
				if keepsAliases && e.Alias != alias {
					t.Errorf("alias %q, want %q", e.Alias, alias)
				}
			}
		}
		if !found {
			t.Errorf("unexpected certificate %s", e.Cert.Subject)
		}
	}
	for alias := range want {
		wantAliases = append(wantAliases, alias)
	}
	sort.Strings(gotAliases)
	sort.Strings(wantAliases)
	if keepsAliases && strings.Join(gotAliases, ",") != strings.Join(wantAliases, ",") {
		t.Errorf("aliases %v, want %v", gotAliases, wantAliases)
	}
}

func TestLoadOrGenerateReusesKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "security", "primary.pem")
	first, err := keystore.LoadOrGenerate(keystore.Options{}, path, []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	if !first.Generated {
		t.Error("first call did not generate")
	}
	second, err := keystore.LoadOrGenerate(keystore.Options{}, path, []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	if second.Generated || !second.Certificate.Equal(first.Certificate) {
		t.Error("restart did not reuse the generated keystore")
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("keystore file mode: %v %v", fi.Mode(), err)
	}
}

// TestPEMTrustStoreIsPlainPEM checks that a saved PEM truststore has no PEM
// headers (OpenSSL and curl --cacert reject certificates with headers) yet
// keeps its aliases, and that files with Alias headers still load.
func TestPEMTrustStoreIsPlainPEM(t *testing.T) {
	a, b := generate(t, "a"), generate(t, "b")
	path := filepath.Join(t.TempDir(), "client-truststore.pem")
	ts := keystore.NewTrustStore(path)
	ts.Add("wso2carbon", a.Certificate)
	ts.Add("keyway-is", b.Certificate)
	if err := ts.Save(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if len(block.Headers) != 0 {
			t.Errorf("PEM block has headers %v", block.Headers)
		}
	}
	legacy := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Headers: map[string]string{"Alias": "old"}, Bytes: a.Certificate.Raw})
	if err := os.WriteFile(path+".old.pem", append(legacy, data...), 0o600); err != nil {
		t.Fatal(err)
	}
	loaded, err := keystore.LoadTrustStore(keystore.Options{File: path + ".old.pem"})
	if err != nil {
		t.Fatal(err)
	}
	var aliases []string
	for _, e := range loaded.Entries() {
		aliases = append(aliases, e.Alias)
	}
	if got := strings.Join(aliases, ","); got != "old,wso2carbon,keyway-is" {
		t.Errorf("aliases = %s", got)
	}
}
