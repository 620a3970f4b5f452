package licensing

// Error codes: the same strings as the Python verifier's LicenseError.code (SPEC section 3).
const (
	CodeMalformed            = "malformed"
	CodeUnsupported          = "unsupported"
	CodeUnknownKey           = "unknown_key"
	CodeBadSignature         = "bad_signature"
	CodeNotYetValid          = "not_yet_valid"
	CodeClockSkew            = "clock_skew"
	CodeExpired              = "expired"
	CodeRevoked              = "revoked"
	CodeInstallationMismatch = "installation_mismatch"
)

// ErrorCodes lists every Code an *Error can have.
var ErrorCodes = []string{
	CodeMalformed, CodeUnsupported, CodeUnknownKey, CodeBadSignature, CodeNotYetValid,
	CodeClockSkew, CodeExpired, CodeRevoked, CodeInstallationMismatch,
}

// Error is a rejected license file or revocation list. Code is stable (one of ErrorCodes); Message
// says in plain words what is wrong and what to do, for people.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func fail(code, message string) *Error { return &Error{Code: code, Message: message} }

// KeyringError is a JWKS that ParseKeyring cannot use.
type KeyringError struct {
	Message string
}

func (e *KeyringError) Error() string { return "licensing: " + e.Message }
