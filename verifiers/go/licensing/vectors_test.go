package licensing

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The conformance vectors (tests/vectors/manifest.json), replayed in full: the same suite the
// Python and TypeScript verifiers replay.

func vectorsDir() string {
	if dir := os.Getenv("LICENSING_VECTORS"); dir != "" {
		return dir
	}
	return filepath.Join("..", "..", "..", "tests", "vectors")
}

func readVectorFile(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(vectorsDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

type manifest struct {
	jwks            string
	vectors         []map[string]any
	revocationLists []map[string]any
	keyrings        []map[string]any
	flips           []map[string]any
}

func loadManifest(t testing.TB) manifest {
	t.Helper()
	document, ok := parseJSON(readVectorFile(t, "manifest.json"))
	if !ok {
		t.Fatal("manifest.json is not JSON")
	}
	root := document.(map[string]any)
	list := func(name string) []map[string]any {
		var out []map[string]any
		for _, v := range root[name].([]any) {
			out = append(out, v.(map[string]any))
		}
		return out
	}
	return manifest{
		jwks:            root["jwks"].(string),
		vectors:         list("vectors"),
		revocationLists: list("revocation_lists"),
		keyrings:        list("keyrings"),
		flips:           list("flips"),
	}
}

// padded appends pad["with"] until the text has pad["to"] characters.
func padded(t testing.TB, data []byte, pad any) []byte {
	if pad == nil {
		return data
	}
	spec := pad.(map[string]any)
	to, with := spec["to"].(int64), spec["with"].(string)
	have := int64(utf8.RuneCount(data))
	if have > to {
		t.Fatalf("cannot pad %d characters to %d", have, to)
	}
	return append(append([]byte{}, data...), strings.Repeat(with, int(to-have))...)
}

func vectorTime(t testing.TB, at any) time.Time {
	switch at := at.(type) {
	case int64:
		return time.Unix(at, 0)
	case string:
		parsed, err := time.Parse(time.RFC3339, at)
		if err != nil {
			t.Fatal(err)
		}
		return parsed
	}
	t.Fatalf("bad at: %v", at)
	return time.Time{}
}

func rfc3339(at *time.Time) any {
	if at == nil {
		return nil
	}
	return at.UTC().Format("2006-01-02T15:04:05Z")
}

func optional(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func rejection(t testing.TB, err error) map[string]any {
	t.Helper()
	var rejected *Error
	if !errors.As(err, &rejected) {
		t.Fatalf("an error that is not an *Error: %v", err)
	}
	known := false
	for _, code := range ErrorCodes {
		known = known || code == rejected.Code
	}
	if !known || rejected.Message == "" || strings.Contains(rejected.Message, "could not be read") {
		t.Fatalf("not a proper rejection: %#v", rejected)
	}
	return map[string]any{"ok": false, "code": rejected.Code}
}

func licenseView(lic *License) map[string]any {
	features := make([]any, len(lic.Features))
	for i, f := range lic.Features {
		features[i] = f
	}
	var seats any
	if lic.Seats != nil {
		seats = int64(*lic.Seats)
	}
	return map[string]any{
		"ok": true, "status": lic.Status, "id": lic.ID,
		"expires_at": rfc3339(lic.ExpiresAt), "grace_ends_at": rfc3339(lic.GraceEndsAt),
		"issued_at": rfc3339(&lic.IssuedAt), "not_before": rfc3339(&lic.NotBefore),
		"issuer": lic.Issuer, "subject": lic.Subject, "tier": lic.Tier, "trial": lic.Trial,
		"seats": seats, "features": features, "grace_days": int64(lic.GraceDays),
		"customer": map[string]any{
			"name": lic.Customer.Name, "email": lic.Customer.Email, "company": lic.Customer.Company,
		},
		"installation_id": optional(lic.InstallationID), "subscription_id": optional(lic.SubscriptionID),
		"supersedes": optional(lic.Supersedes), "key_id": lic.KeyID,
	}
}

func revocationsView(list *Revocations) map[string]any {
	revoked := map[string]any{}
	for _, id := range list.IDs() {
		at, _ := list.RevokedAt(id)
		revoked[id] = rfc3339(&at)
	}
	return map[string]any{
		"ok": true, "issuer": list.Issuer, "issued_at": rfc3339(&list.IssuedAt), "seq": list.Seq,
		"count": int64(list.Len()), "revoked": revoked, "key_id": list.KeyID,
	}
}

// saturated is what Go holds of an expected integer past int64 (README: seats and seq saturate).
func saturated(expect map[string]any, name string) {
	if n, isBig := expect[name].(json.Number); isBig {
		if strings.HasPrefix(string(n), "-") {
			expect[name] = int64(math.MinInt64)
		} else {
			expect[name] = int64(math.MaxInt64)
		}
	}
}

func keyringFor(t testing.TB, name string) *Keyring {
	kr, err := ParseKeyring(readVectorFile(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func TestLicenseVectors(t *testing.T) {
	m := loadManifest(t)
	for _, vector := range m.vectors {
		vector := vector
		t.Run(vector["name"].(string), func(t *testing.T) {
			jwks := m.jwks
			if name, found := vector["jwks"]; found {
				jwks = name.(string)
			}
			kr := keyringFor(t, jwks)
			opts := Options{Now: vectorTime(t, vector["at"])}
			if id, found := vector["installation_id"]; found {
				opts.InstallationID = id.(string)
			}
			var got map[string]any
			if name, found := vector["revocations"]; found {
				list, err := LoadRevocations(padded(t, readVectorFile(t, name.(string)), vector["revocations_pad"]), kr)
				if err != nil {
					got = rejection(t, err)
				}
				opts.Revocations = list
			}
			if got == nil {
				lic, err := Verify(padded(t, readVectorFile(t, vector["file"].(string)), vector["pad"]), kr, opts)
				if err != nil {
					got = rejection(t, err)
				} else {
					got = licenseView(lic)
				}
			}
			expect := vector["expect"].(map[string]any)
			saturated(expect, "seats")
			if !reflect.DeepEqual(got, expect) {
				t.Errorf("\n got %v\nwant %v", got, expect)
			}
		})
	}
}

func TestRevocationListVectors(t *testing.T) {
	m := loadManifest(t)
	kr := keyringFor(t, m.jwks)
	for _, vector := range m.revocationLists {
		vector := vector
		t.Run(vector["name"].(string), func(t *testing.T) {
			var got map[string]any
			list, err := LoadRevocations(padded(t, readVectorFile(t, vector["file"].(string)), vector["pad"]), kr)
			if err != nil {
				got = rejection(t, err)
			} else {
				got = revocationsView(list)
			}
			expect := vector["expect"].(map[string]any)
			saturated(expect, "seq")
			if !reflect.DeepEqual(got, expect) {
				t.Errorf("\n got %v\nwant %v", got, expect)
			}
		})
	}
}

func TestKeyringVectors(t *testing.T) {
	for _, vector := range loadManifest(t).keyrings {
		vector := vector
		t.Run(vector["name"].(string), func(t *testing.T) {
			got := map[string]any{"ok": false}
			kr, err := ParseKeyring([]byte(vector["jwks"].(string)))
			if err == nil {
				kids := []any{}
				for _, kid := range kr.KeyIDs() {
					kids = append(kids, kid)
				}
				got = map[string]any{"ok": true, "kids": kids}
			} else if _, isKeyringError := err.(*KeyringError); !isKeyringError {
				t.Fatalf("not a *KeyringError: %v", err)
			}
			if !reflect.DeepEqual(got, vector["expect"]) {
				t.Errorf("\n got %v\nwant %v", got, vector["expect"])
			}
		})
	}
}

func TestByteFlips(t *testing.T) {
	m := loadManifest(t)
	kr := keyringFor(t, m.jwks)
	for _, flips := range m.flips {
		flips := flips
		t.Run(flips["name"].(string), func(t *testing.T) {
			data := readVectorFile(t, flips["file"].(string))
			read := func(d []byte) (any, error) {
				if flips["kind"] == "license" {
					opts := Options{Now: vectorTime(t, flips["at"])}
					if id, found := flips["installation_id"]; found {
						opts.InstallationID = id.(string)
					}
					lic, err := Verify(d, kr, opts)
					if err != nil {
						return nil, err
					}
					return lic.Claims, nil
				}
				list, err := LoadRevocations(d, kr)
				if err != nil {
					return nil, err
				}
				return revocationsView(list), nil
			}
			original, err := read(data)
			if err != nil {
				t.Fatal(err)
			}
			rows := flips["rows"].([]any)
			if len(rows) != 3*len(data) {
				t.Fatalf("%d rows for %d bytes", len(rows), len(data))
			}
			wrong := 0
			for _, r := range rows {
				row := r.([]any)
				offset, xor, expected := row[0].(int64), row[1].(int64), row[2].(string)
				mutated := append([]byte{}, data...)
				mutated[offset] ^= byte(xor)
				result, err := read(mutated)
				got := "ok"
				if err != nil {
					got = rejection(t, err)["code"].(string)
				} else if !reflect.DeepEqual(result, original) {
					got = "accepted as another file"
				}
				if got != expected {
					wrong++
					if wrong <= 20 {
						t.Errorf("byte %d ^ %#02x: %s, expected %s", offset, xor, got, expected)
					}
				}
			}
		})
	}
}

func TestVectorSuiteIsWhole(t *testing.T) {
	m := loadManifest(t)
	if len(m.vectors) < 250 || len(m.revocationLists) < 30 || len(m.keyrings) < 20 || len(m.flips) != 2 {
		t.Fatalf("the manifest looks cut short: %d %d %d %d", len(m.vectors), len(m.revocationLists), len(m.keyrings), len(m.flips))
	}
	fmt.Fprintf(os.Stderr, "conformance: %d license vectors, %d revocation lists, %d keyrings, %d flip sets\n",
		len(m.vectors), len(m.revocationLists), len(m.keyrings), len(m.flips))
}
