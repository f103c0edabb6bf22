package source

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Entry is one journal entry as journalctl --output=json prints it: each
// field with its values (a field may repeat). Binary values (journalctl
// prints them as byte arrays) are kept as their raw bytes.
type Entry map[string][]string

// ErrEntry marks a journal line that is not a JSON entry object.
var ErrEntry = errors.New("bad journal entry")

// ParseEntry decodes one line of journalctl --output=json. A value may be a
// string, an array of byte numbers (non-UTF-8 data), null (a value
// journalctl left out; skipped), or an array of those (a repeated field).
func ParseEntry(line []byte) (Entry, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(line, &raw); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEntry, err)
	}
	e := make(Entry, len(raw))
	for k, v := range raw {
		vals, err := fieldValues(v, true)
		if err != nil {
			return nil, fmt.Errorf("%w: field %s: %w", ErrEntry, k, err)
		}
		if len(vals) > 0 {
			e[k] = vals
		}
	}
	return e, nil
}

// fieldValues decodes one field's JSON value; top is true at the top level,
// where an array of values (a repeated field) is allowed.
func fieldValues(v json.RawMessage, top bool) ([]string, error) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return nil, errors.New("empty value")
	}
	switch v[0] {
	case 'n':
		return nil, nil // null: too large or not printable without --all
	case '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, err
		}
		return []string{s}, nil
	case '[':
	default:
		return nil, fmt.Errorf("unexpected value %.20s", v)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(v, &items); err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return []string{""}, nil
	}
	if first := bytes.TrimSpace(items[0]); len(first) > 0 && (first[0] >= '0' && first[0] <= '9' || first[0] == '-') {
		// A byte array: one binary value.
		b := make([]byte, len(items))
		for i, it := range items {
			n, err := strconv.ParseUint(string(bytes.TrimSpace(it)), 10, 8)
			if err != nil {
				return nil, fmt.Errorf("byte %d: %w", i, err)
			}
			b[i] = byte(n)
		}
		return []string{string(b)}, nil
	}
	if !top {
		return nil, errors.New("nested array of values")
	}
	var out []string
	for _, it := range items {
		vals, err := fieldValues(it, false)
		if err != nil {
			return nil, err
		}
		out = append(out, vals...)
	}
	return out, nil
}

// Get returns the first value of a field, or "".
func (e Entry) Get(field string) string {
	if v := e[field]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Fields returns the entry's fields with their first values.
func (e Entry) Fields() map[string]string {
	m := make(map[string]string, len(e))
	for k, v := range e {
		m[k] = v[0]
	}
	return m
}

// Time is when the entry was logged: the sender's own timestamp when the
// entry has one (_SOURCE_REALTIME_TIMESTAMP), else journald's
// (__REALTIME_TIMESTAMP), as fail2ban chooses. ok is false when neither
// is a number of microseconds.
func (e Entry) Time() (t time.Time, ok bool) {
	for _, f := range []string{"_SOURCE_REALTIME_TIMESTAMP", "__REALTIME_TIMESTAMP"} {
		if us, err := strconv.ParseInt(e.Get(f), 10, 64); err == nil {
			return time.UnixMicro(us), true
		}
	}
	return time.Time{}, false
}

// FormatEntry builds the syslog-like line a filter sees for an entry, the
// way fail2ban's systemd backend does: "HOST IDENT[PID]: MESSAGE", where
// IDENT is SYSLOG_IDENTIFIER (or _COMM), PID is SYSLOG_PID (or _PID), and
// kernel messages get their monotonic time as "[seconds]" after "kernel:".
// A repeated MESSAGE is joined with spaces; newlines become a literal \n.
func FormatEntry(e Entry) string {
	var parts []string
	if h := e.Get("_HOSTNAME"); h != "" {
		parts = append(parts, h)
	}
	ident := e.Get("SYSLOG_IDENTIFIER")
	if ident == "" {
		ident = e.Get("_COMM")
	}
	if ident != "" {
		pid := e.Get("SYSLOG_PID")
		if pid == "" {
			pid = e.Get("_PID")
		}
		if pid != "" {
			ident += "[" + formatPID(pid) + "]"
		}
		ident += ":"
		parts = append(parts, ident)
		if ident == "kernel:" {
			mono := e.Get("_SOURCE_MONOTONIC_TIMESTAMP")
			if mono == "" {
				mono = e.Get("__MONOTONIC_TIMESTAMP")
			}
			us, _ := strconv.ParseInt(mono, 10, 64)
			parts = append(parts, fmt.Sprintf("[%12.6f]", float64(us)/1e6))
		}
	}
	parts = append(parts, strings.Join(e["MESSAGE"], " "))
	return strings.ReplaceAll(strings.Join(parts, " "), "\n", `\n`)
}

// formatPID writes a PID as fail2ban gets it from python-systemd: a
// decimal integer (leading zeros allowed) is normalised, then an integer
// literal with a 0x/0o/0b prefix; anything else is written as it is
// (fail2ban writes it as a Python bytes literal, b'...', which no filter
// expects).
func formatPID(v string) string {
	s := strings.TrimSpace(v)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return strconv.FormatInt(n, 10)
	}
	digits := strings.TrimLeft(s, "+-")
	if len(digits) > 2 && digits[0] == '0' && strings.ContainsRune("xXoObB", rune(digits[1])) {
		if n, err := strconv.ParseInt(s, 0, 64); err == nil {
			return strconv.FormatInt(n, 10)
		}
	}
	return v
}
