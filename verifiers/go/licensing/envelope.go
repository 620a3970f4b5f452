package licensing

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"
)

const (
	licenseLabel       = "LICENSE FILE"
	revocationsLabel   = "LICENSE REVOCATIONS"
	licenseTyp         = "license+jwt"
	revocationsTyp     = "license-revocations+jwt"
	formatVersion      = 1
	maxLicenseChars    = 1_000_000
	maxRevocationChars = 64 * 1024 * 1024 // a revocation list's own limit: 67,108,864 characters
)

// kind is what is being read: a license file or a revocation list.
type kind struct {
	label    string
	typ      string
	what     string // for messages
	maxChars int
	begin    []byte
	end      []byte
}

var (
	licenseKind     = newKind(licenseLabel, licenseTyp, "license file", maxLicenseChars)
	revocationsKind = newKind(revocationsLabel, revocationsTyp, "revocation list", maxRevocationChars)
	receiptKind     = newKind(receiptLabel, receiptTyp, "usage receipt", maxLicenseChars)
	anyBegin        = []byte("-----BEGIN ")
)

func newKind(label, typ, what string, maxChars int) *kind {
	return &kind{
		label: label, typ: typ, what: what, maxChars: maxChars,
		begin: []byte("-----BEGIN " + label + "-----"),
		end:   []byte("-----END " + label + "-----"),
	}
}

// --- base64url ------------------------------------------------------------------------------------

var b64Values = func() (table [256]int8) {
	for i := range table {
		table[i] = -1
	}
	for i, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
		table[c] = int8(i)
	}
	return table
}()

// b64urlDecode decodes unpadded base64url strictly: only its alphabet, and only the canonical
// encoding (the spare bits of the last character must be zero), so that every change to the text
// is a change to the bytes.
func b64urlDecode(segment []byte) ([]byte, bool) {
	n := len(segment)
	tail := n % 4
	if tail == 1 {
		return nil, false
	}
	out := make([]byte, 0, n*3/4)
	i := 0
	for ; i+4 <= n; i += 4 {
		a, b, c, d := b64Values[segment[i]], b64Values[segment[i+1]], b64Values[segment[i+2]], b64Values[segment[i+3]]
		if a|b|c|d < 0 {
			return nil, false
		}
		v := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6 | uint32(d)
		out = append(out, byte(v>>16), byte(v>>8), byte(v))
	}
	switch tail {
	case 2:
		a, b := b64Values[segment[i]], b64Values[segment[i+1]]
		if a|b < 0 || b&0x0F != 0 {
			return nil, false
		}
		out = append(out, byte(a)<<2|byte(b)>>4)
	case 3:
		a, b, c := b64Values[segment[i]], b64Values[segment[i+1]], b64Values[segment[i+2]]
		if a|b|c < 0 || c&0x03 != 0 {
			return nil, false
		}
		v := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6
		out = append(out, byte(v>>16), byte(v>>8))
	}
	return out, true
}

// b64urlEncode is unpadded base64url (the standard library's, which writes the canonical form).
func b64urlEncode(data []byte) string { return base64.RawURLEncoding.EncodeToString(data) }

// --- armor ----------------------------------------------------------------------------------------

// withoutEMailSpaces is the text with what e-mail clients and editors put into pasted text made
// harmless, as the Python verifier does before it looks for the armor: no-break spaces (U+00A0,
// U+202F) become spaces; a byte-order mark and zero-width spaces and joiners (U+FEFF, U+200B,
// U+200C, U+200D, U+2060) are dropped. Anywhere: in the BEGIN and END lines too.
func withoutEMailSpaces(text []byte) []byte {
	ascii := true
	for _, c := range text {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii { // every file as issued
		return text
	}
	out := make([]byte, 0, len(text))
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRune(text[i:])
		switch r {
		case '\u00A0', '\u202F':
			out = append(out, ' ')
		case '\uFEFF', '\u200B', '\u200C', '\u200D', '\u2060':
		default:
			out = append(out, text[i:i+size]...)
		}
		i += size
	}
	return out
}

// armorBody is the text between the armor lines (or all of it, for a bare JWS), whitespace and all.
func armorBody(text []byte, k *kind) ([]byte, *Error) {
	if !utf8.Valid(text) {
		return nil, fail(CodeMalformed, fmt.Sprintf("The %s is not UTF-8 text.", k.what))
	}
	if len(text) > k.maxChars && utf8.RuneCount(text) > k.maxChars {
		return nil, fail(CodeMalformed, fmt.Sprintf("The text is far too large to be a %s.", k.what))
	}
	text = withoutEMailSpaces(text)
	if begin := bytes.Index(text, k.begin); begin >= 0 {
		start := begin + len(k.begin)
		end := bytes.Index(text[start:], k.end)
		if end < 0 {
			return nil, fail(CodeMalformed, fmt.Sprintf("The %s has no END line: it was cut short. Copy the whole block, from its BEGIN line to its END line.", k.what))
		}
		return text[start : start+end], nil
	}
	if bytes.Contains(text, anyBegin) {
		return nil, fail(CodeMalformed, fmt.Sprintf("The text holds an armor block, but not a %s.", k.what))
	}
	return text, nil
}

// compactJWS is the compact JWS of an armor body: ASCII whitespace dropped, nothing non-ASCII.
func compactJWS(body []byte, k *kind) ([]byte, *Error) {
	out := make([]byte, 0, len(body))
	for _, c := range body {
		switch {
		case c >= utf8.RuneSelf:
			return nil, fail(CodeMalformed, fmt.Sprintf("The %s holds characters that cannot be part of one.", k.what))
		case c != ' ' && c != '\n' && c != '\r' && c != '\t' && c != '\f' && c != '\v':
			out = append(out, c)
		}
	}
	return out, nil
}

// --- the envelope ---------------------------------------------------------------------------------

var acceptedAlgs = map[string]bool{"EdDSA": true, "Ed25519": true}

// asciiLower lower-cases A-Z only. (Python's str.lower maps no other character to one that could
// make a typ match: U+0130 becomes "i" plus a combining dot, and the Kelvin sign becomes "k", which
// no typ holds; Go's unicode.ToLower would turn U+0130 into a plain "i".)
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// Protected headers that passed the header check, by kind and segment: every file signed by a key
// has the same header, so re-verifying skips parsing it. Bounded: short segments only, emptied when full.
var headerMemo = struct {
	sync.RWMutex
	kids map[*kind]map[string]any
}{kids: map[*kind]map[string]any{licenseKind: {}, revocationsKind: {}, receiptKind: {}}}

const (
	headerMemoMax      = 64
	headerMemoMaxBytes = 512
)

func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "none"
	case string:
		return fmt.Sprintf("%q", v)
	default:
		return fmt.Sprintf("%v", v)
	}
}

// headerKid checks the protected header (alg, typ, crit) and returns its kid, whatever that is
// (the keyring judges).
func headerKid(segment []byte, k *kind) (any, *Error) {
	memo := len(segment) <= headerMemoMaxBytes
	if memo {
		headerMemo.RLock()
		kid, found := headerMemo.kids[k][string(segment)] // no copy of the segment for a lookup
		headerMemo.RUnlock()
		if found {
			return kid, nil
		}
	}
	raw, ok := b64urlDecode(segment)
	if !ok {
		return nil, fail(CodeMalformed, fmt.Sprintf("The %s's header is not canonical base64url text.", k.what))
	}
	header, ok := parseJSONObject(raw)
	if !ok {
		return nil, fail(CodeMalformed, fmt.Sprintf("The %s's header is not a JSON object.", k.what))
	}
	alg, isString := header["alg"].(string)
	if !isString || !acceptedAlgs[alg] {
		return nil, fail(CodeUnsupported, fmt.Sprintf("Signature algorithm %s is not accepted; only EdDSA (Ed25519) is.", describe(header["alg"])))
	}
	typ, isString := header["typ"].(string)
	if !isString || strings.TrimPrefix(asciiLower(typ), "application/") != k.typ {
		return nil, fail(CodeUnsupported, fmt.Sprintf("The file is of type %s, not %q: it is not a %s.", describe(header["typ"]), k.typ, k.what))
	}
	if _, found := header["crit"]; found {
		return nil, fail(CodeUnsupported, fmt.Sprintf("The %s requires header extensions this verifier does not know. Update the product.", k.what))
	}
	kid := header["kid"]
	if memo {
		headerMemo.Lock()
		if len(headerMemo.kids[k]) >= headerMemoMax {
			headerMemo.kids[k] = map[string]any{}
		}
		headerMemo.kids[k][string(segment)] = kid
		headerMemo.Unlock()
	}
	return kid, nil
}

// splitJWS finds the compact JWS in the text and the positions of its two dots.
func splitJWS(text []byte, k *kind) (compact []byte, first, second int, err *Error) {
	body, err := armorBody(text, k)
	if err != nil {
		return nil, 0, 0, err
	}
	compact, err = compactJWS(body, k)
	if err != nil {
		return nil, 0, 0, err
	}
	first = bytes.IndexByte(compact, '.')
	second = -1
	if first >= 0 {
		if i := bytes.IndexByte(compact[first+1:], '.'); i >= 0 {
			second = first + 1 + i
		}
	}
	// An empty signature is left to the header check: an unsecured JWS (alg none) is "unsupported".
	if first <= 0 || second <= first+1 || bytes.IndexByte(compact[second+1:], '.') >= 0 {
		return nil, 0, 0, fail(CodeMalformed, fmt.Sprintf("No %s was found in the text: expected an armor block or a compact JWS.", k.what))
	}
	return compact, first, second, nil
}

// unverifiedClaims reads the claims of a JWS WITHOUT checking its header or signature: only for
// what a maker copies from a file it holds (an activation request's license id), never to trust.
func unverifiedClaims(text []byte, k *kind) (map[string]any, *Error) {
	compact, first, second, err := splitJWS(text, k)
	if err != nil {
		return nil, err
	}
	payload, ok := b64urlDecode(compact[first+1 : second])
	if !ok {
		return nil, fail(CodeMalformed, fmt.Sprintf("The %s's contents are not canonical base64url text.", k.what))
	}
	claims, ok := parseJSONObject(payload)
	if !ok {
		return nil, fail(CodeMalformed, fmt.Sprintf("The %s's contents are not a JSON object.", k.what))
	}
	return claims, nil
}

// decodeJWS checks armor, header, key and signature, and returns the verified claims (with ver 1)
// and the key id.
func decodeJWS(text []byte, kr *Keyring, k *kind) (map[string]any, string, *Error) {
	compact, first, second, err := splitJWS(text, k)
	if err != nil {
		return nil, "", err
	}
	kidValue, err := headerKid(compact[:first], k)
	if err != nil {
		return nil, "", err
	}
	signature, ok := b64urlDecode(compact[second+1:])
	if !ok {
		return nil, "", fail(CodeMalformed, fmt.Sprintf("The %s's signature is not canonical base64url text.", k.what))
	}
	payload, ok := b64urlDecode(compact[first+1 : second])
	if !ok {
		return nil, "", fail(CodeMalformed, fmt.Sprintf("The %s's contents are not canonical base64url text.", k.what))
	}
	kid, isString := kidValue.(string)
	var key ed25519.PublicKey
	if isString {
		key = kr.keys[kid]
	}
	if key == nil {
		return nil, "", fail(CodeUnknownKey, fmt.Sprintf(
			"The %s was signed with key %s, which this installation does not know. "+
				"Update the product, or import the issuer's current public keys.", k.what, describe(kidValue)))
	}
	if !ed25519.Verify(key, compact[:second], signature) {
		return nil, "", fail(CodeBadSignature, fmt.Sprintf(
			"The signature does not match the contents: the %s was altered or damaged. "+
				"Download it again from the issuer.", k.what))
	}
	claims, ok := parseJSONObject(payload)
	if !ok {
		return nil, "", fail(CodeMalformed, fmt.Sprintf("The %s's contents are not a JSON object.", k.what))
	}
	if ver, isInt := claims["ver"].(int64); !isInt || ver != formatVersion {
		return nil, "", fail(CodeUnsupported, fmt.Sprintf(
			"The %s is of format version %s; this verifier reads version 1. Update the product.", k.what, describe(claims["ver"])))
	}
	return claims, kid, nil
}
