// Package e2e runs Keyway as a user would: it builds the binary, starts the
// roles as separate processes and drives them over HTTPS.
package e2e
