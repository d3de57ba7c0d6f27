package authn

import (
	"strconv"
	"testing"
	"time"
)

func TestCacheBoundedAndTailChecked(t *testing.T) {
	c := newCache(100)
	now := time.Now()
	for i := 0; i < 1000; i++ {
		tok := "token-" + strconv.Itoa(i)
		c.put(c.key(KindJWT, tok), tok, &Principal{}, now.Add(time.Hour))
	}
	if n := c.n.Load(); n > 100 {
		t.Fatalf("cache holds %d entries, bound 100", n)
	}
	tok := "a-token-with-a-signature-tail"
	c.put(c.key(KindJWT, tok), tok, &Principal{Subject: "x"}, now.Add(time.Hour))
	if e, ok := c.get(c.key(KindJWT, tok), tok, now); !ok || e.p.Subject != "x" {
		t.Fatal("fresh entry missing")
	}
	// A different token landing on the same key (a forced collision) misses.
	if _, ok := c.get(c.key(KindJWT, tok), "another-token-with-other-tail", now); ok {
		t.Fatal("entry returned for a token with another tail")
	}
	if _, ok := c.get(c.key(KindJWT, tok), tok, now.Add(2*time.Hour)); ok {
		t.Fatal("expired entry returned")
	}
	if _, ok := c.get(c.key(KindAPIKey, tok), tok, now); ok {
		t.Fatal("kinds share entries")
	}
}
