package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// syslogFacilities are the facility codes (syslog(3)) that fail2ban's
// "SYSLOG[facility=NAME]" takes by name.
var syslogFacilities = map[string]int{
	"KERN": 0, "USER": 1, "MAIL": 2, "DAEMON": 3, "AUTH": 4, "SYSLOG": 5, "LPR": 6,
	"NEWS": 7, "UUCP": 8, "CRON": 9, "AUTHPRIV": 10, "FTP": 11, "NTP": 12,
	"SECURITY": 13, "CONSOLE": 14, "SOLCRON": 15, "LOCAL0": 16, "LOCAL1": 17,
	"LOCAL2": 18, "LOCAL3": 19, "LOCAL4": 20, "LOCAL5": 21, "LOCAL6": 22, "LOCAL7": 23,
}

// syslogTarget is what "logtarget = SYSLOG[k=v, ...]" asks for.
type syslogTarget struct {
	facility      int  // a facility code (DAEMON unless facility= says otherwise)
	time, padding bool // fail2ban's datetime= and padding= options; both off by default
}

// parseSyslogTarget reads the options of "SYSLOG[...]" as fail2ban does:
// facility (a name, DAEMON by default), datetime and padding (fail2ban's
// booleans: 1, on, true, yes). What it cannot honour comes back as
// warnings; the target is usable all the same.
func parseSyslogTarget(opts [][2]string) (st syslogTarget, warns []string) {
	st.facility = syslogFacilities["DAEMON"]
	for _, o := range opts {
		k, v := o[0], strings.TrimSpace(o[1])
		switch k {
		case "facility":
			f, ok := syslogFacilities[strings.ToUpper(v)]
			if !ok {
				warns = append(warns, fmt.Sprintf("logtarget = SYSLOG: unknown facility %q, using DAEMON", v))
				continue
			}
			st.facility = f
		case "datetime":
			st.time = pyTrue(v)
		case "padding":
			st.padding = pyTrue(v)
		case "format":
			if v != "" {
				warns = append(warns, "logtarget = SYSLOG: the format option is not supported, using fail2ban's layout")
			}
		default:
			warns = append(warns, fmt.Sprintf("logtarget = SYSLOG: unknown option %q ignored", k))
		}
	}
	return st, warns
}

// pyTrue is fail2ban's reading of a boolean option.
func pyTrue(v string) bool {
	switch strings.ToLower(v) {
	case "1", "on", "true", "yes":
		return true
	}
	return false
}

// syslogSocketPath is fail2ban.conf's syslogsocket with "auto" (or
// nothing) resolved to the platform's socket, as fail2ban resolves it;
// "" when the platform has none known.
func syslogSocketPath(s string) string {
	s = strings.TrimSpace(s)
	if s != "" && s != "auto" {
		return s
	}
	switch runtime.GOOS {
	case "linux":
		return "/dev/log"
	case "darwin":
		return "/var/run/syslog"
	case "freebsd":
		return "/var/run/log"
	}
	return ""
}

// syslogRetry is the least time between two attempts to connect to a
// syslog socket that refused: records in between are dropped without a
// system call.
const syslogRetry = time.Second

// syslogNoteEvery is the least time between two reports of dropped
// records on stderr.
const syslogNoteEvery = 10 * time.Second

// syslogWriter sends each Write, one record of the server's log, as one
// message to the local syslog daemon, in the bytes Python's
// logging.handlers.SysLogHandler sends for fail2ban's records:
// "<PRI>" (facility*8 + the level's priority), the formatted line and a
// trailing NUL. A Write is a text line from internal/logfmt with its
// priority prefix ("<5>...\n", Options.Priority) or a JSON line (its
// "level" is read); internal/logfmt and slog's JSON handler write each
// record with one Write.
//
// The socket is a datagram socket (a stream socket when the path is one,
// as Python falls back), non-blocking: a record costs one send(2) and
// never waits. A record the daemon cannot take now (its queue full) is
// dropped and counted; when the daemon is gone or was restarted the
// socket is connected again, at most once per syslogRetry, and the record
// sent again once, as Python does. Dropped records are reported on note
// (stderr) at most every syslogNoteEvery, and at Flush. Safe for
// concurrent use.
type syslogWriter struct {
	path     string
	facility int // the facility code shifted: facility*8
	note     io.Writer
	now      func() time.Time

	mu      sync.Mutex
	fd      int // -1: not connected
	stream  bool
	retryAt time.Time // no connect before
	connErr error     // why the last connect failed
	buf     []byte    // the message being sent
	dropped uint64    // records dropped in all
	pending uint64    // dropped and not yet reported
	lastErr error     // why the last one was dropped
	noteAt  time.Time // no report before
}

// errNoSyslogSocket is the error of a syslogsocket that is not a socket.
var errNoSyslogSocket = errors.New("not a socket")

// openSyslog checks that path is a socket, as fail2ban does before it
// takes SYSLOG as its target, and connects to it. A socket that refuses
// now (its daemon restarting) is not an error: the first record
// connects again.
func openSyslog(path string, facility int, note io.Writer, now func() time.Time) (*syslogWriter, error) {
	if path == "" {
		return nil, fmt.Errorf("syslogsocket: no syslog socket known for %s", runtime.GOOS)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("syslogsocket: %w", err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return nil, fmt.Errorf("syslogsocket: %s: %w", path, errNoSyslogSocket)
	}
	w := &syslogWriter{path: path, facility: facility << 3, note: note, now: now, fd: -1}
	w.connect()
	return w, nil
}

// connect opens a socket to w.path: a datagram one, else a stream one.
// The caller holds w.mu (or owns w).
func (w *syslogWriter) connect() error {
	addr := &syscall.SockaddrUnix{Name: w.path}
	var err error
	for _, typ := range [...]int{syscall.SOCK_DGRAM, syscall.SOCK_STREAM} {
		fd, serr := syscall.Socket(syscall.AF_UNIX, typ|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
		if serr != nil {
			return serr
		}
		if err = syscall.Connect(fd, addr); err == nil {
			w.fd, w.stream = fd, typ == syscall.SOCK_STREAM
			return nil
		}
		_ = syscall.Close(fd)
		if err != syscall.EPROTOTYPE {
			// Only a stream socket refuses a datagram one with
			// EPROTOTYPE; any other error is the stream's too.
			break
		}
	}
	return err
}

// close drops the connection; the caller holds w.mu.
func (w *syslogWriter) close() {
	if w.fd >= 0 {
		_ = syscall.Close(w.fd)
		w.fd = -1
	}
}

// reconnect connects unless an attempt failed within syslogRetry.
func (w *syslogWriter) reconnect() error {
	now := w.now()
	if now.Before(w.retryAt) {
		return w.connErr
	}
	if err := w.connect(); err != nil {
		w.retryAt, w.connErr = now.Add(syslogRetry), err
		return err
	}
	return nil
}

// send writes w.buf in one system call that does not wait.
func (w *syslogWriter) send() error {
	n, err := syscall.SendmsgN(w.fd, w.buf, nil, nil, syscall.MSG_DONTWAIT|syscall.MSG_NOSIGNAL)
	if err == nil && n < len(w.buf) {
		// A stream took part of the record: the rest cannot follow
		// without breaking the next one, so the stream is given up.
		w.close()
		return io.ErrShortWrite
	}
	return err
}

// Write implements io.Writer: p is one record. It never fails: a record
// the daemon cannot take is dropped and counted.
func (w *syslogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = w.frame(w.buf[:0], p)
	if w.fd < 0 {
		if err := w.reconnect(); err != nil {
			w.drop(err)
			return len(p), nil
		}
	}
	err := w.send()
	if err == syscall.EAGAIN {
		w.drop(err) // the daemon's queue is full: no waiting
		return len(p), nil
	}
	if err != nil && err != io.ErrShortWrite {
		// The daemon went away or was restarted: connect again and
		// send once more, as Python's SysLogHandler does.
		w.close()
		if err = w.reconnect(); err == nil {
			err = w.send()
		}
	}
	if err != nil {
		w.drop(err)
		return len(p), nil
	}
	if w.pending > 0 {
		w.report(false)
	}
	return len(p), nil
}

// drop counts a record not sent.
func (w *syslogWriter) drop(err error) {
	w.dropped++
	w.pending++
	w.lastErr = err
}

// report writes the count of records dropped since the last report on
// w.note, unless one was written within syslogNoteEvery (force: anyway).
func (w *syslogWriter) report(force bool) {
	now := w.now()
	if !force && now.Before(w.noteAt) {
		return
	}
	fmt.Fprintf(w.note, "warden: syslog %s: %d log records dropped (%v)\n", w.path, w.pending, w.lastErr)
	w.pending = 0
	w.noteAt = now.Add(syslogNoteEvery)
}

// frame appends p's message as Python's SysLogHandler sends it.
func (w *syslogWriter) frame(dst, p []byte) []byte {
	p = bytes.TrimSuffix(p, []byte{'\n'})
	prio := 4 // Python's for a level it does not know: warning
	if len(p) >= 3 && p[0] == '<' && p[2] == '>' && p[1] >= '0' && p[1] <= '7' {
		prio, p = int(p[1]-'0'), p[3:]
	} else if i := bytes.Index(p, []byte(`"level":"`)); i >= 0 {
		prio = levelPriority(p[i+len(`"level":"`):])
	}
	dst = append(dst, '<')
	dst = strconv.AppendInt(dst, int64(w.facility|prio), 10)
	dst = append(dst, '>')
	dst = append(dst, p...)
	return append(dst, 0)
}

// levelPriority is the syslog priority of a level name that starts s (a
// JSON record's "level" value).
func levelPriority(s []byte) int {
	for _, l := range [...]struct {
		name string
		prio int
	}{{"DEBUG", 7}, {"INFO", 6}, {"NOTICE", 5}, {"WARN", 4}, {"ERROR", 3}, {"CRITICAL", 2}} {
		if bytes.HasPrefix(s, []byte(l.name)) {
			return l.prio
		}
	}
	return 4
}

// Flush implements logSink: nothing waits in w; dropped records not yet
// reported are reported.
func (w *syslogWriter) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pending > 0 {
		w.report(true)
	}
	return nil
}

// Reopen implements logSink; it is flushlogs, which for SYSLOG fail2ban
// answers "flushed" without reopening anything (its handler connects
// again by itself). warden does the same, except that a socket that
// refused is tried again at the next record, without waiting for
// syslogRetry: after restarting the syslog daemon, flushlogs brings the
// log back at once.
func (w *syslogWriter) Reopen() (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.retryAt = time.Time{}
	return "flushed", nil
}

// Dropped is the number of records dropped so far.
func (w *syslogWriter) Dropped() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dropped
}

// Close closes the socket; a later Write connects again.
func (w *syslogWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.close()
	return nil
}
