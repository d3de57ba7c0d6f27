package secret

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCipher(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := NewCommand(WithEnv(noEnv))
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestCipherCommandWorkflow(t *testing.T) {
	dir := t.TempDir()
	ks, ksPath := pemKeyStore(t, dir, "internal.pem")
	conf := filepath.Join(dir, "secret-conf.toml")
	writeFile(t, conf, "# secret-conf\nshared_db_password = \"[shared-pass]\"\n")
	cfgPath := filepath.Join(dir, "deployment.toml")
	writeFile(t, cfgPath, `[super_admin]
username = "admin"
password = "$secret{admin_password}"

[database.shared_db]
password = "$secret{shared_db_password}"

[keystore.internal]
file_name = "`+ksPath+`"

[secure_vault]
secret_conf_file = "`+conf+`"

[secrets]
admin_password = "[Adm1n]"
`)

	// encrypt-config turns every [plaintext] into cipher text, in both files.
	out, err := runCipher(t, "", "encrypt-config", "--config", cfgPath)
	if err != nil {
		t.Fatalf("encrypt-config: %v\n%s", err, out)
	}
	for _, f := range []string{cfgPath, conf} {
		b, _ := os.ReadFile(f)
		if strings.Contains(string(b), "Adm1n") || strings.Contains(string(b), "shared-pass") {
			t.Fatalf("%s still holds plaintext:\n%s", f, b)
		}
	}
	if b, _ := os.ReadFile(conf); !strings.HasPrefix(string(b), "# secret-conf\n") {
		t.Errorf("the comment of the secret-conf file was lost")
	}
	c, err := LoadConfig(cfgPath, WithEnv(noEnv))
	if err != nil {
		t.Fatal(err)
	}
	if c.SuperAdmin.Password != "Adm1n" || c.Database.Shared.Password != "shared-pass" {
		t.Errorf("after encrypt-config the values do not resolve back")
	}

	// decrypt --alias reads the vault of --config.
	out, err = runCipher(t, "", "decrypt", "--config", cfgPath, "--alias", "admin_password")
	if err != nil || strings.TrimSpace(out) != "Adm1n" {
		t.Fatalf("decrypt --alias: %q, %v", out, err)
	}

	// encrypt - reads standard input and prints a line for [secrets].
	out, err = runCipher(t, "piped-value\n", "encrypt", "--keystore", ksPath, "--alias", "new_alias", "-")
	if err != nil {
		t.Fatal(err)
	}
	enc, ok := strings.CutPrefix(strings.TrimSpace(out), "new_alias = ")
	if !ok {
		t.Fatalf("encrypt --alias printed %q", out)
	}
	plain, err := Decrypt(ks, strings.Trim(enc, `"`))
	if err != nil || plain != "piped-value" {
		t.Fatalf("decrypt of CLI output: %q, %v", plain, err)
	}

	// decrypt VALUE with the keystore directly.
	out, err = runCipher(t, "", "decrypt", "--keystore", ksPath, strings.Trim(enc, `"`))
	if err != nil || strings.TrimSpace(out) != "piped-value" {
		t.Fatalf("decrypt VALUE: %q, %v", out, err)
	}
}

func TestCipherCommandErrors(t *testing.T) {
	dir := t.TempDir()
	_, ksPath := pemKeyStore(t, dir, "internal.pem")
	cfgPath := filepath.Join(dir, "deployment.toml")
	writeFile(t, cfgPath, "[keystore.internal]\nfile_name = \""+ksPath+"\"\n[secrets]\nx = \"QUJD\"\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"encrypt", "v"}, "--config or --keystore"},
		{[]string{"decrypt", "--config", cfgPath, "--alias", "unknown_one"}, "$secret{unknown_one}: unknown alias"},
		{[]string{"decrypt", "--config", cfgPath, "--alias", "x"}, "$secret{x}"},
		{[]string{"decrypt", "--config", cfgPath}, "either --alias or a value"},
		{[]string{"encrypt-config"}, "needs --config"},
	} {
		_, err := runCipher(t, "", tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.args, err, tc.want)
		}
	}
}
