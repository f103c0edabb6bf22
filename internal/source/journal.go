package source

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// JournalPath is Line.Path for journal lines (fail2ban's name for it).
const JournalPath = "systemd-journal"

// Journal flag bits of systemd's sd_journal_open (fail2ban's journalflags).
const (
	JournalLocalOnly   = 1
	JournalRuntimeOnly = 2
	JournalSystem      = 4
	JournalCurrentUser = 8
)

// JournalOptions configure a Journal source. Zero values take the defaults.
type JournalOptions struct {
	// Match are the filter's journalmatch lines (see ParseJournalMatch).
	// Empty reads every entry.
	Match []string
	// Flags are journalflags; nil means fail2ban's default: the system
	// journal only, unless Files or Path are given.
	Flags *int
	// Files are journalfiles (globs); Path is journalpath (a directory);
	// Namespace is a journal namespace.
	Files     []string
	Path      string
	Namespace string

	Cursors Cursors // nil: the cursor is neither loaded nor saved
	// Acks, when set, holds each cursor back until the consumer has
	// acknowledged the entries before it (see Acks); the cursor is then
	// recorded after every entry, not every SaveInterval.
	Acks *Acks
	// Since is where reading starts without a saved cursor; zero means
	// only entries written from now on.
	Since time.Time

	Journalctl   string        // program; default "journalctl" from PATH
	SaveInterval time.Duration // least time between cursor saves (default 5s; not used with Acks)
	RestartMin   time.Duration // first wait before restarting journalctl (default 1s)
	RestartMax   time.Duration // longest wait (default 1m)
	MaxEntry     int           // longest JSON line read (default 4 MiB); longer ones are skipped
	Logger       *slog.Logger
}

// Journal follows the systemd journal through a journalctl child process
// (no cgo): entries arrive as JSON, become Lines in journal order, and the
// cursor of the last one handed on is saved so a restart continues after it.
type Journal struct {
	opts  JournalOptions
	match []string
	log   *slog.Logger
}

var _ Source = (*Journal)(nil)

// NewJournal validates opts and returns a Journal source.
func NewJournal(opts JournalOptions) (*Journal, error) {
	match, err := ParseJournalMatch(opts.Match)
	if err != nil {
		return nil, err
	}
	if opts.Journalctl == "" {
		opts.Journalctl = "journalctl"
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.SaveInterval, 5*time.Second)
	def(&opts.RestartMin, time.Second)
	def(&opts.RestartMax, time.Minute)
	if opts.MaxEntry <= 0 {
		opts.MaxEntry = 4 << 20
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Journal{opts: opts, match: match, log: log}, nil
}

// Args returns journalctl's arguments for starting after cursor (or, when
// cursor is empty, at Since or at the end).
func (j *Journal) Args(cursor string) ([]string, error) {
	return j.args(cursor, j.opts.Since)
}

func (j *Journal) args(cursor string, since time.Time) ([]string, error) {
	args := []string{"--follow", "--output=json", "--all", "--no-pager", "--quiet"}
	flags := 0
	if j.opts.Flags != nil {
		flags = *j.opts.Flags
	} else if len(j.opts.Files) == 0 && j.opts.Path == "" {
		flags = JournalSystem
	}
	if flags&JournalSystem != 0 {
		args = append(args, "--system")
	}
	if flags&JournalCurrentUser != 0 {
		args = append(args, "--user")
	}
	if flags&^(JournalLocalOnly|JournalSystem|JournalCurrentUser) != 0 {
		// journalctl reads local journals only unless --merge; the other
		// bits have no journalctl equivalent.
		j.log.Warn("journalflags bits ignored", "flags", flags)
	}
	for _, pat := range j.opts.Files {
		files, err := filepath.Glob(pat)
		if err != nil {
			return nil, fmt.Errorf("journalfiles %q: %w", pat, err)
		}
		for _, f := range files {
			args = append(args, "--file="+f)
		}
	}
	if j.opts.Path != "" {
		args = append(args, "--directory="+j.opts.Path)
	}
	if j.opts.Namespace != "" {
		args = append(args, "--namespace="+j.opts.Namespace)
	}
	switch {
	case cursor != "":
		args = append(args, "--after-cursor="+cursor, "--no-tail")
	case !since.IsZero():
		args = append(args, fmt.Sprintf("--since=@%d.%06d", since.Unix(), since.Nanosecond()/1000), "--no-tail")
	default:
		args = append(args, "--lines=0")
	}
	args = append(args, "--")
	return append(args, j.match...), nil
}

// Run follows the journal until ctx ends, restarting journalctl with a
// growing wait when it exits; see Source.
func (j *Journal) Run(ctx context.Context, out chan<- Line) error {
	if _, err := exec.LookPath(j.opts.Journalctl); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	st := &journalState{}
	if j.opts.Cursors != nil {
		c, ok, err := j.opts.Cursors.Load(ctx)
		if err != nil {
			return fmt.Errorf("journal: load cursor: %w", err)
		}
		if ok {
			st.cursor, st.saved = c, c
		}
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		j.save(sctx, st)
	}()
	wait := j.opts.RestartMin
	for {
		started := time.Now()
		err := j.runOnce(ctx, out, st)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(started) > 2*j.opts.RestartMax {
			wait = j.opts.RestartMin // it ran well for a while
		}
		j.log.Warn("journalctl ended, restarting", "err", err, "after", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, j.opts.RestartMax)
	}
}

// journalState is what carries over between journalctl runs.
type journalState struct {
	cursor string // last entry handed on
	saved  string // last cursor saved (or loaded)
	badCur bool   // journalctl refused the cursor: start from its time instead
}

func (j *Journal) save(ctx context.Context, st *journalState) {
	if j.opts.Cursors == nil || st.cursor == "" || st.cursor == st.saved {
		return
	}
	var err error
	if a := j.opts.Acks; a != nil {
		cur, cs := st.cursor, j.opts.Cursors
		err = a.record(ctx, JournalPath, func(ctx context.Context) error { return cs.Save(ctx, cur) })
	} else {
		err = j.opts.Cursors.Save(ctx, st.cursor)
	}
	if err != nil {
		j.log.Warn("saving journal cursor", "err", err)
		return
	}
	st.saved = st.cursor
}

// runOnce runs journalctl once and hands on its entries until it exits or
// ctx ends.
func (j *Journal) runOnce(ctx context.Context, out chan<- Line, st *journalState) error {
	cursor, since := st.cursor, j.opts.Since
	var skipBefore time.Time
	if st.badCur {
		// Restart from the cursor's time; entries before it were handed on.
		if t, ok := cursorTime(cursor); ok {
			skipBefore, since = t, t
		}
		cursor = ""
	}
	args, err := j.args(cursor, since)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, j.opts.Journalctl, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 3 * time.Second
	stderr := &tailBuffer{max: 2048}
	cmd.Stderr = stderr
	// Our own pipe rather than StdoutPipe: the reader may still be
	// reading when Wait runs (after a kill), which StdoutPipe forbids.
	pr, pw, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("journalctl pipe: %w", err)
	}
	defer pr.Close()
	cmd.Stdout = pw
	err = cmd.Start()
	pw.Close()
	if err != nil {
		return fmt.Errorf("start %s: %w", j.opts.Journalctl, err)
	}
	j.log.Debug("journalctl started", "args", args)
	n, readErr := j.read(ctx, pr, out, st, skipBefore)
	if readErr != nil {
		// Stop journalctl; Wait then reports how it ended.
		_ = cmd.Process.Signal(syscall.SIGTERM)
	}
	waitErr := cmd.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if n == 0 && cursor != "" && waitErr != nil {
		st.badCur = true // e.g. the cursor's journal file was vacuumed
	} else if n > 0 {
		st.badCur = false
	}
	msg := strings.TrimSpace(stderr.String())
	switch {
	case readErr != nil:
		return readErr
	case waitErr != nil:
		return fmt.Errorf("journalctl: %w: %s", waitErr, msg)
	}
	return fmt.Errorf("journalctl exited: %s", msg)
}

// read hands on the entries journalctl prints, saving the cursor every
// SaveInterval even when no entry follows; it returns how many it handed on.
func (j *Journal) read(ctx context.Context, r io.Reader, out chan<- Line, st *journalState, skipBefore time.Time) (int, error) {
	stop := make(chan struct{})
	defer close(stop)
	lines := make(chan Line)
	errc := make(chan error, 1)
	go func() {
		errc <- j.decode(r, lines, stop, st.cursor, skipBefore)
		close(lines)
	}()
	tick := time.NewTicker(j.opts.SaveInterval)
	defer tick.Stop()
	n := 0
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				return n, <-errc
			}
			select {
			case out <- l:
			case <-ctx.Done():
				return n, ctx.Err()
			}
			n++
			if j.opts.Acks != nil {
				j.opts.Acks.handedOn(1)
			}
			if l.Cursor != "" {
				st.cursor = l.Cursor
				if j.opts.Acks != nil {
					j.save(ctx, st)
				}
			}
		case <-tick.C:
			j.save(ctx, st)
		case <-ctx.Done():
			return n, ctx.Err()
		}
	}
}

// decode turns journalctl's JSON lines into Lines until r ends or stop is
// closed. With skipBefore set (restarting from a cursor's time), entries
// before it and the cursor's own entry are dropped.
func (j *Journal) decode(r io.Reader, lines chan<- Line, stop <-chan struct{}, cursor string, skipBefore time.Time) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var buf []byte
	for {
		line, tooLong, err := readLimited(br, &buf, j.opts.MaxEntry)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read journalctl: %w", err)
		}
		if tooLong {
			j.log.Warn("journal entry too long, skipped", "max", j.opts.MaxEntry)
			continue
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		e, err := ParseEntry(line)
		if err != nil {
			j.log.Warn("journal entry unreadable, skipped", "err", err)
			continue
		}
		tm, _ := e.Time()
		cur := e.Get("__CURSOR")
		if !skipBefore.IsZero() && (cur == cursor || tm.Before(skipBefore)) {
			continue
		}
		select {
		case lines <- Line{Text: FormatEntry(e), Path: JournalPath, Time: tm, Fields: e.Fields(), Cursor: cur}:
		case <-stop:
			return nil
		}
	}
}

// readLimited reads one '\n'-terminated line into *buf (reused), keeping
// at most max bytes; tooLong reports a longer line, which is dropped.
func readLimited(br *bufio.Reader, buf *[]byte, max int) (line []byte, tooLong bool, err error) {
	*buf = (*buf)[:0]
	for {
		frag, err := br.ReadSlice('\n')
		if len(*buf)+len(frag) <= max+1 {
			*buf = append(*buf, frag...)
		} else {
			tooLong = true
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err != nil && (len(*buf) == 0 || !errors.Is(err, io.EOF)):
			return nil, false, err
		}
		return bytes.TrimSuffix(*buf, []byte{'\n'}), tooLong, nil
	}
}

// cursorTime reads the realtime stamp ("t=" field, hex microseconds) of a
// journal cursor.
func cursorTime(cursor string) (time.Time, bool) {
	for _, part := range strings.Split(cursor, ";") {
		if v, ok := strings.CutPrefix(part, "t="); ok {
			us, err := strconv.ParseInt(v, 16, 64)
			if err != nil {
				return time.Time{}, false
			}
			return time.UnixMicro(us), true
		}
	}
	return time.Time{}, false
}

// tailBuffer keeps the last max bytes written to it (journalctl's stderr).
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
