package licensing

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
)

// Passphrase-protected installation keys: PKCS#8 EncryptedPrivateKeyInfo ("-----BEGIN ENCRYPTED
// PRIVATE KEY-----", RFC 5958) with PBES2 (RFC 8018): PBKDF2-HMAC-SHA256 and AES-CBC, what
// Python's cryptography (BestAvailableEncryption) and Node's crypto (cipher "aes-256-cbc") write.

// ErrWrongPassphrase is returned by ParseInstallationKeyPEMWithPassphrase when the passphrase does
// not decrypt the key (a wrong passphrase, or a damaged encrypted PEM: PBES2 cannot tell them apart).
var ErrWrongPassphrase = errors.New("licensing: the passphrase does not decrypt the installation key (wrong passphrase, or a damaged key)")

var (
	oidPBES2          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidAES128CBC      = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC      = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC      = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
)

const (
	// pbkdf2Iterations is what PrivatePEMWithPassphrase writes (OWASP's figure for PBKDF2-HMAC-SHA256).
	pbkdf2Iterations   = 600_000
	pbkdf2SaltBytes    = 16
	maxEncryptedKeyDER = 4096
)

// maxPBKDF2Iterations bounds the work a key file can ask of the reader (a key with more is
// refused with ErrInstallationKey); only the fuzz target lowers it.
var maxPBKDF2Iterations = 10_000_000

type encryptedPrivateKeyInfo struct {
	Algorithm     pkix.AlgorithmIdentifier
	EncryptedData []byte
}

type pbes2Params struct {
	KeyDerivationFunc pkix.AlgorithmIdentifier
	EncryptionScheme  pkix.AlgorithmIdentifier
}

type pbkdf2Params struct {
	Salt       []byte
	Iterations int
	KeyLength  int                      `asn1:"optional"`
	PRF        pkix.AlgorithmIdentifier `asn1:"optional"` // absent: hmacWithSHA1, which is refused
}

// ParseInstallationKeyPEMWithPassphrase reads an installation key protected by a passphrase
// ("-----BEGIN ENCRYPTED PRIVATE KEY-----": PBES2 with PBKDF2-HMAC-SHA256 and AES-128/192/256-CBC,
// as PrivatePEMWithPassphrase, Python's InstallationKey.private_pem(passphrase) and the TypeScript
// privatePem(passphrase) write it). An unencrypted key ("-----BEGIN PRIVATE KEY-----") is read as
// ParseInstallationKeyPEM reads it, whatever the passphrase. Errors: ErrWrongPassphrase when the
// passphrase does not decrypt the key (or it is empty), otherwise an error wrapping
// ErrInstallationKey (not a PEM key, another kind of key, or an encryption this package does not read).
func ParseInstallationKeyPEMWithPassphrase(data, passphrase []byte) (*InstallationKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "ENCRYPTED PRIVATE KEY" {
		return ParseInstallationKeyPEM(data)
	}
	if len(block.Headers) > 0 {
		return nil, fmt.Errorf("%w: the PEM block has headers", ErrInstallationKey)
	}
	if len(passphrase) == 0 {
		return nil, fmt.Errorf("%w: the key is encrypted and the passphrase is empty", ErrWrongPassphrase)
	}
	der, err := decryptPKCS8(block.Bytes, passphrase)
	if err != nil {
		return nil, err
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil { // a wrong key whose padding happened to look right
		return nil, ErrWrongPassphrase
	}
	private, isEd25519 := parsed.(ed25519.PrivateKey)
	if !isEd25519 || len(private) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: the key is a %T", ErrInstallationKey, parsed)
	}
	return newInstallationKey(private), nil
}

func decryptPKCS8(der, passphrase []byte) ([]byte, error) {
	malformed := func(what string) error { return fmt.Errorf("%w: the encrypted key %s", ErrInstallationKey, what) }
	if len(der) > maxEncryptedKeyDER {
		return nil, malformed("is far too large")
	}
	var info encryptedPrivateKeyInfo
	if rest, err := asn1.Unmarshal(der, &info); err != nil || len(rest) > 0 {
		return nil, malformed("is not PKCS#8 EncryptedPrivateKeyInfo")
	}
	if !info.Algorithm.Algorithm.Equal(oidPBES2) {
		return nil, malformed(fmt.Sprintf("uses %v, not PBES2", info.Algorithm.Algorithm))
	}
	var params pbes2Params
	if rest, err := asn1.Unmarshal(info.Algorithm.Parameters.FullBytes, &params); err != nil || len(rest) > 0 {
		return nil, malformed("has no PBES2 parameters")
	}
	if !params.KeyDerivationFunc.Algorithm.Equal(oidPBKDF2) {
		return nil, malformed(fmt.Sprintf("derives its key with %v, not PBKDF2", params.KeyDerivationFunc.Algorithm))
	}
	var kdf pbkdf2Params
	if rest, err := asn1.Unmarshal(params.KeyDerivationFunc.Parameters.FullBytes, &kdf); err != nil || len(rest) > 0 {
		return nil, malformed("has no PBKDF2 parameters")
	}
	if !kdf.PRF.Algorithm.Equal(oidHMACWithSHA256) {
		return nil, malformed("uses a PBKDF2 hash other than HMAC-SHA256")
	}
	if kdf.Iterations < 1 || kdf.Iterations > maxPBKDF2Iterations {
		return nil, malformed(fmt.Sprintf("asks for %d PBKDF2 iterations (1 to %d are read)", kdf.Iterations, maxPBKDF2Iterations))
	}
	var keyLen int
	switch scheme := params.EncryptionScheme.Algorithm; {
	case scheme.Equal(oidAES128CBC):
		keyLen = 16
	case scheme.Equal(oidAES192CBC):
		keyLen = 24
	case scheme.Equal(oidAES256CBC):
		keyLen = 32
	default:
		return nil, malformed(fmt.Sprintf("is encrypted with %v, not AES-CBC", scheme))
	}
	if kdf.KeyLength != 0 && kdf.KeyLength != keyLen {
		return nil, malformed("names a key length its cipher does not have")
	}
	var iv []byte
	if rest, err := asn1.Unmarshal(params.EncryptionScheme.Parameters.FullBytes, &iv); err != nil || len(rest) > 0 || len(iv) != aes.BlockSize {
		return nil, malformed("has no 16-byte AES-CBC IV")
	}
	data := info.EncryptedData
	if len(data) == 0 || len(data)%aes.BlockSize != 0 {
		return nil, malformed("is not whole AES blocks")
	}
	block, _ := aes.NewCipher(pbkdf2SHA256(passphrase, kdf.Salt, kdf.Iterations, keyLen)) // keyLen is 16, 24 or 32
	plain := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, data)
	// PKCS#7 padding, checked in constant time (its validity is all a wrong passphrase shows).
	pad := int(plain[len(plain)-1])
	good := subtle.ConstantTimeLessOrEq(1, pad) & subtle.ConstantTimeLessOrEq(pad, aes.BlockSize)
	for i := 1; i <= aes.BlockSize; i++ {
		inPad := subtle.ConstantTimeLessOrEq(i, pad)
		good &= subtle.ConstantTimeByteEq(plain[len(plain)-i], byte(pad)) | (inPad ^ 1)
	}
	if good != 1 {
		return nil, ErrWrongPassphrase
	}
	return plain[:len(plain)-pad], nil
}

// pbkdf2SHA256 is PBKDF2 (RFC 8018 section 5.2) with HMAC-SHA256.
func pbkdf2SHA256(password, salt []byte, iterations, keyLen int) []byte {
	prf := hmac.New(sha256.New, password)
	out := make([]byte, 0, keyLen+sha256.Size)
	u := make([]byte, sha256.Size)
	t := make([]byte, sha256.Size)
	var counter [4]byte
	for block := uint32(1); len(out) < keyLen; block++ {
		binary.BigEndian.PutUint32(counter[:], block)
		prf.Reset()
		prf.Write(salt)
		prf.Write(counter[:])
		u = prf.Sum(u[:0])
		copy(t, u)
		for i := 1; i < iterations; i++ {
			prf.Reset()
			prf.Write(u)
			u = prf.Sum(u[:0])
			for j := range t {
				t[j] ^= u[j]
			}
		}
		out = append(out, t...)
	}
	return out[:keyLen]
}

// PrivatePEMWithPassphrase is the private half as PKCS#8 EncryptedPrivateKeyInfo PEM ("-----BEGIN
// ENCRYPTED PRIVATE KEY-----"): PBES2, PBKDF2-HMAC-SHA256 (a random 16-byte salt, 600,000
// iterations) and AES-256-CBC, which Python's cryptography, Node's crypto and OpenSSL read. An
// empty passphrase gives PrivatePEM's unencrypted PEM, as the Python and TypeScript libraries do.
// The error is only the system's random source failing. It is a secret still: never log it.
func (k *InstallationKey) PrivatePEMWithPassphrase(passphrase []byte) ([]byte, error) {
	if len(passphrase) == 0 {
		return k.PrivatePEM(), nil
	}
	return k.encryptedPEM(passphrase, pbkdf2Iterations)
}

func (k *InstallationKey) encryptedPEM(passphrase []byte, iterations int) ([]byte, error) {
	plain, err := x509.MarshalPKCS8PrivateKey(k.private)
	if err != nil { // an Ed25519 key always marshals
		panic(err)
	}
	random := make([]byte, pbkdf2SaltBytes+aes.BlockSize)
	if _, err := rand.Read(random); err != nil {
		return nil, fmt.Errorf("licensing: no randomness to encrypt the installation key: %w", err)
	}
	salt, iv := random[:pbkdf2SaltBytes], random[pbkdf2SaltBytes:]
	block, _ := aes.NewCipher(pbkdf2SHA256(passphrase, salt, iterations, 32))
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	padded := append(plain, bytes.Repeat([]byte{byte(pad)}, pad)...)
	encrypted := make([]byte, len(padded))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(encrypted, padded)
	kdf := mustMarshal(pbkdf2Params{Salt: salt, Iterations: iterations,
		PRF: pkix.AlgorithmIdentifier{Algorithm: oidHMACWithSHA256, Parameters: asn1.NullRawValue}})
	ivDER := mustMarshal(iv)
	scheme := mustMarshal(pbes2Params{
		KeyDerivationFunc: pkix.AlgorithmIdentifier{Algorithm: oidPBKDF2, Parameters: asn1.RawValue{FullBytes: kdf}},
		EncryptionScheme:  pkix.AlgorithmIdentifier{Algorithm: oidAES256CBC, Parameters: asn1.RawValue{FullBytes: ivDER}},
	})
	der := mustMarshal(encryptedPrivateKeyInfo{
		Algorithm:     pkix.AlgorithmIdentifier{Algorithm: oidPBES2, Parameters: asn1.RawValue{FullBytes: scheme}},
		EncryptedData: encrypted,
	})
	return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der}), nil
}

func mustMarshal(value any) []byte {
	der, err := asn1.Marshal(value)
	if err != nil { // fixed structures of known types
		panic(err)
	}
	return der
}
