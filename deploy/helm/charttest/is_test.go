package charttest

import (
	"net/url"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/keyway/keyway/internal/config"
)

const (
	isChart       = "../keyway-is"
	isRelease     = "is"
	isFullname    = "is-keyway-is"
	isContainer   = "identity-server"
	isAdminSecret = "IS-Adm1n-S3cret"
)

func renderIS(t *testing.T, files []string, values string) (*Release, error) {
	t.Helper()
	return Render(isChart, isRelease, testNamespace, readValues(t, files, values))
}

func TestISChartRenders(t *testing.T) {
	for _, tc := range []struct {
		name     string
		files    []string
		values   string
		external External
		check    func(t *testing.T, rel *Release, c *config.Config)
	}{
		{name: "defaults", check: func(t *testing.T, rel *Release, c *config.Config) {
			if c.Server.Hostname != "wso2is.com" {
				t.Errorf("[server] hostname = %q, want the Ingress host", c.Server.Hostname)
			}
			if rel.Find("PodDisruptionBudget") != nil {
				t.Error("a single-replica install renders a PodDisruptionBudget")
			}
		}},
		{name: "quickstart", files: []string{"../quickstart-values/is.yaml"}, check: func(t *testing.T, rel *Release, c *config.Config) {
			if !c.OAuth.AuthorizeAllScopes {
				t.Error("deploymentToml.oauth.authorizeAllScopes not rendered")
			}
			l, ok := c.TokenRevocationListener()
			if !ok || l.Properties["notification_endpoint"] != "https://apim-keyway-apim:9443/internal/data/v1/notify" || l.Headers()["X-WSO2-KEY-MANAGER"] != "WSO2-IS" {
				t.Errorf("APIM notification listener: %+v", l)
			}
			if l.Properties["password"] != c.SuperAdmin.Password {
				t.Error("${admin.password} does not resolve to the super admin's password")
			}
		}},
		{
			name:     "pattern6",
			files:    []string{"../pattern-6-values/is.yaml"},
			external: External{"Secret/is-keystore-secret": true},
			check: func(t *testing.T, rel *Release, c *config.Config) {
				checkSeedISBlock(t, c)
				if c.Keystore.Primary.FileName != "/etc/keyway/security/wso2carbon.p12" || c.Keystore.Primary.Type != "PKCS12" || c.Truststore.Type != "PKCS12" {
					t.Errorf("keystores: %+v %+v", c.Keystore.Primary, c.Truststore)
				}
				if c.Server.Hostname != "wso2is.km" {
					t.Errorf("hostname %q", c.Server.Hostname)
				}
			},
		},
		{
			name:     "pattern6 with the seed's extraConfigs verbatim",
			files:    []string{"../pattern-6-values/is.yaml", "testdata/seed-is-extraconfigs.yaml"},
			external: External{"Secret/is-keystore-secret": true},
			check: func(t *testing.T, rel *Release, c *config.Config) {
				checkSeedISBlock(t, c)
				l, _ := c.TokenRevocationListener()
				if l.Properties["notification_endpoint"] != "https://<APIM_HOST>:<APIM_PORT>/internal/data/v1/notify" {
					t.Errorf("seed endpoint not kept verbatim: %q", l.Properties["notification_endpoint"])
				}
			},
		},
		{
			name: "production: external databases, replicas, offset, no ingress",
			values: `
deployment:
  replicas: 2
  ingress: {enabled: false}
  externalJKS: {enabled: true, secretName: is-ks}
  image: {imagePullSecret: org-pull, registry: r.example.com, tag: "1.2.3"}
deploymentToml:
  server: {offset: 1, hostname: id.example.com}
  superAdmin: {password: "` + isAdminSecret + `"}
  existingSecret: {secretName: is-db, identityDBPasswordKey: identity, sharedDBPasswordKey: shared, userDBPasswordKey: user}
  database:
    identity: {url: "jdbc:postgresql://pg:5432/identity", username: is, poolOptions: {maxActive: 20}}
    shared: {url: "jdbc:mariadb://maria:3306/shared", username: is}
    user: {url: "jdbc:mysql://mysql:3306/user", username: is}
`,
			external: External{"Secret/is-ks": true, "Secret/is-db": true, "Secret/org-pull": true},
			check: func(t *testing.T, rel *Release, c *config.Config) {
				if c.Ports().Management != 9444 {
					t.Errorf("offset: %d", c.Ports().Management)
				}
				if c.Database.Identity.Type != "postgre" || c.Database.Shared.Type != "mariadb" || c.Database.User.Type != "mysql" || c.Database.Identity.PoolOptions.MaxActive != 20 {
					t.Errorf("databases: %+v", c.Database)
				}
				if c.Database.User.Password != "external-is-db-user" {
					t.Error("user DB password not from the existing Secret")
				}
				if rel.Find("Ingress") != nil {
					t.Error("Ingress rendered although disabled")
				}
				if rel.Find("PodDisruptionBudget") == nil {
					t.Error("no PDB with 2 replicas")
				}
				d := rel.Get("Deployment", isFullname).(*appsv1.Deployment)
				if img := d.Spec.Template.Spec.Containers[0].Image; img != "r.example.com/keyway/keyway:1.2.3" {
					t.Errorf("image %q", img)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rel, err := renderIS(t, tc.files, tc.values)
			if err != nil {
				t.Fatal(err)
			}
			if errs := rel.Check(tc.external); len(errs) > 0 {
				t.Fatal(Errors(errs))
			}
			c := loadRenderedConfig(t, rel, isFullname+"-conf", isFullname, isContainer, nil)
			svc := rel.Get("Service", isFullname).(*corev1.Service)
			if len(svc.Spec.Ports) != 1 || int(svc.Spec.Ports[0].Port) != c.Ports().Management {
				t.Errorf("Service ports %+v do not match the management port %d", svc.Spec.Ports, c.Ports().Management)
			}
			d := rel.Get("Deployment", isFullname).(*appsv1.Deployment)
			if cp := d.Spec.Template.Spec.Containers[0].Ports; len(cp) != 1 || int(cp[0].ContainerPort) != c.Ports().Management {
				t.Errorf("containerPort %+v does not match %d", cp, c.Ports().Management)
			}
			if d.Spec.Template.Annotations["checksum/config"] == "" {
				t.Error("no checksum/config annotation")
			}
			checkNoSecretInConfigMaps(t, rel, isAdminSecret)
			if ings := rel.Find("Ingress"); len(ings) == 1 {
				host := ings[0].Value.(*networkingv1.Ingress).Spec.Rules[0].Host
				for _, want := range []string{"<EXTERNAL-IP> " + host, "https://" + host + "/console", "https://" + host + "/carbon"} {
					if !strings.Contains(rel.Notes, want) {
						t.Errorf("NOTES.txt lacks %q", want)
					}
				}
			}
			if tc.check != nil {
				tc.check(t, rel, c)
			}
		})
	}
}

func checkSeedISBlock(t *testing.T, c *config.Config) {
	t.Helper()
	if !c.OAuth.AuthorizeAllScopes {
		t.Error("[oauth] authorize_all_scopes not read")
	}
	if len(c.Resource.AccessControl) != 1 || c.Resource.AccessControl[0].Context != "(.*)/scim2/Me" || !c.Resource.AccessControl[0].CrossTenant {
		t.Errorf("[[resource.access_control]]: %+v", c.Resource.AccessControl)
	}
	l, ok := c.TokenRevocationListener()
	if !ok || l.Headers()["X-WSO2-KEY-MANAGER"] != "WSO2-IS" || l.Properties["username"] != "admin" {
		t.Errorf("[[event_listener]]: %+v", l)
	}
}

func TestISChartRejectsBadValues(t *testing.T) {
	for _, tc := range []struct {
		name   string
		files  []string
		values string
		want   string
	}{
		{"authorizeAllScopes and [oauth] in extraConfigs", []string{"testdata/seed-is-extraconfigs.yaml"}, "deploymentToml: {oauth: {authorizeAllScopes: true}}", "[oauth]"},
		{"two APIM notification listeners", []string{"testdata/seed-is-extraconfigs.yaml"}, "deploymentToml: {apimNotification: {enabled: true, endpoint: 'https://a:9443/internal/data/v1/notify'}}", "notified twice"},
		{"replicas without shared keys", nil, "deployment: {replicas: 2}", "shared keys"},
		{"notification without endpoint", nil, "deploymentToml: {apimNotification: {enabled: true}}", "endpoint is required"},
		{"bare key in extraConfigs", nil, "deploymentToml: {extraConfigs: \"authorize_all_scopes = true\\n\"}", "[table] header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := renderIS(t, tc.files, tc.values)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// TestPattern6Wiring renders both releases as the Pattern 6 values install
// them in one namespace and checks that each side points at the other's
// Service and port.
func TestPattern6Wiring(t *testing.T) {
	apim, err := Render(apimChart, apimRelease, testNamespace, readValues(t, pattern6APIMFiles, ""))
	if err != nil {
		t.Fatal(err)
	}
	is, err := renderIS(t, []string{"../pattern-6-values/is.yaml"}, "")
	if err != nil {
		t.Fatal(err)
	}
	apimCfg := loadRenderedConfig(t, apim, apimFullname+"-conf", apimFullname, apimContainer, nil)
	isCfg := loadRenderedConfig(t, is, isFullname+"-conf", isFullname, isContainer, nil)

	// IS -> APIM: the notify endpoint is the APIM Service on its management port.
	l, ok := isCfg.TokenRevocationListener()
	if !ok {
		t.Fatal("IS has no token revocation listener")
	}
	u, err := url.Parse(l.Properties["notification_endpoint"])
	if err != nil {
		t.Fatal(err)
	}
	svc, ok := apim.Get("Service", u.Hostname()).(*corev1.Service)
	if !ok {
		t.Fatalf("notify endpoint host %q is not the APIM Service", u.Hostname())
	}
	if !servicePortIs(svc, u.Port(), apimCfg.Ports().Management) || u.Path != "/internal/data/v1/notify" {
		t.Errorf("notify endpoint %s does not reach the APIM management port %d", u, apimCfg.Ports().Management)
	}

	// APIM -> IS: the key manager endpoints use the IS Service and port, the
	// issuer uses IS's [server] hostname.
	s := apim.Get("Secret", apimFullname+"-km-register").(*corev1.Secret)
	body := string(s.Data["key-manager.json"])
	isSvc := is.Get("Service", isFullname).(*corev1.Service)
	if !strings.Contains(body, `"tokenEndpoint": "https://`+isSvc.Name+`:`+itoa(int(isSvc.Spec.Ports[0].Port))+`/oauth2/token"`) {
		t.Errorf("key manager token endpoint does not use the IS Service:\n%s", body)
	}
	if !strings.Contains(body, `"issuer": "https://`+isCfg.Server.Hostname+`:`+itoa(isCfg.Ports().Management)+`/oauth2/token"`) {
		t.Errorf("key manager issuer does not use IS's hostname %s:\n%s", isCfg.Server.Hostname, body)
	}
}

func servicePortIs(svc *corev1.Service, port string, want int) bool {
	for _, p := range svc.Spec.Ports {
		if itoa(int(p.Port)) == port && int(p.Port) == want {
			return true
		}
	}
	return false
}
