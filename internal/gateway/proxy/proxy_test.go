package proxy

import (
	"net/url"
	"testing"
)

func TestTarget(t *testing.T) {
	cases := []struct {
		ep, rest, path, raw string
	}{
		{"http://b:1/api", "/menu", "/api/menu", ""},
		{"http://b:1/api", "/", "/api", ""},
		{"http://b:1", "/", "/", ""},
		{"http://b:1/api", "/order/a%2Fb", "/api/order/a/b", "/api/order/a%2Fb"},
	}
	for _, c := range cases {
		ep, _ := url.Parse(c.ep)
		out := &url.URL{}
		p, raw := split(c.rest)
		target(out, ep, p, raw)
		if out.Path != c.path || out.RawPath != c.raw || out.Host != "b:1" {
			t.Errorf("%s + %s = %q %q", c.ep, c.rest, out.Path, out.RawPath)
		}
	}
}

func TestBufferPoolNoAlloc(t *testing.T) {
	p := newBufferPool()
	p.Put(p.Get())
	// The race detector makes sync.Pool drop items on purpose.
	if len(p.Get()) != bufSize {
		t.Fatal("buffer size")
	}
	if raceEnabled {
		return
	}
	if n := testing.AllocsPerRun(100, func() { p.Put(p.Get()) }); n != 0 {
		t.Fatalf("buffer pool allocates %v per use", n)
	}
}
