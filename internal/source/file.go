package source

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

// FileSpec is one logpath entry: a path or glob, and where a file found at
// start without a valid saved position begins.
type FileSpec struct {
	Pattern string
	// Head reads such a file from its start; the default (false) starts at
	// its end, fail2ban's "tail". Files that appear after Run started are
	// always read from the start.
	Head bool
}

// FileOptions configure a File source. Zero values take the defaults.
type FileOptions struct {
	Files     []FileSpec
	Mode      Mode
	Positions Positions // nil: positions are neither loaded nor saved
	// Acks, when set, holds each position back until the consumer has
	// acknowledged the lines before it (see Acks); positions are then
	// recorded after every run of lines handed on, not every SaveInterval.
	Acks   *Acks
	Logger *slog.Logger

	// PollInterval is how often files are checked in polling mode
	// (default 1s, fail2ban's sleeptime).
	PollInterval time.Duration
	// SafetyInterval is how often files are checked anyway in notify mode,
	// in case an event was missed (default 30s).
	SafetyInterval time.Duration
	// GlobInterval is how often the patterns are expanded again to find
	// new files (default 10s); in notify mode a create event also does it.
	GlobInterval time.Duration
	// SaveInterval is the least time between two position saves of a file
	// (default 5s); positions are saved on return too. Not used with Acks.
	SaveInterval time.Duration
	// HashInterval is how often the first-line hash of an open file is
	// checked for a rewrite in place (default 30s, as fail2ban).
	HashInterval time.Duration
	// MaxLine caps the bytes kept of one line (default 1 MiB).
	MaxLine int
}

// File tails log files matched by glob patterns. Lines of one file arrive
// in order; files are read in turns.
type File struct {
	opts FileOptions
	log  *slog.Logger
	cut  atomic.Int64 // lines cut at MaxLine, over all runs
}

// LinesCut returns how many lines were longer than MaxLine and cut.
func (s *File) LinesCut() int64 { return s.cut.Load() }

var _ Source = (*File)(nil)

// batchLines is how many lines one file may hand on before the next file's turn.
const batchLines = 512

// NewFile validates opts and returns a File source.
func NewFile(opts FileOptions) (*File, error) {
	if len(opts.Files) == 0 {
		return nil, errors.New("file source: no log paths")
	}
	for _, f := range opts.Files {
		if _, err := filepath.Match(f.Pattern, ""); err != nil {
			return nil, fmt.Errorf("file source: logpath %q: %w", f.Pattern, err)
		}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.PollInterval, time.Second)
	def(&opts.SafetyInterval, 30*time.Second)
	def(&opts.GlobInterval, 10*time.Second)
	def(&opts.SaveInterval, 5*time.Second)
	def(&opts.HashInterval, 30*time.Second)
	if opts.MaxLine <= 0 {
		opts.MaxLine = 1 << 20
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &File{opts: opts, log: log}, nil
}

// fileRun is the state of one Run call; only Run's goroutine touches it.
type fileRun struct {
	*File
	out      chan<- Line
	tails    map[string]*tracked
	order    []string // paths in the order they were found
	lastGlob time.Time
	watcher  *fsnotify.Watcher
	watched  map[string]bool
	// finished are files read to their end after being renamed away, by
	// inode: when a glob then finds one under its new name (auth.log.1 for
	// "auth.log*"), it continues where reading stopped instead of at 0.
	finished map[uint64]Position
	unsaved  bool // some position waits for SaveInterval to pass
}

// maxFinished bounds fileRun.finished; past it the oldest knowledge is dropped.
const maxFinished = 256

// tracked is a followed path and its bookkeeping.
type tracked struct {
	*tailer
	head     bool      // start at 0 when no valid position (else at the end)
	fresh    bool      // next open starts at 0: the file is new to this run
	opened   bool      // opened before in this run: the saved position is no longer owed
	dirty    bool      // position changed since the last save
	savedAt  time.Time // last save
	hashedAt time.Time // last first-line hash check
	literal  bool      // named without glob characters: kept while missing
	prev     *tailer   // the file rotated away while we were down, still to finish
	lastErr  string    // last error reported, to report each only once
	hashSize int64     // file size at the last hash attempt
}

// Run follows the files until ctx ends; see Source.
func (s *File) Run(ctx context.Context, out chan<- Line) error {
	r := &fileRun{File: s, out: out, tails: map[string]*tracked{}, watched: map[string]bool{}, finished: map[uint64]Position{}}
	defer r.shutdown(ctx)
	tick := s.opts.PollInterval
	if s.opts.Mode != ModePolling {
		w, err := fsnotify.NewWatcher()
		switch {
		case err == nil:
			r.watcher = w
			tick = s.opts.SafetyInterval
		case s.opts.Mode == ModeNotify:
			return fmt.Errorf("file source: notifications: %w", err)
		default:
			s.log.Warn("file notifications unavailable, polling", "err", err)
		}
	}
	r.glob(true)
	var events <-chan fsnotify.Event
	var werrs <-chan error
	if r.watcher != nil {
		events, werrs = r.watcher.Events, r.watcher.Errors
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		more, err := r.round(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		wait := tick
		if r.unsaved {
			wait = min(wait, s.opts.SaveInterval) // save after a burst, not on the next event
		}
		if more {
			wait = 0
		}
		timer.Reset(wait)
	idle:
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case ev, ok := <-events:
			if !ok {
				events = nil
				break idle
			}
			if ev.Has(fsnotify.Create) {
				r.lastGlob = time.Time{}
			}
			// One round answers every event queued so far.
			r.lastGlob = drainEvents(events, r.lastGlob)
			timer.Stop()
		case err, ok := <-werrs:
			if !ok {
				werrs = nil
				break idle
			}
			// An overflow loses events: the next round checks every file.
			s.log.Warn("file notifications", "err", err)
			timer.Stop()
		}
	}
}

// drainEvents takes the events already waiting without blocking; a create
// among them asks for a glob (a zero lastGlob).
func drainEvents(events <-chan fsnotify.Event, lastGlob time.Time) time.Time {
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return lastGlob
			}
			if ev.Has(fsnotify.Create) {
				lastGlob = time.Time{}
			}
		default:
			return lastGlob
		}
	}
}

// glob expands the patterns, adding new paths (and watches) and dropping
// glob-found paths that are gone and closed.
func (r *fileRun) glob(initial bool) {
	r.lastGlob = time.Now()
	seen := map[string]bool{}
	for _, spec := range r.opts.Files {
		literal := !hasMeta(spec.Pattern)
		var paths []string
		if literal {
			paths = []string{spec.Pattern}
		} else {
			paths, _ = filepath.Glob(spec.Pattern) // the pattern was checked in NewFile
		}
		r.watch(staticDir(spec.Pattern))
		for _, p := range paths {
			seen[p] = true
			if _, ok := r.tails[p]; ok || r.openElsewhere(p) {
				continue
			}
			r.tails[p] = &tracked{
				tailer:  newTailer(p, r.opts.MaxLine),
				head:    spec.Head,
				fresh:   !initial,
				literal: literal,
			}
			r.order = append(r.order, p)
			r.watch(filepath.Dir(p))
		}
	}
	r.order = slices.DeleteFunc(r.order, func(p string) bool {
		t := r.tails[p]
		if seen[p] || t.literal || t.f != nil {
			return false
		}
		delete(r.tails, p)
		return true
	})
}

// openElsewhere reports whether p is a file another path's tailer still
// has open (just renamed away, not yet read to its end): the next glob
// takes it, once it is finished.
func (r *fileRun) openElsewhere(p string) bool {
	fi, err := os.Stat(p)
	if err != nil {
		return false
	}
	ino := inode(fi)
	for _, t := range r.tails {
		if t.f != nil && t.ino == ino {
			return true
		}
	}
	return false
}

func (r *fileRun) watch(dir string) {
	if r.watcher == nil || r.watched[dir] {
		return
	}
	if err := r.watcher.Add(dir); err != nil {
		// The directory may appear later; polling and re-globbing cover it.
		r.log.Debug("cannot watch directory", "dir", dir, "err", err)
		return
	}
	r.watched[dir] = true
}

// round checks every file once and hands on what they gained. more is true
// when some file has more to read right away.
func (r *fileRun) round(ctx context.Context) (more bool, err error) {
	now := time.Now()
	r.unsaved = false
	if now.Sub(r.lastGlob) >= r.opts.GlobInterval {
		r.glob(false)
	}
	for _, p := range r.order {
		t := r.tails[p]
		m, err := r.step(ctx, t, now)
		if err != nil {
			if ctx.Err() != nil {
				return false, err
			}
			if msg := err.Error(); msg != t.lastErr {
				r.log.Warn("reading log", "path", p, "err", err) // once per new error
				t.lastErr = msg
			}
			continue
		}
		t.lastErr = ""
		more = more || m
		if t.dirty && (r.opts.Acks != nil || now.Sub(t.savedAt) >= r.opts.SaveInterval) {
			r.save(ctx, t, now)
		}
		r.unsaved = r.unsaved || t.dirty && r.opts.Positions != nil && t.f != nil
	}
	return more, nil
}

// step checks one path for rotation, truncation and growth, then reads.
func (r *fileRun) step(ctx context.Context, t *tracked, now time.Time) (bool, error) {
	if t.f == nil {
		ok, err := t.open(func(ino uint64, hash string, size int64) int64 { return r.startAt(ctx, t, ino, hash, size) })
		if err != nil {
			return false, err
		}
		// Missing now: when it appears it is a new file, read from 0.
		t.fresh = true
		if !ok {
			return false, nil
		}
		t.opened, t.dirty, t.hashedAt = true, true, now
	}
	if t.prev != nil {
		if err := r.finishRotated(ctx, t); err != nil {
			return false, err
		}
	}
	fi, err := os.Stat(t.path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("stat log: %w", err)
	}
	if err != nil || inode(fi) != t.ino {
		// Renamed away or deleted: finish the old file, then start over.
		if err := r.drain(ctx, t); err != nil {
			return false, err
		}
		r.log.Info("log rotated", "path", t.path, "gone", err != nil)
		r.save(ctx, t, now) // the old file's end, in case no new file comes
		if len(r.finished) >= maxFinished {
			clear(r.finished)
		}
		r.finished[t.ino] = t.position()
		t.close()
		t.fresh = true
		if fi == nil {
			return false, nil
		}
		return r.step(ctx, t, now)
	}
	rewritten, err := t.rewritten(fi)
	if err != nil {
		return false, err
	}
	switch {
	case fi.Size() < t.rpos || rewritten && t.rpos > 0:
		r.log.Info("log truncated", "path", t.path, "size", fi.Size(), "offset", t.rpos)
		t.reset(0)
		h, err := firstLineHash(t.f)
		if err != nil {
			return false, err
		}
		t.hash, t.dirty, t.hashedAt = h, true, now
	case t.hash == "" && fi.Size() > 0 && fi.Size() != t.hashSize || now.Sub(t.hashedAt) >= r.opts.HashInterval:
		// (An incomplete first line is hashed again only once it grew.)
		t.hashSize = fi.Size()
		h, err := firstLineHash(t.f)
		if err != nil {
			return false, err
		}
		t.hashedAt = now
		if t.hash != "" && h != t.hash {
			r.log.Info("log rewritten", "path", t.path)
			t.reset(0)
		}
		if h != t.hash {
			t.hash, t.dirty = h, true
		}
	}
	more, err := t.read(batchLines)
	r.countCut(t.tailer)
	if err != nil {
		return false, err
	}
	return more, r.send(ctx, t)
}

// startAt chooses where a newly opened file begins.
func (r *fileRun) startAt(ctx context.Context, t *tracked, ino uint64, hash string, size int64) int64 {
	if r.opts.Positions != nil {
		pos, ok, err := r.opts.Positions.Load(ctx, t.path)
		if err != nil {
			r.log.Warn("loading log position", "path", t.path, "err", err)
		}
		// An empty saved hash (first line incomplete) is only trusted at 0.
		if ok && pos.Inode == ino && (pos.Hash == hash || pos.Hash == "" && pos.Offset == 0) && pos.Offset <= size {
			r.log.Debug("resuming log", "path", t.path, "offset", pos.Offset)
			return pos.Offset
		}
		if ok && pos.Inode != ino && !t.opened {
			// Rotated while we were down (or between rename and create as
			// we started, the path missing at first): finish the old file
			// first, and read its successor (this file) from the start.
			if prev := r.findRotated(t.path, pos); prev != nil {
				t.prev = prev
				return 0
			}
		}
	}
	if pos, ok := r.finished[ino]; ok && pos.Hash == hash && pos.Offset <= size {
		delete(r.finished, ino)
		return pos.Offset // read before under another name
	}
	if t.fresh || t.head {
		return 0
	}
	return size
}

// countCut moves a tailer's count of cut lines to the source's total,
// warning on the first of a run.
func (r *fileRun) countCut(t *tailer) {
	if t.truncated == 0 {
		return
	}
	if r.cut.Add(t.truncated) == t.truncated {
		r.log.Warn("log line longer than the limit, cut", "path", t.path, "max", r.opts.MaxLine)
	}
	t.truncated = 0
}

// drain reads the open file to its end and hands everything on, including
// a last line without a newline.
func (r *fileRun) drain(ctx context.Context, t *tracked) error {
	for {
		more, err := t.read(batchLines)
		if err != nil {
			return err
		}
		if !more {
			t.flushHeld()
		}
		r.countCut(t.tailer)
		if err := r.send(ctx, t); err != nil {
			return err
		}
		if !more {
			return nil
		}
	}
}

// send hands the queued lines on, advancing the offset to save line by line.
func (r *fileRun) send(ctx context.Context, t *tracked) error {
	for i, l := range t.queued {
		select {
		case r.out <- l:
			t.off, t.dirty = l.Offset, true
		case <-ctx.Done():
			r.handedOn(i)
			t.queued = slices.Delete(t.queued, 0, i)
			return ctx.Err()
		}
	}
	r.handedOn(len(t.queued))
	t.queued = t.queued[:0]
	return nil
}

func (r *fileRun) handedOn(n int) {
	if r.opts.Acks != nil && n > 0 {
		r.opts.Acks.handedOn(n)
	}
}

func (r *fileRun) save(ctx context.Context, t *tracked, now time.Time) {
	if r.opts.Positions == nil || !t.dirty || t.f == nil || t.prev != nil {
		return
	}
	var err error
	if a := r.opts.Acks; a != nil {
		pos, ps := t.position(), r.opts.Positions
		err = a.record(ctx, t.path, func(ctx context.Context) error { return ps.Save(ctx, pos) })
	} else {
		err = r.opts.Positions.Save(ctx, t.position())
	}
	if err != nil {
		r.log.Warn("saving log position", "path", t.path, "err", err)
		return
	}
	t.dirty, t.savedAt = false, now
}

// shutdown saves the last positions (even though ctx has ended) and closes
// the files and the watcher.
func (r *fileRun) shutdown(ctx context.Context) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	now := time.Now()
	for _, p := range r.order {
		t := r.tails[p]
		r.save(sctx, t, now)
		t.close()
		if t.prev != nil {
			t.prev.close()
		}
	}
	if r.watcher != nil {
		r.watcher.Close()
	}
}

// hasMeta reports whether a path has glob characters.
func hasMeta(p string) bool {
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '*', '?', '[', '\\':
			return true
		}
	}
	return false
}

// staticDir is the longest leading directory of a pattern without glob
// characters: the directory to watch for new files.
func staticDir(pattern string) string {
	dir := filepath.Dir(pattern)
	for hasMeta(dir) {
		dir = filepath.Dir(dir)
	}
	return dir
}
