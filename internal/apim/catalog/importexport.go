package catalog

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/events"
	"github.com/keyway/keyway/internal/yamlx"
	"gopkg.in/yaml.v3"
)

// ArtifactVersion is the version written in exported project files.
const ArtifactVersion = "v4.5.0"

// ExportRequest selects what Export writes.
type ExportRequest struct {
	// APIID, or Name and Version (and optionally Provider), name the API.
	APIID    string
	Name     string
	Version  string
	Provider string
	// RevisionNumber > 0 exports that revision; LatestRevision the newest
	// one; otherwise the working copy.
	RevisionNumber int
	LatestRevision bool
	// Format is YAML (default) or JSON.
	Format string
	// PreserveStatus keeps lifeCycleStatus; otherwise CREATED is written.
	PreserveStatus bool
}

// Artifact is one project file: {type, version, data}.
type Artifact struct {
	Type    string `json:"type" yaml:"type"`
	Version string `json:"version" yaml:"version"`
	Data    any    `json:"data" yaml:"data"`
}

// DeploymentEnvironment is an entry of deployment_environments.yaml.
type DeploymentEnvironment struct {
	Environment        string `json:"deploymentEnvironment" yaml:"deploymentEnvironment"`
	VHost              string `json:"deploymentVhost,omitempty" yaml:"deploymentVhost,omitempty"`
	DisplayOnDevportal *bool  `json:"displayOnDevportal,omitempty" yaml:"displayOnDevportal,omitempty"`
}

// Export writes an API as an apictl project zip: <Name>-<Version>/ with
// api.yaml, Definitions/swagger.yaml, deployment_environments.yaml and
// api_meta.yaml. It returns the zip and a file name for it.
func (s *Service) Export(ctx context.Context, req ExportRequest) ([]byte, string, error) {
	id := req.APIID
	if id == "" {
		if req.Name == "" || req.Version == "" {
			return nil, "", invalid(400, "Bad Request", "give apiId, or name and version")
		}
		var err error
		if id, err = apiIDByNameVersion(ctx, s.db, req.Name, req.Version); err != nil {
			return nil, "", err
		}
		if id == "" {
			return nil, "", notFound(900301, "API Not Found", "Requested API with name '%s' and version '%s' not found", req.Name, req.Version)
		}
	}
	st, err := loadAPI(ctx, s.db, id)
	if err != nil {
		return nil, "", err
	}
	if req.Provider != "" && req.Provider != st.api.Provider {
		return nil, "", notFound(900301, "API Not Found", "Requested API with name '%s', version '%s' and provider '%s' not found", st.api.Name, st.api.Version, req.Provider)
	}
	api, def := cloneAPI(st.api), st.definition
	deps, err := s.deployments(ctx, s.db, id)
	if err != nil {
		return nil, "", err
	}
	if req.RevisionNumber > 0 || req.LatestRevision {
		revs, err := revisionsOf(ctx, s.db, id)
		if err != nil {
			return nil, "", err
		}
		var pick *storedRevision
		for _, r := range revs {
			if (req.RevisionNumber > 0 && r.rev.Number == req.RevisionNumber) || (req.RevisionNumber == 0 && req.LatestRevision) {
				pick = r
			}
		}
		if pick == nil {
			return nil, "", revisionNotFound("Revision " + strconv.Itoa(req.RevisionNumber))
		}
		api, def = cloneAPI(pick.api), pick.definition
		var mine []Deployment
		for _, d := range deps {
			if d.RevisionUUID == pick.rev.ID {
				mine = append(mine, d)
			}
		}
		deps = mine
	}
	api.ID, api.IsRevision, api.RevisionedAPIID, api.RevisionID = id, false, "", 0
	api.LifeCycleStatus = st.api.LifeCycleStatus
	if !req.PreserveStatus {
		api.LifeCycleStatus = StatusCreated
	}
	asJSON := strings.EqualFold(req.Format, "JSON")
	dir := api.Name + "-" + api.Version
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	write := func(name string, data []byte) error {
		w, err := zw.Create(dir + "/" + name)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}
	envs := []DeploymentEnvironment{}
	for _, d := range deps {
		display := d.DisplayOnDevportal
		envs = append(envs, DeploymentEnvironment{Environment: d.Name, VHost: d.VHost, DisplayOnDevportal: &display})
	}
	dto, err := toGeneric(api)
	if err != nil {
		return nil, "", err
	}
	files := []struct {
		name string
		art  any
	}{
		{"api", Artifact{Type: "api", Version: ArtifactVersion, Data: dto}},
		{"deployment_environments", Artifact{Type: "deployment_environments", Version: ArtifactVersion, Data: envs}},
		{"api_meta", map[string]any{"name": api.Name, "version": api.Version}},
	}
	for _, f := range files {
		data, ext, err := encodeFile(f.art, asJSON && f.name == "api")
		if err != nil {
			return nil, "", err
		}
		if err := write(f.name+ext, data); err != nil {
			return nil, "", fmt.Errorf("write export: %w", err)
		}
	}
	parsed, err := ParseStoredDefinition(def)
	if err != nil {
		return nil, "", err
	}
	defName, defData := "Definitions/swagger.yaml", parsed.YAML()
	if asJSON {
		defName, defData = "Definitions/swagger.json", parsed.JSON()
	}
	if err := write(defName, defData); err != nil {
		return nil, "", fmt.Errorf("write export: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, "", fmt.Errorf("write export: %w", err)
	}
	return buf.Bytes(), dir + ".zip", nil
}

// toGeneric turns v into maps and slices via JSON, so that YAML uses the
// DTO's JSON names.
func toGeneric(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return out, nil
}

func encodeFile(v any, asJSON bool) ([]byte, string, error) {
	g, err := toGeneric(v)
	if err != nil {
		return nil, "", err
	}
	if asJSON {
		b, err := json.MarshalIndent(g, "", "  ")
		return b, ".json", err
	}
	b, err := yaml.Marshal(g)
	return b, ".yaml", err
}

// ImportOptions are the query parameters of POST /apis/import.
type ImportOptions struct {
	Overwrite        bool
	PreserveProvider bool
	RotateRevision   bool
}

// ImportResult is the publisher's ImportAPIResponse.
type ImportResult struct {
	ID       string `json:"id"`
	Revision string `json:"revision,omitempty"`
}

// maxImportSize bounds the uncompressed size of an imported project.
const maxImportSize = 64 << 20

// project is a read apictl project.
type project struct {
	api  *API
	def  *Definition
	envs []DeploymentEnvironment
}

func readProject(ctx context.Context, data []byte) (*project, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, invalid(400, "Bad Request", "the uploaded file is not a zip archive: %v", err)
	}
	// The project root is the directory holding api.yaml (or api.json):
	// apictl zips one top-level directory, hand-made zips may have none.
	root := ""
	for _, f := range zr.File {
		name := path.Clean(strings.ReplaceAll(f.Name, "\\", "/"))
		if base := path.Base(name); base == "api.yaml" || base == "api.json" {
			if dir := path.Dir(name); dir == "." || strings.Count(dir, "/") == 0 {
				if root == "" || dir == "." {
					root = dir
				}
			}
		}
	}
	files := map[string][]byte{}
	var total int64
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		name := path.Clean(strings.ReplaceAll(f.Name, "\\", "/"))
		if strings.HasPrefix(name, "../") || strings.HasPrefix(name, "/") || name == ".." {
			return nil, invalid(400, "Bad Request", "illegal path %q in the archive", f.Name)
		}
		if root != "" && root != "." {
			if !strings.HasPrefix(name, root+"/") {
				continue
			}
			name = strings.TrimPrefix(name, root+"/")
		}
		if !strings.HasPrefix(name, "api.") && !strings.HasPrefix(name, "Definitions/") && !strings.HasPrefix(name, "deployment_environments.") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, invalid(400, "Bad Request", "cannot read %s: %v", f.Name, err)
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxImportSize-total+1))
		rc.Close()
		if err != nil {
			return nil, invalid(400, "Bad Request", "cannot read %s: %v", f.Name, err)
		}
		total += int64(len(b))
		if total > maxImportSize {
			return nil, invalid(400, "Bad Request", "the project is larger than %d bytes", maxImportSize)
		}
		files[name] = b
	}
	p := &project{}
	raw, ok := files["api.yaml"]
	if !ok {
		raw, ok = files["api.json"]
	}
	if !ok {
		return nil, invalid(400, "Bad Request", "the project has no api.yaml or api.json")
	}
	var art struct {
		Type string `yaml:"type"`
		Data any    `yaml:"data"`
	}
	if err := yaml.Unmarshal(raw, &art); err != nil {
		return nil, invalid(400, "Bad Request", "cannot parse api.yaml: %v", err)
	}
	if art.Type != "" && art.Type != "api" {
		return nil, invalid(400, "Bad Request", "api.yaml has type %q, want api", art.Type)
	}
	b, err := json.Marshal(yamlx.StringKeys(art.Data))
	if err != nil {
		return nil, invalid(400, "Bad Request", "cannot read api.yaml data: %v", err)
	}
	p.api = &API{}
	if err := json.Unmarshal(b, p.api); err != nil {
		return nil, invalid(400, "Bad Request", "api.yaml data is not an API: %v", err)
	}
	if p.api.Name == "" || p.api.Version == "" {
		return nil, invalid(400, "Bad Request", "api.yaml data needs name and version")
	}
	for _, n := range []string{"Definitions/swagger.yaml", "Definitions/swagger.json"} {
		if d, ok := files[n]; ok {
			if p.def, err = ParseDefinition(ctx, d); err != nil {
				return nil, invalid(900758, "Invalid OpenAPI definition", "%s: %v", n, err)
			}
			break
		}
	}
	for _, n := range []string{"deployment_environments.yaml", "deployment_environments.json"} {
		d, ok := files[n]
		if !ok {
			continue
		}
		var envs struct {
			Data []DeploymentEnvironment `yaml:"data"`
		}
		if err := yaml.Unmarshal(d, &envs); err != nil {
			return nil, invalid(400, "Bad Request", "cannot parse %s: %v", n, err)
		}
		p.envs = envs.Data
		break
	}
	return p, nil
}

// importPlan is a validated import, ready to write.
type importPlan struct {
	api     *API
	def     *Definition
	prev    *stored
	actions []string
	reqs    []DeploymentRequest
}

// planImport reads the project and decides what Import will do, rejecting
// everything that can be rejected before anything is written.
func (s *Service) planImport(ctx context.Context, caller string, data []byte, opts ImportOptions) (*importPlan, error) {
	p, err := readProject(ctx, data)
	if err != nil {
		return nil, err
	}
	in := p.api
	target := strings.ToUpper(in.LifeCycleStatus)
	existingID, err := apiIDByNameVersion(ctx, s.db, in.Name, in.Version)
	if err != nil {
		return nil, err
	}
	if existingID != "" && !opts.Overwrite {
		return nil, conflict(900300, "The API already exists.", "The API already exists")
	}
	plan := &importPlan{def: p.def}
	a := cloneAPI(in)
	if existingID != "" {
		if plan.prev, err = loadAPI(ctx, s.db, existingID); err != nil {
			return nil, err
		}
		a.ID, a.LifeCycleStatus, a.Provider = existingID, plan.prev.api.LifeCycleStatus, plan.prev.api.Provider
		if a.EndpointConfig == nil {
			a.EndpointConfig = plan.prev.api.EndpointConfig
		}
	} else {
		a.ID, a.LifeCycleStatus = newID(), StatusCreated
		if !opts.PreserveProvider || a.Provider == "" {
			a.Provider = caller
		}
	}
	a.IsRevision, a.RevisionedAPIID, a.RevisionID = false, "", 0
	if len(a.Operations) == 0 && p.def != nil {
		a.Operations = p.def.Operations()
	}
	if len(a.Operations) == 0 {
		a.Operations = defaultOperations()
	}
	if len(a.Scopes) == 0 && p.def != nil {
		for _, sc := range p.def.Scopes() {
			a.Scopes = append(a.Scopes, APIScope{Scope: sc})
		}
	}
	normalize(a)
	plan.api = a
	if target != "" && target != a.LifeCycleStatus {
		if plan.actions, err = actionsTo(a.LifeCycleStatus, target); err != nil {
			return nil, err
		}
	}
	for _, e := range p.envs {
		env, ok := s.environment(e.Environment)
		if !ok {
			return nil, invalid(900938, "Gateway environment not found", "Gateway environment %q in deployment_environments.yaml is not configured", e.Environment)
		}
		plan.reqs = append(plan.reqs, DeploymentRequest{Name: env.Name, VHost: e.VHost, DisplayOnDevportal: e.DisplayOnDevportal})
	}
	return plan, nil
}

// CheckImport validates a project as Import would (apictl's --dry-run)
// without writing anything or calling a key manager.
func (s *Service) CheckImport(ctx context.Context, caller string, data []byte, opts ImportOptions) error {
	plan, err := s.planImport(ctx, caller, data, opts)
	if err != nil {
		return err
	}
	shared, err := s.sharedScopeMap(ctx)
	if err != nil {
		return err
	}
	if err := s.validate(ctx, plan.api, shared); err != nil {
		return err
	}
	errRollback := errors.New("dry run")
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if err := s.checkConflicts(ctx, tx, plan.api, shared); err != nil {
			return err
		}
		return errRollback
	})
	if errors.Is(err, errRollback) {
		return nil
	}
	return err
}

// Import creates or (with Overwrite) updates an API from an apictl project,
// applies its target lifeCycleStatus and, when it lists deployment
// environments, creates a revision and deploys it there — all in one
// transaction, so a failure leaves nothing behind.
func (s *Service) Import(ctx context.Context, caller string, data []byte, opts ImportOptions) (*ImportResult, error) {
	plan, err := s.planImport(ctx, caller, data, opts)
	if err != nil {
		return nil, err
	}
	a, prev, actions, reqs := plan.api, plan.prev, plan.actions, plan.reqs
	var (
		changes []lifecycleChange
		revID   string
	)
	err = s.save(ctx, a, plan.def, prev, func(tx *db.Tx) error {
		for _, act := range actions {
			ch, err := s.applyActionTx(ctx, tx, caller, a.ID, act, nil)
			if err != nil {
				return err
			}
			changes = append(changes, ch...)
		}
		if len(reqs) == 0 {
			return nil
		}
		var err error
		if revID, err = s.createRevisionTx(ctx, tx, a.ID, "Revision created after importing the API", opts.RotateRevision); err != nil {
			return err
		}
		return s.deployTx(ctx, tx, a.ID, revID, reqs)
	})
	if err != nil {
		return nil, err
	}
	out, err := s.GetAPI(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	if prev != nil {
		s.publish(ctx, events.APIUpdated, eventOf(out))
	}
	s.publishLifecycle(ctx, changes)
	if revID != "" {
		deps, err := s.deployments(ctx, s.db, a.ID)
		if err != nil {
			return nil, err
		}
		for _, d := range deps {
			if d.RevisionUUID == revID {
				ev := eventOf(out)
				ev.RevisionID, ev.Environment, ev.VHost = revID, d.Name, d.VHost
				s.publish(ctx, events.APIDeployed, ev)
			}
		}
	}
	return &ImportResult{ID: a.ID, Revision: revID}, nil
}
