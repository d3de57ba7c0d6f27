package quickstart

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestBackend(t *testing.T) {
	srv := httptest.NewServer(NewBackend().Handler())
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/pizzashack/menu")
	if err != nil {
		t.Fatal(err)
	}
	var items []menuItem
	if err := json.NewDecoder(resp.Body).Decode(&items); err != nil || resp.StatusCode != 200 || len(items) == 0 {
		t.Fatalf("menu: %d %v %v", resp.StatusCode, items, err)
	}
	resp.Body.Close()

	tests := []struct {
		name, body string
		code       int
	}{
		{"order", `{"pizzaType":"Margherita","quantity":2,"customerName":"Ada"}`, 201},
		{"quantity defaults to one", `{"pizzaType":"Diavola"}`, 201},
		{"no pizza type", `{"quantity":2}`, 400},
		{"not JSON", `pizza please`, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Post(srv.URL+"/pizzashack/order", "application/json", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.code {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.code)
			}
			if tt.code != 201 {
				return
			}
			var o order
			if err := json.NewDecoder(resp.Body).Decode(&o); err != nil || o.OrderID == "" || o.Quantity < 1 {
				t.Fatalf("order answer %+v %v", o, err)
			}
			got, err := http.Get(srv.URL + "/pizzashack/order/" + o.OrderID)
			if err != nil {
				t.Fatal(err)
			}
			got.Body.Close()
			if got.StatusCode != 200 {
				t.Fatalf("placed order not found: %d", got.StatusCode)
			}
		})
	}
	miss, err := http.Get(srv.URL + "/pizzashack/order/nope")
	if err != nil {
		t.Fatal(err)
	}
	miss.Body.Close()
	if miss.StatusCode != 404 {
		t.Fatalf("unknown order: %d", miss.StatusCode)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/tmp/data/ca.pem":   "/tmp/data/ca.pem",
		"/tmp/my data/a.pem": "'/tmp/my data/a.pem'",
		"it's":               `'it'\''s'`,
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %q, want %q", in, got, want)
		}
	}
}
