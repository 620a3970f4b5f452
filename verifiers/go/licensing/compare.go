package licensing

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Change is one thing that installing the new license changes. Field is one of tier, trial,
// seats, features, not_before, expires_at, grace_days, installation_id, cnf_jkt. Old and New hold
// the values as the license claims hold them: a string (tier, installation_id, cnf_jkt), a bool
// (trial), an int (seats, grace_days), an int64 of POSIX seconds (not_before, expires_at), or nil
// (unlimited seats, a perpetual license, no binding). The features change has Added and Removed
// (sorted) instead. As JSON: {"field","old","new"}, or {"field","added","removed"}.
type Change struct {
	Field   string
	Old     any
	New     any
	Added   []string
	Removed []string
}

// MarshalJSON writes the change record as the three libraries write it.
func (c Change) MarshalJSON() ([]byte, error) {
	if c.Field == "features" {
		return json.Marshal(struct {
			Field   string   `json:"field"`
			Added   []string `json:"added"`
			Removed []string `json:"removed"`
		}{c.Field, nonNil(c.Added), nonNil(c.Removed)})
	}
	return json.Marshal(struct {
		Field string `json:"field"`
		Old   any    `json:"old"`
		New   any    `json:"new"`
	}{c.Field, c.Old, c.New})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Warning codes: what should make an administrator stop before installing the new license.
const (
	WarningIssuedBefore  = "issued_before"  // NEW was issued before OLD
	WarningOtherCustomer = "other_customer" // NEW belongs to another customer
	WarningOtherLine     = "other_line"     // NEW neither supersedes OLD nor is it
	WarningSameLicense   = "same_license"   // NEW is OLD (then no other warning)
)

// Warning is one warning; as JSON {"code"}. Text is its line in Comparison.String.
type Warning struct {
	Code string `json:"code"`
	Text string `json:"-"`
}

// Comparison says what installing NEW instead of OLD changes, and what should give pause.
type Comparison struct {
	Changes  []Change
	Warnings []Warning
}

// Compare compares two verified licenses (from Verify, never nil): the changes (tier, trial, seats,
// features, not_before, expires_at, grace_days, installation_id, cnf_jkt, in that order, only those
// that differ) and the warnings (issued_before, other_customer, other_line; or same_license alone).
func Compare(old, new *License) Comparison {
	if old == nil || new == nil {
		panic("licensing: Compare needs two verified licenses, not nil")
	}
	var c Comparison
	if new.ID == old.ID {
		c.Warnings = append(c.Warnings, Warning{WarningSameLicense, "warning: NEW is the same license as OLD"})
	} else {
		if new.iat < old.iat {
			c.Warnings = append(c.Warnings, Warning{WarningIssuedBefore, "warning: NEW was issued before OLD"})
		}
		if new.Subject != old.Subject {
			c.Warnings = append(c.Warnings, Warning{WarningOtherCustomer,
				fmt.Sprintf("warning: NEW belongs to another customer (%s, not %s)", new.Subject, old.Subject)})
		}
		if new.Supersedes != old.ID {
			c.Warnings = append(c.Warnings, Warning{WarningOtherLine, "warning: NEW does not supersede OLD: it may belong to another line"})
		}
	}
	add := func(field string, o, n any) {
		if o != n {
			c.Changes = append(c.Changes, Change{Field: field, Old: o, New: n})
		}
	}
	add("tier", old.Tier, new.Tier)
	add("trial", old.Trial, new.Trial)
	add("seats", seatsValue(old.Seats), seatsValue(new.Seats))
	if added, removed := featureDiff(old.Features, new.Features); len(added)+len(removed) > 0 {
		c.Changes = append(c.Changes, Change{Field: "features", Added: added, Removed: removed})
	}
	add("not_before", old.nbf, new.nbf)
	add("expires_at", expiresValue(old.exp), expiresValue(new.exp))
	add("grace_days", old.GraceDays, new.GraceDays)
	add("installation_id", optionalValue(old.InstallationID), optionalValue(new.InstallationID))
	add("cnf_jkt", optionalValue(old.InstallationKeyThumbprint()), optionalValue(new.InstallationKeyThumbprint()))
	return c
}

func seatsValue(seats *int) any {
	if seats == nil {
		return nil
	}
	return *seats
}

func expiresValue(exp *int64) any {
	if exp == nil {
		return nil
	}
	return *exp
}

func optionalValue(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func featureDiff(old, new []string) (added, removed []string) {
	inOld, inNew := map[string]bool{}, map[string]bool{}
	for _, f := range old {
		inOld[f] = true
	}
	for _, f := range new {
		inNew[f] = true
	}
	for f := range inNew {
		if !inOld[f] {
			added = append(added, f)
		}
	}
	for f := range inOld {
		if !inNew[f] {
			removed = append(removed, f)
		}
	}
	sort.Strings(added)
	sort.Strings(removed)
	return added, removed
}

// InstallationKeyThumbprint is the license's cnf.jkt (RFC 7800): the thumbprint of the
// installation key it is bound to; "" when the license holds none.
func (l *License) InstallationKeyThumbprint() string {
	cnf, _ := l.Claims["cnf"].(map[string]any)
	jkt, _ := cnf["jkt"].(string)
	return jkt
}

// Lines are the comparison as text, one line each: the warnings first, then the changes; "no
// changes" when there is neither. The three libraries print the same lines.
func (c Comparison) Lines() []string {
	lines := make([]string, 0, len(c.Warnings)+len(c.Changes)+1)
	for _, w := range c.Warnings {
		lines = append(lines, w.Text)
	}
	for _, ch := range c.Changes {
		switch ch.Field {
		case "features":
			if len(ch.Added) > 0 {
				lines = append(lines, "features added: "+strings.Join(ch.Added, ", "))
			}
			if len(ch.Removed) > 0 {
				lines = append(lines, "features removed: "+strings.Join(ch.Removed, ", "))
			}
		default:
			label, show := changeLabels[ch.Field].label, changeLabels[ch.Field].show
			lines = append(lines, label+": "+show(ch.Old)+" -> "+show(ch.New))
		}
	}
	if len(lines) == 0 {
		lines = append(lines, "no changes")
	}
	return lines
}

// String is Lines joined by newlines (no final newline).
func (c Comparison) String() string { return strings.Join(c.Lines(), "\n") }

func showWith(none string) func(any) string {
	return func(v any) string {
		switch v := v.(type) {
		case nil:
			return none
		case string:
			return v
		case bool:
			return strconv.FormatBool(v)
		case int:
			return strconv.Itoa(v)
		case int64:
			return rfc3339Seconds(v)
		}
		return fmt.Sprint(v)
	}
}

var changeLabels = map[string]struct {
	label string
	show  func(any) string
}{
	"tier":            {"tier", showWith("none")},
	"trial":           {"trial", showWith("none")},
	"seats":           {"seats", showWith("unlimited")},
	"not_before":      {"valid from", showWith("none")},
	"expires_at":      {"expires", showWith("never")},
	"grace_days":      {"grace days", showWith("none")},
	"installation_id": {"installation", showWith("none")},
	"cnf_jkt":         {"installation key", showWith("none")},
}
