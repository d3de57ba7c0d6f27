package subscription

import (
	"context"

	"github.com/keyway/keyway/internal/runtime"
)

// Runtime returns applications, key mappings and subscriptions in the
// gateway's model.
func (s *Store) Runtime(ctx context.Context) ([]runtime.Application, []runtime.KeyMapping, []runtime.Subscription, error) {
	apps, err := s.queryApps(ctx, `ORDER BY app_id`)
	if err != nil {
		return nil, nil, nil, err
	}
	ids := make(map[string]int, len(apps))
	rapps := make([]runtime.Application, 0, len(apps))
	for _, a := range apps {
		ids[a.UUID] = a.ID
		rapps = append(rapps, runtime.Application{ID: a.ID, UUID: a.UUID, Name: a.Name, Owner: a.Owner, Policy: a.ThrottlingPolicy,
			TokenType: a.TokenType, Attributes: a.Attributes, Organization: "carbon.super"})
	}
	keys, err := s.queryKeys(ctx, `ORDER BY app_uuid, key_manager, key_type`)
	if err != nil {
		return nil, nil, nil, err
	}
	rkeys := make([]runtime.KeyMapping, 0, len(keys))
	for _, k := range keys {
		rkeys = append(rkeys, runtime.KeyMapping{ApplicationUUID: k.ApplicationUUID, ApplicationID: ids[k.ApplicationUUID],
			ConsumerKey: k.ConsumerKey, KeyType: k.KeyType, KeyManager: k.KeyManager})
	}
	subs, err := s.querySubs(ctx, `ORDER BY created, uuid`)
	if err != nil {
		return nil, nil, nil, err
	}
	rsubs := make([]runtime.Subscription, 0, len(subs))
	for _, sub := range subs {
		rsubs = append(rsubs, runtime.Subscription{UUID: sub.UUID, APIUUID: sub.APIUUID, ApplicationUUID: sub.ApplicationUUID,
			Policy: sub.Policy, Status: sub.Status})
	}
	return rapps, rkeys, rsubs, nil
}
