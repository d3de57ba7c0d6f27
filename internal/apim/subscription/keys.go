package subscription

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/keyway/keyway/internal/db"
	"github.com/keyway/keyway/internal/events"
)

func validKeyType(t string) bool { return t == Production || t == Sandbox }

// CreateKeyMapping records that an application's keys of a type live in an
// OAuth client of a key manager.
func (s *Store) CreateKeyMapping(ctx context.Context, k *KeyMapping) error {
	if !validKeyType(k.KeyType) {
		return invalid("keyType must be PRODUCTION or SANDBOX")
	}
	if k.ApplicationUUID == "" || k.KeyManager == "" || k.ConsumerKey == "" {
		return invalid("application, key manager and consumer key are required")
	}
	if k.Mode == "" {
		k.Mode = ModeCreated
	}
	if k.State == "" {
		k.State = "COMPLETED"
	}
	now := time.Now()
	k.UUID, k.Created, k.Updated = uuid.NewString(), now, now
	_, err := s.db.ExecContext(ctx, `INSERT INTO apim_key_mapping (uuid, app_uuid, key_type, key_manager, key_manager_id, consumer_key,
		sealed_secret, mode, state, grant_types, callback_url, props, created, updated) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		k.UUID, k.ApplicationUUID, k.KeyType, k.KeyManager, k.KeyManagerID, k.ConsumerKey, k.SealedSecret, k.Mode, k.State,
		marshal(k.GrantTypes), k.CallbackURL, marshal(k.AdditionalProperties), now.UnixMilli(), now.UnixMilli())
	if db.IsUniqueViolation(err) {
		return fmt.Errorf("%w: %s keys of key manager %s are already generated for the application, or the consumer key is mapped elsewhere",
			ErrConflict, k.KeyType, k.KeyManager)
	}
	if err != nil {
		return fmt.Errorf("insert key mapping: %w", err)
	}
	s.publishKey(ctx, k, "create")
	return nil
}

func (s *Store) publishKey(ctx context.Context, k *KeyMapping, action string) {
	s.publish(ctx, events.KeyMappingChanged, map[string]any{"applicationUUID": k.ApplicationUUID, "consumerKey": k.ConsumerKey,
		"keyType": k.KeyType, "keyManager": k.KeyManager, "action": action})
}

// UpdateKeyMapping stores the client details that may change (grant types,
// callback, properties, sealed secret).
func (s *Store) UpdateKeyMapping(ctx context.Context, k *KeyMapping) error {
	k.Updated = time.Now()
	res, err := s.db.ExecContext(ctx, `UPDATE apim_key_mapping SET sealed_secret = ?, grant_types = ?, callback_url = ?, props = ?,
		state = ?, updated = ? WHERE uuid = ?`,
		k.SealedSecret, marshal(k.GrantTypes), k.CallbackURL, marshal(k.AdditionalProperties), k.State, k.Updated.UnixMilli(), k.UUID)
	if err != nil {
		return fmt.Errorf("update key mapping %s: %w", k.UUID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("key mapping: %w", ErrNotFound)
	}
	s.publishKey(ctx, k, "update")
	return nil
}

// DeleteKeyMapping removes a key mapping (the client at the key manager is
// the caller's business).
func (s *Store) DeleteKeyMapping(ctx context.Context, id string) error {
	k, err := s.GetKeyMapping(ctx, id)
	if err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM apim_key_mapping WHERE uuid = ?`, id); err != nil {
		return fmt.Errorf("delete key mapping %s: %w", id, err)
	}
	s.publishKey(ctx, k, "delete")
	return nil
}

const keyColumns = `uuid, app_uuid, key_type, key_manager, key_manager_id, consumer_key, sealed_secret, mode, state, grant_types,
	callback_url, props, created, updated`

// GetKeyMapping returns a key mapping by uuid.
func (s *Store) GetKeyMapping(ctx context.Context, id string) (*KeyMapping, error) {
	return s.oneKey(ctx, `WHERE uuid = ?`, id)
}

// KeyMappingByConsumerKey finds the mapping of a key manager's client.
func (s *Store) KeyMappingByConsumerKey(ctx context.Context, keyManager, consumerKey string) (*KeyMapping, error) {
	return s.oneKey(ctx, `WHERE key_manager = ? AND consumer_key = ?`, keyManager, consumerKey)
}

// KeyMappingsByConsumerKey finds the mappings of a client id whatever the
// key manager (the resident key manager's scope decisions).
func (s *Store) KeyMappingsByConsumerKey(ctx context.Context, consumerKey string) ([]*KeyMapping, error) {
	return s.queryKeys(ctx, `WHERE consumer_key = ?`, consumerKey)
}

// KeyMappingsOf returns an application's key mappings.
func (s *Store) KeyMappingsOf(ctx context.Context, appUUID string) ([]*KeyMapping, error) {
	return s.queryKeys(ctx, `WHERE app_uuid = ? ORDER BY key_manager, key_type`, appUUID)
}

// KeyMappingsOfKeyManager returns every mapping to a key manager.
func (s *Store) KeyMappingsOfKeyManager(ctx context.Context, keyManager string) ([]*KeyMapping, error) {
	return s.queryKeys(ctx, `WHERE key_manager = ?`, keyManager)
}

func (s *Store) oneKey(ctx context.Context, where string, args ...any) (*KeyMapping, error) {
	ks, err := s.queryKeys(ctx, where, args...)
	if err != nil {
		return nil, err
	}
	if len(ks) == 0 {
		return nil, fmt.Errorf("key mapping: %w", ErrNotFound)
	}
	return ks[0], nil
}

func (s *Store) queryKeys(ctx context.Context, where string, args ...any) ([]*KeyMapping, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+keyColumns+` FROM apim_key_mapping `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("query key mappings: %w", err)
	}
	defer rows.Close()
	out := []*KeyMapping{}
	for rows.Next() {
		var (
			k                     KeyMapping
			sealed, gt, cb, props sql.NullString
			c, u                  int64
		)
		if err := rows.Scan(&k.UUID, &k.ApplicationUUID, &k.KeyType, &k.KeyManager, &k.KeyManagerID, &k.ConsumerKey, &sealed,
			&k.Mode, &k.State, &gt, &cb, &props, &c, &u); err != nil {
			return nil, fmt.Errorf("scan key mapping: %w", err)
		}
		k.SealedSecret, k.CallbackURL = sealed.String, cb.String
		k.GrantTypes = unmarshal[[]string](gt)
		k.AdditionalProperties = unmarshal[map[string]any](props)
		if k.GrantTypes == nil {
			k.GrantTypes = []string{}
		}
		if k.AdditionalProperties == nil {
			k.AdditionalProperties = map[string]any{}
		}
		k.Created, k.Updated = time.UnixMilli(c), time.UnixMilli(u)
		out = append(out, &k)
	}
	return out, rows.Err()
}
