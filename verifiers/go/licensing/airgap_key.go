package licensing

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The air-gapped exchanges (SPEC section 8): an installation key, activation requests and usage
// reports the install signs with it, usage receipts the service signs, and comparing two licenses.
// Like the verifier, none of it touches the network; the usage log is the only file written.

// ErrInstallationKey is wrapped by every error of ParseInstallationKeyPEM: the PEM is not an
// Ed25519 private key in PKCS#8.
var ErrInstallationKey = errors.New("licensing: not an Ed25519 installation key (PKCS#8 PEM, BEGIN PRIVATE KEY)")

// InstallationKey is an installation's own Ed25519 key pair. It signs the install's activation
// requests and usage reports; the service binds the install's license to its thumbprint (cnf.jkt).
// Keep the private half (PrivatePEM) where the product keeps its secrets, readable by it alone.
type InstallationKey struct {
	private ed25519.PrivateKey
	x       string // the public key, base64url (the JWK's "x")
}

// JWK is a public Ed25519 key as a JSON Web Key (RFC 8037): Kty "OKP", Crv "Ed25519".
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
}

// NewInstallationKey makes a key pair from the system's random source.
func NewInstallationKey() (*InstallationKey, error) {
	_, private, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("licensing: no randomness for an installation key: %w", err)
	}
	return newInstallationKey(private), nil
}

func newInstallationKey(private ed25519.PrivateKey) *InstallationKey {
	return &InstallationKey{private: private, x: b64urlEncode(private.Public().(ed25519.PublicKey))}
}

// ParseInstallationKeyPEM reads the private half written by PrivatePEM (or by another library:
// PKCS#8, "-----BEGIN PRIVATE KEY-----"). Any other input gives an error wrapping ErrInstallationKey,
// an encrypted key too (ParseInstallationKeyPEMWithPassphrase reads those).
func ParseInstallationKeyPEM(data []byte) (*InstallationKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block found", ErrInstallationKey)
	}
	if block.Type == "ENCRYPTED PRIVATE KEY" {
		return nil, fmt.Errorf("%w: the key is encrypted: read it with ParseInstallationKeyPEMWithPassphrase", ErrInstallationKey)
	}
	if block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%w: the PEM block is %q", ErrInstallationKey, block.Type)
	}
	if len(block.Headers) > 0 {
		return nil, fmt.Errorf("%w: the PEM block is encrypted or has headers", ErrInstallationKey)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInstallationKey, err)
	}
	private, isEd25519 := parsed.(ed25519.PrivateKey)
	if !isEd25519 || len(private) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: the key is a %T", ErrInstallationKey, parsed)
	}
	return newInstallationKey(private), nil
}

// PrivatePEM is the private half as PKCS#8 PEM. It is a secret: never log it.
func (k *InstallationKey) PrivatePEM() []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k.private)
	if err != nil { // an Ed25519 key always marshals
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// PublicJWK is the public half as a JWK: {"kty":"OKP","crv":"Ed25519","x":...}.
func (k *InstallationKey) PublicJWK() JWK { return JWK{Kty: "OKP", Crv: "Ed25519", X: k.x} }

// Thumbprint is the RFC 7638 thumbprint of the public key: what a bound license holds as cnf.jkt
// and a usage report as its kid.
func (k *InstallationKey) Thumbprint() string { return Thumbprint(k.x) }

// String names the key by its thumbprint, so that printing one never shows the private half.
func (k *InstallationKey) String() string { return "InstallationKey(" + k.Thumbprint() + ")" }

// GoString, for %#v: the same.
func (k *InstallationKey) GoString() string { return k.String() }

func (k *InstallationKey) sign(header, claims []byte, label string) (compact string, text string) {
	input := b64urlEncode(header) + "." + b64urlEncode(claims)
	compact = input + "." + b64urlEncode(ed25519.Sign(k.private, []byte(input)))
	return compact, armor(compact, label)
}

// signed reports whether text (a JWS this package made) bears this key's signature.
func (k *InstallationKey) signed(text string) bool {
	compact, _, second, err := splitJWS([]byte(text), usageReportKind)
	if err != nil {
		return false
	}
	signature, ok := b64urlDecode(compact[second+1:])
	return ok && ed25519.Verify(k.private.Public().(ed25519.PublicKey), compact[:second], signature)
}

// armor wraps a compact JWS at 64 columns between its BEGIN and END lines.
func armor(compact, label string) string {
	var sb strings.Builder
	sb.Grow(len(compact) + len(compact)/64 + 2*len(label) + 40)
	sb.WriteString("-----BEGIN " + label + "-----\n")
	for i := 0; i < len(compact); i += 64 {
		end := i + 64
		if end > len(compact) {
			end = len(compact)
		}
		sb.WriteString(compact[i:end])
		sb.WriteByte('\n')
	}
	sb.WriteString("-----END " + label + "-----\n")
	return sb.String()
}

// digest is base64url(SHA-256(compact JWS)): a usage report's digest, its successor's prev, and a
// receipt's report.
func digest(compact string) string {
	sum := sha256.Sum256([]byte(compact))
	return b64urlEncode(sum[:])
}

// ReportDigest is the digest of a usage report (armored or a bare compact JWS): base64url of the
// SHA-256 of its compact JWS. It is what the receipt for it names (VerifyReceipt's reportDigest).
// ok is false when the text holds no compact JWS.
func ReportDigest(reportText []byte) (string, bool) {
	compact, _, _, err := splitJWS(reportText, usageReportKind)
	if err != nil {
		return "", false
	}
	return digest(string(compact)), true
}

// --- compact JSON in a given key order, as the writers emit it ------------------------------------

type jsonField struct {
	name  string
	value any // string, int64, bool, nil, JWK, []jsonField (an object), [][2]int64, json.RawMessage
}

func compactJSON(fields []jsonField) []byte {
	var buf bytes.Buffer
	writeJSONObject(&buf, fields)
	return buf.Bytes()
}

func writeJSONObject(buf *bytes.Buffer, fields []jsonField) {
	buf.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			buf.WriteByte(',')
		}
		writeJSONString(buf, f.name)
		buf.WriteByte(':')
		switch v := f.value.(type) {
		case []jsonField:
			writeJSONObject(buf, v)
		case JWK:
			writeJSONObject(buf, []jsonField{{"kty", v.Kty}, {"crv", v.Crv}, {"x", v.X}})
		case string:
			writeJSONString(buf, v)
		case [][2]int64:
			buf.WriteByte('[')
			var number [20]byte
			for j, pair := range v {
				if j > 0 {
					buf.WriteByte(',')
				}
				buf.WriteByte('[')
				buf.Write(strconv.AppendInt(number[:0], pair[0], 10))
				buf.WriteByte(',')
				buf.Write(strconv.AppendInt(number[:0], pair[1], 10))
				buf.WriteByte(']')
			}
			buf.WriteByte(']')
		case int64:
			buf.WriteString(strconv.FormatInt(v, 10))
		default: // other numbers, booleans, null
			encoded, err := json.Marshal(v)
			if err != nil {
				panic(err)
			}
			buf.Write(encoded)
		}
	}
	buf.WriteByte('}')
}

// writeJSONString writes a string as Python's json.dumps(ensure_ascii=False) does: UTF-8 as is,
// only '"', '\\' and control characters escaped. (The callers pass valid UTF-8.)
func writeJSONString(buf *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	buf.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			buf.WriteByte('\\')
			buf.WriteByte(c)
		case c == '\n':
			buf.WriteString(`\n`)
		case c == '\r':
			buf.WriteString(`\r`)
		case c == '\t':
			buf.WriteString(`\t`)
		case c == '\b':
			buf.WriteString(`\b`)
		case c == '\f':
			buf.WriteString(`\f`)
		case c < 0x20:
			buf.WriteString(`\u00`)
			buf.WriteByte(hex[c>>4])
			buf.WriteByte(hex[c&0xF])
		default:
			buf.WriteByte(c)
		}
	}
	buf.WriteByte('"')
}

// printableText checks a string the install puts in a request or report: 1 to max characters,
// valid UTF-8, every character printable (letters, marks, numbers, punctuation, symbols, the
// ASCII space), as Python's str.isprintable.
func printableText(s string, max int) bool {
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
