package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"example.invalid/licensing-verifier/licensing"
)

// The command, driven as the service's end-to-end tests drive it: every subcommand, its output
// and its exit status.

func vectors(name string) string {
	return filepath.Join("..", "..", "..", "..", "tests", "vectors", name)
}

func call(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	status := run(args, &stdout, &stderr)
	return status, stdout.String(), stderr.String()
}

// receiptKey signs the receipts of these tests: made for each run (no private key is committed), its
// JWKS written by receiptJWKS.
var receiptKey = func() ed25519.PrivateKey {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return key
}()

var enc = base64.RawURLEncoding.EncodeToString

func receiptJWKS(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "jwks.json")
	x := enc(receiptKey.Public().(ed25519.PublicKey))
	if err := os.WriteFile(path, []byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"`+x+`"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func signReceipt(t *testing.T, claims string) []byte {
	kid := licensing.Thumbprint(enc(receiptKey.Public().(ed25519.PublicKey)))
	input := enc([]byte(`{"alg":"EdDSA","kid":"`+kid+`","typ":"license-usage-receipt+jwt"}`)) + "." + enc([]byte(claims))
	return []byte("-----BEGIN LICENSE USAGE RECEIPT-----\n" + input + "." + enc(ed25519.Sign(receiptKey, []byte(input))) + "\n-----END LICENSE USAGE RECEIPT-----\n")
}

func TestCommandRoundTrip(t *testing.T) {
	dir := t.TempDir()
	keyPath, logPath := filepath.Join(dir, "k.pem"), filepath.Join(dir, "usage.json")
	status, out, _ := call(t, "key", keyPath)
	if status != 0 || len(strings.TrimSpace(out)) != 43 {
		t.Fatal(status, out)
	}
	if info, err := os.Stat(keyPath); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatal(info, err)
	}
	if status, _, stderr := call(t, "key", keyPath); status != 1 || !strings.Contains(stderr, "exists") {
		t.Fatal("a key written over another:", status, stderr)
	}
	pem, _ := os.ReadFile(keyPath)
	key, err := licensing.ParseInstallationKeyPEM(pem)
	if err != nil || key.Thumbprint() != strings.TrimSpace(out) {
		t.Fatal(err)
	}

	status, out, _ = call(t, "request", "--key", keyPath, "--installation", "inst-1", "--license", vectors("professional.lic"), "--product-version", "4.2")
	if status != 0 || !strings.HasPrefix(out, "-----BEGIN LICENSE ACTIVATION REQUEST-----\n") {
		t.Fatal(status, out)
	}
	if status, _, stderr := call(t, "request", "--key", keyPath, "--installation", "inst-1"); status != 1 || !strings.Contains(stderr, "needs the license") {
		t.Fatal(status, stderr)
	}

	bound := vectors("bound-renewal.lic")
	for _, r := range [][]string{{"5", "2025-06-01T10:00:00Z"}, {"8", "2025-06-01T20:00:00Z"}, {"3", "2025-06-02T00:00:00Z"}} {
		if status, _, stderr := call(t, "record", "--log", logPath, "--key", keyPath, "--license", bound, "--users", r[0], "--at", r[1]); status != 0 {
			t.Fatal(stderr)
		}
	}
	status, report, _ := call(t, "export", "--log", logPath, "--key", keyPath, "--license", bound, "--until", "2025-06-02T12:00:00Z")
	if status != 0 || !strings.HasPrefix(report, "-----BEGIN LICENSE USAGE REPORT-----\n") {
		t.Fatal(status, report)
	}
	reportPath := filepath.Join(dir, "report.txt")
	os.WriteFile(reportPath, []byte(report), 0o600)
	status, out, _ = call(t, "digest", reportPath)
	want, _ := licensing.ReportDigest([]byte(report))
	if status != 0 || strings.TrimSpace(out) != want {
		t.Fatal(out)
	}
	if status, _, stderr := call(t, "record", "--log", logPath, "--key", keyPath, "--license", bound, "--users", "9", "--at", "2025-06-01T00:00:00Z"); status != 1 || !strings.Contains(stderr, "already reported") {
		t.Fatal(status, stderr)
	}

	receiptPath := filepath.Join(dir, "receipt.txt")
	os.WriteFile(receiptPath, signReceipt(t, `{"ver":1,"iss":"licenses.example","iat":1748908800,"installation_id":"inst-1","license_id":"lic_renewal","seq":1,"report":"`+want+`","peak_users":8,"seats":5,"overage":3,"gap":false}`), 0o600)
	jwks := receiptJWKS(t)
	status, out, _ = call(t, "receipt", "--jwks", jwks, "--report-digest", want, receiptPath)
	var fields map[string]any
	if status != 0 || json.Unmarshal([]byte(out), &fields) != nil {
		t.Fatal(status, out)
	}
	if fields["seq"] != 1.0 || fields["overage"] != 3.0 || fields["seats"] != 5.0 || fields["gap"] != false ||
		fields["report"] != want || fields["issued_at"] != "2025-06-03T00:00:00Z" || fields["license_id"] != "lic_renewal" {
		t.Fatal(fields)
	}
	status, _, stderr := call(t, "receipt", "--jwks", jwks, "--report-digest", "other", receiptPath)
	if status != 1 || !strings.HasPrefix(stderr, "malformed: ") {
		t.Fatal(status, stderr)
	}
	if status, _, stderr := call(t, "receipt", "--jwks", vectors("jwks.json"), vectors("professional.lic")); status != 1 || !strings.HasPrefix(stderr, "malformed: ") {
		t.Fatal(status, stderr)
	}
}

func TestCommandEncryptedKey(t *testing.T) {
	t.Setenv("LICENSING_AIRGAP_PASSPHRASE", "test-only passphrase")
	dir := t.TempDir()
	keyPath, logPath := filepath.Join(dir, "k.pem"), filepath.Join(dir, "usage.json")
	status, out, _ := call(t, "key", keyPath)
	if status != 0 {
		t.Fatal(status, out)
	}
	pem, _ := os.ReadFile(keyPath)
	if !bytes.HasPrefix(pem, []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\n")) {
		t.Fatalf("not encrypted: %.40q", pem)
	}
	key, err := licensing.ParseInstallationKeyPEMWithPassphrase(pem, []byte("test-only passphrase"))
	if err != nil || key.Thumbprint() != strings.TrimSpace(out) {
		t.Fatal(err)
	}
	bound := vectors("bound-renewal.lic")
	if status, _, stderr := call(t, "record", "--log", logPath, "--key", keyPath, "--license", bound, "--users", "4", "--at", "2025-06-01T10:00:00Z"); status != 0 {
		t.Fatal(stderr)
	}
	t.Setenv("LICENSING_AIRGAP_PASSPHRASE", "wrong")
	status, _, stderr := call(t, "export", "--log", logPath, "--key", keyPath, "--license", bound, "--until", "2025-06-01T12:00:00Z")
	if status != 1 || !strings.Contains(stderr, "passphrase does not decrypt") {
		t.Fatal(status, stderr)
	}
}

func TestCommandCompare(t *testing.T) {
	status, out, stderr := call(t, "compare", "--jwks", vectors("jwks.json"), "--at", "2025-06-01T00:00:00Z", vectors("professional.lic"), vectors("professional.lic"))
	if status != 0 || out != "warning: NEW is the same license as OLD\n" {
		t.Fatal(status, out, stderr)
	}
	status, _, stderr = call(t, "compare", "--jwks", vectors("jwks.json"), "--at", "2025-06-01T00:00:00Z", vectors("professional.lic"), vectors("revoked.lic"))
	if status != 0 {
		t.Fatal(stderr)
	}
	status, _, stderr = call(t, "compare", "--jwks", vectors("jwks.json"), "--at", "2025-06-01T00:00:00Z", vectors("professional.lic"), vectors("bad-signature.lic"))
	if status != 1 || !strings.HasPrefix(stderr, "bad_signature: ") || !strings.Contains(stderr, "NEW") {
		t.Fatal(status, stderr)
	}
}

func TestCommandUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"nope"}, {"key"}, {"receipt", "x"}, {"record", "--log", "l", "--key", "k", "--license", "f", "--users", "x"},
		{"compare", "--jwks", "j", "--at", "yesterday", "a", "b"}, {"export", "--bogus"}} {
		if status, _, stderr := call(t, args...); status != 2 || !strings.Contains(stderr, "usage:") {
			t.Errorf("%q: %d %s", args, status, stderr)
		}
	}
}
