//go:build tools

// Package deps pins the modules Keyway's packages use, so go.mod and go.sum
// hold them even while a package that needs one is being written.
package deps

import (
	_ "github.com/alicebob/miniredis/v2"
	_ "github.com/coreos/go-oidc/v3/oidc"
	_ "github.com/getkin/kin-openapi/openapi2"
	_ "github.com/getkin/kin-openapi/openapi2conv"
	_ "github.com/getkin/kin-openapi/openapi3"
	_ "github.com/go-jose/go-jose/v4"
	_ "github.com/go-jose/go-jose/v4/jwt"
	_ "github.com/go-redis/redis_rate/v10"
	_ "github.com/google/uuid"
	_ "github.com/pavlo-v-chernykh/keystore-go/v4"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/spf13/cobra"
	_ "go.opentelemetry.io/otel"
	_ "go.opentelemetry.io/otel/trace"
	_ "golang.org/x/crypto/argon2"
	_ "golang.org/x/crypto/pbkdf2"
	_ "golang.org/x/oauth2"
	_ "golang.org/x/oauth2/clientcredentials"
	_ "golang.org/x/time/rate"
	_ "gopkg.in/yaml.v3"
	_ "software.sslmate.com/src/go-pkcs12"
)
