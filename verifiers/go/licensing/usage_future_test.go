package licensing

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// A report covers days that have begun: an until past the clock (beyond the five minutes of leeway)
// is refused and changes nothing, as in the Python and TypeScript libraries.
func TestExportRefusesAnUntilInTheFuture(t *testing.T) {
	key, err := NewInstallationKey()
	if err != nil {
		t.Fatal(err)
	}
	log, err := OpenUsageLog(filepath.Join(t.TempDir(), "usage.json"), key, boundLicense(nil))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := log.Record(3, now); err != nil {
		t.Fatal(err)
	}
	if _, err := log.Export(now.Add(48 * time.Hour)); !errors.Is(err, ErrUntilInFuture) {
		t.Fatalf("until in two days: %v", err)
	}
	if log.Seq() != 0 || len(log.Days()) != 1 {
		t.Fatal("a refused export changed the log")
	}
	if _, err := log.Export(now.Add(time.Minute)); err != nil {
		t.Fatalf("a minute ahead is within the leeway: %v", err)
	}
}
