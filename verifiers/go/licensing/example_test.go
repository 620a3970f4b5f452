package licensing_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"example.invalid/licensing-verifier/licensing"
)

func vector(name string) []byte {
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "tests", "vectors", name))
	if err != nil {
		panic(err)
	}
	return data
}

// The embedding a Go product needs (README: "In a self-hosted product").
func Example() {
	keyring, err := licensing.ParseKeyring(vector("jwks.json")) // bundled with the product at build time
	if err != nil {
		panic(err)
	}
	revocations, err := licensing.LoadRevocations(vector("rev-seq.lic"), keyring) // optional; keep the highest Seq seen
	if err != nil {
		panic(err)
	}
	at := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC) // the zero Time means now
	for _, file := range []string{"professional.lic", "revoked.lic"} {
		lic, err := licensing.Verify(vector(file), keyring, licensing.Options{Now: at, InstallationID: "inst-1", Revocations: revocations})
		var rejected *licensing.Error
		if errors.As(err, &rejected) {
			fmt.Println(rejected.Code)
			continue
		}
		fmt.Println(lic.Status, lic.Tier, *lic.Seats, lic.HasFeature("saml"), lic.ExpiresAt.Format("2006-01-02"), lic.GraceEndsAt.Format("2006-01-02"))
	}
	fmt.Println(revocations.Seq, revocations.Len(), revocations.Contains("lic_revoked"))
	// Output:
	// valid professional 250 true 2026-01-01 2026-01-11
	// revoked
	// 7 3 true
}
