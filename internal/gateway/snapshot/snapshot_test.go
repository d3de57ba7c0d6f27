package snapshot

import (
	"testing"
	"time"

	"github.com/keyway/keyway/internal/runtime"
)

func TestPolicies(t *testing.T) {
	cases := []struct {
		name      string
		limit     runtime.Limit
		stop      bool
		unlimited bool
		n         int64
		window    time.Duration
	}{
		{"Gold", runtime.Limit{Type: "REQUESTCOUNTLIMIT", RequestCount: 5000, UnitTime: 1, TimeUnit: "min"}, true, false, 5000, time.Minute},
		{"Hourly", runtime.Limit{Type: "REQUESTCOUNTLIMIT", RequestCount: 10, UnitTime: 2, TimeUnit: "hour"}, true, false, 10, 2 * time.Hour},
		{"Seconds", runtime.Limit{RequestCount: 10, UnitTime: 1, TimeUnit: "s"}, true, false, 10, time.Second},
		{"Unlimited", runtime.Limit{Type: "REQUESTCOUNTLIMIT", RequestCount: 2147483647, UnitTime: 1, TimeUnit: "min"}, true, true, 0, 0},
		{"Bandwidth", runtime.Limit{Type: "BANDWIDTHLIMIT", DataAmount: 1, DataUnit: "MB", UnitTime: 1, TimeUnit: "min"}, true, true, 0, 0},
		{"BadUnit", runtime.Limit{Type: "REQUESTCOUNTLIMIT", RequestCount: 1, UnitTime: 1, TimeUnit: "fortnight"}, true, true, 0, 0},
	}
	for _, c := range cases {
		p := policy(c.name, c.limit, c.stop)
		if p.Unlimited != c.unlimited || (!c.unlimited && (p.Limit != c.n || p.Window != c.window)) {
			t.Errorf("%s: %+v", c.name, p)
		}
	}
	if (&Policy{Limit: 1, Window: time.Second, Stop: false}).Enforced() {
		t.Error("StopOnQuotaReach=false must not be enforced")
	}
}

func TestCompile(t *testing.T) {
	s, err := Compile(&runtime.Snapshot{
		Revision: 3,
		APIs: []runtime.API{{UUID: "a", Name: "A", Version: "v1", Context: "/a", LifecycleState: "PUBLISHED",
			KeyManagers:     []string{"IS"},
			SecuritySchemes: []string{"api_key"},
			Resources:       []runtime.Resource{{Verb: "get", URITemplate: "/x", AuthType: "None"}},
			Endpoints:       runtime.EndpointConfig{Type: "load_balance", Production: []runtime.Endpoint{{URL: "http://h1/base/"}, {URL: "http://h2", TimeoutMillis: 500}}}},
			{UUID: "ws", Type: "WS", Context: "/ws", Version: "v1"}},
		KeyManagers: []runtime.KeyManager{{Name: "IS", Enabled: true, Issuer: "https://is/oauth2/token"}, {Name: "Off", Issuer: "x"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.APIs) != 1 {
		t.Fatalf("non-HTTP APIs must be skipped: %d", len(s.APIs))
	}
	a := s.APIs[0]
	if a.OAuth2 || !a.APIKey || a.AllowsKeyManager("Resident Key Manager") || !a.AllowsKeyManager("IS") {
		t.Errorf("security %+v", a)
	}
	if !a.Resources[0].Open || a.Resources[0].Verb != "GET" {
		t.Errorf("resource %+v", a.Resources[0])
	}
	up := a.Production
	if up.Endpoints[0].URL.Path != "/base" || up.Endpoints[0].Timeout != time.Minute || up.Endpoints[1].Timeout != 500*time.Millisecond {
		t.Errorf("endpoints %+v", up.Endpoints)
	}
	if first, second := up.Pick(), up.Pick(); first == second {
		t.Error("round robin returned the same endpoint twice")
	}
	if s.KeyManagerByIssuer("https://is/oauth2/token") == nil || s.KeyManagerByIssuer("x") != nil {
		t.Error("disabled key managers must not be trusted")
	}
	if _, err := Compile(&runtime.Snapshot{APIs: []runtime.API{{Name: "bad", Endpoints: runtime.EndpointConfig{Production: []runtime.Endpoint{{URL: "ftp://x"}}}}}}); err == nil {
		t.Error("a bad endpoint URL compiled")
	}
}
