package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/google/uuid"
	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/events"
)

// storedRevision is one am_api_revision row with its API's status.
type storedRevision struct {
	rev        Revision
	api        *API
	definition []byte
}

const revisionColumns = `r.uuid, r.api_uuid, r.num, r.description, r.created, r.doc, r.definition, a.status`

func scanRevision(scan func(...any) error) (*storedRevision, error) {
	var (
		id, apiID, desc, doc, def, status string
		num, created                      int64
	)
	if err := scan(&id, &apiID, &num, &desc, &created, &doc, &def, &status); err != nil {
		return nil, err
	}
	var a API
	if err := json.Unmarshal([]byte(doc), &a); err != nil {
		return nil, fmt.Errorf("decode revision %s: %w", id, err)
	}
	a.ID, a.IsRevision, a.RevisionedAPIID, a.RevisionID, a.LifeCycleStatus = id, true, apiID, int(num), status
	a.CreatedTime = strconv.FormatInt(created, 10)
	return &storedRevision{
		rev: Revision{ID: id, DisplayName: "Revision " + strconv.FormatInt(num, 10), Description: desc,
			CreatedTime: rfc3339(created), APIInfo: RevisionAPI{ID: apiID}, Deployments: []Deployment{}, Number: int(num)},
		api: &a, definition: []byte(def),
	}, nil
}

// loadRevision loads a revision of apiID ("" for any API) by UUID.
func (s *Service) loadRevision(ctx context.Context, apiID, revID string) (*storedRevision, error) {
	return loadRevisionQ(ctx, s.db, apiID, revID)
}

func loadRevisionQ(ctx context.Context, q db.Execer, apiID, revID string) (*storedRevision, error) {
	query := `SELECT ` + revisionColumns + ` FROM am_api_revision r JOIN am_api a ON a.uuid = r.api_uuid WHERE r.uuid = ?`
	args := []any{revID}
	if apiID != "" {
		query += ` AND r.api_uuid = ?`
		args = append(args, apiID)
	}
	rev, err := scanRevision(q.QueryRowContext(ctx, query, args...).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, revisionNotFound(revID)
	}
	if err != nil {
		return nil, fmt.Errorf("load revision %s: %w", revID, err)
	}
	return rev, nil
}

func revisionsOf(ctx context.Context, q db.Execer, apiID string) ([]*storedRevision, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+revisionColumns+` FROM am_api_revision r JOIN am_api a ON a.uuid = r.api_uuid WHERE r.api_uuid = ? ORDER BY r.num`, apiID)
	if err != nil {
		return nil, fmt.Errorf("list revisions: %w", err)
	}
	defer rows.Close()
	var out []*storedRevision
	for rows.Next() {
		r, err := scanRevision(rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// deployments lists an API's deployments.
func (s *Service) deployments(ctx context.Context, q db.Execer, apiID string) ([]Deployment, error) {
	rows, err := q.QueryContext(ctx, `SELECT revision_uuid, env, vhost, display_on_devportal, deployed FROM am_api_deployment WHERE api_uuid = ? ORDER BY env`, apiID)
	if err != nil {
		return nil, fmt.Errorf("list deployments: %w", err)
	}
	defer rows.Close()
	out := []Deployment{}
	for rows.Next() {
		var d Deployment
		var display int
		var at int64
		if err := rows.Scan(&d.RevisionUUID, &d.Name, &d.VHost, &display, &at); err != nil {
			return nil, err
		}
		d.DisplayOnDevportal, d.Status = display == 1, "APPROVED"
		d.DeployedTime, d.SuccessDeployedTime = rfc3339(at), rfc3339(at)
		out = append(out, d)
	}
	return out, rows.Err()
}

func withDeployments(revs []*storedRevision, deps []Deployment) []Revision {
	out := make([]Revision, 0, len(revs))
	for _, r := range revs {
		rev := r.rev
		for _, d := range deps {
			if d.RevisionUUID == rev.ID {
				rev.Deployments = append(rev.Deployments, d)
			}
		}
		out = append(out, rev)
	}
	return out
}

// Revisions lists an API's revisions with their deployments; deployedOnly
// keeps those deployed somewhere (apictl's query=deployed:true).
func (s *Service) Revisions(ctx context.Context, apiID string, deployedOnly bool) ([]Revision, error) {
	if _, err := loadAPI(ctx, s.db, apiID); err != nil {
		return nil, err
	}
	revs, err := revisionsOf(ctx, s.db, apiID)
	if err != nil {
		return nil, err
	}
	deps, err := s.deployments(ctx, s.db, apiID)
	if err != nil {
		return nil, err
	}
	all := withDeployments(revs, deps)
	if !deployedOnly {
		return all, nil
	}
	out := []Revision{}
	for _, r := range all {
		if len(r.Deployments) > 0 {
			out = append(out, r)
		}
	}
	return out, nil
}

// Revision returns one revision of an API.
func (s *Service) Revision(ctx context.Context, apiID, revID string) (*Revision, error) {
	r, err := s.loadRevision(ctx, apiID, revID)
	if err != nil {
		return nil, err
	}
	deps, err := s.deployments(ctx, s.db, apiID)
	if err != nil {
		return nil, err
	}
	rev := withDeployments([]*storedRevision{r}, deps)[0]
	return &rev, nil
}

// CreateRevision freezes the working copy as "Revision N" (at most
// MaxRevisions per API).
func (s *Service) CreateRevision(ctx context.Context, apiID, description string) (*Revision, error) {
	if len(description) > 255 {
		return nil, invalid(400, "Bad Request", "the revision description is longer than 255 characters")
	}
	var id string
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		var err error
		id, err = s.createRevisionTx(ctx, tx, apiID, description, false)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.Revision(ctx, apiID, id)
}

// createRevisionTx snapshots the API; with rotate, a full revision list
// loses its earliest revision first (undeploying it), as apictl's
// --rotate-revision asks.
func (s *Service) createRevisionTx(ctx context.Context, tx *db.Tx, apiID, description string, rotate bool) (string, error) {
	st, err := loadAPI(ctx, tx, apiID)
	if err != nil {
		return "", err
	}
	revs, err := revisionsOf(ctx, tx, apiID)
	if err != nil {
		return "", err
	}
	if len(revs) >= s.maxRevs {
		if !rotate {
			return "", invalid(900351, "Can not create API Revision ", "Maximum number of revisions per API has reached. Need to remove any revision to create a new Revision for API with API UUID: %s", apiID)
		}
		oldest := revs[0].rev.ID
		if _, err := tx.ExecContext(ctx, `DELETE FROM am_api_deployment WHERE revision_uuid = ?`, oldest); err != nil {
			return "", fmt.Errorf("undeploy rotated revision: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM am_api_revision WHERE uuid = ?`, oldest); err != nil {
			return "", fmt.Errorf("delete rotated revision: %w", err)
		}
	}
	num := st.revisionsCreated + 1
	doc, err := docJSON(st.api)
	if err != nil {
		return "", err
	}
	id := uuid.NewString()
	if _, err := tx.ExecContext(ctx, `INSERT INTO am_api_revision (uuid, api_uuid, num, description, created, doc, definition) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		id, apiID, num, description, millis(s.now()), doc, string(st.definition)); err != nil {
		if db.IsUniqueViolation(err) {
			return "", conflict(409, "Conflict", "another revision of API %s was created at the same time; retry", apiID)
		}
		return "", fmt.Errorf("insert revision: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE am_api SET revisions_created = ? WHERE uuid = ?`, num, apiID); err != nil {
		return "", fmt.Errorf("count revision: %w", err)
	}
	return id, nil
}

// DeleteRevision deletes a revision that is not deployed.
func (s *Service) DeleteRevision(ctx context.Context, apiID, revID string) error {
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := loadRevisionQ(ctx, tx, apiID, revID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM am_api_deployment WHERE revision_uuid = ?`, revID).Scan(&n); err != nil {
			return fmt.Errorf("check deployments: %w", err)
		}
		if n > 0 {
			return invalid(900348, "Can not delete API Revision ", "Couldn't delete API revision since API revision is currently deployed to a gateway. You need to undeploy the API Revision from the gateway before attempting deleting API Revision: %s", revID)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM am_api_revision WHERE uuid = ?`, revID); err != nil {
			return fmt.Errorf("delete revision: %w", err)
		}
		return nil
	})
}

// RestoreRevision makes a revision's content the working copy again (the
// lifecycle status stays as it is).
func (s *Service) RestoreRevision(ctx context.Context, apiID, revID string) (*API, error) {
	rev, err := s.loadRevision(ctx, apiID, revID)
	if err != nil {
		return nil, err
	}
	cur, err := loadAPI(ctx, s.db, apiID)
	if err != nil {
		return nil, err
	}
	a := cloneAPI(rev.api)
	a.ID, a.IsRevision, a.RevisionedAPIID, a.RevisionID = apiID, false, "", 0
	a.LifeCycleStatus, a.IsDefaultVersion = cur.api.LifeCycleStatus, cur.api.IsDefaultVersion
	def, err := ParseStoredDefinition(rev.definition)
	if err != nil {
		return nil, err
	}
	if err := s.save(ctx, a, def, cur, nil); err != nil {
		return nil, err
	}
	out, err := s.GetAPI(ctx, apiID)
	if err != nil {
		return nil, err
	}
	s.publish(ctx, events.APIUpdated, eventOf(out))
	return out, nil
}

// DeployRevision deploys a revision to gateway environments; an
// environment keeps one revision of an API, so a deployment replaces the
// revision that was there.
func (s *Service) DeployRevision(ctx context.Context, apiID, revID string, reqs []DeploymentRequest) ([]Deployment, error) {
	if len(reqs) == 0 {
		return nil, invalid(400, "Bad Request", "no deployment environment given")
	}
	var api *API
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		st, err := loadAPI(ctx, tx, apiID)
		if err != nil {
			return err
		}
		api = st.api
		return s.deployTx(ctx, tx, apiID, revID, reqs)
	})
	if err != nil {
		return nil, err
	}
	all, err := s.deployments(ctx, s.db, apiID)
	if err != nil {
		return nil, err
	}
	out := []Deployment{}
	for _, d := range all {
		if d.RevisionUUID == revID {
			out = append(out, d)
			ev := eventOf(api)
			ev.RevisionID, ev.Environment, ev.VHost = revID, d.Name, d.VHost
			s.publish(ctx, events.APIDeployed, ev)
		}
	}
	return out, nil
}

func (s *Service) deployTx(ctx context.Context, tx *db.Tx, apiID, revID string, reqs []DeploymentRequest) error {
	if _, err := loadRevisionQ(ctx, tx, apiID, revID); err != nil {
		return err
	}
	now := millis(s.now())
	for _, r := range reqs {
		env, ok := s.environment(r.Name)
		if !ok {
			return invalid(900938, "Gateway environment not found", "Gateway environment %q is not configured", r.Name)
		}
		vhost := r.VHost
		if vhost == "" && len(env.VHosts) > 0 {
			vhost = env.VHosts[0].Host
		}
		known := false
		for _, v := range env.VHosts {
			known = known || v.Host == vhost
		}
		if !known {
			return invalid(400, "Bad Request", "vhost %q is not a virtual host of environment %s", vhost, env.Name)
		}
		display := r.DisplayOnDevportal == nil || *r.DisplayOnDevportal
		if _, err := tx.ExecContext(ctx, `DELETE FROM am_api_deployment WHERE api_uuid = ? AND env = ?`, apiID, env.Name); err != nil {
			return fmt.Errorf("replace deployment: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO am_api_deployment (api_uuid, env, revision_uuid, vhost, display_on_devportal, deployed) VALUES (?, ?, ?, ?, ?, ?)`,
			apiID, env.Name, revID, vhost, boolInt(display), now); err != nil {
			return fmt.Errorf("insert deployment: %w", err)
		}
	}
	return nil
}

// UndeployRevision removes a revision (by UUID, or by number when revID is
// empty) from the environments named in reqs, or from all of them, and
// returns the API's remaining deployments.
func (s *Service) UndeployRevision(ctx context.Context, apiID, revID string, revNumber int, all bool, reqs []DeploymentRequest) ([]Deployment, error) {
	st, err := loadAPI(ctx, s.db, apiID)
	if err != nil {
		return nil, err
	}
	if revID == "" {
		revs, err := revisionsOf(ctx, s.db, apiID)
		if err != nil {
			return nil, err
		}
		for _, r := range revs {
			if r.rev.Number == revNumber {
				revID = r.rev.ID
			}
		}
		if revID == "" {
			return nil, revisionNotFound("Revision " + strconv.Itoa(revNumber))
		}
	} else if _, err := s.loadRevision(ctx, apiID, revID); err != nil {
		return nil, err
	}
	if !all && len(reqs) == 0 {
		return nil, invalid(400, "Bad Request", "name the environments to undeploy from, or set allEnvironments=true")
	}
	current, err := s.deployments(ctx, s.db, apiID)
	if err != nil {
		return nil, err
	}
	var removed []Deployment
	for _, d := range current {
		if d.RevisionUUID != revID {
			continue
		}
		match := all
		for _, r := range reqs {
			match = match || r.Name == d.Name
		}
		if match {
			removed = append(removed, d)
		}
	}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		for _, d := range removed {
			if _, err := tx.ExecContext(ctx, `DELETE FROM am_api_deployment WHERE api_uuid = ? AND env = ? AND revision_uuid = ?`, apiID, d.Name, revID); err != nil {
				return fmt.Errorf("undeploy: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, d := range removed {
		ev := eventOf(st.api)
		ev.RevisionID, ev.Environment, ev.VHost = revID, d.Name, d.VHost
		s.publish(ctx, events.APIUndeployed, ev)
	}
	return s.deployments(ctx, s.db, apiID)
}

// Deployments lists an API's deployments.
func (s *Service) Deployments(ctx context.Context, apiID string) ([]Deployment, error) {
	if _, err := loadAPI(ctx, s.db, apiID); err != nil {
		return nil, err
	}
	return s.deployments(ctx, s.db, apiID)
}
