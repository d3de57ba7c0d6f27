package contracttest

import (
	"net/http/httptest"
	"testing"
)

func TestLoadAll(t *testing.T) {
	for name := range basePaths {
		c := Load(t, name)
		if c.Doc.Paths.Len() == 0 {
			t.Errorf("%s: no paths", name)
		}
	}
}

func TestValidateCatchesWrongShape(t *testing.T) {
	c := Load(t, "admin-api.yaml")
	req := httptest.NewRequest("GET", "/api/am/admin/v4/key-managers", nil)
	good := []byte(`{"count":1,"list":[{"id":"x","name":"WSO2IS7","type":"WSO2-IS-7","enabled":true}]}`)
	if err := c.Validate(req, 200, nil, good); err != nil {
		t.Fatalf("good body rejected: %v", err)
	}
	bad := []byte(`{"count":"one","list":{}}`)
	if err := c.Validate(req, 200, nil, bad); err == nil {
		t.Fatal("wrong shape accepted")
	}
	if err := c.Validate(httptest.NewRequest("GET", "/api/am/admin/v4/no-such-thing", nil), 200, nil, good); err == nil {
		t.Fatal("unknown operation accepted")
	}
}
