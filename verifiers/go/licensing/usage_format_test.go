package licensing

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The usage log's file is the Python and TypeScript libraries' format: a log one of them started,
// Go continues, and the other way round.

// legacyUsageFile is the format Go's UsageLog wrote before it shared the others'.
type legacyUsageFile struct {
	Format        string    `json:"format"`
	Version       int       `json:"version"`
	Thumbprint    string    `json:"thumbprint"`
	Seq           int64     `json:"seq"`
	Prev          string    `json:"prev"`
	ReportedUntil int64     `json:"reported_until"`
	LastReport    string    `json:"last_report"`
	Days          [][]int64 `json:"days"`
}

func legacyFile(t testing.TB, state usageState) []byte {
	t.Helper()
	data, err := json.Marshal(legacyUsageFile{usageLogFormat, usageLogVersion, state.Thumbprint, state.Seq, state.Prev, state.ReportedUntil, state.LastReport, state.Days})
	if err != nil {
		t.Fatal(err)
	}
	return append(data, '\n')
}

func TestUsageLogFileFormat(t *testing.T) {
	key := seedKey(t)
	path := filepath.Join(t.TempDir(), "usage.json")
	log, err := OpenUsageLog(path, key, boundLicense(nil))
	if err != nil {
		t.Fatal(err)
	}
	fresh, _ := os.ReadFile(path)
	if want := `{"format":"licensing-usage-log","version":1,"key":"` + key.Thumbprint() + `","days":[],"last_report":null}`; string(fresh) != want {
		t.Fatalf("a new log:\n%s\nwant\n%s", fresh, want)
	}
	log.Record(7, dayAt(0, 1))
	log.Record(9, dayAt(2, 1))
	report, err := log.Export(dayAt(0, 5))
	if err != nil {
		t.Fatal(err)
	}
	written, _ := os.ReadFile(path)
	reportJSON, _ := json.Marshal(report)
	want := `{"format":"licensing-usage-log","version":1,"key":"` + key.Thumbprint() + `","days":[[` +
		strconv.FormatInt(testNow+2*day, 10) + `,9]],"last_report":{"seq":1,"digest":"` + digestOf(t, report) +
		`","period_end":` + strconv.FormatInt(testNow+day, 10) + `,"report":` + string(reportJSON) + `}}`
	if string(written) != want {
		t.Fatalf("the log:\n%s\nwant\n%s", written, want)
	}
}

func digestOf(t testing.TB, report string) string {
	t.Helper()
	d, ok := ReportDigest([]byte(report))
	if !ok {
		t.Fatal("no report")
	}
	return d
}

// A log in the format Go wrote before opens, and is rewritten at once in the shared format.
func TestUsageLogReadsTheOldGoFormat(t *testing.T) {
	key := seedKey(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "usage.json")
	log, err := OpenUsageLog(path, key, boundLicense(nil))
	if err != nil {
		t.Fatal(err)
	}
	log.Record(3, dayAt(0, 1))
	log.Record(5, dayAt(3, 1))
	before := log.state
	if err := os.WriteFile(path, legacyFile(t, before), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, exported := range []bool{false, true} {
		again, err := OpenUsageLog(path, key, boundLicense(nil))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(again.state, before) {
			t.Fatalf("read %+v, want %+v", again.state, before)
		}
		data, _ := os.ReadFile(path)
		if !strings.HasPrefix(string(data), `{"format":"licensing-usage-log","version":1,"key":`) {
			t.Fatalf("not rewritten in the shared format: %s", data)
		}
		if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
			t.Fatalf("mode %v", info.Mode())
		}
		if !exported {
			if _, err := again.Export(dayAt(1, 0)); err != nil {
				t.Fatal(err)
			}
			before = again.state
			os.WriteFile(path, legacyFile(t, before), 0o600)
		}
	}
	// The old format's checks still hold.
	damaged := legacyFile(t, before)
	damaged = []byte(strings.Replace(string(damaged), `"seq":1`, `"seq":2`, 1))
	os.WriteFile(path, damaged, 0o600)
	if _, err := OpenUsageLog(path, key, boundLicense(nil)); !errors.Is(err, ErrUsageLogDamaged) {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(damaged) {
		t.Fatal("a damaged old log was rewritten")
	}
}

// pythonLog drives Python's UsageLog (licensing/airgap/log.py) on the same file, key and license:
// steps is Python run with log, key, at (day n, hour h as a datetime) and out (a dict printed as
// JSON at the end) in scope.
func pythonLog(t *testing.T, path, keyPath, licensePath, steps string) map[string]any {
	t.Helper()
	program := `import json, sys
from datetime import datetime, timezone
from pathlib import Path
from licensing.airgap.keys import InstallationKey
from licensing.airgap.log import UsageLog
from licensing.airgap.usage import report_digest
key = InstallationKey.from_pem(Path(sys.argv[2]).read_bytes())
log = UsageLog(sys.argv[1], key, Path(sys.argv[3]).read_text())
def at(days, hours):
    return datetime.fromtimestamp(` + strconv.FormatInt(testNow, 10) + ` + days * 86400 + hours * 3600, timezone.utc)
raw = Path(sys.argv[1]).read_text()
out = {"seq": log.last_seq, "pending": [[int(d.timestamp()), n] for d, n in log.pending],
       "last_report": log.last_report, "canonical": json.dumps(json.loads(raw), separators=(",", ":")) == raw}
` + steps + `
print(json.dumps(out))`
	var got map[string]any
	if err := json.Unmarshal([]byte(runPython(t, program, path, keyPath, licensePath)), &got); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestUsageLogMovesBetweenGoAndPython(t *testing.T) {
	key := seedKey(t)
	dir := t.TempDir()
	path, keyPath, licensePath := filepath.Join(dir, "usage.json"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "license.txt")
	license := boundLicense(nil)
	os.WriteFile(keyPath, key.PrivatePEM(), 0o600)
	os.WriteFile(licensePath, license, 0o600)

	t.Run("Python starts, Go continues", func(t *testing.T) {
		os.Remove(path)
		py := pythonLog(t, path, keyPath, licensePath, `log.record(4, at(0, 1))
log.record(6, at(0, 9))
log.record(2, at(2, 1))
out["report"] = log.export(at(1, 0))`)
		log, err := OpenUsageLog(path, key, license)
		if err != nil {
			t.Fatal(err)
		}
		if log.Seq() != 1 || log.LastReport() != py["report"] || !reflect.DeepEqual(log.Days(), []DayCount{{utc(testNow + 2*day), 2}}) {
			t.Fatalf("Go read seq %d, days %v", log.Seq(), log.Days())
		}
		if err := log.Record(9, dayAt(1, 3)); !errors.Is(err, ErrDayReported) {
			t.Fatalf("a day Python reported: %v", err)
		}
		log.Record(5, dayAt(2, 4))
		report, err := log.Export(dayAt(2, 5))
		if err != nil {
			t.Fatal(err)
		}
		_, claims, _ := openJWS(t, report, usageReportLabel, key.private.Public().(ed25519.PublicKey))
		if fmt.Sprint(claims["seq"], claims["peak_users"]) != "2 5" || claims["prev"] != digestOf(t, py["report"].(string)) {
			t.Fatalf("Go's report after Python's: %v", claims)
		}
		// And Python reads what Go wrote.
		back := pythonLog(t, path, keyPath, licensePath, ``)
		if back["seq"] != 2.0 || back["last_report"] != report || len(back["pending"].([]any)) != 0 || back["canonical"] != true {
			t.Fatalf("Python read back %v", back)
		}
	})

	t.Run("Go starts, Python continues", func(t *testing.T) {
		os.Remove(path)
		log, err := OpenUsageLog(path, key, license)
		if err != nil {
			t.Fatal(err)
		}
		log.Record(8, dayAt(0, 2))
		log.Record(3, dayAt(4, 2))
		first, err := log.Export(dayAt(1, 0))
		if err != nil {
			t.Fatal(err)
		}
		py := pythonLog(t, path, keyPath, licensePath, `log.record(7, at(4, 5))
out["report"] = log.export(at(4, 6))`)
		if py["seq"] != 1.0 || py["last_report"] != first || py["canonical"] != true {
			t.Fatalf("Python read %v", py)
		}
		if pending := py["pending"].([]any); len(pending) != 1 || pending[0].([]any)[1] != 3.0 {
			t.Fatalf("Python's pending days: %v", pending)
		}
		again, err := OpenUsageLog(path, key, license)
		if err != nil {
			t.Fatal(err)
		}
		second := py["report"].(string)
		if again.Seq() != 2 || again.LastReport() != second || len(again.Days()) != 0 {
			t.Fatalf("Go read seq %d days %v", again.Seq(), again.Days())
		}
		_, claims, _ := openJWS(t, second, usageReportLabel, key.private.Public().(ed25519.PublicKey))
		if fmt.Sprint(claims["seq"], claims["peak_users"]) != "2 7" || claims["prev"] != digestOf(t, first) {
			t.Fatalf("Python's report after Go's: %v", claims)
		}
		if _, err := again.Export(dayAt(5, 0)); err != nil {
			t.Fatal(err)
		}
	})
}

// tsAirgap runs the TypeScript library's command line (verifiers/ts/scripts/airgap.mjs, on the
// package built into verifiers/ts/dist by make test-ts); skipped when there is no build or no node.
func tsAirgap(t *testing.T, args ...string) string {
	t.Helper()
	ts := filepath.Join(repoRoot(t), "verifiers", "ts")
	if _, err := os.Stat(filepath.Join(ts, "dist", "esm", "index.js")); err != nil {
		t.Skip("no verifiers/ts/dist: make test-ts builds it")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("no node on PATH")
	}
	cmd := exec.Command(node, append([]string{filepath.Join(ts, "scripts", "airgap.mjs")}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("airgap.mjs %v: %v\n%s", args, err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

func TestUsageLogMovesBetweenGoAndTypeScript(t *testing.T) {
	key := seedKey(t)
	dir := t.TempDir()
	path, keyPath, licensePath := filepath.Join(dir, "usage.json"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "license.txt")
	license := boundLicense(nil)
	os.WriteFile(keyPath, key.PrivatePEM(), 0o600)
	os.WriteFile(licensePath, license, 0o600)
	files := []string{"--log", path, "--key", keyPath, "--license", licensePath}
	at := func(days int64, hours int) string { return dayAt(days, hours).UTC().Format(time.RFC3339) }

	tsAirgap(t, append([]string{"record", "--users", "4", "--at", at(0, 1)}, files...)...)
	tsAirgap(t, append([]string{"record", "--users", "6", "--at", at(2, 1)}, files...)...)
	first := tsAirgap(t, append([]string{"export", "--until", at(1, 0)}, files...)...) + "\n"
	log, err := OpenUsageLog(path, key, license)
	if err != nil {
		t.Fatal(err)
	}
	if log.Seq() != 1 || log.LastReport() != first || !reflect.DeepEqual(log.Days(), []DayCount{{utc(testNow + 2*day), 6}}) {
		t.Fatalf("Go read seq %d, days %v, report %q", log.Seq(), log.Days(), log.LastReport())
	}
	second, err := log.Export(dayAt(2, 5))
	if err != nil {
		t.Fatal(err)
	}
	tsAirgap(t, append([]string{"record", "--users", "2", "--at", at(3, 1)}, files...)...)
	third := tsAirgap(t, append([]string{"export", "--until", at(3, 2)}, files...)...) + "\n"
	_, claims, _ := openJWS(t, third, usageReportLabel, key.private.Public().(ed25519.PublicKey))
	if fmt.Sprint(claims["seq"], claims["peak_users"]) != "3 2" || claims["prev"] != digestOf(t, second) {
		t.Fatalf("TypeScript's report after Go's: %v", claims)
	}
	again, err := OpenUsageLog(path, key, license)
	if err != nil || again.Seq() != 3 || again.LastReport() != third {
		t.Fatalf("Go read TypeScript's log: %v", err)
	}
}
