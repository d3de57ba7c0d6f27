package gateway_test

import (
	"encoding/base64"
	"strconv"
	"testing"

	"github.com/keyway/keyway/internal/events"
	"github.com/keyway/keyway/internal/keystore"
)

func eventsNew(typ string) events.Event { return events.New(typ, nil) }

func mustKeystore(t *testing.T) *keystore.KeyStore {
	t.Helper()
	ks, err := keystore.Generate("apikey", []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func decodeSegment(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
