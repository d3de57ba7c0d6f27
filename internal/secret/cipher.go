package secret

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/keyway/keyway/internal/keystore"
)

// The cipher tool encrypts configuration secrets with the internal keystore's
// RSA key using RSA-OAEP with SHA-256 (WSO2's cipher tool in its modern mode
// uses OAEP too). Only the public key is needed to encrypt, so an operator can
// encrypt with the certificate alone; decryption needs the private key and
// therefore the keystore password.

// ErrUndecryptable means a value was not encrypted with this keystore's key
// (or is not cipher text at all). It never carries any part of the value.
var ErrUndecryptable = errors.New("value cannot be decrypted with the internal keystore's key (encrypted with another key, or not cipher text)")

// Encrypt encrypts plaintext for the keystore's RSA key and returns standard
// base64, the form [secrets] and the secret-conf file hold.
func Encrypt(ks *keystore.KeyStore, plaintext string) (string, error) {
	pub, err := rsaPublicKey(ks)
	if err != nil {
		return "", err
	}
	// OAEP with SHA-256 carries at most k - 2*32 - 2 bytes.
	if max := pub.Size() - 2*sha256.Size - 2; len(plaintext) > max {
		return "", fmt.Errorf("encrypt: value is %d bytes, the internal key (%d bits) encrypts at most %d", len(plaintext), pub.N.BitLen(), max)
	}
	out, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, []byte(plaintext), nil)
	if err != nil {
		return "", fmt.Errorf("encrypt: %w", err)
	}
	return base64.StdEncoding.EncodeToString(out), nil
}

// Decrypt reverses Encrypt. Errors never include the value or any part of it.
func Decrypt(ks *keystore.KeyStore, ciphertext string) (string, error) {
	key, ok := ks.RSAKey()
	if !ok {
		return "", errors.New("decrypt: the internal keystore's key is not RSA (the cipher tool needs an RSA key)")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(ciphertext))
	if err != nil {
		// Some tools emit unpadded base64; accept it rather than fail a valid value.
		raw, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(strings.TrimSpace(ciphertext), "="))
		if err != nil {
			return "", ErrUndecryptable
		}
	}
	plain, err := rsa.DecryptOAEP(sha256.New(), nil, key, raw, nil)
	if err != nil {
		return "", ErrUndecryptable
	}
	return string(plain), nil
}

func rsaPublicKey(ks *keystore.KeyStore) (*rsa.PublicKey, error) {
	if ks == nil {
		return nil, errors.New("encrypt: no internal keystore")
	}
	if ks.Certificate != nil {
		if pub, ok := ks.Certificate.PublicKey.(*rsa.PublicKey); ok {
			return pub, nil
		}
	}
	if k, ok := ks.RSAKey(); ok {
		return &k.PublicKey, nil
	}
	return nil, errors.New("encrypt: the internal keystore's key is not RSA (the cipher tool needs an RSA key)")
}

// IsPlaceholderPlaintext reports whether a [secrets] value is written as
// "[plaintext]", the WSO2 cipher tool's marker for "encrypt me", and returns
// the plaintext inside the brackets.
func IsPlaceholderPlaintext(v string) (string, bool) {
	if len(v) >= 2 && strings.HasPrefix(v, "[") && strings.HasSuffix(v, "]") {
		return v[1 : len(v)-1], true
	}
	return "", false
}
