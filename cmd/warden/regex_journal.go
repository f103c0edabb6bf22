package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"warden/internal/config"
	"warden/internal/source"
)

// journalOpts are the options of a systemd-journal[...] LOG argument, as
// fail2ban's systemd backend takes them.
func journalOpts(arg string) (source.JournalOptions, error) {
	var o source.JournalOptions
	rest := strings.TrimPrefix(arg, "systemd-journal")
	rest = strings.TrimSpace(rest)
	if rest == "" {
		return o, nil
	}
	if !strings.HasPrefix(rest, "[") || !strings.HasSuffix(rest, "]") {
		return o, fmt.Errorf("%w: %q: want systemd-journal[name=value, ...]", errUsage, arg)
	}
	_, kv, err := config.ParseSpec("systemd-journal" + rest)
	if err != nil {
		return o, fmt.Errorf("%q: %w", arg, err)
	}
	for _, p := range kv {
		switch p[0] {
		case "journalflags":
			n, err := strconv.Atoi(p[1])
			if err != nil {
				return o, fmt.Errorf("%q: journalflags %q: %w", arg, p[1], err)
			}
			o.Flags = &n
		case "journalpath":
			o.Path = p[1]
		case "journalfiles":
			o.Files = strings.Fields(p[1])
		case "namespace":
			o.Namespace = p[1]
		default:
			return o, fmt.Errorf("%q: unknown option %q (journalflags, journalpath, journalfiles, namespace)", arg, p[0])
		}
	}
	return o, nil
}

// journalArgs are journalctl's arguments for reading every entry that
// matches, from the start, without following: what fail2ban-regex reads.
func journalArgs(o source.JournalOptions) ([]string, error) {
	o.Since = time.Unix(0, 0) // from the start of the journal
	j, err := source.NewJournal(o)
	if err != nil {
		return nil, err
	}
	args, err := j.Args("")
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(args, func(a string) bool { return a == "--follow" }), nil
}

// processJournal runs the filter over the journal's entries, each with
// its own time (no date detection), formatted as fail2ban formats them.
func (r *regexRun) processJournal(logArg string) error {
	o, err := journalOpts(logArg)
	if err != nil {
		return err
	}
	o.Match = r.setup.journalMatch
	r.logSrc, r.log = "journal", logArg
	r.header("Use         systemd journal")
	r.header("Use         encoding : %s", strings.ToUpper(r.o.encoding))
	if len(o.Match) > 0 {
		r.header("Use    journal match : %s", strings.Join(o.Match, " "))
	}
	r.header("")
	args, err := journalArgs(o)
	if err != nil {
		return fmt.Errorf("journalmatch: %w", err)
	}
	cmd := exec.CommandContext(r.ctx, "journalctl", args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("systemd-journal: %w", err)
	}
	readErr := r.journalEntries(out)
	if err := cmd.Wait(); err != nil && readErr == nil {
		return fmt.Errorf("systemd-journal: journalctl: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return readErr
}

// journalEntries reads journalctl's JSON lines from rd.
func (r *regexRun) journalEntries(rd io.Reader) error {
	br := bufio.NewReaderSize(rd, 64<<10)
	var buf []byte
	for {
		raw, cut, err := readLine(br, &buf, maxLineBytes)
		if len(raw) > 0 && !cut {
			e, perr := source.ParseEntry(raw)
			if perr == nil {
				r.journalEntry(e)
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// journalEntry handles one entry as fail2ban-regex does: the message
// with the entry's time, shown after the time in ISO form and a space.
func (r *regexRun) journalEntry(e source.Entry) {
	t, ok := e.Time()
	if !ok {
		return
	}
	msg := source.FormatEntry(e)
	date := pyISOFormat(t) + " "
	r.record(date+msg, r.flt.ProcessDated(msg, date, t))
}

// pyISOFormat writes t as python-systemd's datetime prints with
// isoformat(): in the local zone's offset of now (a fixed offset, taken
// once), microseconds only when there are any, then the offset.
func pyISOFormat(t time.Time) string {
	_, off := time.Now().Zone()
	t = t.In(time.FixedZone("", off))
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02T15:04:05-07:00")
	}
	return t.Format("2006-01-02T15:04:05.000000-07:00")
}
