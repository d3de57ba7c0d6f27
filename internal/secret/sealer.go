// Package secret protects secrets at rest and in configuration: the Sealer
// encrypts client secrets and connector passwords stored in the databases with
// a key derived from the internal keystore, and the cipher tool and secure
// vault (encrypt, decrypt, $secret{alias}) share the same keystore.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/keyway/keyway/internal/keystore"
)

// Sealer encrypts short secrets with AES-256-GCM. The key is derived (HKDF
// SHA-256) from the internal keystore's private key, so every node that mounts
// the same keystore can read what another wrote.
type Sealer struct {
	aead cipher.AEAD
}

const sealedPrefix = "kw1:"

// NewSealer derives the sealing key from a keystore's private key.
func NewSealer(ks *keystore.KeyStore) (*Sealer, error) {
	der, err := x509.MarshalPKCS8PrivateKey(ks.Key)
	if err != nil {
		return nil, fmt.Errorf("sealer: encode internal key: %w", err)
	}
	key, err := hkdf.Key(sha256.New, der, nil, "keyway secrets at rest v1", 32)
	if err != nil {
		return nil, fmt.Errorf("sealer: derive key: %w", err)
	}
	return NewSealerFromKey(key)
}

// NewSealerFromKey uses a raw 32-byte key (tests).
func NewSealerFromKey(key []byte) (*Sealer, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("sealer: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("sealer: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext into a printable string.
func (s *Sealer) Seal(plaintext string) (string, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	out := s.aead.Seal(nonce, nonce, []byte(plaintext), nil)
	return sealedPrefix + base64.RawStdEncoding.EncodeToString(out), nil
}

// ErrUnsealable means the value was sealed with another key or is corrupt.
var ErrUnsealable = errors.New("secret cannot be decrypted with this node's internal key")

// Open decrypts a value made by Seal.
func (s *Sealer) Open(sealed string) (string, error) {
	raw, ok := strings.CutPrefix(sealed, sealedPrefix)
	if !ok {
		return "", ErrUnsealable
	}
	data, err := base64.RawStdEncoding.DecodeString(raw)
	if err != nil || len(data) < s.aead.NonceSize() {
		return "", ErrUnsealable
	}
	plain, err := s.aead.Open(nil, data[:s.aead.NonceSize()], data[s.aead.NonceSize():], nil)
	if err != nil {
		return "", ErrUnsealable
	}
	return string(plain), nil
}
