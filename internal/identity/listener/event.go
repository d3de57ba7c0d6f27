package listener

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"
	"github.com/keyway/keyway/internal/oauth"
)

// EventTypeTokenRevocation is the only event type IS 7 sends (PATTERN6-WIRE §1.3.1).
const EventTypeTokenRevocation = "token_revocation"

// The super tenant, the only tenant IS 7 supports as a key manager.
const (
	superTenantID     = -1234
	superTenantDomain = "carbon.super"
)

// tokenRevocationEvent is the JSON body of a token_revocation notification.
// Field order follows Gson's output for IS's TokenRevocationEvent (subclass
// fields first, then the base Event fields); order carries no meaning on the
// wire, but keeping it makes captures easy to compare with WSO2's.
type tokenRevocationEvent struct {
	AccessToken string `json:"accessToken"`
	ExpiryTime  int64  `json:"expiryTime"`
	User        string `json:"user"`
	ConsumerKey string `json:"consumerKey"`
	TokenType   string `json:"tokenType"`
	EventID     string `json:"eventId"`
	TimeStamp   int64  `json:"timeStamp"`
	Type        string `json:"type"`
	TenantID    int    `json:"tenantId"`
	// TenantDomain is omitted (as Gson omits null) for resource-owner
	// revocations, where IS's handler leaves the tenant unset.
	TenantDomain string            `json:"tenantDomain,omitempty"`
	Properties   map[string]string `json:"properties"`
}

// newEvent builds the notification for one revoked access token, with a
// fresh eventId that stays the same across every delivery attempt.
func newEvent(t oauth.RevokedAccessToken, now time.Time) tokenRevocationEvent {
	ev := tokenRevocationEvent{
		AccessToken:  t.Identifier,
		ExpiryTime:   expiryMillis(t),
		User:         t.Username,
		ConsumerKey:  t.ClientID,
		TokenType:    tokenType(t.TokenType),
		EventID:      uuid.NewString(),
		TimeStamp:    now.UnixMilli(),
		Type:         EventTypeTokenRevocation,
		TenantID:     superTenantID,
		TenantDomain: superTenantDomain,
		Properties:   map[string]string{},
	}
	if t.Kind == oauth.RevokedByOwner {
		// IS's onPostTokenRevocationByResourceOwner never sets the tenant.
		ev.TenantID = 0
		ev.TenantDomain = ""
	}
	return ev
}

// expiryMillis is issued time + validity in epoch ms, or Long.MAX_VALUE when
// the validity is not positive (a token that never expires). WSO2 skips this
// guard for resource-owner revocations, which yields an expiry in the past
// and so a gateway that forgets the revocation at once; Keyway applies the
// guard to every kind so the gateway keeps such a token blocked.
func expiryMillis(t oauth.RevokedAccessToken) int64 {
	if t.ExpiresAt.IsZero() || !t.ExpiresAt.After(t.IssuedAt) {
		return math.MaxInt64
	}
	return t.ExpiresAt.UnixMilli()
}

// tokenType maps the engine's token type to IS's application token types.
func tokenType(s string) string {
	if s == "JWT" {
		return "JWT"
	}
	return "Default"
}

func (e tokenRevocationEvent) marshal() ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode token_revocation event: %w", err)
	}
	return b, nil
}
