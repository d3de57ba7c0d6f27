package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// Default returns the configuration that `keyway up` runs with when there is
// no file: embedded storage, generated keystores, admin/admin.
func Default() *Config {
	return &Config{
		Server: Server{
			Hostname:    "localhost",
			DataDir:     "data",
			BindAddress: "0.0.0.0",
			Mode:        "production",
		},
		SuperAdmin: SuperAdmin{
			Username:           "admin",
			Password:           "admin",
			CreateAdminAccount: true,
			AdminRole:          "admin",
		},
		Database: Databases{
			APIM:     Database{Type: "h2"},
			Shared:   Database{Type: "h2"},
			Identity: Database{Type: "h2"},
			User:     Database{Type: "h2"},
		},
		Keystore: Keystores{
			Primary:  Keystore{Alias: "wso2carbon"},
			TLS:      Keystore{Alias: "wso2carbon"},
			Internal: Keystore{Alias: "wso2carbon"},
		},
		Truststore: Truststore{Type: "JKS"},
		APIM: APIM{
			Throttling: Throttling{EnableUnlimitedTier: true},
		},
		OAuth: OAuth{
			TokenExpiry: TokenExpiry{
				ApplicationAccessToken: 3600,
				UserAccessToken:        3600,
				RefreshToken:           86400,
				AuthorizationCode:      300,
				IDToken:                3600,
			},
			SigningAlgorithm: "RS256",
			KeyRotationDays:  0,
		},
		Log: Log{Level: "info", Format: "json", AccessLog: true},
	}
}

// Options change how Load resolves placeholders.
type Options struct {
	// Env looks up $env{NAME}; nil means os.LookupEnv.
	Env func(string) (string, bool)
	// Secret resolves $secret{alias}; nil means every $secret{} is an error
	// unless the configuration's secure vault can resolve it.
	Secret func(alias string) (string, error)
}

// Error is a configuration problem with its location.
type Error struct {
	File   string
	Line   int
	Column int
	Key    string
	Msg    string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
	} else {
		b.WriteString("configuration")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	b.WriteString(": ")
	if e.Key != "" {
		fmt.Fprintf(&b, "key %q: ", e.Key)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Load reads path (empty means defaults only), decodes it strictly over the
// defaults, resolves placeholders and validates the result.
func Load(path string, opts Options) (*Config, error) {
	if path == "" {
		c := Default()
		return c, c.Validate()
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	return Parse(path, data, opts)
}

// Parse decodes deployment.toml text. name is used in error messages.
func Parse(name string, data []byte, opts Options) (*Config, error) {
	c := Default()
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return nil, decodeError(name, data, err)
	}
	c.File = name
	if err := resolvePlaceholders(c, name, data, opts); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func decodeError(name string, data []byte, err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) && len(strict.Errors) > 0 {
		var msgs []string
		for _, e := range strict.Errors {
			row, col := e.Position()
			key := strings.Join(e.Key(), ".")
			msgs = append(msgs, (&Error{File: name, Line: row, Column: col, Key: key, Msg: "unknown key (see docs/configuration.md for the keys Keyway reads)"}).Error())
		}
		return errors.New(strings.Join(msgs, "\n"))
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, col := de.Position()
		return &Error{File: name, Line: row, Column: col, Key: strings.Join(de.Key(), "."), Msg: de.Error()}
	}
	return &Error{File: name, Msg: err.Error()}
}

var placeholder = regexp.MustCompile(`\$(env|secret)\{([^}]*)\}|\$\{([^}]*)\}`)

// resolvePlaceholders replaces $env{NAME}, $secret{alias} and ${ref} in every
// string of the configuration.
func resolvePlaceholders(c *Config, name string, data []byte, opts Options) error {
	env := opts.Env
	if env == nil {
		env = os.LookupEnv
	}
	secret := opts.Secret
	if secret == nil {
		secret = func(alias string) (string, error) {
			return "", fmt.Errorf("$secret{%s} cannot be resolved: no secure vault is configured (encrypt it with `keyway cipher encrypt` and set [secure_vault])", alias)
		}
	}
	// ${admin.*} refers to the super admin after its own placeholders are resolved.
	var firstErr error
	resolve := func(key, s string) string {
		if !strings.Contains(s, "$") {
			return s
		}
		return placeholder.ReplaceAllStringFunc(s, func(m string) string {
			sub := placeholder.FindStringSubmatch(m)
			fail := func(msg string) string {
				if firstErr == nil {
					firstErr = &Error{File: name, Line: lineOf(data, m), Key: key, Msg: msg}
				}
				return m
			}
			switch {
			case sub[1] == "env":
				v, ok := env(sub[2])
				if !ok {
					return fail(fmt.Sprintf("environment variable %s referenced by %s is not set", sub[2], m))
				}
				return v
			case sub[1] == "secret":
				v, err := secret(sub[2])
				if err != nil {
					return fail(err.Error())
				}
				return v
			default:
				switch sub[3] {
				case "admin.username":
					return c.SuperAdmin.Username
				case "admin.password":
					return c.SuperAdmin.Password
				case "carbon.context":
					return "/" + strings.Trim(c.Server.BasePath, "/")
				case "server.hostname", "carbon.host":
					return c.Server.Hostname
				}
				return fail(fmt.Sprintf("unknown reference %s (Keyway knows ${admin.username}, ${admin.password}, ${carbon.context}, ${server.hostname})", m))
			}
		})
	}
	// Super admin first, so ${admin.*} sees resolved values.
	c.SuperAdmin.Username = resolve("super_admin.username", c.SuperAdmin.Username)
	c.SuperAdmin.Password = resolve("super_admin.password", c.SuperAdmin.Password)
	walkStrings(reflect.ValueOf(c).Elem(), "", resolve)
	return firstErr
}

// walkStrings calls fn for every string reachable from v and stores its result.
func walkStrings(v reflect.Value, path string, fn func(key, s string) string) {
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() {
			v.SetString(fn(path, v.String()))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			walkStrings(v.Elem(), path, fn)
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < v.NumField(); i++ {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("toml"), ",")[0]
			if tag == "-" || !f.IsExported() {
				continue
			}
			walkStrings(v.Field(i), join(path, tag), fn)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			walkStrings(v.Index(i), fmt.Sprintf("%s[%d]", path, i), fn)
		}
	case reflect.Map:
		if v.Type().Elem().Kind() == reflect.String {
			for _, k := range v.MapKeys() {
				v.SetMapIndex(k, reflect.ValueOf(fn(join(path, k.String()), v.MapIndex(k).String())))
			}
		}
	}
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

func lineOf(data []byte, needle string) int {
	i := bytes.Index(data, []byte(needle))
	if i < 0 {
		return 0
	}
	return bytes.Count(data[:i], []byte("\n")) + 1
}

// Validate checks values that decode but make no sense.
func (c *Config) Validate() error {
	var errs []string
	add := func(key, msg string) {
		errs = append(errs, (&Error{File: c.File, Key: key, Msg: msg}).Error())
	}
	if c.Server.Offset < 0 || c.Server.Offset > 50000 {
		add("server.offset", fmt.Sprintf("%d is out of range (0..50000)", c.Server.Offset))
	}
	if strings.TrimSpace(c.Server.Hostname) == "" {
		add("server.hostname", "must not be empty")
	}
	if c.SuperAdmin.Username == "" {
		add("super_admin.username", "must not be empty")
	}
	for key, ks := range map[string]Keystore{"keystore.primary": c.Keystore.Primary, "keystore.tls": c.Keystore.TLS, "keystore.internal": c.Keystore.Internal} {
		if ks.FileName != "" {
			switch strings.ToUpper(ks.Type) {
			case "", "JKS", "PKCS12", "PEM":
			default:
				add(key+".type", fmt.Sprintf("%q is not a keystore type (JKS, PKCS12 or PEM)", ks.Type))
			}
		}
	}
	switch strings.ToUpper(c.Truststore.Type) {
	case "", "JKS", "PKCS12", "PEM":
	default:
		add("truststore.type", fmt.Sprintf("%q is not a truststore type (JKS, PKCS12 or PEM)", c.Truststore.Type))
	}
	for i, db := range []struct {
		key string
		d   Database
	}{{"database.apim_db", c.Database.APIM}, {"database.shared_db", c.Database.Shared}, {"database.identity_db", c.Database.Identity}, {"database.user", c.Database.User}} {
		_ = i
		switch strings.ToLower(db.d.Type) {
		case "", "h2", "sqlite", "postgre", "postgres", "postgresql", "mysql", "mariadb":
		default:
			add(db.key+".type", fmt.Sprintf("%q is not supported (h2, sqlite, postgre, mysql, mariadb)", db.d.Type))
		}
	}
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "error":
	default:
		add("log.level", fmt.Sprintf("%q is not a level (debug, info, warn, error)", c.Log.Level))
	}
	switch strings.ToLower(c.Log.Format) {
	case "json", "text":
	default:
		add("log.format", fmt.Sprintf("%q is not a format (json, text)", c.Log.Format))
	}
	for i, env := range c.APIM.Gateway.Environments {
		if env.Name == "" {
			add(fmt.Sprintf("apim.gateway.environment[%d].name", i), "must not be empty")
		}
	}
	for i, l := range c.Listeners {
		if l.ID == "" && l.Name == "" {
			add(fmt.Sprintf("event_listener[%d]", i), "needs an id or a name")
		}
	}
	for i, ac := range c.Resource.AccessControl {
		if _, err := regexp.Compile(ac.Context); err != nil {
			add(fmt.Sprintf("resource.access_control[%d].context", i), fmt.Sprintf("not a regular expression: %v", err))
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

// UsesDefaultAdminPassword reports whether the super admin is still admin/admin.
func (c *Config) UsesDefaultAdminPassword() bool {
	return c.SuperAdmin.Username == "admin" && c.SuperAdmin.Password == "admin"
}

// TokenRevocationListener returns the enabled [[event_listener]] that sends
// token_revocation events to an API Manager, if any.
func (c *Config) TokenRevocationListener() (EventListener, bool) {
	for _, l := range c.Listeners {
		if l.Enabled() && (l.ID == "token_revocation" || strings.HasSuffix(l.Name, "ApimOauthEventInterceptor")) && l.Properties["notification_endpoint"] != "" {
			return l, true
		}
	}
	return EventListener{}, false
}
