package licensing

import (
	"encoding/pem"
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

func checkReceiptOutcome(t *testing.T, r *Receipt, err error) {
	if err == nil {
		if r == nil || r.Seq < 1 || r.PeakUsers < 0 || r.Overage < 0 || r.Report == "" || r.InstallationID == "" ||
			r.LicenseID == "" || (r.Seats != nil && *r.Seats < 1) || r.Claims == nil {
			t.Fatalf("accepted, but not a well-formed Receipt: %+v", r)
		}
		return
	}
	checkOutcome(t, nil, err)
}

// FuzzVerifyReceipt feeds any text to the receipt reader, and any header and claims signed by a
// trusted key: a Receipt or an *Error with a documented code, never a panic.
func FuzzVerifyReceipt(f *testing.F) {
	for _, name := range []string{"professional.lic", "alg-none.lic", "armor-in-email.txt", "hdr-crit.lic"} {
		if data, err := os.ReadFile(filepath.Join(vectorsDir(), name)); err == nil {
			f.Add(data, []byte("{}"), []byte("{}"))
		}
	}
	if paths, _ := filepath.Glob(filepath.Join(vectorsDir(), "airgap", "receipt-*")); len(paths) > 0 {
		for _, path := range paths {
			if data, err := os.ReadFile(path); err == nil && len(data) < 64*1024 {
				f.Add(data, []byte("{}"), []byte("{}"))
			}
		}
	}
	receipt := signReceipt(nil, receiptClaims(nil))
	f.Add(receipt, []byte(`{"alg":"EdDSA","kid":"`+testKid+`","typ":"license-usage-receipt+jwt"}`), mustJSON(receiptClaims(nil)))
	f.Add([]byte("-----BEGIN LICENSE USAGE RECEIPT-----\n\ufeffa.b.c\n-----END LICENSE USAGE RECEIPT-----"),
		[]byte(`{"alg":"Ed25519","kid":"`+testKid+`","typ":"LICENSE-USAGE-RECEIPT+JWT","x":NaN}`),
		[]byte(`{"ver":1,"seq":1e3,"seats":-0,"gap":0,"report":"\ud800","peak_users":18446744073709551616}`))
	kr := testKeyring(f)
	key := seedKey(f)
	f.Fuzz(func(t *testing.T, data, header, payload []byte) {
		r, err := VerifyReceipt(data, kr, "")
		checkReceiptOutcome(t, r, err)
		// The license text a request names is read, unverified, from anything too.
		if text, err := ActivationRequest(key, "inst-1", ActivationOptions{LicenseText: data, Now: time.Unix(testNow, 0)}); err == nil {
			if _, claims, _ := openJWS(t, text, activationLabel, nil); claims["license_id"] == "" {
				t.Fatal("a request without a license id")
			}
		}
		compact := signRaw(header, payload)
		for _, text := range [][]byte{[]byte(compact), armored(compact, receiptLabel)} {
			r, err := VerifyReceipt(text, kr, "")
			checkReceiptOutcome(t, r, err)
			if err == nil {
				other, err := VerifyReceipt(text, kr, r.Report+"x")
				if e := rejected(t, err); other != nil || e.Code != CodeMalformed {
					t.Fatalf("a receipt for another report: %v", e)
				}
			}
		}
	})
}

// FuzzUsageLogFile opens a usage log whose file holds anything (a crash, a disk, a hand): it is
// refused with ErrUsageLogDamaged (or ErrUsageLogOtherKey) and left as it is, or opened, and then
// recording and exporting work or give their documented errors. Never a panic.
func FuzzUsageLogFile(f *testing.F) {
	syncFiles = false // the same code, without waiting for the disk at every write
	defer func() { syncFiles = true }()
	key := seedKey(f)
	license := boundLicense(nil)
	seedDir := f.TempDir()
	seedPath := filepath.Join(seedDir, "usage.json")
	log, err := OpenUsageLog(seedPath, key, license)
	if err != nil {
		f.Fatal(err)
	}
	fresh, _ := os.ReadFile(seedPath)
	f.Add(fresh)
	log.Record(7, dayAt(0, 0))
	log.Record(9, dayAt(3, 0))
	recorded, _ := os.ReadFile(seedPath)
	f.Add(recorded)
	if _, err := log.Export(dayAt(1, 0)); err != nil {
		f.Fatal(err)
	}
	exported, _ := os.ReadFile(seedPath)
	f.Add(exported)
	f.Add(legacyFile(f, log.state)) // the format Go wrote before it shared the others'
	f.Add([]byte(`{"format":"licensing-usage-log","version":1,"days":[[1e3,1],[0,-1]],"seq":-1}`))
	f.Add([]byte("\x00\xff{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "usage.json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		log, err := OpenUsageLog(path, key, license)
		if err != nil {
			if !errors.Is(err, ErrUsageLogDamaged) && !errors.Is(err, ErrUsageLogOtherKey) {
				t.Fatalf("undocumented error: %v", err)
			}
			if after, _ := os.ReadFile(path); string(after) != string(data) {
				t.Fatal("a refused log file was changed")
			}
			return
		}
		for _, days := range []int64{0, 400} {
			if err := log.Record(5, dayAt(days, 1)); err != nil && !errors.Is(err, ErrDayReported) {
				t.Fatalf("Record: %v", err)
			}
			if _, err := log.Export(dayAt(days, 2)); err != nil && !errors.Is(err, ErrDayReported) {
				t.Fatalf("Export: %v", err)
			}
		}
		if _, err := OpenUsageLog(path, key, license); err != nil {
			t.Fatalf("the log it wrote is refused: %v", err)
		}
	})
}

// FuzzInstallationKeyPEMWithPassphrase reads anything as an installation key, encrypted or not,
// with any passphrase: a key, or ErrInstallationKey or ErrWrongPassphrase (wrapped). Never a panic.
// A key read is the seed key itself, or one that survives its own encryption.
func FuzzInstallationKeyPEMWithPassphrase(f *testing.F) {
	saved := maxPBKDF2Iterations
	maxPBKDF2Iterations = 4096 // a key file may ask for more work; the reader's bound is what is fuzzed
	defer func() { maxPBKDF2Iterations = saved }()
	key := seedKey(f)
	encrypted, err := key.encryptedPEM([]byte(testPassphrase), 2048) // as Python and Node write
	if err != nil {
		f.Fatal(err)
	}
	f.Add(encrypted, []byte(testPassphrase))
	f.Add(encrypted, []byte("wrong"))
	f.Add(key.PrivatePEM(), []byte(testPassphrase))
	block, _ := pem.Decode(encrypted)
	f.Add(block.Bytes, []byte{})
	f.Add([]byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n"), []byte("x"))
	f.Fuzz(func(t *testing.T, data, passphrase []byte) {
		read, err := ParseInstallationKeyPEMWithPassphrase(data, passphrase)
		if err != nil {
			if !errors.Is(err, ErrInstallationKey) && !errors.Is(err, ErrWrongPassphrase) {
				t.Fatalf("undocumented error: %v", err)
			}
			if read != nil {
				t.Fatal("a key and an error")
			}
			return
		}
		if len(passphrase) == 0 {
			return
		}
		again, err := read.encryptedPEM(passphrase, 1)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := ParseInstallationKeyPEMWithPassphrase(again, passphrase); err != nil || back.Thumbprint() != read.Thumbprint() {
			t.Fatalf("the key does not survive its encryption: %v", err)
		}
	})
}
