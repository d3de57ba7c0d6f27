package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/google/uuid"
	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/events"
)

func newID() string { return uuid.NewString() }

func cloneAPI(a *API) *API {
	b, _ := json.Marshal(a)
	var c API
	_ = json.Unmarshal(b, &c)
	return &c
}

// contextBase strips a trailing version segment or {version} placeholder,
// giving the part of a context that names the API across its versions.
func contextBase(ctx, version string) string {
	ctx = strings.ReplaceAll(ctx, "/{version}", "")
	return strings.TrimSuffix(ctx, "/"+version)
}

// CreateAPI stores a new API in CREATED state. def is the definition it was
// created from (nil: one is generated from the operations); without
// operations the API gets the definition's, or WSO2's default "/*" ones.
// caller becomes the provider when the API names none.
func (s *Service) CreateAPI(ctx context.Context, caller string, in *API, def *Definition) (*API, error) {
	a := cloneAPI(in)
	a.ID = uuid.NewString()
	a.LifeCycleStatus = StatusCreated
	a.IsRevision, a.RevisionedAPIID, a.RevisionID = false, "", 0
	if a.Provider == "" {
		a.Provider = caller
	}
	if len(a.Operations) == 0 && def != nil {
		a.Operations = def.Operations()
	}
	if len(a.Operations) == 0 {
		a.Operations = defaultOperations()
	}
	if len(a.Scopes) == 0 && def != nil {
		for _, sc := range def.Scopes() {
			a.Scopes = append(a.Scopes, APIScope{Scope: sc})
		}
	}
	normalize(a)
	if err := s.save(ctx, a, def, nil, nil); err != nil {
		return nil, err
	}
	return s.GetAPI(ctx, a.ID)
}

// UpdateAPI replaces the working copy of an API. Name, version and
// lifecycle status cannot change here (lifecycle has its own action); an
// empty operation list keeps the current operations.
func (s *Service) UpdateAPI(ctx context.Context, id string, in *API) (*API, error) {
	cur, err := loadAPI(ctx, s.db, id)
	if err != nil {
		return nil, err
	}
	if (in.Name != "" && in.Name != cur.api.Name) || (in.Version != "" && in.Version != cur.api.Version) {
		return nil, invalid(400, "Bad Request", "the name and version of an API cannot change (create a new version with copy-api)")
	}
	a := cloneAPI(in)
	a.ID, a.Name, a.Version, a.LifeCycleStatus = id, cur.api.Name, cur.api.Version, cur.api.LifeCycleStatus
	a.IsRevision, a.RevisionedAPIID, a.RevisionID = false, "", 0
	if a.Provider == "" {
		a.Provider = cur.api.Provider
	}
	if a.Context == "" {
		a.Context = cur.api.Context
	}
	if len(a.Operations) == 0 {
		a.Operations = cur.api.Operations
	}
	if a.EndpointConfig == nil {
		a.EndpointConfig = cur.api.EndpointConfig
	}
	if len(a.KeyManagers) == 0 {
		a.KeyManagers = cur.api.KeyManagers
	}
	normalize(a)
	def, err := ParseStoredDefinition(cur.definition)
	if err != nil {
		return nil, err
	}
	if err := s.save(ctx, a, def, cur, nil); err != nil {
		return nil, err
	}
	out, err := s.GetAPI(ctx, id)
	if err != nil {
		return nil, err
	}
	s.publish(ctx, events.APIUpdated, eventOf(out))
	return out, nil
}

// ParseStoredDefinition reads a definition the catalog stored (already
// validated, so only parsed).
func ParseStoredDefinition(b []byte) (*Definition, error) {
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("decode stored definition: %w", err)
	}
	return &Definition{doc: doc, Swagger2: str(doc["swagger"]) != ""}, nil
}

// save validates a and writes it (insert when prev is nil), syncing the
// definition, checking name/context/scope conflicts and registering the
// API's scopes in the key managers before the transaction commits. extra
// runs inside the transaction after the write.
func (s *Service) save(ctx context.Context, a *API, def *Definition, prev *stored, extra func(tx *db.Tx) error) error {
	shared, err := s.sharedScopeMap(ctx)
	if err != nil {
		return err
	}
	if err := s.validate(ctx, a, shared); err != nil {
		return err
	}
	if def == nil {
		def = NewDefinition(a)
	} else {
		def = def.Clone()
		if !sameOperations(def.Operations(), a.Operations) || !sameScopes(def.Scopes(), a.Scopes) {
			def.Sync(a)
		}
	}
	now := millis(s.now())
	var removed []string
	if prev != nil {
		removed = removedScopes(prev.api.Scopes, a.Scopes)
	}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if err := s.checkConflicts(ctx, tx, a, shared); err != nil {
			return err
		}
		if prev == nil {
			if err := insertAPI(ctx, tx, a, def.JSON(), now); err != nil {
				return err
			}
		} else if err := updateAPI(ctx, tx, a, def.JSON(), now); err != nil {
			return err
		}
		if a.IsDefaultVersion {
			if _, err := tx.ExecContext(ctx, `UPDATE am_api SET is_default = 0 WHERE name = ? AND provider = ? AND uuid <> ?`, a.Name, a.Provider, a.ID); err != nil {
				return fmt.Errorf("reset default version: %w", err)
			}
		}
		if extra != nil {
			if err := extra(tx); err != nil {
				return err
			}
		}
		// The remote call comes last: if it fails nothing is committed.
		return s.registerScopes(ctx, a)
	})
	if err != nil {
		return err
	}
	s.deleteUnusedScopes(ctx, a.KeyManagers, removed)
	return nil
}

func (s *Service) registerScopes(ctx context.Context, a *API) error {
	r := s.registrar()
	if r == nil {
		return nil
	}
	var local []Scope
	for _, sc := range a.Scopes {
		if !sc.Shared {
			local = append(local, sc.Scope)
		}
	}
	if len(local) == 0 {
		return nil
	}
	if err := r.RegisterScopes(ctx, a.KeyManagers, local); err != nil {
		return keyManagerError(err)
	}
	return nil
}

// deleteUnusedScopes removes scopes from the key managers once no API uses
// them; failures are logged (the catalog no longer references them).
func (s *Service) deleteUnusedScopes(ctx context.Context, keyManagers, names []string) {
	r := s.registrar()
	if r == nil || len(names) == 0 {
		return
	}
	var unused []string
	for _, n := range names {
		owners, err := scopeOwners(ctx, s.db, n)
		if err != nil {
			s.log.Warn("check scope usage", "scope", n, "err", err)
			continue
		}
		if len(owners) == 0 {
			unused = append(unused, n)
		}
	}
	if len(unused) == 0 {
		return
	}
	if err := r.DeleteScopes(ctx, keyManagers, unused); err != nil {
		s.log.Warn("delete scopes from key managers", "scopes", unused, "err", err)
	}
}

func removedScopes(old, cur []APIScope) []string {
	var out []string
	for _, o := range old {
		if o.Shared {
			continue
		}
		if !slices.ContainsFunc(cur, func(c APIScope) bool { return !c.Shared && c.Scope.Name == o.Scope.Name }) {
			out = append(out, o.Scope.Name)
		}
	}
	return out
}

// checkConflicts enforces WSO2's uniqueness rules: name+version, a context
// belongs to one API name, and a local scope belongs to one API (its
// versions may share it).
func (s *Service) checkConflicts(ctx context.Context, tx *db.Tx, a *API, shared map[string]Scope) error {
	rows, err := tx.QueryContext(ctx, `SELECT uuid, name, version, context, provider FROM am_api WHERE uuid <> ?`, a.ID)
	if err != nil {
		return fmt.Errorf("check API conflicts: %w", err)
	}
	type other struct{ id, name, version, context, provider string }
	var others []other
	for rows.Next() {
		var o other
		if err := rows.Scan(&o.id, &o.name, &o.version, &o.context, &o.provider); err != nil {
			rows.Close()
			return err
		}
		others = append(others, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	base := contextBase(a.Context, a.Version)
	for _, o := range others {
		if strings.EqualFold(o.name, a.Name) && o.version == a.Version {
			return conflict(900300, "The API already exists.", "An API with name '%s' and version '%s' already exists", a.Name, a.Version)
		}
		if o.name != a.Name && strings.EqualFold(contextBase(o.context, o.version), base) {
			return conflict(900251, "The API context already exists.", "An API with context '%s' already exists", a.Context)
		}
		if o.context == a.Context && o.version == a.Version {
			return conflict(900251, "The API context already exists.", "An API with context '%s' already exists", a.Context)
		}
	}
	for _, sc := range a.Scopes {
		if sc.Shared {
			continue
		}
		if _, isShared := shared[sc.Scope.Name]; isShared {
			return invalid(400, "Bad Request", "scope %s is a shared scope; mark it shared instead of redefining it", sc.Scope.Name)
		}
		owners, err := scopeOwners(ctx, tx, sc.Scope.Name)
		if err != nil {
			return err
		}
		for _, id := range owners {
			if id == a.ID {
				continue
			}
			idx := slices.IndexFunc(others, func(o other) bool { return o.id == id })
			if idx >= 0 && others[idx].name != a.Name {
				return invalid(400, "Scope already assigned locally by another API", "scope %s is already used by API %s", sc.Scope.Name, others[idx].name)
			}
		}
	}
	return nil
}

func opKey(o Operation) string {
	auth := "secured"
	if strings.EqualFold(o.AuthType, "None") {
		auth = "none"
	}
	sc := append([]string(nil), o.Scopes...)
	sort.Strings(sc)
	return o.Verb + " " + o.Target + " " + auth + " " + o.ThrottlingPolicy + " " + strings.Join(sc, ",")
}

func sameOperations(a, b []Operation) bool {
	if len(a) != len(b) {
		return false
	}
	ka := make([]string, len(a))
	kb := make([]string, len(b))
	for i := range a {
		ka[i], kb[i] = opKey(a[i]), opKey(b[i])
	}
	sort.Strings(ka)
	sort.Strings(kb)
	return slices.Equal(ka, kb)
}

func sameScopes(def []Scope, api []APIScope) bool {
	if len(def) != len(api) {
		return false
	}
	m := map[string]string{}
	for _, s := range def {
		b := append([]string(nil), s.Bindings...)
		sort.Strings(b)
		m[s.Name] = strings.Join(b, ",")
	}
	for _, s := range api {
		b := append([]string(nil), s.Scope.Bindings...)
		sort.Strings(b)
		if v, ok := m[s.Scope.Name]; !ok || v != strings.Join(b, ",") {
			return false
		}
	}
	return true
}

// GetAPI returns an API's working copy, or a revision when id is a
// revision's UUID (isRevision true, as WSO2 answers).
func (s *Service) GetAPI(ctx context.Context, id string) (*API, error) {
	st, err := loadAPI(ctx, s.db, id)
	if err == nil {
		return st.api, nil
	}
	if rev, rerr := s.loadRevision(ctx, "", id); rerr == nil {
		return rev.api, nil
	}
	return nil, err
}

// Definition returns an API's (or revision's) OpenAPI definition as JSON.
func (s *Service) Definition(ctx context.Context, id string) ([]byte, error) {
	st, err := loadAPI(ctx, s.db, id)
	if err == nil {
		return st.definition, nil
	}
	if rev, rerr := s.loadRevision(ctx, "", id); rerr == nil {
		return rev.definition, nil
	}
	return nil, err
}

// UpdateDefinition replaces an API's definition: its operations and scopes
// become the definition's (scope bindings absent from the definition are
// kept from the API).
func (s *Service) UpdateDefinition(ctx context.Context, id string, def *Definition) (*API, error) {
	cur, err := loadAPI(ctx, s.db, id)
	if err != nil {
		return nil, err
	}
	a := cloneAPI(cur.api)
	a.Operations = def.Operations()
	if len(a.Operations) == 0 {
		return nil, invalid(400, "Bad Request", "the definition has no operations")
	}
	scopes := []APIScope{}
	for _, sc := range def.Scopes() {
		if len(sc.Bindings) == 0 {
			for _, old := range cur.api.Scopes {
				if old.Scope.Name == sc.Name {
					sc.Bindings = old.Scope.Bindings
				}
			}
		}
		scopes = append(scopes, APIScope{Scope: sc})
	}
	for _, old := range cur.api.Scopes {
		if old.Shared {
			scopes = append(scopes, old)
		}
	}
	a.Scopes = scopes
	normalize(a)
	if err := s.save(ctx, a, def, cur, nil); err != nil {
		return nil, err
	}
	out, err := s.GetAPI(ctx, id)
	if err != nil {
		return nil, err
	}
	s.publish(ctx, events.APIUpdated, eventOf(out))
	return out, nil
}

// DeleteAPI removes an API with its revisions and deployments, telling the
// gateways, and removes its scopes from the key managers when no other
// version uses them.
func (s *Service) DeleteAPI(ctx context.Context, id string) error {
	cur, err := loadAPI(ctx, s.db, id)
	if err != nil {
		return err
	}
	s.mu.RLock()
	guard := s.guard
	s.mu.RUnlock()
	if guard != nil {
		if err := guard.CanDeleteAPI(ctx, id); err != nil {
			var ce *Error
			if errors.As(err, &ce) {
				return err
			}
			e := conflict(900366, "Failed to delete the API", "Cannot remove the API as active subscriptions exist: %v", err)
			e.cause = err
			return e
		}
	}
	deps, err := s.deployments(ctx, s.db, id)
	if err != nil {
		return err
	}
	if err := s.db.InTx(ctx, func(tx *db.Tx) error { return deleteAPIRows(ctx, tx, id) }); err != nil {
		return err
	}
	for _, d := range deps {
		ev := eventOf(cur.api)
		ev.RevisionID, ev.Environment, ev.VHost = d.RevisionUUID, d.Name, d.VHost
		s.publish(ctx, events.APIUndeployed, ev)
	}
	s.publish(ctx, events.APIDeleted, eventOf(cur.api))
	s.deleteUnusedScopes(ctx, cur.api.KeyManagers, removedScopes(cur.api.Scopes, nil))
	return nil
}

// ListAPIs returns the page of APIs matching q and the total match count.
func (s *Service) ListAPIs(ctx context.Context, q Query) ([]*API, int, error) {
	all, err := loadAPIs(ctx, s.db, q.Statuses)
	if err != nil {
		return nil, 0, err
	}
	terms, err := parseSearch(q.Text)
	if err != nil {
		return nil, 0, err
	}
	var out []*API
	for _, st := range all {
		if terms.match(st.api) {
			out = append(out, st.api)
		}
	}
	sortAPIs(out, q.SortBy, q.SortDesc)
	total := len(out)
	if q.Offset > 0 {
		if q.Offset >= len(out) {
			out = nil
		} else {
			out = out[q.Offset:]
		}
	}
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, total, nil
}

// FindAPI returns the id of the API with name and version ("" if none).
func (s *Service) FindAPI(ctx context.Context, name, version string) (string, error) {
	return apiIDByNameVersion(ctx, s.db, name, version)
}

func sortAPIs(list []*API, by string, desc bool) {
	key := func(a *API) string {
		switch strings.ToLower(by) {
		case "name":
			return strings.ToLower(a.Name)
		case "version":
			return a.Version
		case "context":
			return a.Context
		case "provider":
			return a.Provider
		case "status":
			return a.LifeCycleStatus
		default:
			return fmt.Sprintf("%020s", a.CreatedTime)
		}
	}
	sort.SliceStable(list, func(i, j int) bool {
		if desc {
			return key(list[i]) > key(list[j])
		}
		return key(list[i]) < key(list[j])
	})
}

// CopyAPI creates a new version of an API (CREATED, no revisions), with
// the definition's version updated; defaultVersion makes it the default.
func (s *Service) CopyAPI(ctx context.Context, id, newVersion string, defaultVersion bool) (*API, error) {
	cur, err := loadAPI(ctx, s.db, id)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(newVersion) == "" {
		return nil, invalid(400, "Bad Request", "newVersion is required")
	}
	a := cloneAPI(cur.api)
	a.ID = uuid.NewString()
	a.Version = strings.TrimSpace(newVersion)
	a.LifeCycleStatus = StatusCreated
	a.IsDefaultVersion = defaultVersion
	a.Context = strings.TrimSuffix(a.Context, "/"+cur.api.Version)
	if strings.Contains(cur.api.Context, "/"+cur.api.Version) && !strings.Contains(cur.api.Context, "{version}") {
		a.Context = strings.Replace(cur.api.Context, "/"+cur.api.Version, "/"+a.Version, 1)
	}
	normalize(a)
	def, err := ParseStoredDefinition(cur.definition)
	if err != nil {
		return nil, err
	}
	if info, ok := def.doc["info"].(map[string]any); ok {
		info["version"] = a.Version
	}
	if err := s.save(ctx, a, def, nil, nil); err != nil {
		return nil, err
	}
	return s.GetAPI(ctx, a.ID)
}
