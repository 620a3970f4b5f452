package licensing

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"
)

// The air-gapped conformance vectors (tests/vectors/airgap/manifest.json, written by engineer A's
// generate.py), replayed as the Python and TypeScript libraries replay them: the installation key,
// the receipts, the comparisons; and the Go writers make the vectors' requests and reports byte
// for byte from the same key, times and nonce.

func airgapDir() string { return filepath.Join(vectorsDir(), "airgap") }

func loadAirgapManifest(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(airgapDir(), "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	document, ok := parseJSON(data)
	if !ok {
		t.Fatal("airgap/manifest.json is not JSON")
	}
	return document.(map[string]any)
}

func airgapEntries(root map[string]any, name string) []map[string]any {
	var out []map[string]any
	list, _ := root[name].([]any)
	for _, v := range list {
		out = append(out, v.(map[string]any))
	}
	return out
}

func airgapFile(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(airgapDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func airgapKeyring(t *testing.T, root map[string]any) *Keyring {
	t.Helper()
	kr, err := ParseKeyring(airgapFile(t, root["jwks"].(string)))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// asJSON is v as the vectors' JSON reader reads it, for comparing a Go value with an expectation.
func asJSON(t *testing.T, v any) any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	value, ok := parseJSON(data)
	if !ok {
		t.Fatalf("%s", data)
	}
	return value
}

func TestAirgapVectorInstallationKey(t *testing.T) {
	root := loadAirgapManifest(t)
	spec := root["installation_key"].(map[string]any)
	key, err := ParseInstallationKeyPEM(airgapFile(t, spec["pem"].(string)))
	if err != nil {
		t.Fatal(err)
	}
	if key.Thumbprint() != spec["thumbprint"] || !reflect.DeepEqual(asJSON(t, key.PublicJWK()), spec["jwk"]) {
		t.Fatalf("%v %+v, want %v", key.Thumbprint(), key.PublicJWK(), spec)
	}
	again, err := ParseInstallationKeyPEM(key.PrivatePEM())
	if err != nil || again.Thumbprint() != key.Thumbprint() {
		t.Fatal("the key does not survive PrivatePEM", err)
	}
}

func TestAirgapVectorReceipts(t *testing.T) {
	root := loadAirgapManifest(t)
	kr := airgapKeyring(t, root)
	entries := airgapEntries(root, "receipts")
	if len(entries) == 0 {
		t.Fatal("no receipt vectors")
	}
	for _, v := range entries {
		name := v["file"].(string)
		if n, ok := v["name"].(string); ok {
			name += " (" + n + ")"
		}
		data := airgapFile(t, v["file"].(string))
		digest, _ := v["report_digest"].(string)
		expect := v["expect"].(map[string]any)
		inputs := [][]byte{data}
		if utf8.Valid(data) {
			inputs = append(inputs, []byte(string(data))) // the same: Go reads text as bytes
		}
		for _, input := range inputs {
			r, err := VerifyReceipt(input, kr, digest)
			if expect["ok"] != true {
				var e *Error
				if err == nil || !errorsAs(err, &e) || e.Code != expect["code"] {
					t.Errorf("%s: %v, want %v", name, err, expect["code"])
				}
				continue
			}
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			got := map[string]any{
				"ok": true, "installation_id": r.InstallationID, "license_id": r.LicenseID, "seq": r.Seq,
				"report": r.Report, "peak_users": r.PeakUsers, "seats": r.Seats, "overage": r.Overage, "gap": r.Gap,
				"issued_at": r.IssuedAt.Format(time.RFC3339), "key_id": r.KeyID,
			}
			want := map[string]any{}
			for k, value := range expect {
				want[k] = value
			}
			for k := range got { // fields the vector does not pin are not compared
				if _, pinned := want[k]; !pinned {
					delete(got, k)
				}
			}
			if g := asJSON(t, got); !reflect.DeepEqual(g, asJSON(t, want)) {
				t.Errorf("%s:\n got %v\nwant %v", name, g, want)
			}
		}
	}
	t.Logf("airgap: %d receipt vectors", len(entries))
}

func errorsAs(err error, target **Error) bool {
	e, ok := err.(*Error)
	if ok {
		*target = e
	}
	return ok
}

// licenseVector finds a comparison's license file: in tests/vectors/airgap/, else tests/vectors/.
func licenseVector(t *testing.T, name string) []byte {
	t.Helper()
	for _, dir := range []string{airgapDir(), vectorsDir()} {
		if data, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
			return data
		}
	}
	t.Fatalf("no license vector %s", name)
	return nil
}

func TestAirgapVectorComparisons(t *testing.T) {
	root := loadAirgapManifest(t)
	kr := airgapKeyring(t, root)
	entries := airgapEntries(root, "comparisons")
	if len(entries) == 0 {
		t.Skip("no comparison vectors yet (engineer A's `airgap compare:` commit adds them)")
	}
	for i, v := range entries {
		at := vectorTime(t, v["at"])
		id, _ := v["installation_id"].(string)
		verifyOne := func(name string) *License {
			lic, err := Verify(licenseVector(t, name), kr, Options{Now: at, InstallationID: id})
			if err != nil {
				t.Fatalf("comparison %d: %s: %v", i, name, err)
			}
			return lic
		}
		c := Compare(verifyOne(v["old"].(string)), verifyOne(v["new"].(string)))
		expect := v["expect"].(map[string]any)
		changes, warnings := []Change{}, []Warning{}
		changes, warnings = append(changes, c.Changes...), append(warnings, c.Warnings...)
		if got := asJSON(t, changes); !reflect.DeepEqual(got, expect["changes"]) {
			t.Errorf("comparison %d (%v -> %v) changes:\n got %v\nwant %v", i, v["old"], v["new"], got, expect["changes"])
		}
		if got := asJSON(t, warnings); !reflect.DeepEqual(got, expect["warnings"]) {
			t.Errorf("comparison %d (%v -> %v) warnings:\n got %v\nwant %v", i, v["old"], v["new"], got, expect["warnings"])
		}
		if got := asJSON(t, c.Lines()); !reflect.DeepEqual(got, expect["text"]) {
			t.Errorf("comparison %d (%v -> %v) text:\n got %q\nwant %q", i, v["old"], v["new"], c.Lines(), expect["text"])
		}
	}
	t.Logf("airgap: %d comparison vectors", len(entries))
}

// fixedReader gives the same bytes again and again (the vectors' nonce).
type fixedReader []byte

func (r fixedReader) Read(p []byte) (int, error) { return copy(p, r), nil }

func vectorKey(t *testing.T, root map[string]any) *InstallationKey {
	key, err := ParseInstallationKeyPEM(airgapFile(t, root["installation_key"].(map[string]any)["pem"].(string)))
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// The Go writers make the vectors' files, byte for byte: what the service accepts from Python it
// accepts from Go.
func TestAirgapVectorRequestMadeInGo(t *testing.T) {
	root := loadAirgapManifest(t)
	key := vectorKey(t, root)
	for _, v := range airgapEntries(root, "requests") {
		file := v["file"].(string)
		expect := v["expect"].(map[string]any)
		if (file != "request.lic" && file != "request-no-version.lic") || expect["ok"] != true {
			continue
		}
		nonce, _ := b64urlDecode([]byte(expect["nonce"].(string)))
		saved := nonceSource
		nonceSource = fixedReader(nonce)
		version, _ := expect["product_version"].(string)
		text, err := ActivationRequest(key, expect["installation_id"].(string), ActivationOptions{
			LicenseID: expect["license_id"].(string), ProductVersion: version, Now: time.Unix(expect["iat"].(int64), 0),
		})
		nonceSource = saved
		if err != nil {
			t.Fatal(err)
		}
		if want := airgapFile(t, file); text != string(want) {
			t.Errorf("%s: Go makes\n%s\nthe vector is\n%s", file, text, want)
		}
	}
}

func TestAirgapVectorReportChainMadeInGo(t *testing.T) {
	root := loadAirgapManifest(t)
	key := vectorKey(t, root)
	byFile := map[string]map[string]any{}
	for _, v := range airgapEntries(root, "reports") {
		if v["expect"].(map[string]any)["ok"] == true {
			byFile[v["file"].(string)] = v["expect"].(map[string]any)
		}
	}
	first := byFile["report-1.lic"]
	if first == nil {
		t.Fatal("no report-1.lic vector")
	}
	license := signLicense(testClaims(testNow, map[string]any{"jti": first["license_id"], "installation_id": first["installation_id"]}))
	log, err := OpenUsageLog(filepath.Join(t.TempDir(), "usage.json"), key, license)
	if err != nil {
		t.Fatal(err)
	}
	replayed := 0
	for _, file := range []string{"report-1.lic", "report-2.lic", "report-3-empty.lic", "report-year.lic"} {
		expect := byFile[file]
		if expect == nil {
			t.Fatalf("no %s vector", file)
		}
		for _, pair := range expect["daily"].([]any) {
			day := pair.([]any)
			if err := log.Record(int(day[1].(int64)), time.Unix(day[0].(int64)+3600, 0)); err != nil {
				t.Fatal(err)
			}
		}
		iat := time.Unix(expect["iat"].(int64), 0)
		log.clock = func() time.Time { return iat }
		end := expect["period"].(map[string]any)["end"].(int64)
		text, err := log.Export(time.Unix(end-1, 0))
		if err != nil {
			t.Fatal(err)
		}
		if want := airgapFile(t, file); !bytes.Equal([]byte(text), want) {
			t.Errorf("%s: Go makes\n%s\nthe vector is\n%s", file, text, want)
		}
		if d, _ := ReportDigest([]byte(text)); d != expect["digest"] {
			t.Errorf("%s: digest %s, want %v", file, d, expect["digest"])
		}
		replayed++
	}
	// Every accepted report's digest, as Go computes it from the file.
	for file, expect := range byFile {
		if d, ok := ReportDigest(airgapFile(t, file)); !ok || d != expect["digest"] {
			t.Errorf("%s: digest %s, want %v", file, d, expect["digest"])
		}
	}
	t.Logf("airgap: the chain of %d reports made in Go, %d report digests", replayed, len(byFile))
}
