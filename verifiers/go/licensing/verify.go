// Package licensing verifies license files offline: the Go port of the Python verifier
// (licensing/verify.py), with the same behaviour, proven by the same conformance vectors
// (tests/vectors). It uses the standard library only and never touches the network.
//
//	keyring, err := licensing.ParseKeyring(bundledJWKS)
//	lic, err := licensing.Verify(licenseText, keyring, licensing.Options{InstallationID: id})
//	var rejected *licensing.Error
//	if errors.As(err, &rejected) { show(rejected.Code, rejected.Message) }
//	if lic.HasFeature("saml") { ... }
//
// A license file is a compact JWS (RFC 7515, alg EdDSA per RFC 8037, or Ed25519 per RFC 9864)
// inside an armor block. Checks run in this order, so the most useful reason wins: armor and
// envelope (malformed), header (unsupported), key (unknown_key), signature (bad_signature), claims
// (malformed; unsupported for another ver), revocation (revoked), installation binding
// (installation_mismatch), then time: clock_skew when iat is more than five minutes ahead of the
// clock, not_yet_valid before nbf (with the same five minutes of leeway), expired after exp plus
// the grace period. Every rejection is an *Error; Verify never panics, whatever the input.
package licensing

import (
	"errors"
	"fmt"
	"time"
)

// Statuses of an accepted license.
const (
	StatusValid = "valid"
	StatusGrace = "grace" // past exp, within the grace period: it works, and the product should say so
)

// Customer is the license's customer; a field absent or null in the license file is "".
type Customer struct {
	Name    string
	Email   string
	Company string
}

// License is a verified license file.
type License struct {
	Status         string // StatusValid or StatusGrace
	ID             string // jti
	Issuer         string
	Subject        string // the customer id
	Tier           string // free, professional or enterprise
	Trial          bool
	Seats          *int // nil: unlimited
	Features       []string
	GraceDays      int
	Customer       Customer
	InstallationID string // "" when the license is not bound to an installation
	SubscriptionID string // "" when absent
	Supersedes     string // the license this one replaces; "" when absent
	IssuedAt       time.Time
	NotBefore      time.Time
	ExpiresAt      *time.Time // nil: perpetual
	GraceEndsAt    *time.Time // nil: perpetual
	KeyID          string     // the key that signed it
	// Claims are all the claims, unknown ones included: JSON objects are map[string]any, whole
	// numbers int64 (json.Number past int64), numbers with a fraction or exponent float64.
	Claims map[string]any

	iat, nbf int64
	exp      *int64
}

// HasFeature reports whether the license grants the feature (names are exact, case-sensitive).
func (l *License) HasFeature(name string) bool {
	for _, f := range l.Features {
		if f == name {
			return true
		}
	}
	return false
}

// Options are what Verify checks a license against besides the keyring.
type Options struct {
	// Now is the time to verify at; the zero Time means the system clock.
	Now time.Time
	// InstallationID is this installation's id. A license bound to another installation, or bound
	// while no id is given, is rejected (installation_mismatch).
	InstallationID string
	// Revocations is the issuer's revocation list, loaded with LoadRevocations; nil for none.
	Revocations *Revocations
}

// catchPanics turns a panic into a malformed rejection (a safety net; the fuzz test turns it off).
var catchPanics = true

// Verify verifies a license file (armored, or a bare compact JWS) offline. It returns the license,
// with Status "valid" or "grace", or an *Error. A nil keyring is a programming error, returned as
// a plain error rather than an *Error that would blame the license; so is a Now before 1970 or
// after 9999.
func Verify(text []byte, kr *Keyring, opts Options) (lic *License, err error) {
	if kr == nil {
		return nil, errors.New("licensing: Verify needs a keyring from ParseKeyring, not nil")
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	if seconds := now.Unix(); seconds < 0 || seconds > maxTime {
		return nil, fmt.Errorf("licensing: Options.Now must be a time between 1970 and 9999 (UTC), not %v", opts.Now)
	}
	if catchPanics {
		defer func() {
			if recovered := recover(); recovered != nil {
				lic, err = nil, fail(CodeMalformed, fmt.Sprintf("The license file could not be read (%v).", recovered))
			}
		}()
	}
	result, rejected := verify(text, kr, unixSeconds(now), opts)
	if rejected != nil {
		return nil, rejected
	}
	return result, nil
}

// unixSeconds is whole seconds (the time is from 1970 on, so Unix's floor is Python's int()).
func unixSeconds(t time.Time) int64 { return t.Unix() }

func formatTime(seconds int64) string { return utc(seconds).Format("2006-01-02 15:04:05") + " UTC" }

func verify(text []byte, kr *Keyring, now int64, opts Options) (*License, *Error) {
	claims, kid, err := decodeJWS(text, kr, licenseKind)
	if err != nil {
		return nil, err
	}
	lic, err := readLicense(claims, kid)
	if err != nil {
		return nil, err
	}
	if opts.Revocations.Contains(lic.ID) {
		return nil, fail(CodeRevoked, fmt.Sprintf("License %s has been revoked by its issuer. Contact them for a new one.", lic.ID))
	}
	if lic.InstallationID != "" && lic.InstallationID != opts.InstallationID {
		if opts.InstallationID == "" {
			return nil, fail(CodeInstallationMismatch, fmt.Sprintf(
				"The license file is bound to installation %q, and no installation id was given to check it against. "+
					"Pass this installation's id: Options.InstallationID of licensing.Verify.", lic.InstallationID))
		}
		return nil, fail(CodeInstallationMismatch, fmt.Sprintf(
			"The license file is bound to installation %q, not to this one (%q). "+
				"Ask the issuer for a license for this installation.", lic.InstallationID, opts.InstallationID))
	}
	if lic.iat-clockSkew > now {
		return nil, fail(CodeClockSkew, fmt.Sprintf(
			"The license file was issued at %s, later than this machine's clock says it is (%s). Check the system clock.",
			formatTime(lic.iat), formatTime(now)))
	}
	if now < lic.nbf-clockSkew {
		return nil, fail(CodeNotYetValid, fmt.Sprintf("The license file becomes valid at %s.", formatTime(lic.nbf)))
	}
	lic.Status = StatusValid
	if lic.exp != nil && now >= *lic.exp {
		if now >= *lic.exp+int64(lic.GraceDays)*day {
			message := fmt.Sprintf("The license file expired at %s", formatTime(*lic.exp))
			if lic.GraceDays > 0 {
				message += fmt.Sprintf(" and its %d-day grace period has ended", lic.GraceDays)
			}
			return nil, fail(CodeExpired, message+". Renew it, or install a newer license file.")
		}
		lic.Status = StatusGrace
	}
	return lic, nil
}
