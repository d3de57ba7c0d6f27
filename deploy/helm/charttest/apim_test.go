package charttest

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"

	"github.com/keyway/keyway/internal/config"
	"github.com/keyway/keyway/internal/keystore"
	"github.com/keyway/keyway/internal/secret"
)

const (
	apimChart      = "../keyway-apim"
	apimRelease    = "apim"
	apimFullname   = "apim-keyway-apim"
	apimContainer  = "apim"
	testNamespace  = "keyway"
	adminPassword  = "Adm1n-S3cret-Value"
	apimDBPassword = "Apim-DB-S3cret-Value"
)

// pattern6APIMFiles are the Pattern 6 values plus every APIM snippet of the
// seed, verbatim.
var pattern6APIMFiles = []string{
	"../pattern-6-values/apim.yaml",
	"testdata/seed-apim-ingress.yaml",
	"testdata/seed-apim-image.yaml",
	"testdata/seed-apim-databases.yaml",
	"testdata/seed-apim-internal-keystore.yaml",
}

type apimCase struct {
	name     string
	files    []string
	values   string // YAML layered over the files
	external External
	vaultKS  *keystore.KeyStore
	check    func(t *testing.T, rel *Release, c *config.Config)
}

func readValues(t *testing.T, files []string, extra string) map[string]any {
	t.Helper()
	vals, err := ReadValues(files...)
	if err != nil {
		t.Fatal(err)
	}
	if extra != "" {
		tmp := filepath.Join(t.TempDir(), "values.yaml")
		if err := writeFile(tmp, extra); err != nil {
			t.Fatal(err)
		}
		more, err := ReadValues(tmp)
		if err != nil {
			t.Fatal(err)
		}
		vals = mergeValues(vals, more)
	}
	return vals
}

func TestAPIMChartRenders(t *testing.T) {
	vaultKS, err := keystore.Generate("wso2carbon", []string{"am.wso2.com"})
	if err != nil {
		t.Fatal(err)
	}
	encAdmin, _ := secret.Encrypt(vaultKS, adminPassword)
	encDB, _ := secret.Encrypt(vaultKS, apimDBPassword)

	cases := []apimCase{
		{name: "defaults", check: func(t *testing.T, rel *Release, c *config.Config) {
			if c.Server.Hostname != "am.wso2.com" {
				t.Errorf("[server] hostname = %q", c.Server.Hostname)
			}
			if rel.Find("PodDisruptionBudget") != nil {
				t.Error("a single-replica install renders a PodDisruptionBudget, which would block node drains")
			}
			if len(rel.Find("Ingress")) != 4 {
				t.Errorf("want 4 Ingresses (management, gateway, websocket, websub), got %d", len(rel.Find("Ingress")))
			}
		}},
		{name: "quickstart", files: []string{"../quickstart-values/apim.yaml"}},
		{
			name:     "pattern6 with every seed snippet verbatim",
			files:    pattern6APIMFiles,
			external: External{"Secret/apim-keystore-secret": true},
			check: func(t *testing.T, rel *Release, c *config.Config) {
				if c.Server.Hostname != "am.wso2.com" {
					t.Errorf("[server] hostname = %q, want the controlPlane host", c.Server.Hostname)
				}
				ing := rel.Get("Ingress", apimFullname+"-management").(*networkingv1.Ingress)
				if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != "nginx" {
					t.Error("ingressClassName is not nginx")
				}
				for k, v := range map[string]string{
					"nginx.ingress.kubernetes.io/backend-protocol":    "HTTPS",
					"nginx.ingress.kubernetes.io/affinity":            "cookie",
					"nginx.ingress.kubernetes.io/session-cookie-name": "route",
					"nginx.ingress.kubernetes.io/session-cookie-hash": "sha1",
				} {
					if ing.Annotations[k] != v {
						t.Errorf("management Ingress annotation %s = %q, want %q", k, ing.Annotations[k], v)
					}
				}
				if len(ing.Spec.TLS) != 1 || ing.Spec.TLS[0].SecretName != "" {
					t.Errorf("empty tlsSecret must render TLS without secretName: %+v", ing.Spec.TLS)
				}
				if c.Keystore.Internal.FileName != "/etc/keyway/security/wso2internal.jks" || c.Keystore.Primary.FileName != "/etc/keyway/security/wso2carbon.jks" {
					t.Errorf("keystores: %+v", c.Keystore)
				}
				if c.Truststore.FileName != "/etc/keyway/security/client-truststore.jks" || c.Truststore.Password != "wso2carbon" {
					t.Errorf("truststore: %+v", c.Truststore)
				}
				d := rel.Get("Deployment", apimFullname).(*appsv1.Deployment)
				if img := d.Spec.Template.Spec.Containers[0].Image; img != "keyway/keyway:0.1.0" {
					t.Errorf("image = %q (the seed's empty repository means Keyway's image)", img)
				}
				checkKeyManagerJob(t, rel)
			},
		},
		{
			name: "production: external databases, existing secrets, replicas, HPA, offset",
			values: `
kubernetes:
  ingress:
    tlsSecret: apim-tls
    ratelimit: {enabled: true, rps: "50", burstLimit: "5"}
    websub: {enabled: false}
wso2:
  apim:
    portOffset: 2
    configurations:
      existingSecret: {secretName: apim-creds, adminPasswordKey: admin, apimDBPasswordKey: apimdb, sharedDBPasswordKey: shareddb}
      databases:
        apim_db:
          url: "jdbc:postgresql://postgres:5432/apim_db?sslmode=require"
          username: apim
          poolParameters: {maxActive: 50, maxWait: 60000, minIdle: 5, testOnBorrow: true, testWhileIdle: true, validationInterval: 30000, defaultAutoCommit: true}
        shared_db:
          url: "jdbc:mysql://mysql:3306/shared_db"
          username: shared
      security:
        jksSecretName: apim-keystores
        jksExistingSecret: {secretName: apim-keystore-passwords, primaryKeystorePasswordKey: primary, tlsKeystorePasswordKey: tls, internalKeystorePasswordKey: internal, truststorePasswordKey: trust}
        keystores:
          primary: {enabled: true, name: primary.p12}
          tls: {enabled: true, name: tls.pem}
          internal: {enabled: true, name: internal.p12}
        truststore: {name: truststore.pem, useSystemRoots: true}
      extraConfigs: |
        [apim.throttling]
        enable_unlimited_tier = false
  deployment:
    replicas: 3
    hpa: {enabled: true, minReplicas: 3, maxReplicas: 6, averageUtilizationMemory: 80}
    persistence: {enabled: true, storageClass: fast}
    image:
      registry: registry.example.com
      repository: platform/keyway
      digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
      imagePullSecrets: {enabled: true, username: robot, password: pull-pass, existingSecrets: [org-pull]}
`,
			external: External{"Secret/apim-creds": true, "Secret/apim-keystores": true, "Secret/apim-keystore-passwords": true, "Secret/apim-tls": true, "Secret/org-pull": true},
			check: func(t *testing.T, rel *Release, c *config.Config) {
				if c.Database.APIM.Type != "postgre" || c.Database.Shared.Type != "mysql" {
					t.Errorf("database types from JDBC URLs: %q %q", c.Database.APIM.Type, c.Database.Shared.Type)
				}
				if c.Database.APIM.Password != "external-apim-creds-apimdb" || c.SuperAdmin.Password != "external-apim-creds-admin" {
					t.Errorf("passwords do not come from the existing Secret")
				}
				if c.Database.APIM.PoolOptions.MaxActive != 50 || !c.Database.APIM.PoolOptions.TestOnBorrow {
					t.Errorf("pool options: %+v", c.Database.APIM.PoolOptions)
				}
				if c.Keystore.TLS.Type != "PEM" || c.Keystore.Primary.Type != "PKCS12" || c.Keystore.Internal.Password != "external-apim-keystore-passwords-internal" {
					t.Errorf("keystores: %+v", c.Keystore)
				}
				if c.APIM.Throttling.EnableUnlimitedTier {
					t.Error("extraConfigs not applied")
				}
				pdb, ok := rel.Get("PodDisruptionBudget", apimFullname).(*policyv1.PodDisruptionBudget)
				if !ok || pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 {
					t.Errorf("want a PDB with maxUnavailable 1 for 3 pods, got %+v", pdb)
				}
				d := rel.Get("Deployment", apimFullname).(*appsv1.Deployment)
				if d.Spec.Replicas != nil {
					t.Error("with an HPA the Deployment must not set replicas")
				}
				if img := d.Spec.Template.Spec.Containers[0].Image; img != "registry.example.com/platform/keyway@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" {
					t.Errorf("image = %q", img)
				}
				if n := len(d.Spec.Template.Spec.ImagePullSecrets); n != 2 {
					t.Errorf("imagePullSecrets: %d", n)
				}
				pull := rel.Get("Secret", apimFullname+"-pull").(*corev1.Secret)
				var cfg struct {
					Auths map[string]struct{ Username, Password, Auth string }
				}
				if err := json.Unmarshal(pull.Data[".dockerconfigjson"], &cfg); err != nil || cfg.Auths["registry.example.com"].Username != "robot" {
					t.Errorf("pull secret: %v %+v", err, cfg)
				}
				gw := rel.Get("Ingress", apimFullname+"-gateway").(*networkingv1.Ingress)
				if gw.Annotations["nginx.ingress.kubernetes.io/limit-rps"] != "50" || gw.Spec.TLS[0].SecretName != "apim-tls" {
					t.Errorf("gateway ingress: %v %+v", gw.Annotations, gw.Spec.TLS)
				}
				if rel.Get("Ingress", apimFullname+"-websub") != nil {
					t.Error("websub Ingress rendered although disabled")
				}
			},
		},
		{
			name: "secure vault with AWS Secrets Manager",
			values: fmt.Sprintf(`
aws:
  enabled: true
  region: eu-west-1
  serviceAccountName: apim-irsa
  secretsManager:
    secretIdentifiers:
      internalKeystorePassword: {secretName: apim/internal-keystore, secretKey: password}
wso2:
  apim:
    secureVaultEnabled: true
    configurations:
      adminPassword: %q
      databases:
        apim_db: {url: "jdbc:postgresql://pg:5432/apim", username: apim, password: %q}
      security:
        jksSecretName: apim-keystores
        keystores:
          internal: {enabled: true, name: wso2internal.jks}
`, encAdmin, encDB),
			external: External{"Secret/apim-keystores": true, "ServiceAccount/apim-irsa": true},
			vaultKS:  vaultKS,
			check: func(t *testing.T, rel *Release, c *config.Config) {
				if c.SuperAdmin.Password != adminPassword || c.Database.APIM.Password != apimDBPassword {
					t.Error("the secure vault did not resolve the encrypted values")
				}
				if c.SecureVault.PasswordFile != "/mnt/secrets-store/password" || c.Keystore.Internal.PasswordFile != "/mnt/secrets-store/password" {
					t.Errorf("password_file: [secure_vault] %q, [keystore.internal] %q", c.SecureVault.PasswordFile, c.Keystore.Internal.PasswordFile)
				}
				spc := rel.Find("SecretProviderClass")
				if len(spc) != 1 || spc[0].Value.(*SecretProviderClass).Spec.Provider != "aws" || !strings.Contains(spc[0].Value.(*SecretProviderClass).Spec.Parameters["objects"], `objectAlias: "password"`) {
					t.Errorf("SecretProviderClass: %+v", spc)
				}
				if rel.Get("Secret", apimFullname+"-credentials") != nil {
					t.Error("with the secure vault no credentials Secret is needed")
				}
			},
		},
		{
			name: "secure vault with Azure Key Vault",
			values: fmt.Sprintf(`
azure:
  enabled: true
  keyVault:
    name: kv1
    tenantId: t1
    secretIdentifiers: {internalKeystorePassword: internal-keystore-password}
    activeDirectory: {servicePrincipal: {credentialsSecretName: kv-creds}}
wso2:
  apim:
    secureVaultEnabled: true
    configurations:
      adminPassword: %q
      security:
        jksSecretName: apim-keystores
        keystores:
          internal: {enabled: true, name: wso2internal.jks}
`, encAdmin),
			external: External{"Secret/apim-keystores": true},
			vaultKS:  vaultKS,
			check: func(t *testing.T, rel *Release, c *config.Config) {
				if c.SecureVault.PasswordFile != "/mnt/secrets-store/internal-keystore-password" {
					t.Errorf("password_file = %q", c.SecureVault.PasswordFile)
				}
			},
		},
		{
			name: "secure vault with GCP Secret Manager",
			values: fmt.Sprintf(`
gcp:
  enabled: true
  secretsManager: {projectId: p1, secret: {secretName: internal-pw, secretVersion: 3}}
wso2:
  apim:
    secureVaultEnabled: true
    configurations:
      adminPassword: %q
      security:
        jksSecretName: apim-keystores
        keystores:
          internal: {enabled: true, name: wso2internal.jks}
`, encAdmin),
			external: External{"Secret/apim-keystores": true},
			vaultKS:  vaultKS,
			check: func(t *testing.T, rel *Release, c *config.Config) {
				spc := rel.Find("SecretProviderClass")[0].Value.(*SecretProviderClass)
				if !strings.Contains(spc.Spec.Parameters["secrets"], "projects/p1/secrets/internal-pw/versions/3") {
					t.Errorf("gcp parameters: %v", spc.Spec.Parameters)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vals := readValues(t, tc.files, tc.values)
			rel, err := Render(apimChart, apimRelease, testNamespace, vals)
			if err != nil {
				t.Fatal(err)
			}
			if errs := rel.Check(tc.external); len(errs) > 0 {
				t.Fatal(Errors(errs))
			}
			c := loadRenderedConfig(t, rel, apimFullname+"-conf", apimFullname, apimContainer, tc.vaultKS)
			checkAPIMPorts(t, rel, c)
			checkNoSecretInConfigMaps(t, rel, adminPassword, apimDBPassword, "pull-pass")
			checkAPIMNotes(t, rel)
			d := rel.Get("Deployment", apimFullname).(*appsv1.Deployment)
			if d.Spec.Template.Annotations["checksum/config"] == "" {
				t.Error("no checksum/config annotation: a configuration change would not roll the pods")
			}
			if u := d.Spec.Template.Spec.SecurityContext.RunAsUser; u == nil || *u != 10001 {
				t.Error("pod does not run as UID 10001")
			}
			if tc.check != nil {
				tc.check(t, rel, c)
			}
		})
	}
}

// checkAPIMPorts: the Service, the container and the probes use the ports
// Keyway derives from [server] offset.
func checkAPIMPorts(t *testing.T, rel *Release, c *config.Config) {
	t.Helper()
	p := c.Ports()
	want := map[string]int32{"servlet-https": int32(p.Management), "pass-through-https": int32(p.GatewayHTTPS), "pass-through-http": int32(p.GatewayHTTP)}
	svc := rel.Get("Service", apimFullname).(*corev1.Service)
	for _, sp := range svc.Spec.Ports {
		if want[sp.Name] != sp.Port {
			t.Errorf("Service port %s = %d, deployment.toml says %d", sp.Name, sp.Port, want[sp.Name])
		}
	}
	if len(svc.Spec.Ports) != len(want) {
		t.Errorf("Service has %d ports, want %d", len(svc.Spec.Ports), len(want))
	}
	d := rel.Get("Deployment", apimFullname).(*appsv1.Deployment)
	ctr := d.Spec.Template.Spec.Containers[0]
	for _, cp := range ctr.Ports {
		if want[cp.Name] != cp.ContainerPort {
			t.Errorf("containerPort %s = %d, deployment.toml says %d", cp.Name, cp.ContainerPort, want[cp.Name])
		}
	}
	for name, probe := range map[string]*corev1.Probe{"startup": ctr.StartupProbe, "liveness": ctr.LivenessProbe, "readiness": ctr.ReadinessProbe} {
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Scheme != corev1.URISchemeHTTPS || probe.HTTPGet.Port.String() != "servlet-https" {
			t.Errorf("%s probe is not HTTPS on the management port: %+v", name, probe)
		}
	}
	if ctr.ReadinessProbe.HTTPGet.Path != "/health/ready" || ctr.LivenessProbe.HTTPGet.Path != "/health/live" {
		t.Error("probes do not use /health/ready and /health/live")
	}
}

func checkNoSecretInConfigMaps(t *testing.T, rel *Release, secrets ...string) {
	t.Helper()
	for _, o := range rel.Find("ConfigMap") {
		for k, v := range o.Value.(*corev1.ConfigMap).Data {
			for _, s := range secrets {
				if strings.Contains(v, s) {
					t.Errorf("ConfigMap %s key %s holds a password in clear", o.Name, k)
				}
			}
		}
	}
}

func checkAPIMNotes(t *testing.T, rel *Release) {
	t.Helper()
	ings := map[string]string{}
	for _, o := range rel.Find("Ingress") {
		ings[strings.TrimPrefix(o.Name, apimFullname+"-")] = o.Value.(*networkingv1.Ingress).Spec.Rules[0].Host
	}
	mgmt, gw := ings["management"], ings["gateway"]
	for _, want := range []string{
		"https://" + mgmt + "/publisher", "https://" + mgmt + "/devportal", "https://" + mgmt + "/admin",
		"https://" + mgmt + "/carbon", "https://" + gw, "/etc/hosts", "<EXTERNAL-IP> " + mgmt + " " + gw,
	} {
		if !strings.Contains(rel.Notes, want) {
			t.Errorf("NOTES.txt lacks %q:\n%s", want, rel.Notes)
		}
	}
}

// checkKeyManagerJob compares the registration request with the seed's table.
func checkKeyManagerJob(t *testing.T, rel *Release) {
	t.Helper()
	s, ok := rel.Get("Secret", apimFullname+"-km-register").(*corev1.Secret)
	if !ok {
		t.Fatal("no key manager registration Secret")
	}
	if rel.Get("Job", apimFullname+"-km-register") == nil || rel.Get("ConfigMap", apimFullname+"-km-register") == nil {
		t.Fatal("no key manager registration Job or script")
	}
	var km map[string]any
	if err := json.Unmarshal(s.Data["key-manager.json"], &km); err != nil {
		t.Fatal(err)
	}
	base := "https://is-keyway-is:9443"
	want := map[string]string{
		"name":                       "WSO2IS7",
		"displayName":                "WSO2 Identity Server 7",
		"type":                       "WSO2-IS-7",
		"wellKnownEndpoint":          base + "/oauth2/token/.well-known/openid-configuration",
		"issuer":                     "https://wso2is.km:9443/oauth2/token",
		"clientRegistrationEndpoint": base + "/api/identity/oauth2/dcr/v1.1/register",
		"introspectionEndpoint":      base + "/oauth2/introspect",
		"tokenEndpoint":              base + "/oauth2/token",
		"displayTokenEndpoint":       "https://wso2is.km:9443/oauth2/token",
		"revokeEndpoint":             base + "/oauth2/revoke",
		"displayRevokeEndpoint":      "https://wso2is.km:9443/oauth2/revoke",
		"userInfoEndpoint":           base + "/scim2/Me",
		"authorizeEndpoint":          base + "/oauth2/authorize",
		"scopeManagementEndpoint":    base + "/api/identity/oauth2/v1.0/scopes",
	}
	for k, v := range want {
		if km[k] != v {
			t.Errorf("key manager %s = %v, want %s", k, km[k], v)
		}
	}
	certs, _ := km["certificates"].(map[string]any)
	if certs["type"] != "JWKS" || certs["value"] != base+"/oauth2/jwks" {
		t.Errorf("certificates = %v", certs)
	}
	ap, _ := km["additionalProperties"].(map[string]any)
	if ap["Username"] != "admin" || ap["Password"] != "admin" || ap["api_resource_management_endpoint"] != base+"/api/server/v1/api-resources" || ap["is7_roles_endpoint"] != base+"/scim2/v2/Roles" || ap["enable_roles_creation"] != false {
		t.Errorf("additionalProperties = %v", ap)
	}
}

func TestAPIMChartRejectsBadValues(t *testing.T) {
	for _, tc := range []struct{ name, values, want string }{
		{"replicas without shared keys", "wso2: {deployment: {replicas: 2}}", "shared keys"},
		{"replicas with embedded database", `
wso2:
  deployment: {replicas: 2}
  apim: {configurations: {security: {jksSecretName: ks}}}`, "external database"},
		{"keystore without secret", "wso2: {apim: {configurations: {security: {keystores: {primary: {enabled: true}}}}}}", "needs security.jksSecretName"},
		{"rate limit without zone or rps", "kubernetes: {ingress: {ratelimit: {enabled: true}}}", "zoneName"},
		{"bare key in extraConfigs", "wso2: {apim: {configurations: {extraConfigs: \"level = 'debug'\\n\"}}}", "must start with a [table] header"},
		{"vault without internal keystore", "wso2: {apim: {secureVaultEnabled: true}}", "internal keystore"},
		{"unsupported database", "wso2: {apim: {configurations: {databases: {apim_db: {url: 'jdbc:oracle:thin:@db:1521/x'}}}}}", "not supported"},
		{"unknown pool option", "wso2: {apim: {configurations: {databases: {apim_db: {poolParameters: {maxActiv: 3}}}}}}", "maxActiv"},
		{"no admin password", "wso2: {apim: {configurations: {adminPassword: ''}}}", "adminPassword"},
		{"two cloud providers", "aws: {enabled: true}\ngcp: {enabled: true}", "only one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Render(apimChart, apimRelease, testNamespace, readValues(t, nil, tc.values))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestAPIMChecksumFollowsConfiguration(t *testing.T) {
	sum := func(values string) string {
		rel, err := Render(apimChart, apimRelease, testNamespace, readValues(t, nil, values))
		if err != nil {
			t.Fatal(err)
		}
		return rel.Get("Deployment", apimFullname).(*appsv1.Deployment).Spec.Template.Annotations["checksum/config"]
	}
	if sum("") == sum("wso2: {apim: {configurations: {log: {level: debug}}}}") {
		t.Error("changing deployment.toml does not change the checksum, so pods would not roll")
	}
}
