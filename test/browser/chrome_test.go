package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Bounds for waiting on the page. They are generous on purpose: they only
// stop a broken run from hanging, and nothing asserts on speed.
const (
	waitBound   = 2 * time.Minute
	actionBound = time.Minute
	pollEvery   = 200 * time.Millisecond
)

// chromium finds the browser, or skips the test (fails it when CI=true).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "Chromium is not installed; install it with `apt-get install chromium` (Debian/Ubuntu) to run the browser tests"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// browser is one headless Chromium tab plus the console errors it reported.
type browser struct {
	ctx context.Context

	mu     sync.Mutex
	errors []string
}

// newBrowser starts headless Chromium with a fresh profile. Keyway's
// certificates come from its own CA, and Chromium offers no simple switch to
// trust one CA, so the browser runs with --ignore-certificate-errors.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox, // the test may run as root in a container
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.IgnoreCertErrors,
		chromedp.WindowSize(1280, 1024),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })

	// The first Run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	b := &browser{ctx: ctx}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type != chromedp.ConsoleError && !m.IsException() {
				continue
			}
			// Browsers ask for /favicon.ico on their own; that is not the page's doing.
			if strings.Contains(m.URL, "favicon") || strings.Contains(m.Text, "favicon") {
				continue
			}
			b.mu.Lock()
			b.errors = append(b.errors, fmt.Sprintf("%s (%s:%d)", m.String(), m.URL, m.Line+1))
			b.mu.Unlock()
		}
	}()
	return b
}

// takeErrors returns the console errors seen since the last call.
func (b *browser) takeErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	errs := b.errors
	b.errors = nil
	return errs
}

// page binds the browser to the (sub)test that drives it.
type page struct {
	t *testing.T
	b *browser
}

func (b *browser) page(t *testing.T) *page {
	t.Cleanup(func() {
		for _, e := range b.takeErrors() {
			t.Errorf("JavaScript console error: %s", e)
		}
	})
	return &page{t: t, b: b}
}

// do runs actions with a bound, failing the test with a page snapshot.
func (p *page) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.b.ctx, actionBound)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("%s: %v\n%s", what, err, p.snapshot())
	}
}

// open navigates to url and waits for the load event.
func (p *page) open(url string) {
	p.t.Helper()
	p.do("open "+url, chromedp.Navigate(url))
}

// clickButton clicks the visible button whose text is label.
func (p *page) clickButton(label string) {
	p.t.Helper()
	p.clickXPath("button "+label, "//button[normalize-space()="+xpathString(label)+"]")
}

// clickInRow clicks the button labelled label in the table row whose first
// cell is first.
func (p *page) clickInRow(first, label string) {
	p.t.Helper()
	p.clickXPath(fmt.Sprintf("button %s in row %s", label, first),
		"//tr[td[1][normalize-space()="+xpathString(first)+"]]//button[normalize-space()="+xpathString(label)+"]")
}

func (p *page) clickXPath(what, xpath string) {
	p.t.Helper()
	p.do("click "+what, chromedp.Click(chromedp.Search(xpath), chromedp.NodeVisible))
}

// fill types value into the field named name.
func (p *page) fill(name, value string) {
	p.t.Helper()
	sel := chromedp.CSS(fmt.Sprintf("input[name=%q]", name))
	p.do("fill "+name, chromedp.Clear(sel, chromedp.NodeVisible), chromedp.SendKeys(sel, value, chromedp.NodeVisible))
}

// choose selects, in the select named name, the option whose text starts
// with text, as a user picking it from the list would.
func (p *page) choose(name, text string) {
	p.t.Helper()
	js := fmt.Sprintf(`(() => {
		const s = document.querySelector("select[name=" + %s + "]");
		if (!s) return false;
		const o = [...s.options].find((o) => o.text.startsWith(%s));
		if (!o) return false;
		s.value = o.value;
		s.dispatchEvent(new Event("change", { bubbles: true }));
		return true;
	})()`, jsString(name), jsString(text))
	p.waitJS(fmt.Sprintf("option %q in select %s", text, name), js)
}

// waitText waits until the page shows text.
func (p *page) waitText(text string) {
	p.t.Helper()
	p.waitJS(fmt.Sprintf("text %q", text), fmt.Sprintf(`document.body !== null && document.body.innerText.includes(%s)`, jsString(text)))
}

// waitURL waits until the location starts with prefix.
func (p *page) waitURL(prefix string) {
	p.t.Helper()
	p.waitJS("location "+prefix, fmt.Sprintf(`location.href.startsWith(%s)`, jsString(prefix)))
}

// waitVisible waits until the element that matches css is shown.
func (p *page) waitVisible(css string) {
	p.t.Helper()
	p.waitJS("visible "+css, fmt.Sprintf(`(() => { const e = document.querySelector(%s); return e !== null && !e.hidden && e.offsetParent !== null; })()`, jsString(css)))
}

// waitRow waits until one table row holds every cell: a cell matches when
// its text is exactly the wanted text or begins with it and a space (so
// "Default" matches "Default (localhost)").
func (p *page) waitRow(cells ...string) {
	p.t.Helper()
	want, _ := json.Marshal(cells)
	p.waitJS(fmt.Sprintf("table row %q", cells), fmt.Sprintf(`[...document.querySelectorAll("tr")].some((tr) => {
		const texts = [...tr.querySelectorAll("td")].map((td) => td.innerText.trim());
		return %s.every((w) => texts.some((c) => c === w || c.startsWith(w + " ")));
	})`, want))
}

// text returns the visible text of the element that matches css.
func (p *page) text(css string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.b.ctx, actionBound)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%s) || {}).innerText || ""`, jsString(css))))
	if err != nil {
		p.t.Fatalf("read %s: %v\n%s", css, err, p.snapshot())
	}
	return s
}

// historyCount counts the session history entries whose URL contains part.
func (p *page) historyCount(part string) int {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.b.ctx, actionBound)
	defer cancel()
	h, err := chromedp.Run(ctx, chromedp.NavigationEntries())
	if err != nil {
		p.t.Fatalf("navigation history: %v", err)
	}
	n := 0
	for _, e := range h.Entries {
		if strings.Contains(e.URL, part) {
			n++
		}
	}
	return n
}

// waitJS polls a JavaScript predicate until it is true. It survives page
// navigations, which end an in-page poll.
func (p *page) waitJS(what, expr string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.b.ctx, waitBound)
	defer cancel()
	var lastErr error
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		lastErr = err
		select {
		case <-ctx.Done():
			p.t.Fatalf("waited %s for %s (last error: %v)\n%s", waitBound, what, lastErr, p.snapshot())
		case <-time.After(pollEvery):
		}
	}
}

// snapshot describes the page for a failure message.
func (p *page) snapshot() string {
	ctx, cancel := context.WithTimeout(p.b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + (document.body ? document.body.innerText : "")`))
	if err != nil {
		return "(no page snapshot: " + err.Error() + ")"
	}
	if len(s) > 4000 {
		s = s[:4000] + "…"
	}
	return "--- page ---\n" + s
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// xpathString quotes s as an XPath string literal (the labels used here hold
// no double quote).
func xpathString(s string) string {
	return `"` + s + `"`
}
