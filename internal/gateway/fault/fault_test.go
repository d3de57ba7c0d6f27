package fault

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
)

func TestGolden(t *testing.T) {
	cases := []struct {
		f    *Fault
		want string
	}{
		{Invalid("Invalid JWT token"), `{"fault":{"code":900901,"message":"Invalid Credentials","description":"Invalid JWT token"}}`},
		{ErrNoResource, `{"fault":{"code":404,"message":"Runtime Error","description":"No matching resource found for given API Request"}}`},
		{New(403, 1, "q\"uote", "line\nbreak é"), `{"fault":{"code":1,"message":"q\"uote","description":"line\u000abreak é"}}`},
	}
	for _, c := range cases {
		got := string(Body(c.f))
		if got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("invalid JSON %s", got)
		}
	}
	w := httptest.NewRecorder()
	Write(w, &Fault{Status: 429, Code: SubThrottled, Message: "Message throttled out", RetryAfter: "12"})
	if w.Code != 429 || w.Header().Get("Retry-After") != "12" || w.Header().Get("WWW-Authenticate") != "" {
		t.Errorf("429: %d %v", w.Code, w.Header())
	}
	w = httptest.NewRecorder()
	Write(w, ErrMissingCredentials)
	if w.Code != 401 || w.Header().Get("WWW-Authenticate") == "" {
		t.Errorf("401: %d %v", w.Code, w.Header())
	}
}
