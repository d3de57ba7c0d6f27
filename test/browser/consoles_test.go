package browser

import (
	"regexp"
	"testing"
)

// The sign-in page of both servers (internal/oauth/pages.go).
const loginUser, loginPassword = "admin", "admin"

var consumerKeyMessage = regexp.MustCompile(`Consumer key (\S+)`)

// TestConsoles walks through the four consoles of a fresh `keyway up` as a
// user would. The journeys run in order on one tab: the Developer Portal and
// Admin portal reuse the SSO session of the Publisher's sign-in, and the
// last one signs out.
func TestConsoles(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	chromium(t) // skip (or fail in CI) before building anything
	kw := startKeyway(t)
	b := newBrowser(t)
	b.page(t) // reports console errors that arrive after the last journey
	apim, is := kw.APIM, kw.IS

	ok := t.Run("Publisher", func(t *testing.T) {
		p := b.page(t)
		p.open(apim + "/publisher/")
		p.waitVisible("#signin-button")
		p.clickButton("Sign in")
		signInOnLoginPage(p)
		p.waitURL(apim + "/publisher/")
		p.waitJS("signed-in user admin", `document.getElementById("who").innerText === "admin"`)
		p.waitRow("PizzaShackAPI", "1.0.0", "PUBLISHED")

		p.clickInRow("PizzaShackAPI", "Open")
		p.waitText("PizzaShackAPI 1.0.0")
		p.waitRow("Revision 1", "Default")

		p.clickButton("← All APIs")
		p.fill("name", "BrowserAPI")
		p.fill("version", "1.0.0")
		p.fill("context", "/browser")
		p.fill("endpoint", "http://127.0.0.1:8290/browser")
		p.clickButton("Create")
		p.waitText("Created BrowserAPI 1.0.0.")
		p.clickButton("← All APIs")
		p.waitRow("BrowserAPI", "1.0.0", "/browser", "CREATED")
		p.waitRow("PizzaShackAPI", "1.0.0", "PUBLISHED")

		// Deploy and publish it, so the Developer Portal lists it.
		p.clickInRow("BrowserAPI", "Open")
		p.waitText("BrowserAPI 1.0.0")
		p.clickButton("Create revision and deploy to Default")
		p.waitText("Deployed Revision 1 to Default.")
		p.waitRow("Revision 1", "Default")
		p.clickButton("Publish")
		p.waitText("BrowserAPI: Publish done.")
		p.clickButton("← All APIs")
		p.waitRow("BrowserAPI", "1.0.0", "/browser", "PUBLISHED")
	})
	if !ok {
		t.FailNow() // the other journeys ride on this sign-in
	}

	t.Run("DevPortal", func(t *testing.T) {
		p := b.page(t)
		loginPages := p.historyCount("/oauth2/authorize")
		p.open(apim + "/devportal/")
		p.clickButton("Sign in")
		p.waitURL(apim + "/devportal/")
		p.waitRow("KeywaySampleApp")
		if n := p.historyCount("/oauth2/authorize"); n != loginPages {
			t.Errorf("the Developer Portal showed a login page again (SSO): %d authorize entries, want %d", n, loginPages)
		}
		p.waitRow("PizzaShackAPI", "1.0.0")
		p.waitRow("BrowserAPI", "1.0.0")

		p.fill("name", "BrowserApp")
		p.clickButton("Create application")
		p.waitText("Created application BrowserApp.")
		p.waitRow("BrowserApp", "Unlimited")

		p.clickInRow("BrowserApp", "Open")
		p.waitText("Subscriptions")
		p.choose("apiId", "PizzaShackAPI 1.0.0")
		p.choose("policy", "Unlimited")
		p.clickButton("Subscribe")
		p.waitText("Subscribed.")
		p.waitRow("PizzaShackAPI 1.0.0", "Unlimited")

		p.choose("km", "Resident Key Manager")
		p.choose("keyType", "PRODUCTION")
		p.clickButton("Generate keys")
		p.waitText("Keys generated.")
		m := consumerKeyMessage.FindStringSubmatch(p.text("#message"))
		if m == nil {
			t.Fatalf("no consumer key in the message %q", p.text("#message"))
		}
		p.waitRow("Resident Key Manager", "PRODUCTION", m[1])
	})

	t.Run("Admin", func(t *testing.T) {
		p := b.page(t)
		p.open(apim + "/admin/")
		p.clickButton("Sign in")
		p.waitURL(apim + "/admin/")
		p.waitRow("Resident Key Manager", "default")
		p.waitRow("WSO2IS7", "WSO2-IS-7", "yes")
		for _, policy := range []string{"Gold", "Silver", "Bronze"} {
			p.waitRow(policy)
		}
		p.waitRow("Default", "hybrid")

		// The key manager form discovers the Identity Server's endpoints.
		p.fill("base", is)
		p.clickButton("Check well-known endpoint")
		p.waitText("Discovered issuer " + is + "/oauth2/token.")
	})

	t.Run("ISConsole", func(t *testing.T) {
		p := b.page(t)
		p.open(is + "/console/")
		p.waitVisible("#signin-button")
		p.clickButton("Sign in")
		signInOnLoginPage(p) // another server, so another SSO session
		p.waitURL(is + "/console/")
		p.waitRow("admin")

		p.fill("userName", "browser-user")
		p.fill("password", "Browser-Pass-123!")
		p.fill("email", "browser-user@example.com")
		p.clickButton("Create user")
		p.waitText("Created user browser-user.")
		p.waitRow("browser-user", "browser-user@example.com")
		p.waitRow("admin")
	})

	t.Run("SignOut", func(t *testing.T) {
		p := b.page(t)
		p.open(apim + "/publisher/")
		p.waitRow("PizzaShackAPI", "1.0.0", "PUBLISHED")
		p.clickButton("Sign out")
		p.waitURL(apim + "/publisher/")
		p.waitVisible("#signin-button")
		p.waitJS("sign-out button hidden", `document.getElementById("signout").hidden`)
		// The other consoles of the server are signed out too (their tokens
		// lived in this tab), and so is the SSO session: signing in asks for
		// the password again.
		p.open(apim + "/devportal/")
		p.waitVisible("#signin-button")
		p.waitJS("sign-out button hidden", `document.getElementById("signout").hidden`)
		p.clickButton("Sign in")
		p.waitVisible("#username")
	})
}

// signInOnLoginPage fills the server's login form as admin.
func signInOnLoginPage(p *page) {
	p.t.Helper()
	p.waitVisible("#username")
	p.fill("username", loginUser)
	p.fill("password", loginPassword)
	p.clickButton("Sign in")
}
