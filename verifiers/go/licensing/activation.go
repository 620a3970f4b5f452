package licensing

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"
)

// nonceSource gives the requests' nonces (the conformance replay fixes it; nothing else may).
var nonceSource io.Reader = rand.Reader

const (
	activationLabel      = "LICENSE ACTIVATION REQUEST"
	activationTyp        = "license-activation+jwt"
	maxInstallationIDLen = 200
	maxProductVersionLen = 200
)

// ErrNoLicenseID: an activation request names the license to bind, and none was given (neither
// ActivationOptions.LicenseID nor a license file holding a "jti").
var ErrNoLicenseID = errors.New("licensing: an activation request needs the license to bind: give ActivationOptions.LicenseText or LicenseID")

// ActivationOptions are what an activation request names besides the installation.
type ActivationOptions struct {
	// LicenseText is the license file the install holds: its id ("jti") is the license to bind.
	// It is read WITHOUT verifying it (the install may hold an expired or not yet trusted file).
	LicenseText []byte
	// LicenseID names the license directly; when LicenseText is given too, they must agree.
	LicenseID string
	// ProductVersion is the product's version, "" for none (1-200 printable characters).
	ProductVersion string
	// Now is the request's iat; the zero Time means the system clock.
	Now time.Time
}

// ActivationRequest makes the armored activation request (LICENSE ACTIVATION REQUEST) an
// administrator carries to the vendor: signed by the installation key, whose public JWK it holds,
// naming the installation (1-200 printable characters) and the license to bind. The vendor answers
// with the line's next license bound to this installation and key (cnf.jkt = key.Thumbprint()).
// Errors: ErrNoLicenseID, a license text that holds no license file (an *Error, malformed), or a
// plain error for an unusable argument.
func ActivationRequest(key *InstallationKey, installationID string, opts ActivationOptions) (string, error) {
	if key == nil {
		return "", errors.New("licensing: ActivationRequest needs an installation key, not nil")
	}
	if !printableText(installationID, maxInstallationIDLen) {
		return "", fmt.Errorf("licensing: the installation id must be 1 to %d printable characters, not %q", maxInstallationIDLen, installationID)
	}
	if opts.ProductVersion != "" && !printableText(opts.ProductVersion, maxProductVersionLen) {
		return "", fmt.Errorf("licensing: the product version must be 1 to %d printable characters, not %q", maxProductVersionLen, opts.ProductVersion)
	}
	licenseID := opts.LicenseID
	if opts.LicenseText != nil {
		fromFile, err := licenseIDOf(opts.LicenseText)
		if err != nil {
			return "", err
		}
		if licenseID != "" && licenseID != fromFile {
			return "", fmt.Errorf("licensing: LicenseID %q is not the license file's id (%q)", licenseID, fromFile)
		}
		licenseID = fromFile
	}
	if licenseID == "" {
		return "", ErrNoLicenseID
	}
	if !utf8Printable(licenseID) {
		return "", fmt.Errorf("licensing: the license id must be printable text, not %q", licenseID)
	}
	iat, err := posixSeconds(opts.Now)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, 16)
	if _, err := io.ReadFull(nonceSource, nonce); err != nil {
		return "", fmt.Errorf("licensing: no randomness for the request's nonce: %w", err)
	}
	header := compactJSON([]jsonField{{"alg", "EdDSA"}, {"typ", activationTyp}, {"jwk", key.PublicJWK()}})
	claims := []jsonField{{"ver", int64(formatVersion)}, {"iat", iat}, {"installation_id", installationID}, {"license_id", licenseID}}
	if opts.ProductVersion != "" {
		claims = append(claims, jsonField{"product_version", opts.ProductVersion})
	}
	claims = append(claims, jsonField{"nonce", b64urlEncode(nonce)})
	_, text := key.sign(header, compactJSON(claims), activationLabel)
	return text, nil
}

func utf8Printable(s string) bool { return printableText(s, 1<<30) }

// licenseIDOf is the "jti" of a license file, read without verifying it.
func licenseIDOf(licenseText []byte) (string, error) {
	claims, err := unverifiedClaims(licenseText, licenseKind)
	if err != nil {
		return "", err
	}
	jti, isString := claims["jti"].(string)
	if !isString || jti == "" {
		return "", fail(CodeMalformed, `The license file has no "jti": it names no license.`)
	}
	return jti, nil
}

// posixSeconds is t (the clock when zero) in whole seconds, which must be from 1970 to 9999.
func posixSeconds(t time.Time) (int64, error) {
	if t.IsZero() {
		t = time.Now()
	}
	seconds := t.Unix()
	if seconds < 0 || seconds > maxTime {
		return 0, fmt.Errorf("licensing: a time between 1970 and 9999 (UTC) is needed, not %v", t)
	}
	return seconds, nil
}
