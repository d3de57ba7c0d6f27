package secret

import (
	"bytes"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jks "github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/keyway/keyway/internal/config"
	"github.com/keyway/keyway/internal/keystore"
)

// pemKeyStore generates an internal keystore and writes it as PEM in dir.
func pemKeyStore(t *testing.T, dir, name string) (*keystore.KeyStore, string) {
	t.Helper()
	ks, err := keystore.Generate("wso2carbon", []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := ks.WritePEM(path); err != nil {
		t.Fatal(err)
	}
	return ks, path
}

func noEnv(string) (string, bool) { return "", false }

func TestEncryptDecryptRoundTrip(t *testing.T) {
	ks, err := keystore.Generate("wso2carbon", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, plain := range []string{"admin", "", "pässwörd with spaces and $ymbols {}", strings.Repeat("x", 190)} {
		enc, err := Encrypt(ks, plain)
		if err != nil {
			t.Fatalf("encrypt %d bytes: %v", len(plain), err)
		}
		if strings.Contains(enc, plain) && plain != "" {
			t.Fatalf("cipher text contains the plaintext")
		}
		got, err := Decrypt(ks, enc)
		if err != nil {
			t.Fatal(err)
		}
		if got != plain {
			t.Fatalf("round trip: got %q want %q", got, plain)
		}
	}
	// OAEP is randomised: the same value encrypts differently each time.
	a, _ := Encrypt(ks, "admin")
	b, _ := Encrypt(ks, "admin")
	if a == b {
		t.Error("two encryptions of one value are equal; OAEP padding is not randomised")
	}
	if _, err := Encrypt(ks, strings.Repeat("x", 191)); err == nil {
		t.Error("a value longer than the key carries was encrypted")
	}
}

func TestDecryptWithAnotherKeyFails(t *testing.T) {
	ks1, _ := keystore.Generate("a", nil)
	ks2, _ := keystore.Generate("b", nil)
	enc, err := Encrypt(ks1, "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decrypt(ks2, enc); !errors.Is(err, ErrUndecryptable) {
		t.Fatalf("decrypt with another key: err = %v, want ErrUndecryptable", err)
	}
	if _, err := Decrypt(ks1, "not base64 !!"); !errors.Is(err, ErrUndecryptable) {
		t.Fatalf("decrypt garbage: err = %v", err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// writeKeyStore writes ks in the given format and returns the path.
func writeKeyStore(t *testing.T, dir string, ks *keystore.KeyStore, format, password string) string {
	t.Helper()
	key, _ := ks.RSAKey()
	switch format {
	case "PEM":
		path := filepath.Join(dir, "internal.pem")
		if err := ks.WritePEM(path); err != nil {
			t.Fatal(err)
		}
		return path
	case "PKCS12":
		der, err := pkcs12.Modern.Encode(key, ks.Certificate, nil, password)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "wso2internal.p12")
		writeFile(t, path, string(der))
		return path
	case "JKS":
		pk, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		store := jks.New()
		if err := store.SetPrivateKeyEntry("wso2carbon", jks.PrivateKeyEntry{
			CreationTime:     time.Now(),
			PrivateKey:       pk,
			CertificateChain: []jks.Certificate{{Type: "X509", Content: ks.Certificate.Raw}},
		}, []byte(password)); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := store.Store(&buf, []byte(password)); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "wso2internal.jks")
		writeFile(t, path, buf.String())
		return path
	}
	t.Fatalf("format %s", format)
	return ""
}

func TestLoadConfigResolvesSecretsEndToEnd(t *testing.T) {
	for _, format := range []string{"PEM", "PKCS12", "JKS"} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			ks, err := keystore.Generate("wso2carbon", []string{"localhost"})
			if err != nil {
				t.Fatal(err)
			}
			ksPath := writeKeyStore(t, dir, ks, format, "internal-pass")
			admin, _ := Encrypt(ks, "Adm1n!pass")
			dbpw, _ := Encrypt(ks, "db-pass")
			conf := filepath.Join(dir, "secret-conf.toml")
			writeFile(t, conf, "apim_db_password = \""+dbpw+"\"\n")
			pwFile := filepath.Join(dir, "password-tmp")
			writeFile(t, pwFile, "internal-pass\n")
			cfgPath := filepath.Join(dir, "deployment.toml")
			writeFile(t, cfgPath, `[server]
hostname = "am.wso2.com"

[super_admin]
username = "admin"
password = "$secret{admin_password}"

[database.apim_db]
type = "postgre"
url = "jdbc:postgresql://db:5432/apim"
username = "apim"
password = "$secret{apim_db_password}"

[keystore.internal]
file_name = "`+ksPath+`"
type = "`+format+`"

[secure_vault]
secret_conf_file = "`+conf+`"
password_file = "`+pwFile+`"

[[event_listener]]
id = "token_revocation"
name = "org.wso2.is.notification.ApimOauthEventInterceptor"
[event_listener.properties]
notification_endpoint = "https://apim:9443/internal/data/v1/notify"
username = "${admin.username}"
password = "${admin.password}"

[secrets]
admin_password = "`+admin+`"
`)
			c, err := LoadConfig(cfgPath, WithEnv(noEnv))
			if err != nil {
				t.Fatal(err)
			}
			if c.SuperAdmin.Password != "Adm1n!pass" {
				t.Errorf("super_admin.password not resolved")
			}
			if c.Database.APIM.Password != "db-pass" {
				t.Errorf("database.apim_db.password not resolved from the secret-conf file")
			}
			if l, ok := c.TokenRevocationListener(); !ok || l.Properties["password"] != "Adm1n!pass" {
				t.Errorf("${admin.password} does not see the decrypted admin password")
			}
		})
	}
}

func TestResolverErrorsNameTheAlias(t *testing.T) {
	dir := t.TempDir()
	ks, ksPath := pemKeyStore(t, dir, "internal.pem")
	other, _ := keystore.Generate("other", nil)
	foreign, _ := Encrypt(other, "topsecret-value")
	own, _ := Encrypt(ks, "topsecret-value")
	cfg := config.Default()
	cfg.Keystore.Internal = config.Keystore{FileName: ksPath, Type: "PEM"}
	cfg.Secrets = map[string]string{"foreign": foreign, "own": own, "plain": "[topsecret-value]"}
	resolve, err := NewResolver(cfg, WithEnv(noEnv))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := resolve("own"); err != nil || v != "topsecret-value" {
		t.Fatalf("own: %q, %v", v, err)
	}
	for _, tc := range []struct{ alias, want string }{
		{"missing_alias", "unknown alias"},
		{"foreign", "cannot be decrypted"},
		{"plain", "still plaintext"},
	} {
		_, err := resolve(tc.alias)
		if err == nil {
			t.Fatalf("%s: resolved", tc.alias)
		}
		if !strings.Contains(err.Error(), "$secret{"+tc.alias+"}") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q does not name the alias or the cause %q", tc.alias, err, tc.want)
		}
		if strings.Contains(err.Error(), "topsecret") {
			t.Errorf("%s: error leaks the secret: %q", tc.alias, err)
		}
	}
}

func TestLoadConfigUnknownAliasFailsWithLocation(t *testing.T) {
	dir := t.TempDir()
	_, ksPath := pemKeyStore(t, dir, "internal.pem")
	cfgPath := filepath.Join(dir, "deployment.toml")
	writeFile(t, cfgPath, "[super_admin]\nusername = \"admin\"\npassword = \"$secret{nope}\"\n[keystore.internal]\nfile_name = \""+ksPath+"\"\n")
	_, err := LoadConfig(cfgPath, WithEnv(noEnv))
	if err == nil || !strings.Contains(err.Error(), "$secret{nope}") || !strings.Contains(err.Error(), "super_admin.password") {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadConfigRejectsSecretInVaultSettings(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "deployment.toml")
	writeFile(t, cfgPath, "[keystore.internal]\nfile_name = \"x.p12\"\npassword = \"$secret{ks}\"\n")
	_, err := LoadConfig(cfgPath, WithEnv(noEnv))
	if err == nil || !strings.Contains(err.Error(), "keystore.internal.password") {
		t.Fatalf("err = %v", err)
	}
}

func TestInternalKeystorePasswordSources(t *testing.T) {
	dir := t.TempDir()
	ksFile := filepath.Join(dir, "ks-pass")
	writeFile(t, ksFile, "from-ks-file\n")
	csiFile := filepath.Join(dir, "csi-pass")
	writeFile(t, csiFile, "from-csi\r\n")
	env := func(vars map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	}
	for _, tc := range []struct {
		name string
		in   config.Keystore
		sv   config.SecureVault
		env  map[string]string
		want string
	}{
		{"inline password wins", config.Keystore{Password: "inline", PasswordFile: ksFile}, config.SecureVault{PasswordFile: csiFile}, map[string]string{PasswordEnv: "env"}, "inline"},
		{"keystore password_file", config.Keystore{PasswordFile: ksFile}, config.SecureVault{PasswordFile: csiFile}, nil, "from-ks-file"},
		{"CSI mounted file", config.Keystore{}, config.SecureVault{PasswordFile: csiFile}, map[string]string{PasswordEnv: "env"}, "from-csi"},
		{"default env", config.Keystore{}, config.SecureVault{}, map[string]string{PasswordEnv: "env"}, "env"},
		{"named env", config.Keystore{}, config.SecureVault{PasswordEnv: "MY_PW"}, map[string]string{PasswordEnv: "env", "MY_PW": "mine"}, "mine"},
		{"none", config.Keystore{}, config.SecureVault{}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Keystore.Internal = tc.in
			cfg.SecureVault = tc.sv
			got, err := InternalKeystorePassword(cfg, env(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %q want %q", got, tc.want)
			}
		})
	}
	cfg := config.Default()
	cfg.SecureVault.PasswordFile = filepath.Join(dir, "missing")
	if _, err := InternalKeystorePassword(cfg, noEnv); err == nil {
		t.Error("a missing password file is not an error")
	}
}

func TestWrongKeystorePassword(t *testing.T) {
	for _, format := range []string{"PKCS12", "JKS"} {
		t.Run(format, func(t *testing.T) {
			ks, _ := keystore.Generate("wso2carbon", nil)
			path := writeKeyStore(t, t.TempDir(), ks, format, "right-pass")
			enc, _ := Encrypt(ks, "db-pass")
			cfg := config.Default()
			cfg.Keystore.Internal = config.Keystore{FileName: path, Type: format, Alias: "wso2carbon"}
			cfg.Secrets = map[string]string{"db": enc}

			right, _ := NewResolver(cfg, WithEnv(func(k string) (string, bool) { return "right-pass", k == PasswordEnv }))
			if v, err := right("db"); err != nil || v != "db-pass" {
				t.Fatalf("right password: %q, %v", v, err)
			}
			wrong, _ := NewResolver(cfg, WithEnv(func(k string) (string, bool) { return "wrong-pass", k == PasswordEnv }))
			_, err := wrong("db")
			if err == nil || !strings.Contains(err.Error(), "$secret{db}") || !strings.Contains(err.Error(), "wrong password") {
				t.Fatalf("wrong password: err = %v", err)
			}
		})
	}
}

func TestEncryptPlaintextEntries(t *testing.T) {
	in := `# operator's file
[server]
hostname = "x"   # stays
note = "[not a secret table]"

[secrets]
# comment stays
admin_password = "[admin]"
  "db.password" = "[p w]"
already = "QUJD"

[log]
level = "[info]"
`
	out, done, err := EncryptPlaintextEntries([]byte(in), "secrets", func(p string) (string, error) { return "ENC(" + p + ")", nil })
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(in, `admin_password = "[admin]"`, `admin_password = "ENC(admin)"`, 1)
	want = strings.Replace(want, `  "db.password" = "[p w]"`, `  "db.password" = "ENC(p w)"`, 1)
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	if strings.Join(done, ",") != "admin_password,db.password" {
		t.Errorf("done = %v", done)
	}
	top, done, _ := EncryptPlaintextEntries([]byte("a = \"[x]\"\n[t]\nb = \"[y]\"\n"), "", func(p string) (string, error) { return "E" + p, nil })
	if !bytes.Equal(top, []byte("a = \"Ex\"\n[t]\nb = \"[y]\"\n")) || len(done) != 1 {
		t.Errorf("top level: %q %v", top, done)
	}
}
