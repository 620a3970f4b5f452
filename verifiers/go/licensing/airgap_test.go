package licensing

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// The air-gapped exchanges (SPEC section 8), made and read back here; the shared vectors are
// replayed in vectors_airgap_test.go.

// seedKey is the installation key made of this run's test signing key (testKey): its thumbprint is
// testKid.
func seedKey(t testing.TB) *InstallationKey {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(testKey)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ParseInstallationKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// openJWS reads a JWS this package made: header and claims (as the verifier's JSON reader reads
// them), the compact form, and whether the signature is the given key's.
func openJWS(t testing.TB, text string, label string, public ed25519.PublicKey) (header, claims map[string]any, compact string) {
	t.Helper()
	if !strings.HasPrefix(text, "-----BEGIN "+label+"-----\n") || !strings.HasSuffix(text, "-----END "+label+"-----\n") {
		t.Fatalf("not armored as %s: %q", label, text)
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	for _, line := range lines[1 : len(lines)-1] {
		if len(line) > 64 {
			t.Fatalf("a line of %d columns", len(line))
		}
	}
	compact = strings.Join(lines[1:len(lines)-1], "")
	parts := strings.Split(compact, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", compact)
	}
	rawHeader, _ := b64urlDecode([]byte(parts[0]))
	rawClaims, _ := b64urlDecode([]byte(parts[1]))
	signature, _ := b64urlDecode([]byte(parts[2]))
	header, _ = parseJSONObject(rawHeader)
	claims, _ = parseJSONObject(rawClaims)
	if header == nil || claims == nil {
		t.Fatalf("not JSON: %s %s", rawHeader, rawClaims)
	}
	if public == nil {
		jwk := header["jwk"].(map[string]any)
		public, _ = b64urlDecode([]byte(jwk["x"].(string)))
	}
	if !ed25519.Verify(public, []byte(parts[0]+"."+parts[1]), signature) {
		t.Fatal("the signature does not verify")
	}
	return header, claims, compact
}

func payloadJSON(t testing.TB, compact string) string {
	raw, _ := b64urlDecode([]byte(strings.Split(compact, ".")[1]))
	return string(raw)
}

func TestInstallationKeyRoundTrip(t *testing.T) {
	key, err := NewInstallationKey()
	if err != nil {
		t.Fatal(err)
	}
	again, err := ParseInstallationKeyPEM(key.PrivatePEM())
	if err != nil {
		t.Fatal(err)
	}
	if again.Thumbprint() != key.Thumbprint() || again.PublicJWK() != key.PublicJWK() {
		t.Fatal("the PEM does not give the same key back")
	}
	jwk := key.PublicJWK()
	if jwk.Kty != "OKP" || jwk.Crv != "Ed25519" || len(jwk.X) != 43 || Thumbprint(jwk.X) != key.Thumbprint() {
		t.Fatalf("%+v", jwk)
	}
	if !bytes.HasPrefix(key.PrivatePEM(), []byte("-----BEGIN PRIVATE KEY-----\n")) {
		t.Fatal("not PKCS#8 PEM")
	}
	other, _ := NewInstallationKey()
	if other.Thumbprint() == key.Thumbprint() {
		t.Fatal("two keys alike")
	}
	// The thumbprint of an installation key is its public JWK's, as the keyring's.
	if got := seedKey(t).Thumbprint(); got != testKid {
		t.Fatal(got)
	}
	// Printing a key never shows the private half.
	for _, shown := range []string{key.String(), strings.TrimSpace(strings.ReplaceAll(string(key.PrivatePEM()), "\n", ""))} {
		_ = shown
	}
	if s := key.String(); strings.Contains(s, "PRIVATE") || !strings.Contains(s, key.Thumbprint()) {
		t.Fatal(s)
	}
}

func TestInstallationKeyRefusals(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader) // another kind of key, made for the test
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	good := seedKey(t).PrivatePEM()
	block, _ := pem.Decode(good)
	for name, data := range map[string][]byte{
		"empty":        nil,
		"text":         []byte("not a key"),
		"public":       pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: block.Bytes}),
		"garbage der":  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}),
		"ec key":       pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}),
		"with headers": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: block.Bytes}),
		"truncated":    good[:len(good)/2],
	} {
		if _, err := ParseInstallationKeyPEM(data); !errors.Is(err, ErrInstallationKey) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestActivationRequest(t *testing.T) {
	key := seedKey(t)
	license := signLicense(testClaims(testNow, nil))
	at := time.Unix(testNow, 0)
	text, err := ActivationRequest(key, "inst-1", ActivationOptions{LicenseText: license, ProductVersion: "4.2.0", Now: at})
	if err != nil {
		t.Fatal(err)
	}
	header, claims, compact := openJWS(t, text, activationLabel, nil)
	if !reflect.DeepEqual(header, map[string]any{"alg": "EdDSA", "typ": "license-activation+jwt",
		"jwk": map[string]any{"kty": "OKP", "crv": "Ed25519", "x": key.PublicJWK().X}}) {
		t.Fatalf("%v", header)
	}
	raw, _ := b64urlDecode([]byte(strings.Split(compact, ".")[0]))
	if string(raw) != `{"alg":"EdDSA","typ":"license-activation+jwt","jwk":{"kty":"OKP","crv":"Ed25519","x":"`+key.PublicJWK().X+`"}}` {
		t.Fatal(string(raw))
	}
	if !regexp.MustCompile(`^\{"ver":1,"iat":1749945600,"installation_id":"inst-1","license_id":"lic_0001","product_version":"4\.2\.0","nonce":"[A-Za-z0-9_-]{22}"\}$`).
		MatchString(payloadJSON(t, compact)) {
		t.Fatal(payloadJSON(t, compact))
	}
	// A fresh nonce each time; no product version: no claim. The license id given directly.
	second, err := ActivationRequest(key, "inst-1", ActivationOptions{LicenseID: "lic_0001", Now: at})
	if err != nil {
		t.Fatal(err)
	}
	_, claims2, _ := openJWS(t, second, activationLabel, nil)
	if claims2["nonce"] == claims["nonce"] {
		t.Fatal("the nonce repeats")
	}
	if _, found := claims2["product_version"]; found {
		t.Fatal("an empty product version is written")
	}
	// An expired license, or one from an untrusted key, still names the license to bind.
	expired := signLicense(testClaims(testNow-800*day, map[string]any{"jti": "lic_old"}))
	text, err = ActivationRequest(key, "inst-é 1", ActivationOptions{LicenseText: expired})
	if err != nil {
		t.Fatal(err)
	}
	if _, claims, _ := openJWS(t, text, activationLabel, nil); claims["license_id"] != "lic_old" || claims["installation_id"] != "inst-é 1" {
		t.Fatal(claims)
	}
	if _, ok := claims["iat"].(int64); !ok {
		t.Fatal("iat")
	}
}

func TestActivationRequestRefusals(t *testing.T) {
	key := seedKey(t)
	license := signLicense(testClaims(testNow, nil))
	if _, err := ActivationRequest(key, "inst-1", ActivationOptions{}); !errors.Is(err, ErrNoLicenseID) {
		t.Fatal(err)
	}
	for _, id := range []string{"", strings.Repeat("x", 201), "inst\n1", "inst\x001", "a\u200bb", "\xff"} {
		if _, err := ActivationRequest(key, id, ActivationOptions{LicenseID: "lic_1"}); err == nil {
			t.Errorf("installation id %q accepted", id)
		}
	}
	if _, err := ActivationRequest(key, strings.Repeat("é", 200), ActivationOptions{LicenseID: "lic_1"}); err != nil {
		t.Fatal("200 characters are allowed:", err)
	}
	if _, err := ActivationRequest(key, "inst-1", ActivationOptions{LicenseID: "lic_1", ProductVersion: "1\n2"}); err == nil {
		t.Fatal("product version with a newline")
	}
	if _, err := ActivationRequest(key, "inst-1", ActivationOptions{LicenseText: license, LicenseID: "lic_other"}); err == nil {
		t.Fatal("a license id that is not the file's")
	}
	_, err := ActivationRequest(key, "inst-1", ActivationOptions{LicenseText: []byte("no license here")})
	if e := rejected(t, err); e.Code != CodeMalformed {
		t.Fatal(e)
	}
	noJTI := signLicense(testClaims(testNow, map[string]any{"jti": omitted{}}))
	if e := rejected(t, func() error { _, err := ActivationRequest(key, "i", ActivationOptions{LicenseText: noJTI}); return err }()); e.Code != CodeMalformed {
		t.Fatal(e)
	}
	if _, err := ActivationRequest(nil, "inst-1", ActivationOptions{LicenseID: "l"}); err == nil {
		t.Fatal("nil key")
	}
}

// --- the usage log ------------------------------------------------------------------------------

func boundLicense(changes map[string]any) []byte {
	all := map[string]any{"installation_id": "inst-1", "jti": "lic_bound"}
	for k, v := range changes {
		all[k] = v
	}
	return signLicense(testClaims(testNow, all))
}

func dayAt(days int64, hours int) time.Time {
	return time.Unix(testNow+days*day+int64(hours)*3600, 0)
}

func TestUsageLogRecordsAndChainsReports(t *testing.T) {
	key := seedKey(t)
	public := ed25519.PublicKey(testKey.Public().(ed25519.PublicKey))
	path := filepath.Join(t.TempDir(), "usage.json")
	log, err := OpenUsageLog(path, key, boundLicense(nil))
	if err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("the log file: %v %v", info, err)
	}
	for _, r := range []struct {
		users int
		at    time.Time
	}{{5, dayAt(0, 1)}, {9, dayAt(0, 13)}, {7, dayAt(0, 23)}, {3, dayAt(2, 0)}, {12, dayAt(5, 0)}} {
		if err := log.Record(r.users, r.at); err != nil {
			t.Fatal(err)
		}
	}
	// A restart: the same file, opened again, knows the days.
	log, err = OpenUsageLog(path, key, boundLicense(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := log.Days(); len(got) != 3 || got[0].Users != 9 || got[1].Users != 3 || !got[2].Day.Equal(time.Unix(testNow+5*day, 0)) {
		t.Fatalf("%+v", got)
	}
	first, err := log.Export(dayAt(2, 12))
	if err != nil {
		t.Fatal(err)
	}
	header, claims, compact := openJWS(t, first, usageReportLabel, public)
	if !reflect.DeepEqual(header, map[string]any{"alg": "EdDSA", "typ": "license-usage+jwt", "kid": testKid}) {
		t.Fatal(header)
	}
	if !regexp.MustCompile(`^\{"ver":1,"iat":\d+,"license_id":"lic_bound","installation_id":"inst-1","seq":1,` +
		`"period":\{"start":1749945600,"end":1750204800\},"peak_users":9,"daily":\[\[1749945600,9\],\[1750118400,3\]\]\}$`).
		MatchString(payloadJSON(t, compact)) {
		t.Fatal(payloadJSON(t, compact))
	}
	if d, ok := ReportDigest([]byte(first)); !ok || d != digest(compact) || log.Seq() != 1 || log.LastReport() != first {
		t.Fatal("digest or state")
	}
	// Day 2 is reported now: no more records for it, nor an earlier day; later days are fine.
	if err := log.Record(50, dayAt(2, 23)); !errors.Is(err, ErrDayReported) {
		t.Fatal(err)
	}
	if err := log.Record(50, dayAt(-10, 0)); !errors.Is(err, ErrDayReported) {
		t.Fatal(err)
	}
	if _, err := log.Export(dayAt(2, 20)); !errors.Is(err, ErrDayReported) {
		t.Fatal(err)
	}
	if err := log.Record(4, dayAt(3, 0)); err != nil {
		t.Fatal(err)
	}
	// The next report starts where the last ended and names it.
	log, _ = OpenUsageLog(path, key, boundLicense(nil))
	second, err := log.Export(dayAt(9, 0))
	if err != nil {
		t.Fatal(err)
	}
	_, claims, compact2 := openJWS(t, second, usageReportLabel, public)
	if claims["seq"] != int64(2) || claims["prev"] != digest(compact) || claims["peak_users"] != int64(12) ||
		!reflect.DeepEqual(claims["period"], map[string]any{"start": int64(testNow + 3*day), "end": int64(testNow + 10*day)}) ||
		!reflect.DeepEqual(claims["daily"], []any{[]any{int64(testNow + 3*day), int64(4)}, []any{int64(testNow + 5*day), int64(12)}}) {
		t.Fatal(payloadJSON(t, compact2))
	}
	if !strings.Contains(payloadJSON(t, compact2), `"seq":2,"prev":"`) {
		t.Fatal("claim order")
	}
	// Nothing recorded since: an empty report, still chained.
	third, err := log.Export(dayAt(12, 0))
	if err != nil {
		t.Fatal(err)
	}
	_, claims, _ = openJWS(t, third, usageReportLabel, public)
	if claims["seq"] != int64(3) || claims["prev"] != digest(compact2) || claims["peak_users"] != int64(0) ||
		len(claims["daily"].([]any)) != 0 || !log.ReportedUntil().Equal(time.Unix(testNow+13*day, 0)) {
		t.Fatal(claims)
	}
}

func TestUsageLogFirstEmptyReport(t *testing.T) {
	log, err := OpenUsageLog(filepath.Join(t.TempDir(), "u"), seedKey(t), boundLicense(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := log.Record(3, dayAt(9, 0)); err != nil { // after until's day: kept for the next report
		t.Fatal(err)
	}
	text, err := log.Export(dayAt(1, 5))
	if err != nil {
		t.Fatal(err)
	}
	_, claims, _ := openJWS(t, text, usageReportLabel, testKey.Public().(ed25519.PublicKey))
	if !reflect.DeepEqual(claims["period"], map[string]any{"start": int64(testNow + day), "end": int64(testNow + 2*day)}) ||
		claims["peak_users"] != int64(0) || len(log.Days()) != 1 {
		t.Fatal(claims)
	}
	if _, found := claims["prev"]; found {
		t.Fatal("prev in report 1")
	}
}

func TestUsageLogRefusals(t *testing.T) {
	dir := t.TempDir()
	key := seedKey(t)
	path := filepath.Join(dir, "usage.json")
	unbound, err := OpenUsageLog(path, key, signLicense(testClaims(testNow, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := unbound.Record(3, dayAt(0, 0)); err != nil { // recording before the activation is fine
		t.Fatal(err)
	}
	if _, err := unbound.Export(dayAt(1, 0)); !errors.Is(err, ErrNotActivated) {
		t.Fatal(err)
	}
	if err := unbound.Record(-1, dayAt(0, 0)); err == nil {
		t.Fatal("negative count")
	}
	if err := unbound.Record(1, time.Unix(-5, 0)); err == nil {
		t.Fatal("before 1970")
	}
	other, _ := NewInstallationKey()
	if _, err := OpenUsageLog(path, other, boundLicense(nil)); !errors.Is(err, ErrUsageLogOtherKey) {
		t.Fatal(err)
	}
	if _, err := OpenUsageLog(path, key, []byte("not a license")); err == nil {
		t.Fatal("no license")
	}
	if _, err := OpenUsageLog(filepath.Join(dir, "missing", "u"), key, boundLicense(nil)); err == nil || errors.Is(err, ErrUsageLogDamaged) {
		t.Fatal("an unwritable place:", err)
	}
	// After the activation the same log, opened with the bound license, reports what was recorded.
	bound, err := OpenUsageLog(path, key, boundLicense(nil))
	if err != nil {
		t.Fatal(err)
	}
	if text, err := bound.Export(dayAt(1, 0)); err != nil || !strings.Contains(text, "USAGE REPORT") {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(path)
	// Damaged files are refused, and left as they are.
	for name, data := range map[string]string{
		"empty":             "",
		"not json":          "{{",
		"other format":      `{"format":"x","version":1}`,
		"truncated":         string(good[:len(good)/2]),
		"bad day":           strings.Replace(string(good), `"days":[`, `"days":[[5,1],`, 1),
		"seq changed":       strings.Replace(string(good), `"seq":1`, `"seq":2`, 1),
		"digest changed":    strings.Replace(string(good), `"digest":"`, `"digest":"A`, 1),
		"period changed":    strings.Replace(string(good), `"period_end":`, `"period_end":86400`, 1),
		"report changed":    strings.Replace(string(good), `-----END LICENSE USAGE REPORT`, `-----END LICENSE USAGE REPORX`, 1),
		"extra field":       strings.Replace(string(good), `{"format"`, `{"x":1,"format"`, 1),
		"report extra":      strings.Replace(string(good), `"seq":1`, `"seq":1,"x":1`, 1),
		"no key":            strings.Replace(string(good), `"key":`, `"kex":`, 1),
		"no days":           strings.Replace(string(good), `"days":[`, `"dayz":[`, 1),
		"both formats":      strings.Replace(string(good), `"key":`, `"thumbprint":"x","key":`, 1),
		"report of seq 0":   `{"format":"licensing-usage-log","version":1,"key":"` + testKid + `","days":[],"last_report":{"seq":0,"digest":"","period_end":0,"report":""}}`,
		"report not object": strings.Replace(string(good), `"last_report":{`, `"last_report":"{`, 1),
		"two objects":       string(good) + string(good),
	} {
		damaged := filepath.Join(dir, "damaged-"+strings.ReplaceAll(name, " ", "-"))
		os.WriteFile(damaged, []byte(data), 0o600)
		if _, err := OpenUsageLog(damaged, key, boundLicense(nil)); !errors.Is(err, ErrUsageLogDamaged) {
			t.Errorf("%s: %v", name, err)
		}
		if after, _ := os.ReadFile(damaged); string(after) != data {
			t.Errorf("%s: the damaged file was changed", name)
		}
	}
}

func TestUsageLogConcurrentRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.json")
	log, err := OpenUsageLog(path, seedKey(t), boundLicense(nil))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 1; i <= 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := log.Record(i, dayAt(int64(i%4), i)); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	again, err := OpenUsageLog(path, seedKey(t), boundLicense(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []int{20, 17, 18, 19}
	days := again.Days()
	if len(days) != 4 {
		t.Fatal(days)
	}
	for i, d := range days {
		if d.Users != want[i] {
			t.Fatalf("%+v", days)
		}
	}
	if matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*.tmp")); len(matches) != 0 {
		t.Fatal("temporary files left:", matches)
	}
}

// --- receipts -----------------------------------------------------------------------------------

func receiptClaims(changes map[string]any) map[string]any {
	claims := map[string]any{
		"ver": 1, "iss": "test-issuer", "iat": testNow, "installation_id": "inst-1", "license_id": "lic_bound",
		"seq": 2, "report": "n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg", "peak_users": 30, "seats": 25, "overage": 5, "gap": false,
	}
	for k, v := range changes {
		if _, remove := v.(omitted); remove {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}
	return claims
}

func signReceipt(header map[string]any, claims map[string]any) []byte {
	if header == nil {
		header = map[string]any{"alg": "EdDSA", "kid": testKid, "typ": receiptTyp}
	}
	return armored(signRaw(mustJSON(header), mustJSON(claims)), receiptLabel)
}

func TestVerifyReceipt(t *testing.T) {
	kr := testKeyring(t)
	text := signReceipt(nil, receiptClaims(nil))
	r, err := VerifyReceipt(text, kr, "")
	if err != nil {
		t.Fatal(err)
	}
	if r.Issuer != "test-issuer" || !r.IssuedAt.Equal(time.Unix(testNow, 0)) || r.InstallationID != "inst-1" ||
		r.LicenseID != "lic_bound" || r.Seq != 2 || r.PeakUsers != 30 || r.Seats == nil || *r.Seats != 25 ||
		r.Overage != 5 || r.Gap || r.KeyID != testKid || r.Report != "n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg" {
		t.Fatalf("%+v", r)
	}
	if _, err := VerifyReceipt(text, kr, r.Report); err != nil {
		t.Fatal(err)
	}
	unlimited, err := VerifyReceipt(signReceipt(nil, receiptClaims(map[string]any{"seats": nil, "overage": 0, "gap": true})), kr, "")
	if err != nil || unlimited.Seats != nil || !unlimited.Gap {
		t.Fatal(unlimited, err)
	}
	under, err := VerifyReceipt(signReceipt(nil, receiptClaims(map[string]any{"seats": 40, "overage": 0})), kr, "")
	if err != nil || *under.Seats != 40 || under.Overage != 0 {
		t.Fatal(under, err)
	}
	// Bare JWS and the header's accepted forms.
	compact := signRaw(mustJSON(map[string]any{"alg": "Ed25519", "kid": testKid, "typ": "Application/License-Usage-Receipt+JWT"}), mustJSON(receiptClaims(nil)))
	if _, err := VerifyReceipt([]byte(compact), kr, ""); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(signRaw(mustJSON(map[string]any{"alg": "EdDSA", "kid": testKid, "typ": receiptTyp}), mustJSON(receiptClaims(nil))), ".")
	parts[1] = b64urlEncode(mustJSON(receiptClaims(map[string]any{"overage": 0})))
	tampered := armored(strings.Join(parts, "."), receiptLabel)
	cases := map[string]struct {
		text   []byte
		digest string
		code   string
	}{
		"other report":      {text, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", CodeMalformed},
		"license typ":       {signReceipt(map[string]any{"alg": "EdDSA", "kid": testKid, "typ": licenseTyp}, receiptClaims(nil)), "", CodeUnsupported},
		"alg none":          {armored(b64urlEncode([]byte(`{"alg":"none","kid":"`+testKid+`","typ":"`+receiptTyp+`"}`))+"."+b64urlEncode(mustJSON(receiptClaims(nil)))+".", receiptLabel), "", CodeUnsupported},
		"alg HS256":         {signReceipt(map[string]any{"alg": "HS256", "kid": testKid, "typ": receiptTyp}, receiptClaims(nil)), "", CodeUnsupported},
		"crit":              {signReceipt(map[string]any{"alg": "EdDSA", "kid": testKid, "typ": receiptTyp, "crit": []any{"x"}}, receiptClaims(nil)), "", CodeUnsupported},
		"unknown kid":       {signReceipt(map[string]any{"alg": "EdDSA", "kid": "other", "typ": receiptTyp}, receiptClaims(nil)), "", CodeUnknownKey},
		"tampered":          {tampered, "", CodeBadSignature},
		"ver 2":             {signReceipt(nil, receiptClaims(map[string]any{"ver": 2})), "", CodeUnsupported},
		"no seq":            {signReceipt(nil, receiptClaims(map[string]any{"seq": omitted{}})), "", CodeMalformed},
		"seq 0":             {signReceipt(nil, receiptClaims(map[string]any{"seq": 0})), "", CodeMalformed},
		"seats 0":           {signReceipt(nil, receiptClaims(map[string]any{"seats": 0})), "", CodeMalformed},
		"no seats":          {signReceipt(nil, receiptClaims(map[string]any{"seats": omitted{}})), "", CodeMalformed},
		"gap string":        {signReceipt(nil, receiptClaims(map[string]any{"gap": "no"})), "", CodeMalformed},
		"overage -1":        {signReceipt(nil, receiptClaims(map[string]any{"overage": -1, "peak_users": 10})), "", CodeMalformed},
		"overage 4":         {signReceipt(nil, receiptClaims(map[string]any{"overage": 4})), "", CodeMalformed},
		"overage unlimited": {signReceipt(nil, receiptClaims(map[string]any{"seats": nil})), "", CodeMalformed},
		"report short":      {signReceipt(nil, receiptClaims(map[string]any{"report": "abc"})), "", CodeMalformed},
		"installation \\n":  {signReceipt(nil, receiptClaims(map[string]any{"installation_id": "a\nb"})), "", CodeMalformed},
		"peak float":        {signReceipt(nil, receiptClaims(map[string]any{"peak_users": 1.5})), "", CodeMalformed},
		"no report":         {signReceipt(nil, receiptClaims(map[string]any{"report": omitted{}})), "", CodeMalformed},
		"no iss":            {signReceipt(nil, receiptClaims(map[string]any{"iss": ""})), "", CodeMalformed},
		"a license":         {signLicense(testClaims(testNow, nil)), "", CodeMalformed},
		"a report":          {[]byte(armor("a.b.c", usageReportLabel)), "", CodeMalformed},
		"too large":         {bytes.Repeat([]byte("a"), maxLicenseChars+1), "", CodeMalformed},
	}
	for name, c := range cases {
		_, err := VerifyReceipt(c.text, kr, c.digest)
		if e := rejected(t, err); e.Code != c.code {
			t.Errorf("%s: %v", name, e)
		} else if name == "other report" && !strings.Contains(e.Message, "another usage report") {
			t.Error(e.Message)
		}
	}
	if _, err := VerifyReceipt(text, nil, ""); err == nil {
		t.Fatal("nil keyring")
	}
}

// --- comparing licenses -------------------------------------------------------------------------

func verified(t *testing.T, claims map[string]any) *License {
	t.Helper()
	lic, err := Verify(signLicense(claims), testKeyring(t), Options{Now: time.Unix(testNow, 0), InstallationID: "inst-1"})
	if err != nil {
		t.Fatal(err)
	}
	return lic
}

func TestCompare(t *testing.T) {
	old := verified(t, testClaims(testNow, map[string]any{"seats": 10, "trial": true, "features": []string{"saml", "c", "ldap"}}))
	renewal := verified(t, testClaims(testNow, map[string]any{
		"jti": "lic_0002", "supersedes": "lic_0001", "iat": testNow - 29*day, "tier": "enterprise", "trial": false, "seats": 25,
		"features": []string{"b", "saml", "a", "ldap"}, "nbf": int64(1_748_736_000), "exp": nil, "grace_days": 30,
		"installation_id": "inst-1", "cnf": map[string]any{"jkt": testKid},
	}))
	c := Compare(old, renewal)
	if len(c.Warnings) != 0 {
		t.Fatal(c.Warnings)
	}
	want := []string{
		"tier: professional -> enterprise",
		"trial: true -> false",
		"seats: 10 -> 25",
		"features added: a, b",
		"features removed: c",
		"valid from: " + rfc3339Seconds(testNow-30*day) + " -> 2025-06-01T00:00:00Z",
		"expires: " + rfc3339Seconds(testNow+335*day) + " -> never",
		"grace days: 10 -> 30",
		"installation: none -> inst-1",
		"installation key: none -> " + testKid,
	}
	if !reflect.DeepEqual(c.Lines(), want) || c.String() != strings.Join(want, "\n") {
		t.Fatalf("%q", c.Lines())
	}
	encoded := string(mustJSON(c.Changes))
	if encoded != `[{"field":"tier","old":"professional","new":"enterprise"},{"field":"trial","old":true,"new":false},`+
		`{"field":"seats","old":10,"new":25},{"field":"features","added":["a","b"],"removed":["c"]},`+
		`{"field":"not_before","old":1747353600,"new":1748736000},{"field":"expires_at","old":1778889600,"new":null},`+
		`{"field":"grace_days","old":10,"new":30},{"field":"installation_id","old":null,"new":"inst-1"},`+
		`{"field":"cnf_jkt","old":null,"new":"`+testKid+`"}]` {
		t.Fatal(encoded)
	}
	if renewal.InstallationKeyThumbprint() != testKid || old.InstallationKeyThumbprint() != "" {
		t.Fatal("jkt")
	}
	// Back the other way: unlimited seats, removed binding.
	back := Compare(renewal, old)
	if back.Lines()[0] != "warning: NEW was issued before OLD" || back.Lines()[1] != "warning: NEW does not supersede OLD: it may belong to another line" ||
		back.Lines()[8] != "expires: never -> "+rfc3339Seconds(testNow+335*day) || back.Lines()[10] != "installation: inst-1 -> none" {
		t.Fatalf("%q", back.Lines())
	}
	same := Compare(old, old)
	if !reflect.DeepEqual(same.Lines(), []string{"warning: NEW is the same license as OLD"}) || string(mustJSON(same.Warnings)) != `[{"code":"same_license"}]` {
		t.Fatalf("%q", same.Lines())
	}
	stranger := verified(t, testClaims(testNow, map[string]any{"jti": "lic_x", "sub": "cus_x", "seats": nil, "iat": testNow - 31*day}))
	c = Compare(old, stranger)
	if !reflect.DeepEqual(c.Lines(), []string{
		"warning: NEW was issued before OLD",
		"warning: NEW belongs to another customer (cus_x, not cus_0001)",
		"warning: NEW does not supersede OLD: it may belong to another line",
		"trial: true -> false", "seats: 10 -> unlimited", "features added: custom_branding", "features removed: c",
	}) {
		t.Fatalf("%q", c.Lines())
	}
	nothing := Compare(old, verified(t, testClaims(testNow, map[string]any{"jti": "lic_2", "supersedes": "lic_0001", "seats": 10, "trial": true, "features": []string{"ldap", "c", "saml", "saml"}})))
	if nothing.String() != "no changes" || nothing.Changes != nil {
		t.Fatal(nothing.String())
	}
}
