// Package browser drives Keyway's web consoles (Publisher, Developer Portal,
// Admin portal and the Identity Server console) in headless Chromium against
// a real `keyway up`, the way a person would use them: sign in through the
// server's own login page, fill the forms, and read what the page shows.
//
// It is a module of its own so that the product's go.mod does not carry
// chromedp. Run it with `cd test/browser && go test -count=1 ./...`; it needs
// Chromium (`apt-get install chromium`) and skips without it unless CI=true.
package browser
