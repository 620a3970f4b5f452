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

// Making a usage report with a year of daily counts (the file write included, without fsync, which
// only the disk decides), against a bare Ed25519 signature of the same signing input; and checking
// a receipt against a bare signature check of it.

func benchmarkYearLog(b *testing.B) *UsageLog {
	syncFiles = false
	b.Cleanup(func() { syncFiles = true })
	log, err := OpenUsageLog(b.TempDir()+"/usage.json", seedKey(b), boundLicense(nil))
	if err != nil {
		b.Fatal(err)
	}
	return log
}

func yearState(log *UsageLog) usageState {
	state := log.state
	state.Days = make([][]int64, 365)
	for i := range state.Days {
		state.Days[i] = []int64{testNow + int64(i)*day, int64(i*37%113 + i/30)}
	}
	return state
}

func BenchmarkExportYearReport(b *testing.B) {
	log := benchmarkYearLog(b)
	year := yearState(log)
	until := time.Unix(testNow+364*day, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		log.state = year
		if _, err := log.Export(until); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMakeYearReport: the report alone (claims, JSON, base64url, the signature, the armor),
// without the file write that Export adds.
func BenchmarkMakeYearReport(b *testing.B) {
	log := benchmarkYearLog(b)
	year := yearState(log)
	until := testNow + 364*day
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		log.nextReport(year, until, testNow+365*day)
	}
}

func BenchmarkBareSignYearReport(b *testing.B) {
	log := benchmarkYearLog(b)
	log.state = yearState(log)
	text, err := log.Export(time.Unix(testNow+364*day, 0))
	if err != nil {
		b.Fatal(err)
	}
	compact, _, second, _ := splitJWS([]byte(text), usageReportKind)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ed25519.Sign(testKey, compact[:second])
	}
}

func BenchmarkVerifyReceipt(b *testing.B) {
	text, kr := signReceipt(nil, receiptClaims(nil)), testKeyring(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := VerifyReceipt(text, kr, "n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg"); err != nil {
			b.Fatal(err)
		}
	}
}
