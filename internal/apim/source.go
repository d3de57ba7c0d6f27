package apim

import (
	"context"
	"fmt"
	"time"

	"github.com/keyway/keyway/internal/runtime"
)

// snapshotSource builds runtime snapshots from every store.
type snapshotSource struct{ s *Server }

// Source returns the in-process runtime.Source the gateway reads.
func (s *Server) Source() runtime.Source { return snapshotSource{s} }

// Snapshot reads every store once. Revision is the build time in
// milliseconds, so a later snapshot always has a higher revision.
func (src snapshotSource) Snapshot(ctx context.Context) (*runtime.Snapshot, error) {
	s := src.s
	snap := &runtime.Snapshot{Revision: time.Now().UnixMilli()}
	var err error
	if snap.APIs, err = s.catalog.RuntimeAPIs(ctx); err != nil {
		return nil, fmt.Errorf("snapshot: APIs: %w", err)
	}
	if snap.Applications, snap.KeyMappings, snap.Subscriptions, err = s.store.Runtime(ctx); err != nil {
		return nil, fmt.Errorf("snapshot: applications: %w", err)
	}
	if snap.SubscriptionPolicies, snap.ApplicationPolicies, snap.APIPolicies, err = s.policies.Runtime(ctx); err != nil {
		return nil, fmt.Errorf("snapshot: policies: %w", err)
	}
	if snap.KeyManagers, err = s.keyManagers.Runtime(ctx); err != nil {
		return nil, fmt.Errorf("snapshot: key managers: %w", err)
	}
	snap.RevokedTokens, snap.RevokedConsumerKeys = []runtime.RevokedToken{}, []runtime.RevokedConsumerKey{}
	if s.opts.revocations != nil {
		revoked, err := s.opts.revocations.List(ctx)
		if err != nil {
			return nil, fmt.Errorf("snapshot: revocations: %w", err)
		}
		if revoked != nil {
			snap.RevokedTokens = revoked
		}
	}
	if snap.APIs == nil {
		snap.APIs = []runtime.API{}
	}
	bj := s.p.Config.APIM.Gateway.BackendJWT
	snap.BackendJWT = runtime.BackendJWT{Enabled: bj.Enable, Header: bj.Header}
	snap.APIKeyIssuers = s.runtimeAPIKeyIssuers()
	return snap, nil
}
