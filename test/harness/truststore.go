package harness

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/keyway/keyway/internal/keystore"
)

// TrustCert adds ks's certificate to the PEM truststore at store under
// alias with `keyway truststore import`, as an operator exchanging
// certificates between nodes would.
func TrustCert(t testing.TB, dir, alias string, ks *keystore.KeyStore, store string) {
	t.Helper()
	cert := filepath.Join(dir, alias+".crt")
	WriteFile(t, cert, string(ks.CertificatePEM()))
	out, err := exec.Command(Binary(t), "truststore", "import", "--alias", alias, "--cert", cert, "--truststore", store).CombinedOutput()
	if err != nil {
		t.Fatalf("truststore import %s: %v\n%s", alias, err, out)
	}
}
