// Command licensing-airgap drives the Go library's air-gapped exchanges (SPEC section 8) from a
// shell, as a self-hosted server would: for tests and for trying them out. Standard library only;
// it never touches the network.
//
//	licensing-airgap key OUT.pem
//	licensing-airgap request --key K.pem --installation ID (--license FILE | --license-id ID) [--product-version V]
//	licensing-airgap record --log F --key K.pem --license FILE --users N [--at RFC3339]
//	licensing-airgap export --log F --key K.pem --license FILE [--until RFC3339]
//	licensing-airgap digest REPORT
//	licensing-airgap receipt --jwks F [--report-digest D] FILE
//	licensing-airgap compare --jwks F [--at RFC3339] [--installation-id ID] OLD NEW
//
// key writes a new installation key (PKCS#8 PEM, mode 0600, never over an existing file) and prints
// its thumbprint; request and export print the armored file; digest prints a report's digest;
// receipt prints the verified receipt's fields as JSON; compare prints the comparison's lines.
// The installation key may be kept under a passphrase: with LICENSING_AIRGAP_PASSPHRASE set (in
// the environment, never on the command line), key writes it encrypted (BEGIN ENCRYPTED PRIVATE
// KEY) and the other commands read an encrypted --key with it.
// Exit status: 0 done; 1 refused (a receipt or license the library refuses: "code: message" on
// stderr; a usage log error; a day already reported); 2 a usage error.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"example.invalid/licensing-verifier/licensing"
)

type usageError struct{ message string }

func (e usageError) Error() string { return e.message }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  licensing-airgap key OUT.pem
  licensing-airgap request --key K.pem --installation ID (--license FILE | --license-id ID) [--product-version V]
  licensing-airgap record --log F --key K.pem --license FILE --users N [--at RFC3339]
  licensing-airgap export --log F --key K.pem --license FILE [--until RFC3339]
  licensing-airgap digest REPORT
  licensing-airgap receipt --jwks F [--report-digest D] FILE
  licensing-airgap compare --jwks F [--at RFC3339] [--installation-id ID] OLD NEW
`

// refusedFile is a license that compare could not verify: which one, and why.
type refusedFile struct {
	which, path string
	err         error
}

func (e refusedFile) Error() string { return e.which + " (" + e.path + "): " + e.err.Error() }
func (e refusedFile) Unwrap() error { return e.err }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	commands := map[string]func([]string, io.Writer) error{
		"key": keyCommand, "request": requestCommand, "record": recordCommand, "export": exportCommand,
		"digest": digestCommand, "receipt": receiptCommand, "compare": compareCommand,
	}
	command, found := commands[args[0]]
	if !found {
		fmt.Fprintf(stderr, "unknown command %q\n%s", args[0], usage)
		return 2
	}
	err := command(args[1:], stdout)
	var bad usageError
	var refused *licensing.Error
	switch {
	case err == nil:
		return 0
	case errors.As(err, &bad):
		fmt.Fprintf(stderr, "%s\n%s", bad.message, usage)
		return 2
	case errors.As(err, &refused):
		fmt.Fprintf(stderr, "%s: %s\n", refused.Code, refused.Message)
		var which refusedFile
		if errors.As(err, &which) {
			fmt.Fprintf(stderr, "(%s: %s)\n", which.which, which.path)
		}
		return 1
	default:
		fmt.Fprintln(stderr, err)
		return 1
	}
}

// flags parses the options and wants exactly n positional arguments.
func flags(name string, args []string, n int, define func(*flag.FlagSet)) ([]string, error) {
	set := flag.NewFlagSet(name, flag.ContinueOnError)
	set.SetOutput(io.Discard)
	define(set)
	if err := set.Parse(args); err != nil {
		return nil, usageError{name + ": " + err.Error()}
	}
	if set.NArg() != n {
		return nil, usageError{fmt.Sprintf("%s: %d file argument(s) expected, got %d", name, n, set.NArg())}
	}
	return set.Args(), nil
}

func required(name string, values map[string]string) error {
	for option, value := range values {
		if value == "" {
			return usageError{fmt.Sprintf("%s: --%s is required", name, option)}
		}
	}
	return nil
}

func parseTime(name, option, value string) (time.Time, error) {
	if value == "" {
		return time.Time{}, nil
	}
	if seconds, err := strconv.ParseInt(value, 10, 64); err == nil {
		return time.Unix(seconds, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, value)
	if err != nil {
		return time.Time{}, usageError{fmt.Sprintf("%s: --%s must be RFC 3339 (2025-06-01T00:00:00Z) or POSIX seconds, not %q", name, option, value)}
	}
	return t, nil
}

func loadKey(path string) (*licensing.InstallationKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return licensing.ParseInstallationKeyPEMWithPassphrase(data, passphrase())
}

// passphrase is the installation key's, from the environment ("": the key is not encrypted).
func passphrase() []byte { return []byte(os.Getenv("LICENSING_AIRGAP_PASSPHRASE")) }

func keyCommand(args []string, stdout io.Writer) error {
	files, err := flags("key", args, 1, func(*flag.FlagSet) {})
	if err != nil {
		return err
	}
	key, err := licensing.NewInstallationKey()
	if err != nil {
		return err
	}
	pem, err := key.PrivatePEMWithPassphrase(passphrase()) // unencrypted without one
	if err != nil {
		return err
	}
	file, err := os.OpenFile(files[0], os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := file.Write(pem); err != nil {
		file.Close()
		return err
	}
	if err := file.Close(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, key.Thumbprint())
	return nil
}

func requestCommand(args []string, stdout io.Writer) error {
	var keyPath, installation, licensePath, licenseID, version string
	if _, err := flags("request", args, 0, func(s *flag.FlagSet) {
		s.StringVar(&keyPath, "key", "", "the installation key (PEM)")
		s.StringVar(&installation, "installation", "", "the installation id")
		s.StringVar(&licensePath, "license", "", "the license file to bind")
		s.StringVar(&licenseID, "license-id", "", "the license id to bind")
		s.StringVar(&version, "product-version", "", "the product's version")
	}); err != nil {
		return err
	}
	if err := required("request", map[string]string{"key": keyPath, "installation": installation}); err != nil {
		return err
	}
	key, err := loadKey(keyPath)
	if err != nil {
		return err
	}
	opts := licensing.ActivationOptions{LicenseID: licenseID, ProductVersion: version}
	if licensePath != "" {
		if opts.LicenseText, err = os.ReadFile(licensePath); err != nil {
			return err
		}
	}
	text, err := licensing.ActivationRequest(key, installation, opts)
	if err != nil {
		return err
	}
	_, err = io.WriteString(stdout, text)
	return err
}

// openLog is the usage log of --log, --key and --license; check judges the other options first.
func openLog(name string, set func(*flag.FlagSet), check func() error, args []string) (*licensing.UsageLog, error) {
	var logPath, keyPath, licensePath string
	if _, err := flags(name, args, 0, func(s *flag.FlagSet) {
		s.StringVar(&logPath, "log", "", "the usage log file")
		s.StringVar(&keyPath, "key", "", "the installation key (PEM)")
		s.StringVar(&licensePath, "license", "", "the license file the install holds")
		set(s)
	}); err != nil {
		return nil, err
	}
	if err := required(name, map[string]string{"log": logPath, "key": keyPath, "license": licensePath}); err != nil {
		return nil, err
	}
	if err := check(); err != nil {
		return nil, err
	}
	key, err := loadKey(keyPath)
	if err != nil {
		return nil, err
	}
	license, err := os.ReadFile(licensePath)
	if err != nil {
		return nil, err
	}
	return licensing.OpenUsageLog(logPath, key, license)
}

func recordCommand(args []string, stdout io.Writer) error {
	var users, at string
	var count int
	var when time.Time
	log, err := openLog("record", func(s *flag.FlagSet) {
		s.StringVar(&users, "users", "", "the number of active users")
		s.StringVar(&at, "at", "", "when (RFC 3339; default now)")
	}, func() (err error) {
		if count, err = strconv.Atoi(users); err != nil {
			return usageError{fmt.Sprintf("record: --users must be a whole number, not %q", users)}
		}
		when, err = parseTime("record", "at", at)
		return err
	}, args)
	if err != nil {
		return err
	}
	return log.Record(count, when)
}

func exportCommand(args []string, stdout io.Writer) error {
	var until string
	var when time.Time
	log, err := openLog("export", func(s *flag.FlagSet) {
		s.StringVar(&until, "until", "", "the last day to report (RFC 3339; default now)")
	}, func() (err error) {
		when, err = parseTime("export", "until", until)
		return err
	}, args)
	if err != nil {
		return err
	}
	text, err := log.Export(when)
	if err != nil {
		return err
	}
	_, err = io.WriteString(stdout, text)
	return err
}

func digestCommand(args []string, stdout io.Writer) error {
	files, err := flags("digest", args, 1, func(*flag.FlagSet) {})
	if err != nil {
		return err
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		return err
	}
	d, ok := licensing.ReportDigest(data)
	if !ok {
		return fmt.Errorf("digest: %s holds no usage report", files[0])
	}
	fmt.Fprintln(stdout, d)
	return nil
}

func loadKeyring(path string) (*licensing.Keyring, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return licensing.ParseKeyring(data)
}

func receiptCommand(args []string, stdout io.Writer) error {
	var jwksPath, reportDigest string
	files, err := flags("receipt", args, 1, func(s *flag.FlagSet) {
		s.StringVar(&jwksPath, "jwks", "", "the issuer's JWKS")
		s.StringVar(&reportDigest, "report-digest", "", "the digest of the report sent")
	})
	if err != nil {
		return err
	}
	if err := required("receipt", map[string]string{"jwks": jwksPath}); err != nil {
		return err
	}
	keyring, err := loadKeyring(jwksPath)
	if err != nil {
		return err
	}
	text, err := os.ReadFile(files[0])
	if err != nil {
		return err
	}
	r, err := licensing.VerifyReceipt(text, keyring, reportDigest)
	if err != nil {
		return err
	}
	encoder := json.NewEncoder(stdout)
	encoder.SetEscapeHTML(false)
	return encoder.Encode(map[string]any{
		"issuer": r.Issuer, "issued_at": r.IssuedAt.Format(time.RFC3339), "installation_id": r.InstallationID,
		"license_id": r.LicenseID, "seq": r.Seq, "report": r.Report, "peak_users": r.PeakUsers, "seats": r.Seats,
		"overage": r.Overage, "gap": r.Gap, "key_id": r.KeyID,
	})
}

func verifyForComparison(path string, keyring *licensing.Keyring, opts licensing.Options) (*licensing.License, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return licensing.Verify(text, keyring, opts)
}

func compareCommand(args []string, stdout io.Writer) error {
	var jwksPath, at, installation string
	files, err := flags("compare", args, 2, func(s *flag.FlagSet) {
		s.StringVar(&jwksPath, "jwks", "", "the issuer's JWKS")
		s.StringVar(&at, "at", "", "the time to verify both at (RFC 3339; default now)")
		s.StringVar(&installation, "installation-id", "", "this installation's id (for bound licenses)")
	})
	if err != nil {
		return err
	}
	if err := required("compare", map[string]string{"jwks": jwksPath}); err != nil {
		return err
	}
	when, err := parseTime("compare", "at", at)
	if err != nil {
		return err
	}
	keyring, err := loadKeyring(jwksPath)
	if err != nil {
		return err
	}
	opts := licensing.Options{Now: when, InstallationID: installation}
	old, err := verifyForComparison(files[0], keyring, opts)
	if err != nil {
		return refusedFile{"OLD", files[0], err}
	}
	new, err := verifyForComparison(files[1], keyring, opts)
	if err != nil {
		return refusedFile{"NEW", files[1], err}
	}
	_, err = fmt.Fprintln(stdout, licensing.Compare(old, new).String())
	return err
}
