package e2e

import (
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/keyway/keyway/test/harness"
)

// TestPattern6TwoProcesses is the seed's deployment: an Identity Server and an
// API Manager as two processes, each trusting the other's certificate, the
// Identity Server configured with the seed's block and registered as key
// manager WSO2IS7 with the seed's table values.
func TestPattern6TwoProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	p := harness.NewPattern6(t)

	// Publishing created the API's scopes in the Identity Server's API resource.
	var resources struct {
		APIResources []struct{ ID string } `json:"apiResources"`
	}
	p.Admin.Do("GET", p.ISURL+"/api/server/v1/api-resources?filter="+url.QueryEscape("identifier eq User-defined-oauth2-resource"), nil, 200, &resources)
	if len(resources.APIResources) != 1 {
		t.Fatalf("IS API resource for APIM scopes: %+v", resources)
	}
	scopesJSON := string(p.Admin.Do("GET", p.ISURL+"/api/server/v1/api-resources/"+resources.APIResources[0].ID+"/scopes", nil, 200, nil))
	for _, s := range []string{"pizza_read", "pizza_admin"} {
		if !strings.Contains(scopesJSON, `"`+s+`"`) {
			t.Errorf("scope %s not in IS: %s", s, scopesJSON)
		}
	}
	// Generating keys created the OAuth client in the Identity Server.
	p.Admin.Do("GET", p.ISURL+"/api/identity/oauth2/dcr/v1.1/register/"+p.Key, nil, 200, nil)

	// keyway doctor finds nothing wrong with the seed's wiring.
	out, err := exec.Command(harness.Binary(t), "doctor", "--config", p.APIMConfig, "--apim", p.APIMURL, "--is-config", p.ISConfig).CombinedOutput()
	if err != nil {
		t.Fatalf("keyway doctor on a good setup: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "FAIL") {
		t.Fatalf("keyway doctor reported a failure on a good setup:\n%s", out)
	}

	tok := p.Token("pizza_read")
	if status, body := p.Call(tok, "/menu"); status != 200 || !strings.Contains(body, "/menu") {
		t.Fatalf("gateway call with scope: %d %s", status, body)
	}
	if status, body := p.Call(tok, "/admin"); status != 403 || !strings.Contains(body, "900910") {
		t.Fatalf("gateway call without scope: %d %s, want 403 900910", status, body)
	}

	waitRejected := func(tok string, within time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		for time.Since(start) < within {
			if status, _ := p.Call(tok, "/menu"); status == 401 {
				return time.Since(start)
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("revoked token still accepted after %v", within)
		return 0
	}

	p.Revoke(tok)
	t.Logf("revocation reached the gateway in %v", waitRejected(tok, 15*time.Second))

	// A revocation made while the API Manager is down is retried, not lost.
	tok2 := p.Token("pizza_read")
	if status, body := p.Call(tok2, "/menu"); status != 200 {
		t.Fatalf("second token: %d %s", status, body)
	}
	p.APIM.Stop()
	p.Revoke(tok2)
	p.APIM.Restart()
	harness.WaitReady(t, p.Client, p.APIMURL+"/health/ready", p.APIM)
	t.Logf("revocation made while the API Manager was down arrived %v after it came back", waitRejected(tok2, 90*time.Second))
}
