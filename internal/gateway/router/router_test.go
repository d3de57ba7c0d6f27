package router

import (
	"fmt"
	"testing"
)

func testRouter() *Router {
	return New([]API{
		{Ref: 0, Context: "/pizzashack", Version: "1.0.0", IsDefault: true, Resources: []Resource{
			{Ref: 0, Verb: "GET", URITemplate: "/menu"},
			{Ref: 1, Verb: "POST", URITemplate: "/order"},
			{Ref: 2, Verb: "GET", URITemplate: "/order/{orderId}"},
			{Ref: 3, Verb: "GET", URITemplate: "/order/special"},
			{Ref: 4, Verb: "GET", URITemplate: "/files/*"},
			{Ref: 5, Verb: "GET", URITemplate: "/order/{id}/items/{item}"},
		}},
		{Ref: 1, Context: "/pizzashack", Version: "2.0.0", Resources: []Resource{{Ref: 0, Verb: "GET", URITemplate: "/*"}}},
		{Ref: 2, Context: "/t/{version}/weather", Version: "v2", IsDefault: true, Resources: []Resource{{Ref: 0, Verb: "GET", URITemplate: "/today?city={c}"}}},
		{Ref: 3, VHost: "api.example.com", Context: "/shop", Version: "v1", Resources: []Resource{{Ref: 0, Verb: "GET", URITemplate: "/*"}}},
		{Ref: 4, VHost: "other.example.com", Context: "/shop", Version: "v1", Resources: []Resource{{Ref: 0, Verb: "PUT", URITemplate: "/*"}}},
	})
}

func TestMatch(t *testing.T) {
	r := testRouter()
	cases := []struct {
		host, method, path string
		result             Result
		api, res           int
		rest               string
	}{
		{"", "GET", "/pizzashack/1.0.0/menu", Matched, 0, 0, "/menu"},
		{"", "GET", "/pizzashack/menu", Matched, 0, 0, "/menu"},
		{"", "GET", "/pizzashack/1.0.0/menu/", Matched, 0, 0, "/menu/"},
		{"", "GET", "/pizzashack/1.0.0/order/7", Matched, 0, 2, "/order/7"},
		{"", "GET", "/pizzashack/1.0.0/order/special", Matched, 0, 3, "/order/special"},
		{"", "GET", "/pizzashack/1.0.0/order/7/items/3", Matched, 0, 5, "/order/7/items/3"},
		{"", "GET", "/pizzashack/1.0.0/order/", NoMethod, 0, 0, ""}, // trailing slash is tolerated
		{"", "POST", "/pizzashack/1.0.0/order", Matched, 0, 1, "/order"},
		{"", "DELETE", "/pizzashack/1.0.0/order", NoMethod, 0, 0, ""},
		{"", "GET", "/pizzashack/1.0.0/files", Matched, 0, 4, "/files"},
		{"", "GET", "/pizzashack/1.0.0/files/a/b", Matched, 0, 4, "/files/a/b"},
		{"", "GET", "/pizzashack/1.0.0/nothing", NoResource, 0, 0, ""},
		{"", "GET", "/pizzashack/2.0.0/anything/at/all", Matched, 1, 0, "/anything/at/all"},
		{"", "GET", "/pizzashack/2.0.0", Matched, 1, 0, "/"},
		{"", "GET", "/pizzashackx/1.0.0/menu", NoAPI, 0, 0, ""},
		{"", "GET", "/t/v2/weather/today", Matched, 2, 0, "/today"},
		{"", "GET", "/t/weather/today", Matched, 2, 0, "/today"},
		{"", "GET", "/", NoAPI, 0, 0, ""},
		{"api.example.com", "GET", "/shop/v1/x", Matched, 3, 0, "/x"},
		{"other.example.com", "PUT", "/shop/v1/x", Matched, 4, 0, "/x"},
		{"other.example.com", "GET", "/shop/v1/x", NoMethod, 4, 0, ""},
		{"unknown", "GET", "/shop/v1/x", Matched, 3, 0, "/x"},
		{"api.example.com", "GET", "/pizzashack/1.0.0/menu", Matched, 0, 0, "/menu"},
	}
	for _, c := range cases {
		m := r.Match(c.host, c.method, c.path)
		if m.Result != c.result || (c.result != NoAPI && m.API != c.api) || (c.result == Matched && (m.Resource != c.res || m.Rest != c.rest)) {
			t.Errorf("%s %s %s = %+v, want result %d api %d res %d rest %q", c.host, c.method, c.path, m, c.result, c.api, c.res, c.rest)
		}
	}
	if v := r.AllowedVerbs("", "/pizzashack/1.0.0/order"); len(v) != 1 || v[0] != "POST" {
		t.Errorf("allowed verbs %v", v)
	}
}

func TestMatchAllocatesNothing(t *testing.T) {
	r := testRouter()
	n := testing.AllocsPerRun(100, func() { r.Match("", "GET", "/pizzashack/1.0.0/order/7/items/3") })
	if n != 0 {
		t.Fatalf("Match allocates %v times", n)
	}
}

func BenchmarkRouterMatch(b *testing.B) {
	var apis []API
	for i := 0; i < 200; i++ {
		apis = append(apis, API{Ref: i, Context: fmt.Sprintf("/api%d", i), Version: "v1", IsDefault: i%2 == 0, Resources: []Resource{
			{Ref: 0, Verb: "GET", URITemplate: "/items"}, {Ref: 1, Verb: "GET", URITemplate: "/items/{id}"},
			{Ref: 2, Verb: "POST", URITemplate: "/items"}, {Ref: 3, Verb: "GET", URITemplate: "/files/*"}}})
	}
	r := New(apis)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if m := r.Match("", "GET", "/api150/v1/items/42"); m.Result != Matched {
			b.Fatal(m)
		}
	}
}
