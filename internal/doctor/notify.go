package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
)

// NotifyPath is the API Manager's endpoint for IS's revocation events.
const NotifyPath = "/internal/data/v1/notify"

// probeEvent is the harmless event the notify check posts: a token_revocation
// for an identifier no token has (a random "keyway-doctor-" UUID) that
// expires a minute later, so the API Manager and its gateways forget it
// almost at once. Its shape is exactly IS's (PATTERN6-WIRE §1.3.1).
func probeEvent(now time.Time) ([]byte, string) {
	id := uuid.NewString()
	ev := map[string]any{
		"accessToken":  "keyway-doctor-" + uuid.NewString(),
		"expiryTime":   now.Add(time.Minute).UnixMilli(),
		"user":         "keyway-doctor",
		"consumerKey":  "keyway-doctor",
		"tokenType":    "JWT",
		"eventId":      id,
		"timeStamp":    now.UnixMilli(),
		"type":         "token_revocation",
		"tenantId":     -1234,
		"tenantDomain": "carbon.super",
		"properties":   map[string]string{},
	}
	b, _ := json.Marshal(ev)
	return b, id
}

// checkNotify (f, APIM side): the notify endpoint answers and accepts the IS
// admin's credentials, which is what IS's event listener sends.
func (d *run) checkNotify(ctx context.Context) {
	c := Check{ID: "notify", Title: "Notify endpoint accepts IS's revocation events with IS's admin credentials"}
	target := d.o.APIMURL + NotifyPath
	body, eventID := probeEvent(d.o.Now())
	header := map[string]string{"Content-Type": "application/json", "X-WSO2-KEY-MANAGER": d.keyManagerHeader()}
	if d.o.ISAdminUsername != "" && d.o.ISAdminPassword != "" {
		header["Authorization"] = basic(d.o.ISAdminUsername, d.o.ISAdminPassword)
	}
	resp, err := d.client.do(ctx, http.MethodPost, target, bytes.NewReader(body), header)
	switch {
	case err != nil:
		p := explain(err, target, doctorAPIM)
		c.Status, c.Message, c.Fix, c.Detail = Fail, "The notify endpoint cannot be reached: "+p.Message, p.Fix, err.Error()
	case resp.Status == http.StatusUnauthorized:
		c.Status = Fail
		c.Message = fmt.Sprintf("The API Manager rejected IS's admin credentials (user %q) on %s. IS signs its revocation events with its own super admin (${admin.username}/${admin.password}), so every revocation would be refused and revoked tokens would keep working at the gateway.", d.o.ISAdminUsername, NotifyPath)
		c.Fix = "give both servers the same super admin (user name and password), or set username/password in IS's [event_listener.properties] to an API Manager admin; pass the IS side's values with --is-admin-username/--is-admin-password"
	case resp.Status == http.StatusForbidden:
		c.Status = Fail
		c.Message = fmt.Sprintf("The API Manager authenticated %q but refused it on %s (HTTP 403): the user must be a super-tenant administrator.", d.o.ISAdminUsername, NotifyPath)
		c.Fix = "use a super-tenant admin for the event listener's username/password"
	case resp.Status == http.StatusNotFound || resp.Status == http.StatusMethodNotAllowed:
		c.Status = Fail
		c.Message = fmt.Sprintf("%s answered HTTP %d: this server has no notify endpoint, so IS's revocation events cannot be delivered.", target, resp.Status)
		c.Fix = "check that --apim is the API Manager's management URL (the notify endpoint is served by `keyway apim`, not by the gateway port)"
	case resp.Status/100 != 2:
		c.Status = Fail
		c.Message = fmt.Sprintf("The notify endpoint answered HTTP %d to a well-formed token_revocation event.", resp.Status)
		c.Fix = "check the API Manager's logs"
		c.Detail = snippet(resp.Body)
	default:
		c.Status = Pass
		c.Message = fmt.Sprintf("Accepted a harmless token_revocation event (eventId %s, a random token identifier that expires in one minute).", eventID)
	}
	d.add(c)
}

func (d *run) keyManagerHeader() string {
	if d.o.ISConfig != nil {
		if l, ok := d.o.ISConfig.TokenRevocationListener(); ok {
			for k, v := range l.Headers() {
				if strings.EqualFold(k, "X-WSO2-KEY-MANAGER") {
					return v
				}
			}
		}
	}
	return "WSO2-IS"
}

var isToAPIM = peer{Client: "IS", Server: "APIM", Alias: "wso2am", CertFile: "apim.crt"}

// checkISListener (f, IS side): IS's deployment.toml sends events to this
// API Manager, with credentials, and IS's truststore trusts the certificate
// the API Manager serves there.
func (d *run) checkISListener(ctx context.Context) {
	src := d.o.ISConfigSource
	if src == "" {
		src = "IS's deployment.toml"
	}
	c := Check{ID: "is-listener", Title: "IS's [[event_listener]] sends revocation events to this API Manager"}
	l, ok := d.o.ISConfig.TokenRevocationListener()
	if !ok {
		c.Status = Fail
		c.Message = fmt.Sprintf("%s has no enabled [[event_listener]] with id token_revocation and a notification_endpoint: IS will not tell the API Manager about revoked tokens, which keep working at the gateway until they expire.", src)
		c.Fix = fmt.Sprintf("add the seed's block to %s: [[event_listener]] id = \"token_revocation\" … [event_listener.properties] notification_endpoint = \"%s%s\" (docs/pattern-6.md)", src, d.o.APIMURL, NotifyPath)
		d.add(c)
		return
	}
	endpoint := l.Properties["notification_endpoint"]
	u, err := url.Parse(endpoint)
	apim, _ := url.Parse(d.o.APIMURL)
	var problems []string
	switch {
	case err != nil || u.Host == "":
		c.Status, c.Message, c.Fix = Fail, fmt.Sprintf("notification_endpoint %q is not a URL.", endpoint), fmt.Sprintf("set it to %s%s", d.o.APIMURL, NotifyPath)
		d.add(c)
		return
	case strings.TrimRight(u.Path, "/") != NotifyPath:
		c.Status = Fail
		c.Message = fmt.Sprintf("notification_endpoint %q does not end in %s; the API Manager would not receive the events.", endpoint, NotifyPath)
		c.Fix = fmt.Sprintf("set it to https://%s%s", u.Host, NotifyPath)
		d.add(c)
		return
	}
	if l.Properties["username"] == "" || l.Properties["password"] == "" {
		problems = append(problems, "it has no username/password, so IS sends no Authorization header and the API Manager answers 401")
	}
	if _, ok := headerValue(l.Headers(), "X-WSO2-KEY-MANAGER"); !ok {
		problems = append(problems, "it has no 'header.X-WSO2-KEY-MANAGER' = \"WSO2-IS\" property (the API Manager then uses its default handler, which works, but the seed sets it)")
	}
	same, how := sameServer(u, apim)
	switch {
	case len(problems) > 0 && (l.Properties["username"] == "" || l.Properties["password"] == ""):
		c.Status = Fail
	case len(problems) > 0 || !same:
		c.Status = Warn
	default:
		c.Status = Pass
	}
	c.Message = fmt.Sprintf("IS posts to %s", endpoint)
	if same {
		c.Message += " (" + how + ")."
	} else {
		c.Message += fmt.Sprintf(", which is not the API Manager checked here (%s). That is fine only if that name reaches the same server from IS (for example a Kubernetes service name).", d.o.APIMURL)
	}
	if len(problems) > 0 {
		c.Message += " But " + strings.Join(problems, "; ") + "."
		c.Fix = fmt.Sprintf("use the seed's block: username = \"${admin.username}\", password = \"${admin.password}\", 'header.X-WSO2-KEY-MANAGER' = \"WSO2-IS\" in %s", src)
	}
	d.add(c)

	// TLS trust IS → APIM, as IS would connect.
	t := Check{ID: "is-trust", Title: "IS trusts the certificate the API Manager serves at the notify endpoint"}
	if d.o.ISTrust == nil {
		t.Status, t.Message = Skip, "Skipped: IS's truststore could not be loaded."
		d.add(t)
		return
	}
	if u.Scheme != "https" {
		t.Status, t.Message, t.Fix = Warn, "The notification_endpoint is plain http: IS sends its admin password unencrypted.", "use the https URL of the API Manager"
		d.add(t)
		return
	}
	client := newClient(d.o.ISTrust, d.o.Timeout)
	resp, err := client.do(ctx, http.MethodGet, endpoint, nil, nil)
	if err != nil {
		p := explain(err, endpoint, peer{Client: isToAPIM.Client, Server: isToAPIM.Server, Alias: isToAPIM.Alias, CertFile: isToAPIM.CertFile, ImportHint: " --config " + src})
		t.Status, t.Message, t.Fix, t.Detail = Fail, p.Message+" (checked from this machine with IS's truststore "+d.o.ISTrustSource+")", p.Fix, err.Error()
		d.add(t)
		return
	}
	t.Status, t.Message = Pass, fmt.Sprintf("TLS handshake with %s verified against IS's truststore (%s answered HTTP %d).", u.Host, NotifyPath, resp.Status)
	d.add(t)
}

func headerValue(h map[string]string, name string) (string, bool) {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// sameServer reports whether two URLs name the same server: the same
// host:port, or host names that resolve to a shared address on the same port.
func sameServer(a, b *url.URL) (bool, string) {
	if b == nil {
		return false, ""
	}
	if strings.EqualFold(a.Host, b.Host) {
		return true, "the API Manager checked here"
	}
	if portOf(a) != portOf(b) {
		return false, ""
	}
	ipsA, errA := net.LookupHost(a.Hostname())
	ipsB, errB := net.LookupHost(b.Hostname())
	if errA != nil || errB != nil {
		return false, ""
	}
	for _, x := range ipsA {
		for _, y := range ipsB {
			if net.ParseIP(x).Equal(net.ParseIP(y)) {
				return true, fmt.Sprintf("%s and %s resolve to the same address %s", a.Hostname(), b.Hostname(), x)
			}
		}
	}
	return false, ""
}

func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "http" {
		return "80"
	}
	return "443"
}
