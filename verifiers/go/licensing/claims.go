package licensing

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

const (
	day          = 86_400
	maxTime      = 253_402_300_799 // 9999-12-31T23:59:59Z, the last NumericDate a verifier accepts
	maxGraceDays = 36_500
	clockSkew    = 300 // seconds of leeway for iat and nbf
)

// Integers as the JSON reader gives them: int64, or json.Number when past int64.

// wholeNumber reports whether v is a JSON integer (not a float, not a bool), and its value
// saturated to int64.
func wholeNumber(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case json.Number:
		if len(n) > 0 && n[0] == '-' {
			return math.MinInt64, true
		}
		return math.MaxInt64, true
	}
	return 0, false
}

func numericDate(claims map[string]any, name string, what string) (int64, *Error) {
	v, isInt := wholeNumber(claims[name])
	if !isInt || v < 0 || v > maxTime {
		return 0, fail(CodeMalformed, fmt.Sprintf("The %s's %q must be a NumericDate (whole seconds since 1970).", what, name))
	}
	return v, nil
}

func nonEmptyString(claims map[string]any, name string, what string) (string, *Error) {
	s, isString := claims[name].(string)
	if !isString || s == "" {
		return "", fail(CodeMalformed, fmt.Sprintf("The %s's %q must be a non-empty string.", what, name))
	}
	return s, nil
}

func optionalString(claims map[string]any, name string) (string, *Error) {
	if claims[name] == nil {
		return "", nil
	}
	return nonEmptyString(claims, name, "license file")
}

func utc(seconds int64) time.Time { return time.Unix(seconds, 0).UTC() }

// readLicense checks the claims of a verified license file (SPEC section 2) and reads them.
func readLicense(claims map[string]any, kid string) (*License, *Error) {
	const what = "license file"
	lic := &License{Claims: claims, KeyID: kid}
	var err *Error
	if lic.Issuer, err = nonEmptyString(claims, "iss", what); err != nil {
		return nil, err
	}
	if lic.ID, err = nonEmptyString(claims, "jti", what); err != nil {
		return nil, err
	}
	if lic.Subject, err = nonEmptyString(claims, "sub", what); err != nil {
		return nil, err
	}
	if lic.Tier, err = nonEmptyString(claims, "tier", what); err != nil {
		return nil, err
	}
	iat, err := numericDate(claims, "iat", what)
	if err != nil {
		return nil, err
	}
	nbf, err := numericDate(claims, "nbf", what)
	if err != nil {
		return nil, err
	}
	lic.iat, lic.nbf = iat, nbf
	if claims["exp"] != nil {
		exp, err := numericDate(claims, "exp", what)
		if err != nil {
			return nil, err
		}
		if exp < nbf {
			return nil, fail(CodeMalformed, "The license file expires before it becomes valid.")
		}
		lic.exp = &exp
	}
	trial, isBool := claims["trial"].(bool)
	if !isBool {
		return nil, fail(CodeMalformed, `The license file's "trial" must be true or false.`)
	}
	lic.Trial = trial
	seats, found := claims["seats"]
	if !found {
		return nil, fail(CodeMalformed, `The license file's "seats" must be a positive whole number, or null for unlimited.`)
	}
	if seats != nil {
		n, isInt := wholeNumber(seats)
		if !isInt || n < 1 {
			return nil, fail(CodeMalformed, `The license file's "seats" must be a positive whole number, or null for unlimited.`)
		}
		if n > math.MaxInt { // only on 32-bit platforms: more seats than an int holds, saturated
			n = math.MaxInt
		}
		count := int(n)
		lic.Seats = &count
	}
	features, isList := claims["features"].([]any)
	if !isList {
		return nil, fail(CodeMalformed, `The license file's "features" must be an array of strings.`)
	}
	lic.Features = make([]string, len(features))
	for i, f := range features {
		name, isString := f.(string)
		if !isString {
			return nil, fail(CodeMalformed, `The license file's "features" must be an array of strings.`)
		}
		lic.Features[i] = name
	}
	grace, isInt := wholeNumber(claims["grace_days"])
	if !isInt || grace < 0 || grace > maxGraceDays {
		return nil, fail(CodeMalformed, `The license file's "grace_days" must be a whole number of days, 0 or more.`)
	}
	lic.GraceDays = int(grace)
	customer, isObject := claims["customer"].(map[string]any)
	if !isObject {
		return nil, fail(CodeMalformed, `The license file's "customer" must be an object of name, email and company.`)
	}
	for _, field := range []struct {
		name string
		into *string
	}{{"name", &lic.Customer.Name}, {"email", &lic.Customer.Email}, {"company", &lic.Customer.Company}} {
		switch v := customer[field.name].(type) {
		case nil:
		case string:
			*field.into = v
		default:
			return nil, fail(CodeMalformed, `The license file's "customer" must be an object of name, email and company.`)
		}
	}
	if lic.InstallationID, err = optionalString(claims, "installation_id"); err != nil {
		return nil, err
	}
	if lic.SubscriptionID, err = optionalString(claims, "subscription_id"); err != nil {
		return nil, err
	}
	if lic.Supersedes, err = optionalString(claims, "supersedes"); err != nil {
		return nil, err
	}
	lic.IssuedAt, lic.NotBefore = utc(iat), utc(nbf)
	if lic.exp != nil {
		expires := utc(*lic.exp)
		end := *lic.exp + grace*day
		if end > maxTime {
			end = maxTime
		}
		graceEnds := utc(end)
		lic.ExpiresAt, lic.GraceEndsAt = &expires, &graceEnds
	}
	return lic, nil
}
