package source

import (
	"bytes"
	"crypto/md5" //nolint:gosec // fail2ban's first-line hash, identity only
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
)

// readChunk is how much a tailer reads from a file at a time.
const readChunk = 64 << 10

// tailer follows one path. It keeps the file open between rounds so that a
// file renamed away can still be read to its end.
type tailer struct {
	path    string
	maxLine int

	f    *os.File
	ino  uint64
	hash string // first-line hash of f, "" while the first line is incomplete
	off  int64  // offset after the last emitted line
	rpos int64  // offset up to which f has been read (off + bytes held)

	held   []byte // start of the current incomplete line, at most maxLine bytes
	over   int64  // bytes of the current line skipped beyond maxLine
	chunk  []byte
	queued []Line // complete lines read but not yet handed on

	truncated int64 // lines cut at maxLine, for stats

	// prefix is the start of the file as last seen. A copytruncate
	// followed by quick writes leaves the file larger than the old offset;
	// a changed prefix still shows it.
	prefix   []byte
	lastSize int64
	lastMod  time.Time
}

// prefixLen is how many leading bytes are compared to detect a rewrite.
const prefixLen = 64

func newTailer(path string, maxLine int) *tailer {
	return &tailer{path: path, maxLine: maxLine}
}

// inode returns the inode of a file's stat result.
func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// firstLineHash returns fail2ban's identity hash of f: the MD5 of its first
// line including the newline, or "" when the first line is not complete.
func firstLineHash(f *os.File) (string, error) {
	h := md5.New() //nolint:gosec // identity, not security
	buf := make([]byte, 4096)
	var pos int64
	for {
		n, err := f.ReadAt(buf, pos)
		if i := bytes.IndexByte(buf[:n], '\n'); i >= 0 {
			h.Write(buf[:i+1])
			return "md5:" + hex.EncodeToString(h.Sum(nil)), nil
		}
		h.Write(buf[:n])
		pos += int64(n)
		if errors.Is(err, io.EOF) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("hash first line of %s: %w", f.Name(), err)
		}
	}
}

// open opens the path and positions the tailer at offset (clamped to the
// file's size). It returns false when the file does not exist.
func (t *tailer) open(offset func(ino uint64, hash string, size int64) int64) (bool, error) {
	f, err := os.Open(t.path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("open log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return false, fmt.Errorf("stat log: %w", err)
	}
	hash, err := firstLineHash(f)
	if err != nil {
		f.Close()
		return false, err
	}
	off := min(max(offset(inode(fi), hash, fi.Size()), 0), fi.Size())
	t.f, t.ino, t.hash = f, inode(fi), hash
	t.reset(off)
	return true, nil
}

// rewritten reports whether the file's first bytes changed since the last
// call (only checked when its size or mtime changed), and remembers them.
func (t *tailer) rewritten(fi os.FileInfo) (bool, error) {
	if fi.Size() == t.lastSize && fi.ModTime().Equal(t.lastMod) && len(t.prefix) > 0 {
		return false, nil
	}
	t.lastSize, t.lastMod = fi.Size(), fi.ModTime()
	buf := make([]byte, prefixLen)
	n, err := t.f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("read log start: %w", err)
	}
	buf = buf[:n]
	changed := !bytes.HasPrefix(buf, t.prefix)
	t.prefix = buf
	return changed, nil
}

// reset forgets held bytes and continues reading at off.
func (t *tailer) reset(off int64) {
	t.off, t.rpos = off, off
	t.held, t.over = t.held[:0], 0
}

func (t *tailer) close() {
	if t.f != nil {
		t.f.Close()
		t.f = nil
	}
	t.held, t.over = nil, 0
	t.prefix, t.lastSize, t.lastMod = nil, 0, time.Time{}
}

// position reports the position to save for the lines handed on so far.
func (t *tailer) position() Position {
	return Position{Path: t.path, Inode: t.ino, Hash: t.hash, Offset: t.off}
}

// read reads what was appended since the last call and queues the complete
// lines; it stops after about limit lines so one busy file cannot starve
// the others. more is true when it stopped before the end of the file.
func (t *tailer) read(limit int) (more bool, err error) {
	if t.f == nil {
		return false, nil
	}
	if t.chunk == nil {
		t.chunk = make([]byte, readChunk)
	}
	for len(t.queued) < limit {
		n, err := t.f.ReadAt(t.chunk, t.rpos)
		if n > 0 {
			t.consume(t.chunk[:n])
		}
		if errors.Is(err, io.EOF) || n == 0 && err == nil {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("read log: %w", err)
		}
	}
	return true, nil
}

// consume splits b (the bytes at rpos) into lines.
func (t *tailer) consume(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		part := b
		if i >= 0 {
			part = b[:i]
		}
		t.hold(part)
		t.rpos += int64(len(part))
		if i < 0 {
			return
		}
		t.rpos++
		t.finish()
		b = b[i+1:]
	}
}

// hold appends part to the current line, keeping at most maxLine bytes.
func (t *tailer) hold(part []byte) {
	room := t.maxLine - len(t.held)
	if room >= len(part) {
		t.held = append(t.held, part...)
		return
	}
	t.held = append(t.held, part[:max(room, 0)]...)
	t.over += int64(len(part) - max(room, 0))
}

// finish queues the held line as complete, ending at rpos.
func (t *tailer) finish() {
	text := t.held
	if t.over == 0 {
		text = bytes.TrimSuffix(text, []byte{'\r'})
	} else {
		t.truncated++
	}
	t.queued = append(t.queued, Line{Text: string(text), Path: t.path, Offset: t.rpos})
	t.held, t.over = t.held[:0], 0
}

// flushHeld queues a held incomplete last line; used when the file is gone.
func (t *tailer) flushHeld() {
	if len(t.held) > 0 || t.over > 0 {
		t.finish()
	}
}
