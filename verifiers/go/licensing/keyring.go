package licensing

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"sort"
	"unicode/utf8"
)

// Keyring holds the public keys a verifier trusts, by key id. It is safe for concurrent use.
type Keyring struct {
	keys map[string]ed25519.PublicKey
}

// ParseKeyring reads a JWKS (RFC 7517), as the issuer publishes it. Ed25519 signing keys are kept
// (kty OKP, crv Ed25519, use sig or absent, alg EdDSA, Ed25519 or absent); other keys are skipped.
// A key without a kid is known by its RFC 7638 thumbprint. It returns a *KeyringError when the
// document is not a JWKS, holds an Ed25519 key whose "x" is not 32 bytes of base64url, or holds
// no usable key.
func ParseKeyring(jwksJSON []byte) (*Keyring, error) {
	if len(jwksJSON) >= 3 && jwksJSON[0] == 0xEF && jwksJSON[1] == 0xBB && jwksJSON[2] == 0xBF {
		jwksJSON = jwksJSON[3:] // a UTF-8 byte-order mark, as Python's json.loads(bytes) skips it
	}
	if !utf8.Valid(jwksJSON) {
		return nil, &KeyringError{"The JWKS is not UTF-8 JSON text."}
	}
	document, ok := parseJSON(jwksJSON)
	if !ok {
		return nil, &KeyringError{"The JWKS is not JSON."}
	}
	object, _ := document.(map[string]any)
	entries, isList := object["keys"].([]any)
	if !isList {
		return nil, &KeyringError{`The JWKS must be a JSON object with a "keys" array.`}
	}
	keys := map[string]ed25519.PublicKey{}
	for _, e := range entries {
		entry, isObject := e.(map[string]any)
		if !isObject || entry["kty"] != "OKP" || entry["crv"] != "Ed25519" {
			continue
		}
		if use, found := entry["use"]; found && use != "sig" {
			continue
		}
		if alg, found := entry["alg"]; found {
			if s, isString := alg.(string); !isString || !acceptedAlgs[s] {
				continue
			}
		}
		x, isString := entry["x"].(string)
		var raw []byte
		if isString {
			raw, _ = b64urlDecode([]byte(x))
		}
		if len(raw) != ed25519.PublicKeySize {
			return nil, &KeyringError{fmt.Sprintf(`The JWKS holds an Ed25519 key whose "x" is not 32 bytes of base64url: %s.`, describe(entry["x"]))}
		}
		kid, isString := entry["kid"].(string)
		if !isString || kid == "" {
			kid = Thumbprint(x)
		}
		keys[kid] = ed25519.PublicKey(raw)
	}
	if len(keys) == 0 {
		return nil, &KeyringError{"The JWKS holds no Ed25519 signing key."}
	}
	return &Keyring{keys: keys}, nil
}

// Thumbprint is the RFC 7638 thumbprint (SHA-256, base64url) of an Ed25519 public key given as
// its JWK "x".
func Thumbprint(x string) string {
	sum := sha256.Sum256([]byte(`{"crv":"Ed25519","kty":"OKP","x":"` + x + `"}`))
	return b64urlEncode(sum[:])
}

// KeyIDs lists the trusted key ids, sorted.
func (kr *Keyring) KeyIDs() []string {
	ids := make([]string, 0, len(kr.keys))
	for kid := range kr.keys {
		ids = append(ids, kid)
	}
	sort.Strings(ids)
	return ids
}
