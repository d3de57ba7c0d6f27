package oauth

import "github.com/keyway/keyway/internal/db"

// migrations create the engine's tables. Tokens and codes are keyed by the
// lowercase hex SHA-256 of their value (JWT access tokens by jti), so a
// database dump yields no usable credential. Times are Unix milliseconds.
var migrations = []db.Migration{{
	Version: 1,
	Name:    "oauth engine tables",
	SQL: `CREATE TABLE oauth_clients (
	id VARCHAR(191) NOT NULL PRIMARY KEY,
	name VARCHAR(191) NOT NULL,
	owner VARCHAR(191) NOT NULL,
	secret TEXT NOT NULL,
	data TEXT NOT NULL,
	created BIGINT NOT NULL,
	updated BIGINT NOT NULL);
CREATE UNIQUE INDEX oauth_clients_name ON oauth_clients (name);
CREATE INDEX oauth_clients_owner ON oauth_clients (owner);
CREATE TABLE oauth_keys (
	kid VARCHAR(100) NOT NULL PRIMARY KEY,
	kind VARCHAR(20) NOT NULL,
	private_key TEXT NOT NULL,
	cert BLOB NOT NULL,
	created BIGINT NOT NULL,
	active INTEGER NOT NULL,
	retire_until BIGINT NOT NULL);
CREATE TABLE oauth_access_tokens (
	k VARCHAR(100) NOT NULL PRIMARY KEY,
	fmt VARCHAR(10) NOT NULL,
	client_id VARCHAR(191) NOT NULL,
	user_id VARCHAR(191) NOT NULL,
	username VARCHAR(255) NOT NULL,
	scope TEXT NOT NULL,
	aut VARCHAR(20) NOT NULL,
	aud TEXT NOT NULL,
	iat BIGINT NOT NULL,
	exp BIGINT NOT NULL,
	family VARCHAR(64) NOT NULL,
	revoked INTEGER NOT NULL);
CREATE INDEX oauth_access_tokens_client ON oauth_access_tokens (client_id);
CREATE INDEX oauth_access_tokens_user ON oauth_access_tokens (user_id);
CREATE INDEX oauth_access_tokens_family ON oauth_access_tokens (family);
CREATE INDEX oauth_access_tokens_exp ON oauth_access_tokens (exp);
CREATE TABLE oauth_refresh_tokens (
	k VARCHAR(64) NOT NULL PRIMARY KEY,
	family VARCHAR(64) NOT NULL,
	client_id VARCHAR(191) NOT NULL,
	user_id VARCHAR(191) NOT NULL,
	username VARCHAR(255) NOT NULL,
	scope TEXT NOT NULL,
	iat BIGINT NOT NULL,
	exp BIGINT NOT NULL,
	auth_time BIGINT NOT NULL,
	sid VARCHAR(64) NOT NULL,
	nonce TEXT NOT NULL,
	access_k VARCHAR(100) NOT NULL,
	state INTEGER NOT NULL);
CREATE INDEX oauth_refresh_tokens_family ON oauth_refresh_tokens (family);
CREATE INDEX oauth_refresh_tokens_client ON oauth_refresh_tokens (client_id);
CREATE INDEX oauth_refresh_tokens_user ON oauth_refresh_tokens (user_id);
CREATE INDEX oauth_refresh_tokens_exp ON oauth_refresh_tokens (exp);
CREATE TABLE oauth_codes (
	k VARCHAR(64) NOT NULL PRIMARY KEY,
	client_id VARCHAR(191) NOT NULL,
	user_id VARCHAR(191) NOT NULL,
	redirect_uri TEXT NOT NULL,
	scope TEXT NOT NULL,
	challenge VARCHAR(200) NOT NULL,
	method VARCHAR(10) NOT NULL,
	nonce TEXT NOT NULL,
	auth_time BIGINT NOT NULL,
	sid VARCHAR(64) NOT NULL,
	family VARCHAR(64) NOT NULL,
	exp BIGINT NOT NULL,
	used INTEGER NOT NULL);
CREATE INDEX oauth_codes_exp ON oauth_codes (exp);
CREATE TABLE oauth_sessions (
	k VARCHAR(64) NOT NULL PRIMARY KEY,
	sid VARCHAR(64) NOT NULL,
	user_id VARCHAR(191) NOT NULL,
	auth_time BIGINT NOT NULL,
	exp BIGINT NOT NULL);
CREATE INDEX oauth_sessions_user ON oauth_sessions (user_id);
CREATE TABLE oauth_consents (
	user_id VARCHAR(191) NOT NULL,
	client_id VARCHAR(191) NOT NULL,
	scope TEXT NOT NULL,
	updated BIGINT NOT NULL,
	PRIMARY KEY (user_id, client_id));
CREATE TABLE oauth_device_codes (
	k VARCHAR(64) NOT NULL PRIMARY KEY,
	user_code VARCHAR(20) NOT NULL,
	client_id VARCHAR(191) NOT NULL,
	scope TEXT NOT NULL,
	status INTEGER NOT NULL,
	user_id VARCHAR(191) NOT NULL,
	granted_scope TEXT NOT NULL,
	auth_time BIGINT NOT NULL,
	last_poll BIGINT NOT NULL,
	exp BIGINT NOT NULL);
CREATE UNIQUE INDEX oauth_device_codes_user_code ON oauth_device_codes (user_code);
CREATE TABLE oauth_jtis (
	k VARCHAR(64) NOT NULL PRIMARY KEY,
	exp BIGINT NOT NULL)`,
}}
