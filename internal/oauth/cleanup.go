package oauth

import (
	"context"
	"fmt"
)

// cleanup deletes expired rows. Expired tokens answer inactive either way;
// a day of grace keeps them for audits and late revocation events.
func (s *Server) cleanup(ctx context.Context) error {
	cut := nowMS() - 24*3600*1000
	now := nowMS()
	stmts := []struct {
		q   string
		arg int64
	}{
		{`DELETE FROM oauth_access_tokens WHERE exp < ?`, cut},
		{`DELETE FROM oauth_refresh_tokens WHERE exp < ?`, cut},
		{`DELETE FROM oauth_codes WHERE exp < ?`, cut},
		{`DELETE FROM oauth_sessions WHERE exp < ?`, now},
		{`DELETE FROM oauth_device_codes WHERE exp < ?`, cut},
		{`DELETE FROM oauth_jtis WHERE exp < ?`, now},
	}
	for _, st := range stmts {
		if _, err := s.db.ExecContext(ctx, st.q, st.arg); err != nil {
			return fmt.Errorf("oauth cleanup: %w", err)
		}
	}
	return nil
}
