package config

import (
	"strings"
	"testing"
)

// seedIS is the IS block from the seed, verbatim.
const seedIS = `[oauth]
authorize_all_scopes = true

[[resource.access_control]]
context="(.*)/scim2/Me"
secure=true
http_method="GET"
cross_tenant=true
permissions=[]
scopes=[]

[[event_listener]]
id = "token_revocation"
type = "org.wso2.carbon.identity.core.handler.AbstractIdentityHandler"
name = "org.wso2.is.notification.ApimOauthEventInterceptor"
order = 1
[event_listener.properties]
notification_endpoint = "https://<APIM_HOST>:<APIM_PORT>/internal/data/v1/notify"
username = "${admin.username}"
password = "${admin.password}"
'header.X-WSO2-KEY-MANAGER' = "WSO2-IS"
`

func TestSeedBlockLoadsVerbatim(t *testing.T) {
	c, err := Parse("deployment.toml", []byte(seedIS), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !c.OAuth.AuthorizeAllScopes {
		t.Error("authorize_all_scopes not read")
	}
	l, ok := c.TokenRevocationListener()
	if !ok {
		t.Fatal("token_revocation listener not found")
	}
	if l.Properties["username"] != "admin" || l.Properties["password"] != "admin" {
		t.Errorf("admin references not resolved: %v", l.Properties)
	}
	if h := l.Headers(); h["X-WSO2-KEY-MANAGER"] != "WSO2-IS" {
		t.Errorf("headers = %v", h)
	}
	if len(c.Resource.AccessControl) != 1 || c.Resource.AccessControl[0].Context != "(.*)/scim2/Me" || !c.Resource.AccessControl[0].Secure {
		t.Errorf("access control = %+v", c.Resource.AccessControl)
	}
}

func TestBadFiles(t *testing.T) {
	env := func(k string) (string, bool) {
		if k == "SET" {
			return "value", true
		}
		return "", false
	}
	tests := []struct {
		name string
		text string
		want []string
	}{
		{"unknown key", "[server]\nhostname = \"a\"\nhostnme = \"b\"\n", []string{"deployment.toml:3", `"server.hostnme"`, "unknown key"}},
		{"unknown block", "[serverr]\nx = 1\n", []string{"deployment.toml:", "serverr"}},
		{"wrong type", "[server]\noffset = \"ten\"\n", []string{"deployment.toml:2", "server.offset"}},
		{"unset env", "[super_admin]\npassword = \"$env{NOPE_NOT_SET}\"\n", []string{"deployment.toml:2", "super_admin.password", "NOPE_NOT_SET"}},
		{"unresolved secret", "[database.apim_db]\npassword = \"$secret{db_pw}\"\n", []string{"database.apim_db.password", "db_pw"}},
		{"unknown ref", "[server]\nhostname = \"${nope.x}\"\n", []string{"server.hostname", "${nope.x}"}},
		{"bad truststore type", "[truststore]\ntype = \"XYZ\"\n", []string{"truststore.type"}},
		{"bad offset", "[server]\noffset = -3\n", []string{"server.offset"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("deployment.toml", []byte(tt.text), Options{Env: env})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestPlaceholdersAndPorts(t *testing.T) {
	env := func(k string) (string, bool) {
		return map[string]string{"HOST": "am.example.com", "PW": "s3cret"}[k], k == "HOST" || k == "PW"
	}
	c, err := Parse("x.toml", []byte("[server]\nhostname = \"$env{HOST}\"\noffset = 2\n[super_admin]\npassword = \"$env{PW}\"\n[database.apim_db]\ntype = \"postgre\"\nurl = \"jdbc:postgresql://db:5432/apim\"\npassword = \"$secret{apim_db}\"\n"),
		Options{Env: env, Secret: func(a string) (string, error) { return "dec-" + a, nil }})
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Hostname != "am.example.com" || c.SuperAdmin.Password != "s3cret" || c.Database.APIM.Password != "dec-apim_db" {
		t.Errorf("placeholders: %+v %+v", c.Server, c.Database.APIM)
	}
	p := c.Ports()
	if p.Management != 9445 || p.GatewayHTTPS != 8245 || p.GatewayHTTP != 8282 {
		t.Errorf("ports = %+v", p)
	}
	if got := c.ManagementURL(); got != "https://am.example.com:9445" {
		t.Errorf("management URL = %s", got)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Load("", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !c.UsesDefaultAdminPassword() || c.Ports().Management != 9443 {
		t.Errorf("defaults: %+v", c)
	}
}
