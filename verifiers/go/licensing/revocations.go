package licensing

import (
	"errors"
	"fmt"
	"sort"
	"time"
)

// Revocations is a verified revocation list: license ids and when each was revoked. Its methods
// accept a nil *Revocations (no list: nothing revoked). It is safe for concurrent reads.
type Revocations struct {
	Issuer   string
	IssuedAt time.Time
	// Seq grows by one with every re-signing: keep the newest list seen and refuse an older one
	// replayed to the installation. A list without seq reads as 0; past 2^63-1 it saturates.
	Seq     int64
	KeyID   string
	revoked map[string]time.Time
}

// Len is the number of revoked licenses.
func (r *Revocations) Len() int {
	if r == nil {
		return 0
	}
	return len(r.revoked)
}

// Contains reports whether the license id is revoked.
func (r *Revocations) Contains(id string) bool {
	if r == nil {
		return false
	}
	_, found := r.revoked[id]
	return found
}

// RevokedAt is when the license id was revoked, if it is.
func (r *Revocations) RevokedAt(id string) (time.Time, bool) {
	if r == nil {
		return time.Time{}, false
	}
	at, found := r.revoked[id]
	return at, found
}

// IDs lists the revoked license ids, sorted.
func (r *Revocations) IDs() []string {
	if r == nil {
		return nil
	}
	ids := make([]string, 0, len(r.revoked))
	for id := range r.revoked {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// LoadRevocations verifies an armored (or bare) revocation list signed by a key of the keyring.
// Load it once and pass it to every Verify. A revocation list may be up to 64 MiB of text, far
// above a license file's limit.
func LoadRevocations(text []byte, kr *Keyring) (list *Revocations, err error) {
	if kr == nil {
		return nil, errors.New("licensing: LoadRevocations needs a keyring from ParseKeyring, not nil")
	}
	if catchPanics {
		defer func() {
			if recovered := recover(); recovered != nil {
				list, err = nil, fail(CodeMalformed, fmt.Sprintf("The revocation list could not be read (%v).", recovered))
			}
		}()
	}
	result, rejected := loadRevocations(text, kr)
	if rejected != nil {
		return nil, rejected
	}
	return result, nil
}

func loadRevocations(text []byte, kr *Keyring) (*Revocations, *Error) {
	const what = "revocation list"
	claims, kid, err := decodeJWS(text, kr, revocationsKind)
	if err != nil {
		return nil, err
	}
	issuer, err := nonEmptyString(claims, "iss", what)
	if err != nil {
		return nil, err
	}
	iat, err := numericDate(claims, "iat", what)
	if err != nil {
		return nil, err
	}
	var seq int64
	if value, found := claims["seq"]; found {
		n, isInt := wholeNumber(value)
		if !isInt || n < 0 {
			return nil, fail(CodeMalformed, `The revocation list's "seq" must be a whole number, 0 or more.`)
		}
		seq = n
	}
	entries, isList := claims["revoked"].([]any)
	if !isList {
		return nil, fail(CodeMalformed, `The revocation list has no "revoked" array.`)
	}
	revoked := make(map[string]time.Time, len(entries))
	for _, e := range entries {
		entry, isObject := e.(map[string]any)
		if !isObject {
			return nil, fail(CodeMalformed, `Each revocation must be an object with "jti" and "revoked_at".`)
		}
		jti, err := nonEmptyString(entry, "jti", what)
		if err != nil {
			return nil, err
		}
		at, err := numericDate(entry, "revoked_at", what)
		if err != nil {
			return nil, err
		}
		revoked[jti] = utc(at)
	}
	return &Revocations{Issuer: issuer, IssuedAt: utc(iat), Seq: seq, KeyID: kid, revoked: revoked}, nil
}
