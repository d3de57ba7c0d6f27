package oauth

import (
	"context"
	"database/sql"
	"fmt"
)

// stmts are the hot-path statements, prepared once: on a busy token or
// introspection endpoint re-parsing SQL costs more than the lookup itself.
type stmts struct {
	selAccess, selRefresh, insAccess, insRefresh *sql.Stmt
}

const (
	qSelAccess  = `SELECT ` + accessCols + ` FROM oauth_access_tokens WHERE k = ?`
	qSelRefresh = `SELECT ` + refreshCols + ` FROM oauth_refresh_tokens WHERE k = ?`
	qInsAccess  = `INSERT INTO oauth_access_tokens (k, fmt, client_id, user_id, username, scope, aut, aud, iat, exp, family, revoked) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)`
	qInsRefresh = `INSERT INTO oauth_refresh_tokens (k, family, client_id, user_id, username, scope, iat, exp, auth_time, sid, nonce, access_k, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)`
)

func (s *Server) prepare(ctx context.Context) error {
	for _, p := range []struct {
		dst **sql.Stmt
		q   string
	}{{&s.st.selAccess, qSelAccess}, {&s.st.selRefresh, qSelRefresh}, {&s.st.insAccess, qInsAccess}, {&s.st.insRefresh, qInsRefresh}} {
		st, err := s.db.DB.PrepareContext(ctx, s.db.Rebind(p.q))
		if err != nil {
			s.st.close()
			return fmt.Errorf("oauth: prepare statement: %w", err)
		}
		*p.dst = st
	}
	return nil
}

func (st *stmts) close() {
	for _, s := range []*sql.Stmt{st.selAccess, st.selRefresh, st.insAccess, st.insRefresh} {
		if s != nil {
			s.Close()
		}
	}
}
