package licensing

import (
	"crypto/ed25519"
	"testing"
	"time"
)

// go test -bench . : the full verification of a typical license against the bare signature check.
// (benchmarks/go prints the same comparison as a rate ratio.)

func benchmarkLicense(b *testing.B) ([]byte, *Keyring, Options) {
	claims := testClaims(testNow, map[string]any{
		"installation_id": "inst-7f3c2a9e-4b1d-4e8a-9c6f-2d5e8b1a0c3f", "subscription_id": "sub_1PqRsTuVwXyZ",
		"features": []string{"custom_branding", "guest_accounts", "ldap", "mfa_enforcement", "openid", "saml"},
	})
	return signLicense(claims), testKeyring(b), Options{Now: time.Unix(testNow, 0), InstallationID: "inst-7f3c2a9e-4b1d-4e8a-9c6f-2d5e8b1a0c3f"}
}

func BenchmarkVerify(b *testing.B) {
	text, kr, opts := benchmarkLicense(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Verify(text, kr, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBareEd25519(b *testing.B) {
	text, _, _ := benchmarkLicense(b)
	compact, _ := compactJWS(text[len("-----BEGIN LICENSE FILE-----"):len(text)-len("-----END LICENSE FILE-----\n")], licenseKind)
	second := 0
	for i, c := range compact {
		if c == '.' {
			second = i
		}
	}
	signature, _ := b64urlDecode(compact[second+1:])
	public := testKey.Public().(ed25519.PublicKey)
	for i := 0; i < b.N; i++ {
		if !ed25519.Verify(public, compact[:second], signature) {
			b.Fatal("bare")
		}
	}
}
