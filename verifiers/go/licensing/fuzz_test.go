package licensing

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Fuzzing: whatever the input, Verify, LoadRevocations and ParseKeyring return a result or a
// documented error, and never panic (TestMain turns the panic safety net off, so a panic fails).
// `make test` runs each target for a bounded time; without -fuzz, `go test` runs the seeds.

func checkOutcome(t *testing.T, lic *License, err error) {
	if err == nil {
		if lic == nil || (lic.Status != StatusValid && lic.Status != StatusGrace) || lic.ID == "" ||
			(lic.Seats != nil && *lic.Seats < 1) || lic.Claims == nil {
			t.Fatalf("accepted, but not a well-formed License: %+v", lic)
		}
		return
	}
	var e *Error
	if !errors.As(err, &e) || e.Message == "" {
		t.Fatalf("not an *Error: %v", err)
	}
	for _, code := range ErrorCodes {
		if code == e.Code {
			return
		}
	}
	t.Fatalf("undocumented code %q", e.Code)
}

func addVectorSeeds(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(vectorsDir(), "*"))
	for _, path := range paths {
		if filepath.Base(path) == "manifest.json" || filepath.Ext(path) == ".py" || filepath.Ext(path) == ".md" {
			continue
		}
		if data, err := os.ReadFile(path); err == nil && len(data) < 64*1024 {
			f.Add(data)
		}
	}
}

// FuzzVerify feeds any text to the license and revocation list readers (and the JWKS reader).
func FuzzVerify(f *testing.F) {
	addVectorSeeds(f)
	f.Add([]byte("-----BEGIN LICENSE FILE-----\n\ufeff\u00a0a.b.c\u200b\n-----END LICENSE FILE-----"))
	kr := testKeyring(f)
	at := time.Unix(1_748_736_000, 0)
	f.Fuzz(func(t *testing.T, data []byte) {
		lic, err := Verify(data, kr, Options{Now: at, InstallationID: "inst-1"})
		checkOutcome(t, lic, err)
		list, err := LoadRevocations(data, kr)
		if err == nil && (list == nil || list.Seq < 0) {
			t.Fatalf("bad list %+v", list)
		}
		if err != nil {
			checkOutcome(t, nil, err)
		}
		if _, err := ParseKeyring(data); err != nil {
			if _, isKeyringError := err.(*KeyringError); !isKeyringError {
				t.Fatalf("not a *KeyringError: %v", err)
			}
		}
	})
}

// FuzzSignedClaims signs any header and payload with a trusted key, so that the JSON reader and the
// claim checks are reached: every input there is refused or read, never a panic.
func FuzzSignedClaims(f *testing.F) {
	f.Add([]byte(`{"alg":"EdDSA","typ":"license+jwt","kid":"`+testKid+`"}`), mustJSON(testClaims(testNow, nil)))
	f.Add([]byte(`{"alg":"Ed25519","typ":"license-revocations+jwt","kid":"`+testKid+`"}`),
		[]byte(`{"iss":"i","iat":1,"ver":1,"seq":2,"revoked":[{"jti":"a","revoked_at":1}]}`))
	f.Add([]byte(`{"alg":"EdDSA","typ":"LICENSE+JWT","kid":"`+testKid+`","x":NaN}`),
		[]byte(`{"ver":1,"seats":-0,"iat":1e3,"x":[[[Infinity]]],"jti":"\ud800"}`))
	kr := testKeyring(f)
	at := time.Unix(testNow, 0)
	f.Fuzz(func(t *testing.T, header, payload []byte) {
		compact := signRaw(header, payload)
		for _, text := range [][]byte{[]byte(compact), armored(compact, licenseLabel)} {
			lic, err := Verify(text, kr, Options{Now: at, InstallationID: "inst-1"})
			checkOutcome(t, lic, err)
		}
		if _, err := LoadRevocations(armored(compact, revocationsLabel), kr); err != nil {
			checkOutcome(t, nil, err)
		}
	})
}
