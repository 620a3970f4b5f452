package licensing

import (
	"crypto/ed25519"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The Go programs of the documentation, run as written, as a new user would: each ```go block of
// README.md, verifiers/go/README.md and docs/verifiers.md is the main.go of a fresh module that
// requires this one through a replace directive (GOPROXY=off: nothing is downloaded), run with
// `go run .` in a directory holding the files it names.

var goBlock = regexp.MustCompile("(?s)```go\n(.*?)```")

type snippet struct {
	where string
	code  string
}

func documentedPrograms(t *testing.T) []snippet {
	root := filepath.Join("..", "..", "..")
	var out []snippet
	for _, doc := range []string{"README.md", filepath.Join("verifiers", "go", "README.md"), filepath.Join("docs", "verifiers.md")} {
		data, err := os.ReadFile(filepath.Join(root, doc))
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range goBlock.FindAllStringSubmatch(string(data), -1) {
			out = append(out, snippet{where: doc + " block " + string(rune('1'+i)), code: m[1]})
		}
	}
	return out
}

func goCommand(t *testing.T) string {
	t.Helper()
	if path, err := exec.LookPath("go"); err == nil {
		return path
	}
	path := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(path); err != nil {
		t.Skip("no go command to run the README's programs with")
	}
	return path
}

func runProgram(t *testing.T, goTool, dir string) string {
	t.Helper()
	cmd := exec.Command(goTool, "run", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=mod", "GONOSUMDB=*", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go run: %v\n%s", err, out)
	}
	return string(out)
}

func TestDocumentedGoProgramsRunAsWritten(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs programs")
	}
	goTool := goCommand(t)
	programs := documentedPrograms(t)
	if len(programs) < 2 {
		t.Fatalf("expected the README's programs, found %d", len(programs))
	}
	module, err := filepath.Abs(filepath.Join(".."))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	// Fresh licenses (the vectors' files are dated), signed by this run's test key: the one
	// installed, bound to inst-1, and its renewal with more seats and a feature more.
	installed := signLicense(testClaims(now, map[string]any{"jti": "lic_bound", "installation_id": "inst-1", "seats": 10}))
	renewal := signLicense(testClaims(now, map[string]any{
		"jti": "lic_renewal", "supersedes": "lic_bound", "iat": now - 29*day, "installation_id": "inst-1", "seats": 25,
		"features": []string{"custom_branding", "ldap", "saml", "scim"},
	}))
	// The issuer's keys as a product gets them: the vectors' key (it signed the revocation list) and this
	// run's test key (it signed the licenses above).
	var vectorKeys struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(readVectorFile(t, "jwks.json"), &vectorKeys); err != nil {
		t.Fatal(err)
	}
	own := map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64urlEncode(testKey.Public().(ed25519.PublicKey)), "kid": testKid}
	jwks, err := json.Marshal(map[string]any{"keys": append(vectorKeys.Keys, own)})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range programs {
		t.Run(p.where, func(t *testing.T) {
			if !strings.HasPrefix(p.code, "package main\n") {
				t.Fatalf("a Go block of the documentation is not a program (package main): %.60q", p.code)
			}
			dir := t.TempDir()
			files := map[string][]byte{
				"main.go": []byte(p.code),
				"go.mod": []byte("module readme.example/program\n\ngo 1.19\n\nrequire example.invalid/licensing-verifier v0.0.0\n\n" +
					"replace example.invalid/licensing-verifier => " + module + "\n"),
				"jwks.json":       jwks,
				"revocations.lic": readVectorFile(t, "rev-seq.lic"),
				"license.lic":     installed,
			}
			for name, data := range files {
				if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			out := runProgram(t, goTool, dir)
			if !strings.Contains(p.code, "OpenUsageLog") {
				if out != "valid professional 10 true "+time.Unix(now+335*day, 0).UTC().Format("2006-01-02")+"\n" {
					t.Fatalf("%q", out)
				}
				return
			}
			// The air-gapped program: a key, a request, a report; then, run again (a restart), the
			// vendor's receipt for that report and the renewal's changes.
			if !strings.Contains(out, "report 1 written") {
				t.Fatalf("%q", out)
			}
			keyPEM, _ := os.ReadFile(filepath.Join(dir, "installation-key.pem"))
			key, err := ParseInstallationKeyPEM(keyPEM)
			if info, statErr := os.Stat(filepath.Join(dir, "installation-key.pem")); err != nil || statErr != nil || info.Mode().Perm() != 0o600 {
				t.Fatal("the installation key", err, statErr)
			}
			request, _ := os.ReadFile(filepath.Join(dir, "activation-request.txt"))
			header, claims, _ := openJWS(t, string(request), activationLabel, nil)
			if header["jwk"].(map[string]any)["x"] != key.PublicJWK().X || claims["license_id"] != "lic_bound" || claims["installation_id"] != "inst-1" {
				t.Fatal(header, claims)
			}
			report, _ := os.ReadFile(filepath.Join(dir, "usage-report.txt"))
			digest, ok := ReportDigest(report)
			if !ok {
				t.Fatal("no report")
			}
			receipt := signReceipt(nil, receiptClaims(map[string]any{"seq": 1, "report": digest, "peak_users": 42, "seats": 10, "overage": 32, "license_id": "lic_bound"}))
			os.WriteFile(filepath.Join(dir, "usage-receipt.txt"), receipt, 0o600)
			os.WriteFile(filepath.Join(dir, "new-license.lic"), renewal, 0o600)
			out = runProgram(t, goTool, dir)
			want := "today is reported already: report 1 is in usage-report.txt\n" +
				"report 1 received: peak 42 users, overage 32\n" +
				"seats: 10 -> 25\nfeatures added: scim\n"
			if out != want {
				t.Fatalf("%q, want %q", out, want)
			}
		})
	}
}
