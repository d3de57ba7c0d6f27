package oauth

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Signing algorithms the engine issues and accepts for its own tokens.
const (
	algRS256 = "RS256"
	algPS256 = "PS256"
)

var b64 = base64.RawURLEncoding

// audience marshals as a string when it has one member (the common IS
// shape) and as an array otherwise; it unmarshals from either.
type audience []string

func (a audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

func (a *audience) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = audience{s}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return err
	}
	*a = l
	return nil
}

func (a audience) contains(v string) bool {
	for _, x := range a {
		if x == v {
			return true
		}
	}
	return false
}

// accessClaims is the RFC 9068 / IS 7 claim set of a JWT access token.
type accessClaims struct {
	Iss      string         `json:"iss"`
	Sub      string         `json:"sub"`
	Aud      audience       `json:"aud"`
	Azp      string         `json:"azp"`
	ClientID string         `json:"client_id"`
	Scope    string         `json:"scope,omitempty"`
	Aut      string         `json:"aut"`
	Jti      string         `json:"jti"`
	Iat      int64          `json:"iat"`
	Nbf      int64          `json:"nbf"`
	Exp      int64          `json:"exp"`
	OrgID    string         `json:"org_id"`
	OrgName  string         `json:"org_name"`
	Act      map[string]any `json:"act,omitempty"`
	// AuthTime is present on user tokens.
	AuthTime int64 `json:"auth_time,omitempty"`
}

// idClaims is an OpenID Connect ID token.
type idClaims struct {
	Iss      string   `json:"iss"`
	Sub      string   `json:"sub"`
	Aud      audience `json:"aud"`
	Exp      int64    `json:"exp"`
	Iat      int64    `json:"iat"`
	AuthTime int64    `json:"auth_time"`
	Nonce    string   `json:"nonce,omitempty"`
	Azp      string   `json:"azp"`
	AtHash   string   `json:"at_hash,omitempty"`
	Sid      string   `json:"sid,omitempty"`
	// Preferred username helps RPs show who logged in.
	PreferredUsername string `json:"preferred_username,omitempty"`
}

// jwtHeader is the part of a JOSE header the engine reads.
type jwtHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

var errBadJWT = errors.New("malformed JWT")

// signJWT appends the encoded claims to the pre-encoded header and signs.
func signJWT(key *rsa.PrivateKey, alg, header string, claims any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encode claims: %w", err)
	}
	hl, pl := len(header), b64.EncodedLen(len(payload))
	sigLen := b64.EncodedLen(key.Size())
	buf := make([]byte, hl+1+pl, hl+1+pl+1+sigLen)
	copy(buf, header)
	buf[hl] = '.'
	b64.Encode(buf[hl+1:], payload)
	digest := sha256.Sum256(buf)
	var sig []byte
	switch alg {
	case algPS256:
		sig, err = rsa.SignPSS(rand.Reader, key, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	default:
		sig, err = rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:])
	}
	if err != nil {
		return "", fmt.Errorf("sign JWT: %w", err)
	}
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, sig)
	return string(buf), nil
}

// splitJWT returns the header, signed part and signature of a compact JWS.
func splitJWT(token string) (hdr jwtHeader, signed string, payload, sig []byte, err error) {
	i := strings.IndexByte(token, '.')
	if i < 0 {
		return hdr, "", nil, nil, errBadJWT
	}
	j := strings.IndexByte(token[i+1:], '.')
	if j < 0 {
		return hdr, "", nil, nil, errBadJWT
	}
	j += i + 1
	if strings.IndexByte(token[j+1:], '.') >= 0 {
		return hdr, "", nil, nil, errBadJWT
	}
	hb, err := b64.DecodeString(token[:i])
	if err != nil {
		return hdr, "", nil, nil, errBadJWT
	}
	if err := json.Unmarshal(hb, &hdr); err != nil {
		return hdr, "", nil, nil, errBadJWT
	}
	payload, err = b64.DecodeString(token[i+1 : j])
	if err != nil {
		return hdr, "", nil, nil, errBadJWT
	}
	sig, err = b64.DecodeString(token[j+1:])
	if err != nil {
		return hdr, "", nil, nil, errBadJWT
	}
	return hdr, token[:j], payload, sig, nil
}

func verifyRSA(pub *rsa.PublicKey, alg, signed string, sig []byte) error {
	digest := sha256.Sum256([]byte(signed))
	switch alg {
	case algRS256:
		return rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig)
	case algPS256:
		return rsa.VerifyPSS(pub, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
	}
	return fmt.Errorf("algorithm %q is not accepted", alg)
}

// atHash is OIDC's at_hash for RS256/PS256: the left half of SHA-256.
func atHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return b64.EncodeToString(sum[:16])
}

func encodedHeader(alg, kid, typ string) string {
	h, _ := json.Marshal(jwtHeader{Alg: alg, Kid: kid, Typ: typ})
	return b64.EncodeToString(h)
}
