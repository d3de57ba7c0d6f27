package catalog

import (
	"context"
	"errors"
	"testing"

	"github.com/keyway/keyway/internal/db/dbtest"
)

type denyAll struct{}

func (denyAll) CanDeleteAPI(context.Context, string) error {
	return errors.New("2 active subscriptions")
}

func TestPublishFailsWhenKeyManagerRejectsScopes(t *testing.T) {
	ctx := context.Background()
	s, reg, _ := newService(t, dbtest.SQLite(t))
	api, err := s.CreateAPI(ctx, "alice", petAPI(), mustDef(t, "petstore-oas3.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	reg.fail = errors.New("connector down")
	if _, err := s.ChangeLifecycle(ctx, "alice", api.ID, ActionPublish, nil); !errors.Is(err, ErrKeyManager) {
		t.Fatalf("publish with failing key manager: %v", err)
	}
	if got, _ := s.GetAPI(ctx, api.ID); got.LifeCycleStatus != StatusCreated {
		t.Errorf("status changed to %s", got.LifeCycleStatus)
	}
	if h, _ := s.LifecycleHistory(ctx, api.ID); len(h) != 0 {
		t.Errorf("history recorded: %+v", h)
	}
	reg.fail = nil

	s.SetDeleteGuard(denyAll{})
	err = s.DeleteAPI(ctx, api.ID)
	var ce *Error
	if !errors.As(err, &ce) || ce.Status != 409 || ce.Code != 900366 {
		t.Fatalf("guarded delete: %v", err)
	}
	if _, err := s.GetAPI(ctx, api.ID); err != nil {
		t.Errorf("API gone after a vetoed delete: %v", err)
	}
	s.SetDeleteGuard(nil)

	// Export of the latest revision carries the revision's content.
	if _, err := s.CreateRevision(ctx, api.ID, "one"); err != nil {
		t.Fatal(err)
	}
	upd := *api
	upd.Description = "after revision"
	if _, err := s.UpdateAPI(ctx, api.ID, &upd); err != nil {
		t.Fatal(err)
	}
	zipLatest, _, err := s.Export(ctx, ExportRequest{APIID: api.ID, LatestRevision: true})
	if err != nil {
		t.Fatal(err)
	}
	p, err := readProject(ctx, zipLatest)
	if err != nil || p.api.Description != "" {
		t.Errorf("latest revision export: %v %q", err, p.api.Description)
	}
	zipWork, _, _ := s.Export(ctx, ExportRequest{APIID: api.ID})
	if p, _ := readProject(ctx, zipWork); p.api.Description != "after revision" || p.api.LifeCycleStatus != StatusCreated {
		t.Errorf("working copy export: %+v", p.api)
	}
	if err := s.DeleteAPI(ctx, api.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetAPI(ctx, api.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("get deleted: %v", err)
	}
}
