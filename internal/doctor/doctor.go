// Package doctor implements `keyway doctor`: it checks a Pattern 6 wiring
// (an API Manager using an Identity Server as its WSO2-IS-7 key manager) from
// the API Manager's side and explains every broken link in plain words with
// a suggested fix. The seed's manual setup has many steps that fail silently
// (a certificate not imported, an issuer with a trailing slash, a wrong
// connector password, a notify endpoint IS cannot reach); each is a check here.
//
// The doctor runs outside both servers. It sees the network from where it
// runs and trusts what the API Manager's truststore trusts, so run it on (or
// next to) the API Manager node with the API Manager's deployment.toml.
package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/keyway/keyway/internal/config"
	"github.com/keyway/keyway/internal/keystore"
)

// Status is a check's verdict.
type Status string

const (
	Pass Status = "PASS"
	Warn Status = "WARN"
	Fail Status = "FAIL"
	// Skip means the check could not run because an earlier one failed.
	Skip Status = "SKIP"
)

// Check is one verdict with its explanation.
type Check struct {
	// ID is stable, for scripts: apim-tls, key-manager, endpoint.token, ...
	ID     string `json:"id"`
	Title  string `json:"title"`
	Status Status `json:"status"`
	// Message says what was found, in plain words.
	Message string `json:"message"`
	// Fix says what to do about it (empty on PASS).
	Fix string `json:"fix,omitempty"`
	// Detail is the technical error, for a bug report.
	Detail string `json:"detail,omitempty"`
}

// Report is the result of a run.
type Report struct {
	APIM       string  `json:"apim"`
	KeyManager string  `json:"keyManager"`
	Checks     []Check `json:"checks"`
}

// Failed reports whether any check failed.
func (r Report) Failed() bool {
	for _, c := range r.Checks {
		if c.Status == Fail {
			return true
		}
	}
	return false
}

// Counts returns how many checks ended in each status.
func (r Report) Counts() map[Status]int {
	out := map[Status]int{}
	for _, c := range r.Checks {
		out[c.Status]++
	}
	return out
}

// Find returns the check with id.
func (r Report) Find(id string) (Check, bool) {
	for _, c := range r.Checks {
		if c.ID == id {
			return c, true
		}
	}
	return Check{}, false
}

// WriteText prints the report for a person.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Pattern 6 check of %s (key manager %s)\n\n", r.APIM, r.KeyManager)
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "[%s] %s\n", c.Status, c.Title)
		if c.Message != "" {
			fmt.Fprintf(&b, "       %s\n", c.Message)
		}
		if c.Fix != "" {
			fmt.Fprintf(&b, "       fix: %s\n", c.Fix)
		}
		if c.Detail != "" && c.Status != Pass {
			fmt.Fprintf(&b, "       detail: %s\n", c.Detail)
		}
	}
	n := r.Counts()
	fmt.Fprintf(&b, "\n%d passed, %d warnings, %d failed, %d skipped\n", n[Pass], n[Warn], n[Fail], n[Skip])
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON prints the report as one JSON object.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Options say what to check and with which credentials.
type Options struct {
	// APIMURL is the API Manager's management URL (https://localhost:9443).
	APIMURL string
	// KeyManager is the key manager's name in the API Manager (WSO2IS7).
	KeyManager string
	// Username and Password are an API Manager admin's, for the admin REST API.
	Username string
	Password string
	// Trust is the API Manager's truststore: the doctor trusts exactly what
	// the API Manager trusts. TrustSource names it in messages.
	Trust       *keystore.TrustStore
	TrustSource string
	// ConnectorUsername and ConnectorPassword override the key manager's
	// connector credentials (additionalProperties Username/Password), for an
	// API Manager that does not return the password.
	ConnectorUsername string
	ConnectorPassword string
	// NotifyCheck posts a harmless token_revocation event to the API
	// Manager's notify endpoint with the IS admin credentials.
	NotifyCheck     bool
	ISAdminUsername string
	ISAdminPassword string
	// ISConfig is the Identity Server's deployment.toml, when available: its
	// [[event_listener]] and truststore are then checked too. ISTrust is the
	// truststore it names (loaded by the caller); ISConfigSource names the file.
	ISConfig       *config.Config
	ISConfigSource string
	ISTrust        *keystore.TrustStore
	ISTrustSource  string
	// Timeout bounds each HTTP call (default 10 s).
	Timeout time.Duration
	// Now is the local clock (default time.Now).
	Now func() time.Time
}

// Run performs every check and returns the report; it never stops at the
// first failure unless later checks depend on the failed one.
func Run(ctx context.Context, o Options) Report {
	if o.APIMURL == "" {
		o.APIMURL = "https://localhost:9443"
	}
	o.APIMURL = strings.TrimRight(o.APIMURL, "/")
	if o.KeyManager == "" {
		o.KeyManager = "WSO2IS7"
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Trust == nil {
		o.Trust = keystore.NewTrustStore("")
	}
	if o.TrustSource == "" {
		o.TrustSource = "the API Manager's truststore"
	}
	d := &run{o: o, report: Report{APIM: o.APIMURL, KeyManager: o.KeyManager}}
	d.client = newClient(o.Trust, o.Timeout)
	d.all(ctx)
	return d.report
}

// run holds the state shared by the checks of one Run.
type run struct {
	o      Options
	client *httpClient
	report Report
	// clock samples: the Date header of each server, with when it was read.
	apimDate, isDate dateSample
}

func (d *run) add(c Check) { d.report.Checks = append(d.report.Checks, c) }

func (d *run) all(ctx context.Context) {
	apimOK := d.checkAPIMTLS(ctx)
	var km *keyManager
	if apimOK {
		km = d.checkKeyManager(ctx)
	} else {
		d.add(Check{ID: "key-manager", Title: "Key manager " + d.o.KeyManager + " is configured in the API Manager", Status: Skip, Message: "Skipped: the API Manager cannot be reached securely."})
	}
	if km != nil {
		reachable := d.checkEndpoints(ctx, km)
		d.checkIssuer(ctx, km, reachable)
		d.checkTokenFlow(ctx, km, reachable)
	}
	if d.o.NotifyCheck {
		if apimOK {
			d.checkNotify(ctx)
		} else {
			d.add(Check{ID: "notify", Title: "Notify endpoint accepts IS's revocation events", Status: Skip, Message: "Skipped: the API Manager cannot be reached securely."})
		}
	}
	if d.o.ISConfig != nil {
		d.checkISListener(ctx)
	}
	d.checkClocks()
}
