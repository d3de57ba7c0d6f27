package revocation

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Revoked is a revocation produced inside the API Manager (by its resident
// key manager) rather than received from an Identity Server.
type Revoked struct {
	// Token is the jti of a JWT, or an opaque token (or its hex SHA-256).
	Token        string
	TokenType    string
	ExpiryMillis int64
	ConsumerKey  string
}

// Record persists a revocation and fans it out to every gateway, exactly as
// a token_revocation notification would.
func (s *Service) Record(ctx context.Context, r Revoked) error {
	body, err := json.Marshal(tokenRevocation{
		AccessToken: r.Token, ExpiryTime: r.ExpiryMillis, ConsumerKey: r.ConsumerKey, TokenType: r.TokenType,
		EventID: uuid.NewString(), TimeStamp: time.Now().UnixMilli(), Type: "token_revocation", TenantID: -1234,
	})
	if err != nil {
		return fmt.Errorf("encode revocation: %w", err)
	}
	return s.tokenRevocation(ctx, body, "default")
}

// opaqueKey is the form an opaque token is kept in: its hex SHA-256. Keyway's
// key managers report an opaque token they only know by hash as that hash
// (64 hex digits, a shape no issued token has), which is kept as it is.
func opaqueKey(token string) string {
	if len(token) == 64 {
		if _, err := hex.DecodeString(token); err == nil {
			return token
		}
	}
	return HashOpaque(token)
}
