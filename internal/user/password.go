package user

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the argon2id cost parameters. The defaults are OWASP's
// recommended minimum (m=19 MiB, t=2, p=1).
type Argon2Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// DefaultArgon2 is OWASP's recommendation for argon2id.
var DefaultArgon2 = Argon2Params{MemoryKiB: 19 * 1024, Time: 2, Threads: 1}

const (
	saltLen = 16
	keyLen  = 32
	// pbkdf2Iterations is OWASP's recommendation for PBKDF2-HMAC-SHA256.
	pbkdf2Iterations = 600_000
)

var errBadHash = errors.New("user: unrecognised password hash format")

// HashPassword returns a self-describing argon2id hash in the PHC string
// format: $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key> (unpadded base64).
func HashPassword(password string, p Argon2Params) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// HashPasswordPBKDF2 returns $pbkdf2-sha256$i=600000$<salt>$<key>, for
// deployments that must use a FIPS-approved function.
func HashPasswordPBKDF2(password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key, err := pbkdf2.Key(sha256.New, password, salt, pbkdf2Iterations, keyLen)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return fmt.Sprintf("$pbkdf2-sha256$i=%d$%s$%s", pbkdf2Iterations,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// VerifyPassword checks password against an encoded hash in constant time.
// needsRehash reports a hash weaker than (or different from) p, so the
// caller can upgrade it after a successful login.
func VerifyPassword(encoded, password string, p Argon2Params) (ok, needsRehash bool, err error) {
	parts := strings.Split(encoded, "$")
	// "", alg, params..., salt, key
	if len(parts) < 5 || parts[0] != "" {
		return false, false, errBadHash
	}
	switch parts[1] {
	case "argon2id":
		if len(parts) != 6 {
			return false, false, errBadHash
		}
		var version int
		if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
			return false, false, errBadHash
		}
		var m, t uint32
		var th uint8
		if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &th); err != nil || m == 0 || t == 0 || th == 0 {
			return false, false, errBadHash
		}
		salt, key, err := decodeSaltKey(parts[4], parts[5])
		if err != nil {
			return false, false, err
		}
		got := argon2.IDKey([]byte(password), salt, t, m, th, uint32(len(key)))
		ok = subtle.ConstantTimeCompare(got, key) == 1
		return ok, m != p.MemoryKiB || t != p.Time || th != p.Threads, nil
	case "pbkdf2-sha256":
		iter, err := strconv.Atoi(strings.TrimPrefix(parts[2], "i="))
		if err != nil || iter <= 0 || !strings.HasPrefix(parts[2], "i=") {
			return false, false, errBadHash
		}
		salt, key, err := decodeSaltKey(parts[3], parts[4])
		if err != nil {
			return false, false, err
		}
		got, err := pbkdf2.Key(sha256.New, password, salt, iter, len(key))
		if err != nil {
			return false, false, fmt.Errorf("verify password: %w", err)
		}
		// PBKDF2 hashes are kept when they meet OWASP's iteration count.
		return subtle.ConstantTimeCompare(got, key) == 1, iter < pbkdf2Iterations, nil
	}
	return false, false, errBadHash
}

func decodeSaltKey(s, k string) (salt, key []byte, err error) {
	salt, err = base64.RawStdEncoding.DecodeString(s)
	if err != nil || len(salt) < 8 {
		return nil, nil, errBadHash
	}
	key, err = base64.RawStdEncoding.DecodeString(k)
	if err != nil || len(key) < 16 {
		return nil, nil, errBadHash
	}
	return salt, key, nil
}
