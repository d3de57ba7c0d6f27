package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyway/keyway/test/harness"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// gatewayCluster is a control plane (`keyway apim`, with its own gateway)
// and a gateway-only node (`keyway gateway --control-plane`) fed by it, each
// with its own keystore and a truststore holding the other's certificate,
// both on the same Redis when KEYWAY_TEST_REDIS is set.
type gatewayCluster struct {
	t      *testing.T
	client *http.Client
	admin  *harness.API
	apim   *harness.Process
	node   *harness.Process
	// link carries the node's control-plane traffic (snapshot pulls); the
	// test cuts it to prove what reaches the node through Redis alone.
	link *harness.Link
	// cpURL is the control plane's management URL; cpGW and nodeGW are the
	// two gateways' HTTPS listeners.
	cpURL, cpGW, nodeGW string
	// nodeReady is the node's readiness URL.
	nodeReady string
	redis     bool
}

// distinctOffsets picks two port offsets whose listener sets do not overlap.
func distinctOffsets(t *testing.T) (int, int) {
	t.Helper()
	a := harness.FreeOffset(t)
	for range 100 {
		b := harness.FreeOffset(t)
		if d := a - b; d > 1200 || d < -1200 {
			return a, b
		}
	}
	t.Fatal("no second port offset found")
	return 0, 0
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// startGatewayCluster starts both processes; redisURL empty means no
// [apim.redis_config].
func startGatewayCluster(t *testing.T, redisURL string) *gatewayCluster {
	t.Helper()
	dir := t.TempDir()
	cpKS, cpKSPath := harness.WriteKeystore(t, dir, "apim")
	gwKS, gwKSPath := harness.WriteKeystore(t, dir, "gateway")
	cpTrust, gwTrust := filepath.Join(dir, "apim-truststore.pem"), filepath.Join(dir, "gateway-truststore.pem")
	harness.TrustCert(t, dir, "gateway", gwKS, cpTrust)
	harness.TrustCert(t, dir, "apim", cpKS, gwTrust)

	// The node authenticates to the internal API with the super admin's
	// credentials, so both share one that is not the default.
	password := "e2e-" + randomHex(t, 8)
	common := fmt.Sprintf("[super_admin]\nusername = \"admin\"\npassword = %q\ncreate_admin_account = true\n\n", password)
	if redisURL != "" {
		// Throttle counters are keyed by fresh application and API UUIDs,
		// so runs sharing this Redis do not share quotas.
		common += fmt.Sprintf("[apim.redis_config]\nurl = %q\n", redisURL)
	}

	cpOff, gwOff := distinctOffsets(t)
	c := &gatewayCluster{t: t, redis: redisURL != "",
		client: harness.ClientTrusting(cpKS, gwKS),
		cpURL:  fmt.Sprintf("https://localhost:%d", 9443+cpOff),
		cpGW:   fmt.Sprintf("https://localhost:%d", 8243+cpOff),
		nodeGW: fmt.Sprintf("https://localhost:%d", 8243+gwOff),
	}
	cpConf, gwConf := filepath.Join(dir, "apim.toml"), filepath.Join(dir, "gateway.toml")
	harness.WriteFile(t, cpConf, harness.ServerBlock(cpOff, cpKSPath, cpTrust)+common)
	harness.WriteFile(t, gwConf, harness.ServerBlock(gwOff, gwKSPath, gwTrust)+common)

	c.apim = harness.Start(t, "keyway apim", "apim", "--config", cpConf, "--data-dir", filepath.Join(dir, "apim-data"))
	harness.WaitReady(t, c.client, c.cpURL+"/health/ready", c.apim)
	c.link = harness.NewLink(t, cpKS, c.cpURL, c.client)
	c.node = harness.Start(t, "keyway gateway", "gateway", "--control-plane", c.link.URL,
		"--config", gwConf, "--data-dir", filepath.Join(dir, "gateway-data"))
	c.nodeReady = fmt.Sprintf("https://localhost:%d/health/ready", 9443+gwOff)
	harness.WaitReady(t, c.client, c.nodeReady, c.node)
	c.admin = &harness.API{T: t, Client: c.client, User: "admin", Pass: password}
	return c
}

// publishAPI creates, deploys and publishes an API in front of backend and
// returns its id.
func (c *gatewayCluster) publishAPI(backend string) string {
	c.t.Helper()
	pub := c.cpURL + "/api/am/publisher/v4"
	var api struct{ ID string }
	c.admin.Do("POST", pub+"/apis", map[string]any{
		"name": "NodeE2E", "version": "1.0.0", "context": "/nodee2e",
		"policies": []string{"Unlimited"}, "securityScheme": []string{"oauth2"},
		"endpointConfig": map[string]any{
			"endpoint_type":        "http",
			"production_endpoints": map[string]any{"url": backend},
			"sandbox_endpoints":    map[string]any{"url": backend},
		},
		"operations": []map[string]any{
			{"target": "/menu", "verb": "GET", "authType": "Application & Application User", "throttlingPolicy": "Unlimited"},
		},
	}, 201, &api)
	var rev struct{ ID string }
	c.admin.Do("POST", pub+"/apis/"+api.ID+"/revisions", map[string]any{"description": "e2e"}, 201, &rev)
	c.admin.Do("POST", pub+"/apis/"+api.ID+"/deploy-revision?revisionId="+rev.ID,
		[]map[string]any{{"name": "Default", "vhost": "localhost", "displayOnDevportal": true}}, 201, nil)
	c.admin.Do("POST", pub+"/apis/change-lifecycle?action=Publish&apiId="+api.ID, nil, 200, nil)
	return api.ID
}

// consumer is an application subscribed to the API with production keys
// from the resident key manager.
type consumer struct {
	key, secret string
}

func (c *gatewayCluster) subscribe(apiID, name, appPolicy string) consumer {
	c.t.Helper()
	dev := c.cpURL + "/api/am/devportal/v3"
	var app struct {
		ApplicationID string `json:"applicationId"`
	}
	c.admin.Do("POST", dev+"/applications", map[string]any{"name": name, "throttlingPolicy": appPolicy, "tokenType": "JWT"}, 201, &app)
	c.admin.Do("POST", dev+"/subscriptions", map[string]any{"applicationId": app.ApplicationID, "apiId": apiID, "throttlingPolicy": "Unlimited"}, 201, nil)
	var keys struct {
		ConsumerKey    string `json:"consumerKey"`
		ConsumerSecret string `json:"consumerSecret"`
	}
	c.admin.Do("POST", dev+"/applications/"+app.ApplicationID+"/generate-keys", map[string]any{
		"keyType": "PRODUCTION", "keyManager": "Resident Key Manager",
		"grantTypesToBeSupported": []string{"client_credentials"},
		"callbackUrl":             "", "scopes": []string{"default"}, "validityTime": 3600,
	}, 200, &keys)
	if keys.ConsumerKey == "" || keys.ConsumerSecret == "" {
		c.t.Fatalf("generate-keys for %s returned no credentials", name)
	}
	return consumer{key: keys.ConsumerKey, secret: keys.ConsumerSecret}
}

// token is a client_credentials grant at the control plane.
func (c *gatewayCluster) token(k consumer) string {
	c.t.Helper()
	cc := clientcredentials.Config{ClientID: k.key, ClientSecret: k.secret, TokenURL: c.cpURL + "/oauth2/token"}
	tok, err := cc.Token(context.WithValue(context.Background(), oauth2.HTTPClient, c.client))
	if err != nil {
		c.t.Fatalf("token from the control plane: %v", err)
	}
	return tok.AccessToken
}

// revoke revokes token at the control plane as the client that owns it.
func (c *gatewayCluster) revoke(k consumer, token string) {
	c.t.Helper()
	req, _ := http.NewRequest("POST", c.cpURL+"/oauth2/revoke", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(k.key, k.secret)
	resp, err := c.client.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		c.t.Fatalf("revoke at the control plane: %d", resp.StatusCode)
	}
}

// call sends GET /nodee2e/1.0.0/menu through the gateway at gw.
func (c *gatewayCluster) call(gw, token string) (int, string) {
	c.t.Helper()
	a := &harness.API{T: c.t, Client: c.client, Bearer: token}
	status, body := a.Raw("GET", gw+"/nodee2e/1.0.0/menu", nil)
	return status, string(body)
}

// await calls until the answer has status want or the deadline passes
// (deployments and revocations reach a remote node asynchronously), and
// returns the last answer.
func (c *gatewayCluster) await(gw, token string, want int, within time.Duration) (int, string) {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		status, body := c.call(gw, token)
		if status == want || time.Now().After(deadline) {
			return status, body
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestGatewayNode runs a control plane and a gateway-only node as separate
// processes: the node serves what the control plane publishes, shares the
// application's quota through Redis, drops a token revoked at the control
// plane, and keeps serving when the control plane goes away, even after a
// restart.
func TestGatewayNode(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	redisURL := ""
	if addr := os.Getenv("KEYWAY_TEST_REDIS"); addr != "" {
		redisURL = "redis://" + addr
	}
	c := startGatewayCluster(t, redisURL)
	apiID := c.publishAPI(pizzaBackend(t))
	// limited exercises the shared quota and revocation; steady (Unlimited)
	// proves deployment and the outage without spending limited's quota.
	limited := c.subscribe(apiID, "NodeLimited", "10PerMin")
	steady := c.subscribe(apiID, "NodeSteady", "Unlimited")
	limitedTok, steadyTok := c.token(limited), c.token(steady)

	// (1) Both gateways serve the API; the node once it has pulled the snapshot.
	for _, gw := range []string{c.cpGW, c.nodeGW} {
		if status, body := c.await(gw, steadyTok, 200, 30*time.Second); status != 200 || !strings.Contains(body, "Margherita") {
			t.Fatalf("%s: %d %s", gw, status, body)
		}
	}

	if c.redis {
		// (2) One 10-per-minute quota across both gateways.
		admitted, throttled := 0, 0
		for i := range 15 {
			gw := []string{c.cpGW, c.nodeGW}[i%2]
			status, body := c.call(gw, limitedTok)
			switch {
			case status == 200:
				admitted++
			case status == 429 && strings.Contains(body, "900801"):
				throttled++
			default:
				t.Fatalf("call %d on %s: %d %s", i, gw, status, body)
			}
		}
		if admitted < 9 || admitted > 11 || admitted+throttled != 15 {
			t.Fatalf("shared 10PerMin quota admitted %d and throttled %d of 15 calls", admitted, throttled)
		}
	} else {
		t.Log("KEYWAY_TEST_REDIS is unset: skipping the shared quota and the node's revocation fan-out")
	}

	// (3) A token revoked at the control plane is refused by every gateway.
	// The node's snapshot pulls are cut meanwhile, so it can only hear of
	// the revocation through Redis.
	gateways := []string{c.cpGW}
	if c.redis {
		gateways = append(gateways, c.nodeGW)
		c.link.Cut()
	}
	c.revoke(limited, limitedTok)
	for _, gw := range gateways {
		if status, body := c.await(gw, limitedTok, 401, 10*time.Second); status != 401 || !strings.Contains(body, "900901") {
			t.Fatalf("revoked token on %s: %d %s", gw, status, body)
		}
	}
	c.link.Restore()

	// (4) With the control plane gone the node keeps serving its last
	// snapshot to a token issued before, once it has tried to pull and failed.
	c.apim.Stop()
	tried := c.link.Failed()
	deadline := time.Now().Add(30 * time.Second)
	for c.link.Failed() == tried {
		if time.Now().After(deadline) {
			t.Fatalf("the node did not try its control plane\n%s", harness.Tail(c.node.Out.String(), 40))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if status, body := c.call(c.nodeGW, steadyTok); status != 200 || !strings.Contains(body, "Margherita") {
		t.Fatalf("node without its control plane: %d %s", status, body)
	}

	// (5) Restarted while the control plane is still gone, the node serves
	// the snapshot (and key set) it persisted, and says so.
	c.node.Stop()
	c.node.Restart()
	harness.WaitReady(t, c.client, c.nodeReady, c.node)
	if status, body := c.await(c.nodeGW, steadyTok, 200, 30*time.Second); status != 200 || !strings.Contains(body, "Margherita") {
		t.Fatalf("node restarted without its control plane: %d %s\n%s", status, body, harness.Tail(c.node.Out.String(), 40))
	}
	if len(harness.ScanLines(c.node.Out.String(), "serving the snapshot persisted at")) == 0 {
		t.Errorf("the restarted node did not report serving its persisted snapshot\n%s", harness.Tail(c.node.Out.String(), 40))
	}
}

// TestGatewayNodeRedisUnreachable: with [apim.redis_config] pointing at a
// Redis that does not answer, both roles start, the node follows the control
// plane by polling, and throttling falls back to local limits instead of
// failing requests.
func TestGatewayNodeRedisUnreachable(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	c := startGatewayCluster(t, "redis://"+closed)
	apiID := c.publishAPI(pizzaBackend(t))
	tok := c.token(c.subscribe(apiID, "NodeLocal", "10PerMin"))
	if status, body := c.await(c.nodeGW, tok, 200, 30*time.Second); status != 200 {
		t.Fatalf("node without Redis: %d %s", status, body)
	}
	// Each gateway now limits on its own: 8 calls on each stay within a
	// 10-per-minute quota (the node's first call above was one of them).
	for i := range 15 {
		gw := []string{c.cpGW, c.nodeGW}[i%2]
		if status, body := c.call(gw, tok); status != 200 {
			t.Fatalf("call %d on %s with Redis down: %d %s", i, gw, status, body)
		}
	}
	if len(harness.ScanLines(c.node.Out.String(), "Redis is not reachable")) == 0 {
		t.Errorf("the node did not report the Redis outage\n%s", harness.Tail(c.node.Out.String(), 40))
	}
}

// pizzaBackend is the API's backend.
func pizzaBackend(t *testing.T) string {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"pizzas":["Margherita"]}`)
	}))
	t.Cleanup(backend.Close)
	return backend.URL
}

// TestGatewayNodeNeedsControlPlane: a gateway-only node without a control
// plane cannot serve anything and says so.
func TestGatewayNodeNeedsControlPlane(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, harness.Binary(t), "gateway", "--data-dir", t.TempDir(),
		"--offset", fmt.Sprint(harness.FreeOffset(t)))
	out, err := cmd.CombinedOutput()
	if err == nil || ctx.Err() != nil {
		t.Fatalf("keyway gateway without --control-plane: err %v (ctx %v)\n%s", err, ctx.Err(), out)
	}
	if !strings.Contains(string(out), "--control-plane") {
		t.Fatalf("keyway gateway without --control-plane does not name the flag:\n%s", out)
	}
}
