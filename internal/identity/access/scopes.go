package access

// Internal scopes of the Identity Server's management APIs (IS 7 names).
const (
	ScopeLogin      = "internal_login"
	ScopeIntrospect = "internal_oauth2_introspect"
	// ScopeSystem is IS's catch-all system scope.
	ScopeSystem = "SYSTEM"
)

// Prefixes of per-API internal scopes; ByMethod adds _view, _create, _update, _delete.
const (
	DCRScopes         = "internal_dcr"
	APIResourceScopes = "internal_api_resource"
	RoleScopes        = "internal_role_mgt"
	UserScopes        = "internal_user_mgt"
	GroupScopes       = "internal_group_mgt"
	// LegacyScopeScopes guards /api/identity/oauth2/v1.0/scopes.
	LegacyScopeScopes = "internal_application_mgt"
)

var internalScopes = func() map[string]bool {
	m := map[string]bool{ScopeLogin: true, ScopeIntrospect: true, ScopeSystem: true, "internal_user_mgt_list": true}
	for _, p := range []string{DCRScopes, APIResourceScopes, RoleScopes, UserScopes, GroupScopes, LegacyScopeScopes} {
		for _, s := range []string{"_view", "_create", "_update", "_delete"} {
			m[p+s] = true
		}
	}
	return m
}()

// IsInternalScope reports whether s is one of the server's own management
// scopes (granted to admins, never defined by API resources).
func IsInternalScope(s string) bool { return internalScopes[s] }

// InternalScopes lists the management scopes.
func InternalScopes() []string {
	out := make([]string, 0, len(internalScopes))
	for s := range internalScopes {
		out = append(out, s)
	}
	return out
}
