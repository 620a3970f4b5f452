package licensing

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

const (
	usageReportLabel = "LICENSE USAGE REPORT"
	usageReportTyp   = "license-usage+jwt"
	usageLogFormat   = "licensing-usage-log"
	usageLogVersion  = 1
	maxUsageLogBytes = 16 << 20
)

var usageReportKind = newKind(usageReportLabel, usageReportTyp, "usage report", maxLicenseChars)

// The usage log's documented errors (test them with errors.Is; the error says more).
var (
	// ErrUsageLogDamaged: the file at the log's path is not a usage log this library wrote, or was
	// changed since. Nothing is overwritten: move it aside (and keep it) to start a new log.
	ErrUsageLogDamaged = errors.New("licensing: the usage log file is damaged")
	// ErrUsageLogOtherKey: the log was kept with another installation key; its chain of reports is
	// signed by that key, so it cannot go on with this one.
	ErrUsageLogOtherKey = errors.New("licensing: the usage log belongs to another installation key")
	// ErrDayReported: Record was given a day that a usage report already covers, or Export a time
	// whose day is already reported. A report is never changed after it was made.
	ErrDayReported = errors.New("licensing: that day was already reported")
	// ErrUntilInFuture: Export was given an until later than the clock (beyond five minutes of leeway):
	// a report covers days that have begun, as in the Python and TypeScript libraries.
	ErrUntilInFuture = errors.New("licensing: until is in the future")
	// ErrNotActivated: the license the log was opened with is bound to no installation (it has no
	// installation_id), so no usage report can name one. Activate first, then open the log with
	// the bound license; what was recorded before is kept and reported.
	ErrNotActivated = errors.New("licensing: the license is not bound to an installation: activate it first")
)

// UsageLog is the local record of active users an install keeps and reports from (SPEC section 8):
// the highest count of each UTC day, and the chain of usage reports made so far (seq, prev). It is
// one JSON file, rewritten atomically (a new file renamed over the old, mode 0600) at every change,
// so it survives restarts and crashes. One process should use a given file at a time; a UsageLog
// is safe for concurrent use by goroutines.
type UsageLog struct {
	path           string
	key            *InstallationKey
	licenseID      string
	installationID string

	mu    sync.Mutex
	state usageState
	clock func() time.Time // a report's iat: time.Now (the conformance replay fixes it)
}

// usageState is what the log holds, whichever file format it was read from.
type usageState struct {
	Thumbprint    string    // the installation key's
	Seq           int64     // the last report's seq; 0 before the first
	Prev          string    // the last report's digest; "" before the first
	ReportedUntil int64     // the last report's period.end; 0 before the first
	LastReport    string    // the last report, armored; "" before the first
	Days          [][]int64 // [day start, highest count], ascending, not yet reported
}

// usageFile is the file, in the format of the Python and TypeScript libraries (Python's
// licensing/airgap/log.py), so that a log moves between a Go product and theirs:
//
//	{"format":"licensing-usage-log","version":1,"key":<thumbprint>,"days":[[day start,users],...],
//	 "last_report":null | {"seq":..,"digest":..,"period_end":..,"report":<armored>}}
type usageFile struct {
	Format     string           `json:"format"`
	Version    int              `json:"version"`
	Key        string           `json:"key"`
	Days       [][]int64        `json:"days"`
	LastReport *usageFileReport `json:"last_report"`
}

type usageFileReport struct {
	Seq       int64  `json:"seq"`
	Digest    string `json:"digest"`
	PeriodEnd int64  `json:"period_end"`
	Report    string `json:"report"`
}

// usageFileRead is any file this library reads: usageFile, or the format Go's UsageLog wrote
// before it shared the others' (its fields "thumbprint", "seq", "prev", "reported_until", and
// "last_report" a string), which is still read and rewritten in the shared format on open.
type usageFileRead struct {
	Format        string          `json:"format"`
	Version       int             `json:"version"`
	Key           *string         `json:"key"`
	Days          *[][]int64      `json:"days"`
	LastReport    json.RawMessage `json:"last_report"`
	Thumbprint    *string         `json:"thumbprint"` // the old format's fields
	Seq           int64           `json:"seq"`
	Prev          string          `json:"prev"`
	ReportedUntil int64           `json:"reported_until"`
}

// OpenUsageLog opens the usage log at path, or starts one there (the file is written at once, so
// an unwritable place fails here). licenseText is the license file the install holds (read, not
// verified, for its id and installation_id; open the log again with the new file after an
// activation or a renewal). Errors: ErrUsageLogDamaged, ErrUsageLogOtherKey (both wrapped), a
// license text that holds no license file (an *Error, malformed), or the file system's error.
func OpenUsageLog(path string, key *InstallationKey, licenseText []byte) (*UsageLog, error) {
	if key == nil {
		return nil, errors.New("licensing: OpenUsageLog needs an installation key, not nil")
	}
	claims, rejected := unverifiedClaims(licenseText, licenseKind)
	if rejected != nil {
		return nil, rejected
	}
	licenseID, isString := claims["jti"].(string)
	if !isString || licenseID == "" || !utf8Printable(licenseID) {
		return nil, fail(CodeMalformed, `The license file has no "jti": it names no license.`)
	}
	installationID, _ := claims["installation_id"].(string)
	if installationID != "" && !printableText(installationID, maxInstallationIDLen) {
		return nil, fail(CodeMalformed, `The license file's "installation_id" is not 1 to 200 printable characters.`)
	}
	log := &UsageLog{path: path, key: key, licenseID: licenseID, installationID: installationID, clock: time.Now}
	data, err := readSmallFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		log.state = usageState{Thumbprint: key.Thumbprint(), Days: [][]int64{}}
		if err := log.save(log.state); err != nil {
			return nil, err
		}
		return log, nil
	case err != nil:
		return nil, err
	}
	state, legacy, err := parseUsageState(data)
	if err != nil {
		return nil, fmt.Errorf("%w (%s): %v", ErrUsageLogDamaged, path, err)
	}
	if state.Thumbprint != key.Thumbprint() {
		return nil, fmt.Errorf("%w (%s: key %s, not %s)", ErrUsageLogOtherKey, path, state.Thumbprint, key.Thumbprint())
	}
	if state.Seq > 0 && !key.signed(state.LastReport) {
		return nil, fmt.Errorf("%w (%s): the last report is not signed by this installation key", ErrUsageLogDamaged, path)
	}
	log.state = state
	if legacy { // the file in the old Go format: rewritten in the shared one, so the others read it
		if err := log.save(state); err != nil {
			return nil, err
		}
	}
	return log, nil
}

func readSmallFile(path string) ([]byte, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, maxUsageLogBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxUsageLogBytes {
		return nil, fmt.Errorf("%w (%s): over %d bytes", ErrUsageLogDamaged, path, maxUsageLogBytes)
	}
	return data, nil
}

// parseUsageState reads and checks the file (legacy: in the old Go format): anything a crash, a
// disk or a hand could make of it that a library would not have written is refused.
func parseUsageState(data []byte) (state usageState, legacy bool, err error) {
	var file usageFileRead
	decoder := json.NewDecoder(bytes.NewReader(data))
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(&file); err != nil {
		return state, false, fmt.Errorf("not a usage log: %v", err)
	}
	if decoder.More() {
		return state, false, errors.New("text after the usage log")
	}
	if file.Format != usageLogFormat || file.Version != usageLogVersion {
		return state, false, fmt.Errorf("format %q version %d, not %q version %d", file.Format, file.Version, usageLogFormat, usageLogVersion)
	}
	if file.Days != nil {
		state.Days = *file.Days
	}
	last := bytes.TrimSpace(file.LastReport)
	legacy = file.Thumbprint != nil
	if legacy {
		if file.Key != nil {
			return state, true, errors.New(`both "key" and "thumbprint"`)
		}
		state.Thumbprint, state.Seq, state.Prev, state.ReportedUntil = *file.Thumbprint, file.Seq, file.Prev, file.ReportedUntil
		if len(last) > 0 {
			if err := json.Unmarshal(last, &state.LastReport); err != nil {
				return state, true, errors.New("the last report is not a string")
			}
		}
	} else {
		if file.Key == nil || file.Days == nil || file.Seq != 0 || file.Prev != "" || file.ReportedUntil != 0 {
			return state, false, errors.New(`not a usage log: it needs "key" and "days"`)
		}
		state.Thumbprint = *file.Key
		if len(last) > 0 && !bytes.Equal(last, []byte("null")) {
			var report usageFileReport
			strict := json.NewDecoder(bytes.NewReader(last))
			strict.DisallowUnknownFields()
			if err := strict.Decode(&report); err != nil {
				return state, false, fmt.Errorf("the last report is not {seq, digest, period_end, report}: %v", err)
			}
			if report.Seq < 1 {
				return state, false, errors.New("the last report's seq is not 1 or more")
			}
			state.Seq, state.Prev, state.ReportedUntil, state.LastReport = report.Seq, report.Digest, report.PeriodEnd, report.Report
		}
	}
	state, err = checkUsageState(state)
	return state, legacy, err
}

// checkUsageState checks what a file holds, whichever its format.
func checkUsageState(state usageState) (usageState, error) {
	if raw, ok := b64urlDecode([]byte(state.Thumbprint)); !ok || len(raw) != 32 {
		return state, errors.New("no installation key thumbprint")
	}
	if state.Seq < 0 {
		return state, errors.New("a negative seq")
	}
	if state.Seq == 0 {
		if state.Prev != "" || state.ReportedUntil != 0 || state.LastReport != "" {
			return state, errors.New("a previous report without a seq")
		}
	} else {
		if state.ReportedUntil <= 0 || state.ReportedUntil > maxTime+1 || state.ReportedUntil%day != 0 {
			return state, errors.New("reported_until is not the start of a day")
		}
		if got, ok := ReportDigest([]byte(state.LastReport)); !ok || got != state.Prev {
			return state, errors.New("the last report is not the one prev names")
		}
		claims, err := unverifiedClaims([]byte(state.LastReport), usageReportKind)
		if err != nil {
			return state, errors.New("the last report is not a usage report")
		}
		period, _ := claims["period"].(map[string]any)
		if seq, _ := wholeNumber(claims["seq"]); seq != state.Seq {
			return state, errors.New("the last report's seq is not the log's")
		}
		if end, _ := wholeNumber(period["end"]); end != state.ReportedUntil {
			return state, errors.New("the last report's period does not end where the log says")
		}
	}
	if state.Days == nil {
		state.Days = [][]int64{}
	}
	for i, entry := range state.Days {
		if len(entry) != 2 {
			return state, errors.New("a day is not [day start, count]")
		}
		start, count := entry[0], entry[1]
		if start < 0 || start > maxTime || start%day != 0 || count < 0 {
			return state, fmt.Errorf("day %d is not a day start and a count of 0 or more", start)
		}
		if start < state.ReportedUntil {
			return state, fmt.Errorf("day %d is already reported", start)
		}
		if i > 0 && start <= state.Days[i-1][0] {
			return state, errors.New("the days are not in ascending order")
		}
	}
	return state, nil
}

// syncFiles makes every write durable (fsync) before it counts; only the fuzz target turns it off.
var syncFiles = true

// save writes the state to a new file beside the log and renames it over the log: a crash leaves
// either the old file or the new one, never half of one.
func (l *UsageLog) save(state usageState) (err error) {
	file := usageFile{Format: usageLogFormat, Version: usageLogVersion, Key: state.Thumbprint, Days: state.Days}
	if file.Days == nil {
		file.Days = [][]int64{}
	}
	if state.Seq > 0 {
		file.LastReport = &usageFileReport{Seq: state.Seq, Digest: state.Prev, PeriodEnd: state.ReportedUntil, Report: state.LastReport}
	}
	var buf bytes.Buffer
	encoder := json.NewEncoder(&buf)
	encoder.SetEscapeHTML(false)
	if err := encoder.Encode(file); err != nil {
		return err
	}
	data := bytes.TrimSuffix(buf.Bytes(), []byte("\n")) // as Python's json.dumps and JSON.stringify write it
	dir := filepath.Dir(l.path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(l.path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if syncFiles {
		if err = tmp.Sync(); err != nil {
			return err
		}
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), l.path); err != nil {
		return err
	}
	if syncFiles { // the rename itself, durable (best effort)
		if d, dirErr := os.Open(dir); dirErr == nil {
			d.Sync()
			d.Close()
		}
	}
	return nil
}

func dayStart(seconds int64) int64 { return seconds - seconds%day }

// Record notes activeUsers (0 or more) at the time at (the zero Time: the clock); the log keeps
// the highest count of each UTC day. A day that a report already covers is refused with
// ErrDayReported; a count below the day's highest changes nothing.
func (l *UsageLog) Record(activeUsers int, at time.Time) error {
	if activeUsers < 0 {
		return fmt.Errorf("licensing: the number of active users must be 0 or more, not %d", activeUsers)
	}
	seconds, err := posixSeconds(at)
	if err != nil {
		return err
	}
	start := dayStart(seconds)
	l.mu.Lock()
	defer l.mu.Unlock()
	if start < l.state.ReportedUntil {
		return fmt.Errorf("%w: %s is before %s, the end of usage report %d", ErrDayReported,
			utc(start).Format("2006-01-02"), rfc3339Seconds(l.state.ReportedUntil), l.state.Seq)
	}
	days := l.state.Days
	i := 0
	for i < len(days) && days[i][0] < start {
		i++
	}
	next := l.state
	switch {
	case i < len(days) && days[i][0] == start:
		if int64(activeUsers) <= days[i][1] {
			return nil
		}
		next.Days = append([][]int64{}, days...)
		next.Days[i] = []int64{start, int64(activeUsers)}
	default:
		next.Days = make([][]int64, 0, len(days)+1)
		next.Days = append(append(append(next.Days, days[:i]...), []int64{start, int64(activeUsers)}), days[i:]...)
	}
	if err := l.save(next); err != nil {
		return err
	}
	l.state = next
	return nil
}

// Export makes the next usage report, armored (LICENSE USAGE REPORT), signed by the installation
// key: the recorded days not yet reported up to and including the UTC day of until (the zero
// Time: the clock), chained to the previous report (seq + 1, prev = its digest). An empty report
// (no day recorded) is allowed. The log remembers the report before it is returned (LastReport
// gives it again). Errors: ErrNotActivated, ErrDayReported (until's day is already reported), or
// the file system's error (then nothing changed).
func (l *UsageLog) Export(until time.Time) (string, error) {
	if l.installationID == "" {
		return "", ErrNotActivated
	}
	untilSeconds, err := posixSeconds(until)
	if err != nil {
		return "", err
	}
	iat, err := posixSeconds(l.clock())
	if err != nil {
		return "", err
	}
	if until.After(time.Now().Add(clockSkew * time.Second)) {
		return "", fmt.Errorf("%w: %s, a day that has not begun", ErrUntilInFuture, rfc3339Seconds(untilSeconds))
	}
	end := dayStart(untilSeconds) + day
	l.mu.Lock()
	defer l.mu.Unlock()
	state := l.state
	if end <= state.ReportedUntil {
		return "", fmt.Errorf("%w: usage report %d covers up to %s already", ErrDayReported, state.Seq, rfc3339Seconds(state.ReportedUntil))
	}
	text, next := l.nextReport(state, untilSeconds, iat)
	if err := l.save(next); err != nil {
		return "", err
	}
	l.state = next
	return text, nil
}

// nextReport makes the report of the days before the end of untilSeconds's day (which the last
// report does not cover), and the log's state once it is made.
func (l *UsageLog) nextReport(state usageState, untilSeconds, iat int64) (string, usageState) {
	end := dayStart(untilSeconds) + day
	covered := 0
	for covered < len(state.Days) && state.Days[covered][0] < end {
		covered++
	}
	daily := make([][2]int64, covered)
	var peak int64
	for i, entry := range state.Days[:covered] {
		daily[i] = [2]int64{entry[0], entry[1]}
		if entry[1] > peak {
			peak = entry[1]
		}
	}
	var start int64
	switch {
	case state.Seq > 0:
		start = state.ReportedUntil
	case covered > 0:
		start = daily[0][0]
	default:
		start = dayStart(untilSeconds)
	}
	seq := state.Seq + 1
	header := compactJSON([]jsonField{{"alg", "EdDSA"}, {"typ", usageReportTyp}, {"kid", l.key.Thumbprint()}})
	claims := []jsonField{{"ver", int64(formatVersion)}, {"iat", iat}, {"license_id", l.licenseID}, {"installation_id", l.installationID}, {"seq", seq}}
	if state.Seq > 0 {
		claims = append(claims, jsonField{"prev", state.Prev})
	}
	claims = append(claims,
		jsonField{"period", []jsonField{{"start", start}, {"end", end}}},
		jsonField{"peak_users", peak},
		jsonField{"daily", daily})
	compact, text := l.key.sign(header, compactJSON(claims), usageReportLabel)
	next := state
	next.Seq, next.Prev, next.ReportedUntil, next.LastReport = seq, digest(compact), end, text
	next.Days = append([][]int64{}, state.Days[covered:]...)
	return text, next
}

// LastReport is the last report Export made (armored), to carry again if it was lost; "" before
// the first.
func (l *UsageLog) LastReport() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state.LastReport
}

// Seq is the last report's seq (0 before the first).
func (l *UsageLog) Seq() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state.Seq
}

// ReportedUntil is the end of the last report's period (the zero Time before the first): days
// before it can no longer be recorded.
func (l *UsageLog) ReportedUntil() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state.Seq == 0 {
		return time.Time{}
	}
	return utc(l.state.ReportedUntil)
}

// Days are the recorded days not yet reported: [UTC day start, highest count], ascending.
func (l *UsageLog) Days() []DayCount {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]DayCount, len(l.state.Days))
	for i, entry := range l.state.Days {
		out[i] = DayCount{Day: utc(entry[0]), Users: int(entry[1])}
	}
	return out
}

// DayCount is a UTC day (its 00:00:00) and the highest number of active users recorded on it.
type DayCount struct {
	Day   time.Time
	Users int
}

func rfc3339Seconds(seconds int64) string { return utc(seconds).Format(time.RFC3339) }
