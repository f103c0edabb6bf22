package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
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

// syslogQueueMax bounds the bytes of messages waiting for a syslog
// daemon that is slower than the log (a flood's bans): about 10,000 ban
// lines. Beyond it, records are dropped.
const syslogQueueMax = 1 << 20

// syslogDrainEvery is how often messages waiting for the daemon are sent.
const syslogDrainEvery = 2 * time.Millisecond

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
// never waits, where Python's handler blocks. A record the daemon cannot
// take now (its queue is full: a flood, a slow daemon) waits in a queue
// of at most syslogQueueMax bytes, which a timer drains; beyond it,
// records are dropped and counted. When the daemon is gone or was
// restarted the socket is connected again, at most once per syslogRetry,
// and the record sent again once, as Python does; records that find it
// gone are dropped and counted. Dropped records are reported on note
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
	// queue holds the messages the daemon could not take yet, from
	// queue[qoff:], one after another, qlens their lengths; timer, armed
	// while they wait, drains it.
	queue []byte
	qoff  int
	qlens []int
	timer *time.Timer
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

// send writes b in one system call that does not wait.
func (w *syslogWriter) send(b []byte) error {
	n, err := syscall.SendmsgN(w.fd, b, nil, nil, syscall.MSG_DONTWAIT|syscall.MSG_NOSIGNAL)
	if err == nil && n < len(b) {
		// A stream took part of the record: the rest cannot follow
		// without breaking the next one, so the stream is given up.
		w.close()
		return io.ErrShortWrite
	}
	return err
}

// Write implements io.Writer: p is one record. It never fails and never
// waits: a record the daemon cannot take now waits in w's queue (drained
// by a timer), and one that finds the queue full or the daemon gone is
// dropped and counted.
func (w *syslogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	defer func() {
		// Whatever became of this record: a daemon gone for long is
		// reported while it is gone, not only at Flush.
		if w.pending > 0 {
			w.report(false)
		}
	}()
	w.buf = w.frame(w.buf[:0], p)
	if len(w.qlens) > 0 {
		// After those waiting, in order; the oldest is tried now (the
		// record's one system call), so that a daemon that keeps up
		// empties the queue as fast as records come.
		w.sendOldest()
		w.enqueue()
		return len(p), nil
	}
	if w.fd < 0 {
		if err := w.reconnect(); err != nil {
			w.drop(err)
			return len(p), nil
		}
	}
	err := w.send(w.buf)
	if err != nil && err != syscall.EAGAIN && err != io.ErrShortWrite {
		// The daemon went away or was restarted: connect again and
		// send once more, as Python's SysLogHandler does.
		w.close()
		if err = w.reconnect(); err == nil {
			err = w.send(w.buf)
		}
	}
	switch {
	case err == syscall.EAGAIN:
		w.enqueue() // the daemon's queue is full
	case err != nil:
		w.drop(err)
	}
	return len(p), nil
}

// enqueue keeps w.buf to send later, unless the queue is full, and arms
// the timer that drains it. The caller holds w.mu.
func (w *syslogWriter) enqueue() {
	if len(w.queue)-w.qoff+len(w.buf) > syslogQueueMax {
		w.drop(syscall.EAGAIN)
		return
	}
	w.queue = append(w.queue, w.buf...)
	w.qlens = append(w.qlens, len(w.buf))
	if w.timer == nil {
		w.timer = time.AfterFunc(syslogDrainEvery, w.drainLater)
	}
}

// sendOldest tries to send the oldest waiting message; the caller holds
// w.mu. A failure other than a full daemon's queue is the timer's to
// handle (drain).
func (w *syslogWriter) sendOldest() {
	if w.fd < 0 {
		return
	}
	n := w.qlens[0]
	if w.send(w.queue[w.qoff:w.qoff+n]) == nil {
		w.qoff += n
		w.qlens = w.qlens[1:]
		if len(w.qlens) == 0 {
			w.queue, w.qoff = w.queue[:0], 0
		}
	}
}

// drainLater is the timer's: it sends what it can and comes again while
// records wait.
func (w *syslogWriter) drainLater() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.timer = nil
	if w.drain() && w.timer == nil {
		w.timer = time.AfterFunc(syslogDrainEvery, w.drainLater)
	}
}

// drain sends the waiting records, in order, until the daemon's queue is
// full again; it reports whether some still wait. When the daemon is
// gone they are dropped. The caller holds w.mu.
func (w *syslogWriter) drain() bool {
	for len(w.qlens) > 0 {
		n := w.qlens[0]
		var err error = syscall.ENOTCONN
		if w.fd >= 0 {
			err = w.send(w.queue[w.qoff : w.qoff+n])
		}
		if err == syscall.EAGAIN {
			if w.qoff > len(w.queue)/2 { // keep the queue from creeping
				w.queue = w.queue[:copy(w.queue, w.queue[w.qoff:])]
				w.qoff = 0
			}
			return true
		}
		if err != nil {
			w.dropQueued(err)
			w.close()
			break
		}
		w.qoff += n
		w.qlens = w.qlens[1:]
	}
	w.queue, w.qoff = w.queue[:0], 0
	if w.pending > 0 {
		w.report(false)
	}
	return false
}

// dropQueued drops every record waiting; the caller holds w.mu.
func (w *syslogWriter) dropQueued(err error) {
	for range w.qlens {
		w.drop(err)
	}
	w.qlens = w.qlens[:0]
	w.queue, w.qoff = w.queue[:0], 0
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

// Flush implements logSink: records waiting for the daemon are sent,
// waiting for it no longer than syslogFlushWait (the rest are dropped),
// and dropped records not yet reported are reported.
func (w *syslogWriter) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	deadline := w.now().Add(syslogFlushWait)
	for w.drain() {
		if !w.now().Before(deadline) {
			w.dropQueued(syscall.EAGAIN)
			break
		}
		w.mu.Unlock()
		time.Sleep(syslogDrainEvery)
		w.mu.Lock()
	}
	if w.pending > 0 {
		w.report(true)
	}
	return nil
}

// syslogFlushWait is the longest Flush waits for a slow daemon (at the
// server's stop, for its last lines).
const syslogFlushWait = 100 * time.Millisecond

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

// Close closes the socket, dropping what waits; a later Write connects
// again.
func (w *syslogWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	w.dropQueued(net.ErrClosed)
	w.close()
	return nil
}
