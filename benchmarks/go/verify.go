// How fast the Go verifier is, against a baseline measured in the same run.
//
//	cd benchmarks/go && go run . [-quick]
//
// Verification rate: licensing.Verify on a typical license (professional, 250 seats, six features,
// a customer, bound to an installation) against a bare ed25519.Verify of the same signing input and
// signature: the signature check any verifier must do. Rounds alternate between the two; the ratio
// of rates (full / bare) is reported for the best and the median round. Target: at least 0.8.
//
// A benchmark, not a test: it prints figures and never fails on them.
package main

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"time"

	"example.invalid/licensing-verifier/licensing"
)

const (
	now          = 1_750_000_000
	day          = 86_400
	installation = "inst-7f3c2a9e-4b1d-4e8a-9c6f-2d5e8b1a0c3f"
)

var b64 = base64.RawURLEncoding

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func main() {
	quick := flag.Bool("quick", false, "fewer rounds")
	flag.Parse()
	rounds, number := 60, 2000
	if *quick {
		rounds, number = 10, 500
	}

	// A throwaway key (benchmark only), the keyring a product would bundle, and a typical license.
	public, private := must2(ed25519.GenerateKey(nil))
	x := b64.EncodeToString(public)
	kid := licensing.Thumbprint(x)
	keyring := must(licensing.ParseKeyring([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"` + kid + `","use":"sig"}]}`)))
	claims := map[string]any{
		"iss": "Example Licensing", "jti": "lic_01HZX5Q3M9ZK8W2YV7T4N6P0AB", "sub": "cus_01HZX5Q3M9ZK8W2YV7T4N6P0CD",
		"ver": 1, "iat": now - 30*day, "nbf": now - 30*day, "exp": now + 335*day,
		"tier": "professional", "trial": false, "seats": 250,
		"features":        []string{"custom_branding", "guest_accounts", "ldap", "mfa_enforcement", "openid", "saml"},
		"grace_days":      10,
		"customer":        map[string]any{"name": "Ada Lovelace", "email": "ada@example.com", "company": "Example Ltd"},
		"installation_id": installation, "subscription_id": "sub_1PqRsTuVwXyZ",
	}
	header := must(json.Marshal(map[string]any{"alg": "EdDSA", "typ": "license+jwt", "kid": kid}))
	signingInput := b64.EncodeToString(header) + "." + b64.EncodeToString(must(json.Marshal(claims)))
	signature := ed25519.Sign(private, []byte(signingInput))
	compact := signingInput + "." + b64.EncodeToString(signature)
	var armored strings.Builder
	armored.WriteString("-----BEGIN LICENSE FILE-----\n")
	for i := 0; i < len(compact); i += 64 {
		end := i + 64
		if end > len(compact) {
			end = len(compact)
		}
		armored.WriteString(compact[i:end] + "\n")
	}
	armored.WriteString("-----END LICENSE FILE-----\n")
	text := []byte(armored.String())
	opts := licensing.Options{Now: time.Unix(now, 0), InstallationID: installation}

	lic := must(licensing.Verify(text, keyring, opts))
	if lic.Status != licensing.StatusValid || *lic.Seats != 250 || len(lic.Features) != 6 { // the work is real
		panic("the typical license did not verify")
	}
	signed := []byte(signingInput)
	full := func() {
		if _, err := licensing.Verify(text, keyring, opts); err != nil {
			panic(err)
		}
	}
	bare := func() {
		if !ed25519.Verify(public, signed, signature) {
			panic("bare verify failed")
		}
	}
	perCall := func(f func(), n int) float64 {
		start := time.Now()
		for i := 0; i < n; i++ {
			f()
		}
		return time.Since(start).Seconds() / float64(n)
	}
	perCall(full, number/4) // warm up both
	perCall(bare, number/4)
	var fullTimes, bareTimes []float64
	for i := 0; i < rounds; i++ {
		if i%2 == 0 {
			fullTimes = append(fullTimes, perCall(full, number))
			bareTimes = append(bareTimes, perCall(bare, number))
		} else {
			bareTimes = append(bareTimes, perCall(bare, number))
			fullTimes = append(fullTimes, perCall(full, number))
		}
	}
	sort.Float64s(fullTimes)
	sort.Float64s(bareTimes)
	fullBest, bareBest := fullTimes[0], bareTimes[0]
	fullMedian, bareMedian := fullTimes[len(fullTimes)/2], bareTimes[len(bareTimes)/2]

	fmt.Printf("%s %s/%s, %d license characters\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, len(text))
	fmt.Printf("verification: %d rounds of %d calls each, alternating\n\n", rounds, number)
	fmt.Printf("%-34s %13s %15s %13s\n", "", "best µs/call", "median µs/call", "best calls/s")
	fmt.Printf("%-34s %13.1f %15.1f %13.0f\n", "licensing.Verify (full)", fullBest*1e6, fullMedian*1e6, 1/fullBest)
	fmt.Printf("%-34s %13.1f %15.1f %13.0f\n", "ed25519.Verify (bare)", bareBest*1e6, bareMedian*1e6, 1/bareBest)
	fmt.Printf("%-34s %13.1f %15.1f\n", "overhead of licensing.Verify", (fullBest-bareBest)*1e6, (fullMedian-bareMedian)*1e6)
	fmt.Printf("\nsummary\n")
	fmt.Printf("  Go verification rate ratio full/bare (best rounds):   %.3f  target >= 0.8\n", bareBest/fullBest)
	fmt.Printf("  Go verification rate ratio full/bare (median rounds): %.3f  target >= 0.8\n", bareMedian/fullMedian)
}

func must2[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		panic(err)
	}
	return a, b
}
