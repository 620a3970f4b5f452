package licensing

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// Rules the vectors cannot express: the Go API itself, messages, the system clock, concurrency, speed.

func TestMain(m *testing.M) {
	catchPanics = false // a panic anywhere in the tests is a bug, never a "malformed" rejection
	os.Exit(m.Run())
}

// The signing key of these tests, made for each run: no private key is committed. What the vectors'
// key signed is checked with its public half only (tests/vectors/jwks.json).
var testKey = newTestKey()

var testKid = Thumbprint(b64urlEncode(testKey.Public().(ed25519.PublicKey)))

// rfc8037Kid is the thumbprint RFC 8037 appendix A.3 gives for its example key (public x below).
const rfc8037Kid = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"

func newTestKey() ed25519.PrivateKey {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return key
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func testKeyring(t testing.TB) *Keyring {
	t.Helper()
	x := b64urlEncode(testKey.Public().(ed25519.PublicKey))
	kr, err := ParseKeyring([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func signRaw(header, payload []byte) string {
	input := b64urlEncode(header) + "." + b64urlEncode(payload)
	return input + "." + b64urlEncode(ed25519.Sign(testKey, []byte(input)))
}

func armored(compact, label string) []byte {
	var sb strings.Builder
	sb.WriteString("-----BEGIN " + label + "-----\n")
	for i := 0; i < len(compact); i += 64 {
		end := i + 64
		if end > len(compact) {
			end = len(compact)
		}
		sb.WriteString(compact[i:end] + "\n")
	}
	sb.WriteString("-----END " + label + "-----\n")
	return []byte(sb.String())
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func testClaims(now int64, changes map[string]any) map[string]any {
	claims := map[string]any{
		"iss": "test-issuer", "jti": "lic_0001", "sub": "cus_0001", "ver": 1,
		"iat": now - 30*day, "nbf": now - 30*day, "exp": now + 335*day,
		"tier": "professional", "trial": false, "seats": 250,
		"features":   []string{"custom_branding", "ldap", "saml"},
		"grace_days": 10,
		"customer":   map[string]any{"name": "Ada Lovelace", "email": "ada@example.com", "company": "Example Ltd"},
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

// omitted, as a change to testClaims, removes the claim.
type omitted struct{}

func signLicense(claims map[string]any) []byte {
	header := mustJSON(map[string]any{"alg": "EdDSA", "typ": licenseTyp, "kid": testKid})
	return armored(signRaw(header, mustJSON(claims)), licenseLabel)
}

func signRevocations(claims map[string]any) []byte {
	header := mustJSON(map[string]any{"alg": "EdDSA", "typ": revocationsTyp, "kid": testKid})
	return armored(signRaw(header, mustJSON(claims)), revocationsLabel)
}

const testNow = int64(1_749_945_600) // 2025-06-15T00:00:00Z

func rejected(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("expected an *Error, got %v", err)
	}
	return e
}

func TestLicenseFields(t *testing.T) {
	kr := testKeyring(t)
	text := signLicense(testClaims(testNow, map[string]any{
		"installation_id": "inst-1", "subscription_id": "sub_1", "supersedes": "lic_older", "trial": true,
		"future": []any{1, 2.5, "x"},
	}))
	lic, err := Verify(text, kr, Options{Now: time.Unix(testNow, 0), InstallationID: "inst-1"})
	if err != nil {
		t.Fatal(err)
	}
	if lic.Status != StatusValid || lic.ID != "lic_0001" || lic.Issuer != "test-issuer" || lic.Subject != "cus_0001" ||
		lic.Tier != "professional" || !lic.Trial || lic.Seats == nil || *lic.Seats != 250 || lic.GraceDays != 10 ||
		lic.InstallationID != "inst-1" || lic.SubscriptionID != "sub_1" || lic.Supersedes != "lic_older" ||
		lic.KeyID != testKid || lic.Customer.Company != "Example Ltd" {
		t.Fatalf("%+v", lic)
	}
	if !lic.IssuedAt.Equal(time.Unix(testNow-30*day, 0)) || lic.IssuedAt.Location() != time.UTC ||
		!lic.ExpiresAt.Equal(time.Unix(testNow+335*day, 0)) || !lic.GraceEndsAt.Equal(time.Unix(testNow+345*day, 0)) {
		t.Fatalf("times: %v %v %v", lic.IssuedAt, lic.ExpiresAt, lic.GraceEndsAt)
	}
	if !lic.HasFeature("saml") || lic.HasFeature("SAML") || lic.HasFeature("cluster") || lic.HasFeature("") {
		t.Fatal("HasFeature")
	}
	future := lic.Claims["future"].([]any)
	if future[0] != int64(1) || future[1] != 2.5 || future[2] != "x" {
		t.Fatalf("claims: %#v", future)
	}
}

func TestPerpetualLicense(t *testing.T) {
	text := signLicense(testClaims(testNow, map[string]any{"exp": omitted{}, "seats": nil, "tier": "free"}))
	lic, err := Verify(text, testKeyring(t), Options{Now: time.Unix(maxTime, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if lic.Seats != nil || lic.ExpiresAt != nil || lic.GraceEndsAt != nil || lic.Status != StatusValid {
		t.Fatalf("%+v", lic)
	}
}

func TestMessagesSayWhatToDo(t *testing.T) {
	kr := testKeyring(t)
	now := Options{Now: time.Unix(testNow, 0)}
	bound := signLicense(testClaims(testNow, map[string]any{"installation_id": "inst-1"}))
	_, err := Verify(bound, kr, now)
	if e := rejected(t, err); e.Code != CodeInstallationMismatch || !strings.Contains(e.Message, `"inst-1"`) ||
		!strings.Contains(e.Message, "no installation id was given") || !strings.Contains(e.Message, "Pass this installation's id") {
		t.Fatal(e)
	}
	_, err = Verify(bound, kr, Options{Now: now.Now, InstallationID: "inst-2"})
	if e := rejected(t, err); e.Code != CodeInstallationMismatch || !strings.Contains(e.Message, `"inst-2"`) {
		t.Fatal(e)
	}
	_, err = Verify(signLicense(testClaims(testNow, nil)), kr, Options{Now: time.Unix(testNow+400*day, 0)})
	if e := rejected(t, err); e.Code != CodeExpired || !strings.Contains(e.Message, "10-day grace") ||
		!strings.Contains(e.Message, time.Unix(testNow+335*day, 0).UTC().Format("2006-01-02")) {
		t.Fatal(e)
	}
	_, err = Verify(signLicense(testClaims(testNow, nil)), kr, Options{Now: time.Unix(testNow-365*day, 0)})
	if e := rejected(t, err); e.Code != CodeClockSkew || !strings.Contains(e.Message, "clock") {
		t.Fatal(e)
	}
	_, err = Verify(signRevocations(map[string]any{"iss": "i", "iat": testNow, "ver": 1, "revoked": []any{}}), kr, now)
	if e := rejected(t, err); e.Code != CodeMalformed || !strings.Contains(e.Message, "license file") {
		t.Fatal(e)
	}
	_, err = LoadRevocations(signLicense(testClaims(testNow, nil)), kr)
	if e := rejected(t, err); e.Code != CodeMalformed || !strings.Contains(e.Message, "revocation list") {
		t.Fatal(e)
	}
	list, err := LoadRevocations(signRevocations(map[string]any{
		"iss": "i", "iat": testNow, "ver": 1, "seq": 3,
		"revoked": []any{map[string]any{"jti": "lic_0001", "revoked_at": testNow - day}},
	}), kr)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Verify(signLicense(testClaims(testNow, nil)), kr, Options{Now: now.Now, Revocations: list})
	if e := rejected(t, err); e.Code != CodeRevoked || !strings.Contains(e.Message, "lic_0001") {
		t.Fatal(e)
	}
}

func TestProgrammingErrorsAreNotRejections(t *testing.T) {
	var e *Error
	if _, err := Verify([]byte("x"), nil, Options{}); err == nil || errors.As(err, &e) {
		t.Fatalf("nil keyring: %v", err)
	}
	if _, err := LoadRevocations([]byte("x"), nil); err == nil || errors.As(err, &e) {
		t.Fatalf("nil keyring: %v", err)
	}
	kr := testKeyring(t)
	for _, at := range []time.Time{time.Unix(-1, 0), time.Unix(maxTime+1, 0), time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC)} {
		if _, err := Verify([]byte("x"), kr, Options{Now: at}); err == nil || errors.As(err, &e) {
			t.Fatalf("now %v: %v", at, err)
		}
	}
	if _, err := Verify([]byte("x"), kr, Options{Now: time.Unix(maxTime, 999_999_999)}); !errors.As(err, &e) {
		t.Fatalf("the last second is a time: %v", err)
	}
}

func TestZeroNowIsTheSystemClock(t *testing.T) {
	kr := testKeyring(t)
	now := time.Now().Unix()
	fresh := signLicense(testClaims(now, map[string]any{"iat": now - 60, "nbf": now - 60, "exp": now + day}))
	if lic, err := Verify(fresh, kr, Options{}); err != nil || lic.Status != StatusValid {
		t.Fatal(lic, err)
	}
	old := signLicense(testClaims(now, map[string]any{"iat": now - 90*day, "nbf": now - 90*day, "exp": now - 60*day}))
	if _, err := Verify(old, kr, Options{}); rejected(t, err).Code != CodeExpired {
		t.Fatal(err)
	}
}

func TestTimeEdgesWithFractionsAndZones(t *testing.T) {
	kr := testKeyring(t)
	nbf := testNow + 30*day
	text := signLicense(testClaims(testNow, map[string]any{"iat": testNow, "nbf": nbf, "exp": nbf + 365*day}))
	edge := time.Unix(nbf-clockSkew, 0)
	if _, err := Verify(text, kr, Options{Now: edge.In(time.FixedZone("x", -7*3600))}); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(text, kr, Options{Now: edge.Add(-time.Millisecond)}); rejected(t, err).Code != CodeNotYetValid {
		t.Fatal(err)
	}
	if unixSeconds(time.Unix(2, 999_999_999)) != 2 {
		t.Fatal("unixSeconds must truncate, as Python's int() does")
	}
}

func TestRevocationsAccessors(t *testing.T) {
	var none *Revocations
	if none.Len() != 0 || none.Contains("x") || none.IDs() != nil {
		t.Fatal("a nil list revokes nothing")
	}
	if _, found := none.RevokedAt("x"); found {
		t.Fatal("nil list")
	}
	list, err := LoadRevocations(signRevocations(map[string]any{
		"iss": "i", "iat": testNow, "ver": 1,
		"revoked": []any{map[string]any{"jti": "b", "revoked_at": 5}, map[string]any{"jti": "a", "revoked_at": 7}},
	}), testKeyring(t))
	if err != nil {
		t.Fatal(err)
	}
	at, found := list.RevokedAt("a")
	if list.Seq != 0 || list.Len() != 2 || !list.Contains("b") || list.Contains("c") || !found || at.Unix() != 7 ||
		strings.Join(list.IDs(), ",") != "a,b" || list.KeyID != testKid || list.Issuer != "i" {
		t.Fatalf("%+v", list)
	}
}

func TestAHundredThousandRevocationsLoadWellUnderASecond(t *testing.T) {
	entries := make([]any, 100_000)
	for i := range entries {
		entries[i] = map[string]any{"jti": fmt.Sprintf("lic_%08d", i), "revoked_at": testNow - int64(i)}
	}
	text := signRevocations(map[string]any{"iss": "i", "iat": testNow, "ver": 1, "seq": 100_000, "revoked": entries})
	kr := testKeyring(t)
	start := time.Now()
	list, err := LoadRevocations(text, kr)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if list.Len() != 100_000 || list.Seq != 100_000 || !list.Contains("lic_00099999") {
		t.Fatal(list.Len())
	}
	t.Logf("%d characters, 100,000 entries: loaded in %v", len(text), elapsed)
	if elapsed > time.Second {
		t.Fatalf("took %v", elapsed)
	}
}

func TestThumbprintIsRFC8037s(t *testing.T) {
	if got := Thumbprint("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"); got != rfc8037Kid {
		t.Fatal(got)
	}
	if ids := testKeyring(t).KeyIDs(); len(ids) != 1 || ids[0] != testKid {
		t.Fatal(ids)
	}
}

func TestConcurrentVerification(t *testing.T) {
	kr := testKeyring(t)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				// Distinct headers, so that the header memo is written, read and emptied concurrently.
				header := mustJSON(map[string]any{"alg": "EdDSA", "typ": licenseTyp, "kid": testKid, "x": g*100 + i})
				text := armored(signRaw(header, mustJSON(testClaims(testNow, nil))), licenseLabel)
				if _, err := Verify(text, kr, Options{Now: time.Unix(testNow, 0)}); err != nil {
					errs <- err
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(headerMemo.kids[licenseKind]) > headerMemoMax {
		t.Fatal("the header memo is unbounded")
	}
}

func TestHeaderMemoNeverCrossesKinds(t *testing.T) {
	kr := testKeyring(t)
	text := signLicense(testClaims(testNow, nil))
	for i := 0; i < 2; i++ {
		if _, err := Verify(text, kr, Options{Now: time.Unix(testNow, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	compact, _ := compactJWS(text[len("-----BEGIN LICENSE FILE-----"):len(text)-len("-----END LICENSE FILE-----\n")], licenseKind)
	if _, err := LoadRevocations(compact, kr); rejected(t, err).Code != CodeUnsupported {
		t.Fatal(err)
	}
}

func TestJSONReader(t *testing.T) {
	cases := []struct {
		in   string
		want any // nil with ok false: refused
		ok   bool
	}{
		{`1`, int64(1), true},
		{`-0`, int64(0), true},
		{`1.0`, 1.0, true},
		{`1e0`, 1.0, true},
		{` 9223372036854775808 `, json.Number("9223372036854775808"), true},
		{`-9223372036854775809`, json.Number("-9223372036854775809"), true},
		{`NaN`, nil, true},
		{`-Infinity`, math.Inf(-1), true},
		{`-NaN`, nil, false},
		{`01`, nil, false},
		{`1.`, nil, false},
		{`.5`, nil, false},
		{`+1`, nil, false},
		{`1e`, nil, false},
		{`[1,]`, nil, false},
		{`{"a":1,}`, nil, false},
		{`{"a":1,"a":2}`, map[string]any{"a": int64(2)}, true},
		{`"\ud800"`, "\xed\xa0\x80", true},
		{`"\ud83d\ude00"`, "😀", true},
		{`"\udc00\ud800"`, "\xed\xb0\x80\xed\xa0\x80", true},
		{`"\ud800\u0041"`, "\xed\xa0\x80A", true},
		{`"\ud800\u00G1"`, nil, false},
		{"\"a\x1fb\"", nil, false},
		{"\"a\x7fb\"", "a\x7fb", true},
		{"\f1", nil, false},
		{"", nil, false},
		{`[]`, []any{}, true},
		{`{}`, map[string]any{}, true},
		{strings.Repeat("[", 512) + strings.Repeat("]", 512), nil, true},
		{strings.Repeat("[", 513) + strings.Repeat("]", 513), nil, false},
		{"1" + strings.Repeat("0", 4299), json.Number("1" + strings.Repeat("0", 4299)), true},
		{"-1" + strings.Repeat("0", 4299), json.Number("-1" + strings.Repeat("0", 4299)), true},
		{"1" + strings.Repeat("0", 4300), nil, false},
		{"1" + strings.Repeat("0", 5000) + ".5", math.Inf(1), true},
	}
	for _, c := range cases {
		got, ok := parseJSON([]byte(c.in))
		if ok != c.ok {
			t.Errorf("%.40q: ok %v, want %v", c.in, ok, c.ok)
			continue
		}
		if !ok || c.want == nil {
			continue
		}
		if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", c.want) {
			t.Errorf("%.40q: %#v, want %#v", c.in, got, c.want)
		}
	}
	if f, _ := parseJSON([]byte("NaN")); !math.IsNaN(f.(float64)) {
		t.Error("NaN")
	}
}

func TestBase64url(t *testing.T) {
	for _, s := range []string{"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "_-8"} {
		decoded, ok := b64urlDecode([]byte(s))
		if !ok || b64urlEncode(decoded) != s {
			t.Errorf("%q: %q %v", s, decoded, ok)
		}
	}
	for _, s := range []string{"Z", "Zh", "Zm9", "Zg==", "Zm+v", "Zm/v", "Zm9v\n"} {
		if _, ok := b64urlDecode([]byte(s)); ok {
			t.Errorf("%q must be refused", s)
		}
	}
}
