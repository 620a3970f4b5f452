package licensing

import (
	"errors"
	"fmt"
	"math"
	"time"
)

const (
	receiptLabel = "LICENSE USAGE RECEIPT"
	receiptTyp   = "license-usage-receipt+jwt"
)

// Receipt is a verified usage receipt: the vendor's signed acknowledgement of one usage report.
type Receipt struct {
	Issuer         string
	IssuedAt       time.Time
	InstallationID string
	LicenseID      string
	Seq            int64  // the report's seq
	Report         string // the report's digest (ReportDigest)
	PeakUsers      int64
	Seats          *int  // the licensed seats the report was weighed against; nil: unlimited
	Overage        int64 // max(0, PeakUsers - Seats); 0 when unlimited
	Gap            bool  // the service had not received the report seq - 1
	KeyID          string
	Claims         map[string]any
}

// VerifyReceipt verifies a usage receipt (armored, or a bare compact JWS) with the issuer's keyring,
// as Verify does a license file, and reads it. Given reportDigest (the ReportDigest of the report
// sent; "" not to check), a receipt for another report is refused (malformed). Every refusal is an
// *Error with the verifier's codes: malformed, unsupported, unknown_key, bad_signature. Receipts
// do not expire. A nil keyring is a programming error (a plain error).
func VerifyReceipt(text []byte, kr *Keyring, reportDigest string) (receipt *Receipt, err error) {
	if kr == nil {
		return nil, errors.New("licensing: VerifyReceipt needs a keyring from ParseKeyring, not nil")
	}
	if catchPanics {
		defer func() {
			if recovered := recover(); recovered != nil {
				receipt, err = nil, fail(CodeMalformed, fmt.Sprintf("The usage receipt could not be read (%v).", recovered))
			}
		}()
	}
	result, rejected := verifyReceipt(text, kr, reportDigest)
	if rejected != nil {
		return nil, rejected
	}
	return result, nil
}

func wholeNumberClaim(claims map[string]any, name string, min int64) (int64, *Error) {
	n, isInt := wholeNumber(claims[name])
	if !isInt || n < min {
		return 0, fail(CodeMalformed, fmt.Sprintf("The usage receipt's %q must be a whole number, %d or more.", name, min))
	}
	return n, nil
}

// overage is max(0, peak - seats); 0 for unlimited seats (nil).
func overage(peak int64, seats *int) int64 {
	if seats == nil || peak <= int64(*seats) {
		return 0
	}
	return peak - int64(*seats)
}

// isDigest reports whether s is a SHA-256 digest in canonical base64url (43 characters).
func isDigest(s string) bool {
	raw, ok := b64urlDecode([]byte(s))
	return ok && len(s) == 43 && len(raw) == 32
}

func verifyReceipt(text []byte, kr *Keyring, reportDigest string) (*Receipt, *Error) {
	const what = "usage receipt"
	claims, kid, err := decodeJWS(text, kr, receiptKind)
	if err != nil {
		return nil, err
	}
	r := &Receipt{KeyID: kid, Claims: claims}
	if r.Issuer, err = nonEmptyString(claims, "iss", what); err != nil {
		return nil, err
	}
	iat, err := numericDate(claims, "iat", what)
	if err != nil {
		return nil, err
	}
	r.IssuedAt = utc(iat)
	if id, isString := claims["installation_id"].(string); isString && printableText(id, maxInstallationIDLen) {
		r.InstallationID = id
	} else {
		return nil, fail(CodeMalformed, fmt.Sprintf(`The usage receipt's "installation_id" must be 1 to %d printable characters.`, maxInstallationIDLen))
	}
	if r.LicenseID, err = nonEmptyString(claims, "license_id", what); err != nil {
		return nil, err
	}
	if r.Seq, err = wholeNumberClaim(claims, "seq", 1); err != nil {
		return nil, err
	}
	if report, isString := claims["report"].(string); isString && isDigest(report) {
		r.Report = report
	} else {
		return nil, fail(CodeMalformed, `The usage receipt's "report" must be a SHA-256 digest in base64url (43 characters).`)
	}
	if r.PeakUsers, err = wholeNumberClaim(claims, "peak_users", 0); err != nil {
		return nil, err
	}
	seats, found := claims["seats"]
	if !found {
		return nil, fail(CodeMalformed, `The usage receipt's "seats" must be a positive whole number, or null for unlimited.`)
	}
	if seats != nil {
		n, isInt := wholeNumber(seats)
		if !isInt || n < 1 {
			return nil, fail(CodeMalformed, `The usage receipt's "seats" must be a positive whole number, or null for unlimited.`)
		}
		if n > math.MaxInt {
			n = math.MaxInt
		}
		count := int(n)
		r.Seats = &count
	}
	if r.Overage, err = wholeNumberClaim(claims, "overage", 0); err != nil {
		return nil, err
	}
	if r.Overage != overage(r.PeakUsers, r.Seats) {
		return nil, fail(CodeMalformed, `The usage receipt's "overage" must be max(0, peak_users - seats), 0 for unlimited seats.`)
	}
	gap, isBool := claims["gap"].(bool)
	if !isBool {
		return nil, fail(CodeMalformed, `The usage receipt's "gap" must be true or false.`)
	}
	r.Gap = gap
	if reportDigest != "" && r.Report != reportDigest {
		return nil, fail(CodeMalformed, fmt.Sprintf(
			"The usage receipt is for another usage report (%s), not the one sent (%s). Upload that report again and keep its receipt.",
			r.Report, reportDigest))
	}
	return r, nil
}
