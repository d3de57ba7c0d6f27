// Package subscription owns the developer side of the API Manager:
// applications, their subscriptions to APIs, and the key mappings that bind
// an application to OAuth clients of key managers (per key type and key
// manager). It stores no consumer secret for key managers that can return
// it; the key manager package seals one only when it must.
package subscription

import (
	"errors"
	"time"
)

// Key types of a key mapping.
const (
	Production = "PRODUCTION"
	Sandbox    = "SANDBOX"
)

// Subscription states (the contract's Subscription.status enum).
const (
	Unblocked       = "UNBLOCKED"
	Blocked         = "BLOCKED"
	ProdOnlyBlocked = "PROD_ONLY_BLOCKED"
	OnHold          = "ON_HOLD"
	Rejected        = "REJECTED"
)

// Key mapping modes: keys created at the key manager by Keyway, or an
// existing client mapped to the application.
const (
	ModeCreated = "CREATED"
	ModeMapped  = "MAPPED"
)

// Errors of the stores.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("already exists")
	ErrInvalid  = errors.New("invalid input")
)

// Application is a consumer application.
type Application struct {
	UUID string
	// ID is the numeric id WSO2 gateways know applications by.
	ID               int
	Name             string
	Owner            string
	ThrottlingPolicy string
	Description      string
	// TokenType is JWT (OAUTH is accepted and kept for old clients).
	TokenType  string
	Status     string
	Attributes map[string]string
	Groups     []string
	Created    time.Time
	Updated    time.Time
}

// Subscription is an application's subscription to an API.
type Subscription struct {
	UUID            string
	ApplicationUUID string
	APIUUID         string
	// Policy is the subscription tier name.
	Policy          string
	RequestedPolicy string
	Status          string
	Created         time.Time
	Updated         time.Time
}

// KeyMapping binds an application to an OAuth client of a key manager.
type KeyMapping struct {
	UUID            string
	ApplicationUUID string
	KeyType         string
	// KeyManager is the key manager's name; KeyManagerID its uuid.
	KeyManager   string
	KeyManagerID string
	ConsumerKey  string
	// SealedSecret is set only when the key manager cannot return the
	// secret later (generic OIDC); sealed with secret.Sealer.
	SealedSecret string
	Mode         string
	// State is COMPLETED once the client exists at the key manager.
	State                string
	GrantTypes           []string
	CallbackURL          string
	AdditionalProperties map[string]any
	Created              time.Time
	Updated              time.Time
}
