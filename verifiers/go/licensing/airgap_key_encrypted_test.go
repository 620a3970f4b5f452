package licensing

import (
	"bytes"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A passphrase for tests only.
const testPassphrase = "correct horse, test only"

// repoRoot is the repository's root (this package is verifiers/go/licensing).
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// runPython runs a Python program with the repository's virtual environment (make venv), from the
// repository's root; the test is skipped when there is none. Arguments follow as sys.argv[1:].
func runPython(t testing.TB, program string, args ...string) string {
	t.Helper()
	python := filepath.Join(repoRoot(t), ".venv", "bin", "python")
	if _, err := os.Stat(python); err != nil {
		t.Skip("no .venv/bin/python: run make venv to test with the Python library")
	}
	cmd := exec.Command(python, append([]string{"-c", program}, args...)...)
	cmd.Dir = repoRoot(t)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// runNode runs a Node program (node's own crypto, no package); skipped without node.
func runNode(t testing.TB, program string, args ...string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("no node on PATH")
	}
	cmd := exec.Command(node, append([]string{"-e", program, "--"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

func TestPBKDF2SHA256KnownAnswers(t *testing.T) {
	// RFC 7914 section 11 (PBKDF2-HMAC-SHA-256), and one of two blocks with many iterations.
	for _, c := range []struct {
		password, salt string
		iterations     int
		want           string
	}{
		{"passwd", "salt", 1, "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"},
		{"Password", "NaCl", 80000, "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d"},
	} {
		got := hex.EncodeToString(pbkdf2SHA256([]byte(c.password), []byte(c.salt), c.iterations, 64))
		if got != c.want {
			t.Errorf("PBKDF2(%q, %q, %d) = %s, want %s", c.password, c.salt, c.iterations, got, c.want)
		}
	}
}

func TestEncryptedInstallationKeyRoundTrip(t *testing.T) {
	key := seedKey(t)
	started := time.Now()
	encrypted, err := key.PrivatePEMWithPassphrase([]byte(testPassphrase))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("PrivatePEMWithPassphrase (600,000 iterations): %v", time.Since(started))
	if !bytes.HasPrefix(encrypted, []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\n")) {
		t.Fatalf("not an encrypted PEM: %.40q", encrypted)
	}
	if bytes.Contains(encrypted, key.PrivatePEM()[28:60]) {
		t.Fatal("the encrypted PEM shows the plain key")
	}
	again, err := ParseInstallationKeyPEMWithPassphrase(encrypted, []byte(testPassphrase))
	if err != nil || again.Thumbprint() != key.Thumbprint() {
		t.Fatalf("read back: %v, %v", again, err)
	}
	if other, _ := key.PrivatePEMWithPassphrase([]byte(testPassphrase)); bytes.Equal(other, encrypted) {
		t.Fatal("two encryptions are the same: no random salt and IV")
	}
	for _, wrong := range []string{"", "correct horse, test onlY", testPassphrase + " "} {
		if _, err := ParseInstallationKeyPEMWithPassphrase(encrypted, []byte(wrong)); !errors.Is(err, ErrWrongPassphrase) {
			t.Errorf("passphrase %q: %v, want ErrWrongPassphrase", wrong, err)
		}
	}
	if _, err := ParseInstallationKeyPEM(encrypted); !errors.Is(err, ErrInstallationKey) || !strings.Contains(err.Error(), "ParseInstallationKeyPEMWithPassphrase") {
		t.Errorf("ParseInstallationKeyPEM of an encrypted key: %v", err)
	}
	// An unencrypted key reads whatever the passphrase; an empty passphrase writes one.
	plain, err := key.PrivatePEMWithPassphrase(nil)
	if err != nil || !bytes.Equal(plain, key.PrivatePEM()) {
		t.Fatalf("empty passphrase: %v", err)
	}
	if k, err := ParseInstallationKeyPEMWithPassphrase(plain, []byte("anything")); err != nil || k.Thumbprint() != key.Thumbprint() {
		t.Fatalf("an unencrypted key with a passphrase: %v", err)
	}
}

func TestEncryptedInstallationKeyRefusesOtherEncryptions(t *testing.T) {
	key := seedKey(t)
	good, err := key.encryptedPEM([]byte(testPassphrase), 2048)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pemBlock(good)
	openssl := func(t *testing.T, args ...string) []byte {
		path, err := exec.LookPath("openssl")
		if err != nil {
			t.Skip("no openssl")
		}
		in := filepath.Join(t.TempDir(), "key.pem")
		os.WriteFile(in, key.PrivatePEM(), 0o600)
		cmd := exec.Command(path, append([]string{"pkcs8", "-topk8", "-in", in, "-passout", "pass:" + testPassphrase}, args...)...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("openssl: %v", err)
		}
		return out
	}
	t.Run("aes-128-cbc, as openssl writes it, is read", func(t *testing.T) {
		pem := openssl(t, "-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA256")
		if k, err := ParseInstallationKeyPEMWithPassphrase(pem, []byte(testPassphrase)); err != nil || k.Thumbprint() != key.Thumbprint() {
			t.Fatalf("%v", err)
		}
	})
	t.Run("PBKDF2 with HMAC-SHA1 is refused", func(t *testing.T) {
		pem := openssl(t, "-v2", "aes-256-cbc", "-v2prf", "hmacWithSHA1")
		if _, err := ParseInstallationKeyPEMWithPassphrase(pem, []byte(testPassphrase)); !errors.Is(err, ErrInstallationKey) || !strings.Contains(err.Error(), "HMAC-SHA256") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("a damaged cipher text is a wrong passphrase", func(t *testing.T) {
		damaged := append([]byte{}, block...)
		damaged[len(damaged)-1] ^= 0x55
		_, err := ParseInstallationKeyPEMWithPassphrase(pemEncode(damaged), []byte(testPassphrase))
		if !errors.Is(err, ErrWrongPassphrase) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("a truncated structure is not a key", func(t *testing.T) {
		_, err := ParseInstallationKeyPEMWithPassphrase(pemEncode(block[:40]), []byte(testPassphrase))
		if !errors.Is(err, ErrInstallationKey) {
			t.Fatalf("%v", err)
		}
	})
}

// The keys Python's cryptography and Node's crypto encrypt, read here; Go's, read there.
func TestEncryptedInstallationKeyAcrossLibraries(t *testing.T) {
	dir := t.TempDir()
	t.Run("Python writes, Go reads", func(t *testing.T) {
		path := filepath.Join(dir, "python.pem")
		thumbprint := runPython(t, `import sys
from pathlib import Path
from licensing.airgap.keys import InstallationKey
key = InstallationKey.generate()
Path(sys.argv[1]).write_text(key.private_pem(sys.argv[2].encode()))
print(key.thumbprint)`, path, testPassphrase)
		readEncrypted(t, path, thumbprint)
	})
	t.Run("Node writes, Go reads", func(t *testing.T) {
		path := filepath.Join(dir, "node.pem")
		thumbprint := runNode(t, `const crypto = require("crypto");
const [path, passphrase] = process.argv.slice(-2);
const { privateKey, publicKey } = crypto.generateKeyPairSync("ed25519");
require("fs").writeFileSync(path, privateKey.export({ format: "pem", type: "pkcs8", cipher: "aes-256-cbc", passphrase }), { mode: 0o600 });
const x = publicKey.export({ format: "jwk" }).x;
const canonical = JSON.stringify({ crv: "Ed25519", kty: "OKP", x });
console.log(crypto.createHash("sha256").update(canonical).digest("base64url"));`, path, testPassphrase)
		readEncrypted(t, path, thumbprint)
	})
	key, err := NewInstallationKey()
	if err != nil {
		t.Fatal(err)
	}
	encrypted, err := key.PrivatePEMWithPassphrase([]byte(testPassphrase))
	if err != nil {
		t.Fatal(err)
	}
	goPath := filepath.Join(dir, "go.pem")
	if err := os.WriteFile(goPath, encrypted, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Run("Go writes, Python reads", func(t *testing.T) {
		got := runPython(t, `import sys
from pathlib import Path
from licensing.airgap.keys import InstallationKey
print(InstallationKey.from_pem(Path(sys.argv[1]).read_bytes(), sys.argv[2].encode()).thumbprint)
try:
    InstallationKey.from_pem(Path(sys.argv[1]).read_bytes(), b"wrong")
except ValueError:
    print("wrong refused")`, goPath, testPassphrase)
		if want := key.Thumbprint() + "\nwrong refused"; got != want {
			t.Fatalf("Python read %q, want %q", got, want)
		}
	})
	t.Run("Go writes, Node reads", func(t *testing.T) {
		got := runNode(t, `const crypto = require("crypto");
const [path, passphrase] = process.argv.slice(-2);
const key = crypto.createPrivateKey({ key: require("fs").readFileSync(path), format: "pem", passphrase });
const x = crypto.createPublicKey(key).export({ format: "jwk" }).x;
console.log(crypto.createHash("sha256").update(JSON.stringify({ crv: "Ed25519", kty: "OKP", x })).digest("base64url"));`, goPath, testPassphrase)
		if got != key.Thumbprint() {
			t.Fatalf("Node read %q, want %q", got, key.Thumbprint())
		}
	})
}

func readEncrypted(t *testing.T, path, thumbprint string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ParseInstallationKeyPEMWithPassphrase(data, []byte(testPassphrase))
	if err != nil || key.Thumbprint() != thumbprint {
		t.Fatalf("read %v (%v), want %s", key, err, thumbprint)
	}
	if _, err := ParseInstallationKeyPEMWithPassphrase(data, []byte("not "+testPassphrase)); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("a wrong passphrase: %v", err)
	}
}

func pemBlock(data []byte) ([]byte, bool) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, false
	}
	return block.Bytes, true
}

func pemEncode(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der})
}
