package e2e

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/keyway/keyway/test/harness"
)

// exportApp is `apictl export app -n N -o OWNER [--withKeys] -e ENV`
// (APICTL-FLOW.md §4.10, impl/exportApp.go): the query is concatenated
// unescaped and the zip is asked for.
func (c *apictlClient) exportApp(devportal, name, owner string, withKeys bool) (int, []byte) {
	c.t.Helper()
	u := devportal + "/applications/export?appName=" + name + "&appOwner=" + owner
	if withKeys {
		u += "&withKeys=true"
	}
	u += "&format=YAML"
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Authorization", "Bearer "+c.token())
	req.Header.Set("Accept", "application/zip")
	return c.send(req)
}

// importApp is `apictl import app -f ZIP -e ENV [...]` (impl/importApp.go):
// one multipart part "file", Accept */*, keep-alive.
func (c *apictlClient) importApp(devportal string, archive []byte, owner string, update, preserveOwner, skipSubs, skipKeys bool) (int, []byte) {
	c.t.Helper()
	u := devportal + "/applications/import?appOwner=" + owner + "&preserveOwner=" + strconv.FormatBool(preserveOwner) +
		"&skipSubscriptions=" + strconv.FormatBool(skipSubs) + "&skipApplicationKeys=" + strconv.FormatBool(skipKeys) +
		"&update=" + strconv.FormatBool(update)
	body, ct := multipartFile(archive)
	req, _ := http.NewRequest("POST", u, body)
	req.Header.Set("Authorization", "Bearer "+c.token())
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Accept", "*/*")
	req.Header.Set("Connection", "keep-alive")
	return c.send(req)
}

// withApictlFiles re-zips an exported application as apictl stores it:
// application_params.yaml and application_meta.yaml are added beside the
// server's file, under the same top-level folder.
func withApictlFiles(t *testing.T, data []byte, name, owner string) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("export is not a zip: %v", err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	top := ""
	for _, f := range zr.File {
		top, _, _ = strings.Cut(f.Name, "/")
		if f.FileInfo().IsDir() {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		w, _ := zw.Create(f.Name)
		_, _ = w.Write(b)
	}
	for file, text := range map[string]string{"application_params.yaml": "environments: []\n",
		"application_meta.yaml": "name: " + name + "\nowner: " + owner + "\n"} {
		w, _ := zw.Create(top + "/" + file)
		_, _ = w.Write([]byte(text))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestApictlAppExportImport replays apictl's export app / import app against
// `keyway apim`: an application with a subscription and keys is exported,
// deleted and imported back; a second import without --update is a 409 and
// with --update succeeds.
func TestApictlAppExportImport(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	dir := t.TempDir()
	ks, ksPath := harness.WriteKeystore(t, dir, "apim")
	off := harness.FreeOffset(t)
	conf := filepath.Join(dir, "apim.toml")
	harness.WriteFile(t, conf, harness.ServerBlock(off, ksPath, filepath.Join(dir, "trust.pem")))
	p := harness.Start(t, "keyway apim", "apim", "--config", conf, "--data-dir", filepath.Join(dir, "data"))
	client := harness.ClientTrusting(ks)
	apim := fmt.Sprintf("https://localhost:%d", 9443+off)
	harness.WaitReady(t, client, apim+"/health/ready", p)

	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{}`)
	}))
	defer backend.Close()
	P, D := apim+"/api/am/publisher/v4", apim+"/api/am/devportal/v3"
	c := &apictlClient{t: t, http: client, apim: apim, user: "admin", pass: "admin"}
	c.register("rest_api_import_export_admin", true)

	body, ct := multipartFile(projectZip(t, "PizzaAPI", "1.0.0", "/pizza", backend.URL, "PUBLISHED"))
	if status, data := c.rest("POST", P+"/apis/import?preserveProvider=true&rotateRevision=false", body, ct); status != 200 && status != 201 {
		t.Fatalf("import api: %d %s", status, data)
	}
	var apis struct {
		List []struct {
			ID       string   `json:"id"`
			Policies []string `json:"policies"`
		} `json:"list"`
	}
	c.restJSON("GET", P+"/apis?limit=25", nil, []int{200}, &apis)
	var api struct {
		Policies []string `json:"policies"`
	}
	c.restJSON("GET", P+"/apis/"+apis.List[0].ID, nil, []int{200}, &api)
	var app struct {
		ApplicationID string `json:"applicationId"`
	}
	c.restJSON("POST", D+"/applications", map[string]any{"name": "SampleApp", "throttlingPolicy": "Unlimited",
		"description": "exported by apictl", "tokenType": "JWT"}, []int{201}, &app)
	c.restJSON("POST", D+"/subscriptions", map[string]any{"applicationId": app.ApplicationID, "apiId": apis.List[0].ID,
		"throttlingPolicy": api.Policies[0]}, []int{201}, nil)
	var keys struct{ ConsumerKey, ConsumerSecret string }
	c.restJSON("POST", D+"/applications/"+app.ApplicationID+"/generate-keys", map[string]any{"keyType": "PRODUCTION",
		"grantTypesToBeSupported": []string{"client_credentials"}, "validityTime": 3600}, []int{200}, &keys)

	// export app --withKeys.
	status, data := c.exportApp(D, "SampleApp", "admin", true)
	if status != 200 {
		t.Fatalf("export app: %d %s", status, data)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("export is not a zip: %v", err)
	}
	var doc []byte
	for _, f := range zr.File {
		if f.Name == "admin-SampleApp/application.yaml" {
			rc, _ := f.Open()
			doc, _ = io.ReadAll(rc)
			rc.Close()
		}
	}
	if doc == nil {
		t.Fatalf("export lacks admin-SampleApp/application.yaml")
	}
	for _, want := range []string{"type: application", "name: SampleApp", "apiName: PizzaAPI", "consumerKey: " + keys.ConsumerKey} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("exported application lacks %q:\n%s", want, doc)
		}
	}
	if strings.Contains(string(doc), keys.ConsumerSecret) {
		t.Fatal("the export holds the consumer secret")
	}
	archive := withApictlFiles(t, data, "SampleApp", "admin")

	// The application is gone from this environment, then imported back.
	c.restJSON("DELETE", D+"/applications/"+app.ApplicationID, nil, []int{200}, nil)
	status, data = c.importApp(D, archive, "admin", false, true, false, false)
	if status != 200 && status != 201 {
		t.Fatalf("import app: %d %s", status, data)
	}
	var apps struct {
		Count int `json:"count"`
		List  []struct {
			ApplicationID     string `json:"applicationId"`
			Name              string `json:"name"`
			SubscriptionCount int    `json:"subscriptionCount"`
		} `json:"list"`
	}
	c.restJSON("GET", D+"/applications?query=SampleApp", nil, []int{200}, &apps)
	if apps.Count != 1 || apps.List[0].Name != "SampleApp" || apps.List[0].SubscriptionCount != 1 {
		t.Fatalf("imported application: %+v", apps)
	}

	// Without --update a second import is a 409 in the APIM error shape.
	status, data = c.importApp(D, archive, "admin", false, true, false, false)
	if status != 409 || !strings.Contains(string(data), `"code"`) {
		t.Fatalf("duplicate import app: %d %s", status, data)
	}
	// --update keeps the same application.
	status, data = c.importApp(D, archive, "admin", true, true, false, false)
	if status != 200 && status != 201 {
		t.Fatalf("import app --update: %d %s", status, data)
	}
	if !strings.Contains(string(data), apps.List[0].ApplicationID) {
		t.Errorf("update import answered another application: %s", data)
	}
}
