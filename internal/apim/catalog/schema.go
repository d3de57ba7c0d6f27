package catalog

import "github.com/keyway/keyway/internal/db"

// component is the migration component name of the catalog's tables.
const component = "apim_catalog"

// migrations create the catalog's tables. An API's working copy and each
// revision are stored as their DTO document (JSON) plus the columns that are
// searched or constrained; the definition is stored beside it as text.
var migrations = []db.Migration{{
	Version: 1,
	Name:    "apis, scopes, revisions, deployments, lifecycle, shared scopes",
	SQL: `CREATE TABLE am_api (
	uuid VARCHAR(36) NOT NULL PRIMARY KEY,
	name VARCHAR(255) NOT NULL,
	version VARCHAR(64) NOT NULL,
	context VARCHAR(255) NOT NULL,
	provider VARCHAR(255) NOT NULL,
	status VARCHAR(32) NOT NULL,
	is_default INTEGER NOT NULL,
	revisions_created BIGINT NOT NULL,
	created BIGINT NOT NULL,
	updated BIGINT NOT NULL,
	doc TEXT NOT NULL,
	definition TEXT NOT NULL
);
CREATE UNIQUE INDEX am_api_name_version ON am_api (name, version);
CREATE UNIQUE INDEX am_api_context_version ON am_api (context, version);
CREATE TABLE am_api_scope (
	api_uuid VARCHAR(36) NOT NULL,
	name VARCHAR(255) NOT NULL,
	PRIMARY KEY (api_uuid, name)
);
CREATE INDEX am_api_scope_name ON am_api_scope (name);
CREATE TABLE am_api_revision (
	uuid VARCHAR(36) NOT NULL PRIMARY KEY,
	api_uuid VARCHAR(36) NOT NULL,
	num BIGINT NOT NULL,
	description VARCHAR(255) NOT NULL,
	created BIGINT NOT NULL,
	doc TEXT NOT NULL,
	definition TEXT NOT NULL
);
CREATE UNIQUE INDEX am_api_revision_num ON am_api_revision (api_uuid, num);
CREATE TABLE am_api_deployment (
	api_uuid VARCHAR(36) NOT NULL,
	env VARCHAR(255) NOT NULL,
	revision_uuid VARCHAR(36) NOT NULL,
	vhost VARCHAR(255) NOT NULL,
	display_on_devportal INTEGER NOT NULL,
	deployed BIGINT NOT NULL,
	PRIMARY KEY (api_uuid, env)
);
CREATE TABLE am_api_lc_event (
	id VARCHAR(36) NOT NULL PRIMARY KEY,
	api_uuid VARCHAR(36) NOT NULL,
	seq BIGINT NOT NULL,
	prev_state VARCHAR(32) NOT NULL,
	post_state VARCHAR(32) NOT NULL,
	username VARCHAR(255) NOT NULL,
	created BIGINT NOT NULL
);
CREATE INDEX am_api_lc_event_api ON am_api_lc_event (api_uuid, seq);
CREATE TABLE am_shared_scope (
	uuid VARCHAR(36) NOT NULL PRIMARY KEY,
	name VARCHAR(255) NOT NULL,
	display_name VARCHAR(255) NOT NULL,
	description VARCHAR(512) NOT NULL,
	bindings TEXT NOT NULL
);
CREATE UNIQUE INDEX am_shared_scope_name ON am_shared_scope (name)`,
}, {
	Version: 2,
	Name:    "admin-created gateway environments",
	// name_key is the lower-cased name: environment names are unique
	// regardless of case on every engine (collations differ).
	SQL: `CREATE TABLE am_gateway_environment (
	uuid VARCHAR(36) NOT NULL PRIMARY KEY,
	name VARCHAR(255) NOT NULL,
	name_key VARCHAR(255) NOT NULL,
	created BIGINT NOT NULL,
	updated BIGINT NOT NULL,
	doc TEXT NOT NULL
);
CREATE UNIQUE INDEX am_gateway_environment_name ON am_gateway_environment (name_key)`,
}}
