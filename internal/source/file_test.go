package source

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestFileHeadTail(t *testing.T) {
	for _, mode := range modes {
		for _, head := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/head=%v", mode, head), func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "a.log")
				appendFile(t, path, "old1\nold2\n")
				c := start(t, newFileT(t, fileOpts(mode, FileSpec{Pattern: path, Head: head})))
				want := []string{"new1", "new2"}
				if head {
					want = append([]string{"old1", "old2"}, want...)
					c.waitCount(t, 2) // the old lines come before the new ones are written
				} else {
					settle() // let the source open the file at its end
				}
				appendFile(t, path, "new1\nnew2\n")
				c.waitCount(t, len(want))
				settle()
				if got := c.texts(); !slices.Equal(got, want) {
					t.Fatalf("lines = %q, want %q", got, want)
				}
				c.mu.Lock()
				last := c.lines[len(c.lines)-1]
				c.mu.Unlock()
				if last.Path != path || last.Offset != int64(len("old1\nold2\nnew1\nnew2\n")) {
					t.Errorf("last line path %q offset %d", last.Path, last.Offset)
				}
			})
		}
	}
}

func TestFileLineShapes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	appendFile(t, path, "")
	o := fileOpts(ModePolling, FileSpec{Pattern: path})
	o.MaxLine = 10
	src := newFileT(t, o)
	c := start(t, src)
	settle()
	appendFile(t, path, "crlf\r\n\xff\xfeinvalid\n"+strings.Repeat("x", 25)+"\nafter\npart")
	c.waitCount(t, 4)
	settle()
	want := []string{"crlf", "\xff\xfeinvalid", strings.Repeat("x", 10), "after"}
	if got := c.texts(); !slices.Equal(got, want) {
		t.Fatalf("lines = %q, want %q", got, want)
	}
	// The held partial line is completed by the next write.
	appendFile(t, path, "ial\n")
	c.waitCount(t, 5)
	if got := c.texts()[4]; got != "partial" {
		t.Errorf("completed line = %q", got)
	}
	if n := src.LinesCut(); n != 1 {
		t.Errorf("LinesCut = %d, want 1", n)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if off := c.lines[2].Offset; off != int64(len("crlf\r\n\xff\xfeinvalid\n")+26) {
		t.Errorf("offset after the cut line = %d", off)
	}
}

// TestFileLongLineMemory checks that a huge line without a newline does not
// grow the held buffer past MaxLine.
func TestFileLongLineMemory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.log")
	appendFile(t, path, strings.Repeat("y", 3*readChunk+7)+"\nok\n")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tl := newTailer(path, 1000)
	tl.f = f
	if _, err := tl.read(100); err != nil {
		t.Fatal(err)
	}
	if len(tl.queued) != 2 || len(tl.queued[0].Text) != 1000 || tl.queued[1].Text != "ok" || tl.truncated != 1 {
		t.Fatalf("queued %d lines, first %d bytes, truncated %d", len(tl.queued), len(tl.queued[0].Text), tl.truncated)
	}
	if cap(tl.held) > 1000+readChunk {
		t.Errorf("held buffer grew to %d", cap(tl.held))
	}
}

func TestFileRenameRotation(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "a.log")
			appendFile(t, path, "")
			c := start(t, newFileT(t, fileOpts(mode, FileSpec{Pattern: path})))
			settle()
			appendFile(t, path, "one\ntwo\nunterminated")
			c.waitCount(t, 2)
			if err := os.Rename(path, path+".1"); err != nil {
				t.Fatal(err)
			}
			appendFile(t, path, "three\n")
			c.waitCount(t, 4)
			appendFile(t, path, "four\n")
			c.waitCount(t, 5)
			settle()
			want := []string{"one", "two", "unterminated", "three", "four"}
			if got := c.texts(); !slices.Equal(got, want) {
				t.Fatalf("lines = %q, want %q", got, want)
			}
		})
	}
}

func TestFileCopyTruncate(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "a.log")
			appendFile(t, path, "")
			c := start(t, newFileT(t, fileOpts(mode, FileSpec{Pattern: path})))
			settle()
			appendFile(t, path, "first line that is long\nsecond line\n")
			c.waitCount(t, 2)
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
			appendFile(t, path, "after\n")
			c.waitCount(t, 3)
			settle()
			want := []string{"first line that is long", "second line", "after"}
			if got := c.texts(); !slices.Equal(got, want) {
				t.Fatalf("lines = %q, want %q", got, want)
			}
		})
	}
}

// TestFileRewrittenInPlace: the file is truncated and refilled past the old
// offset between two checks; only the first-line hash can tell.
func TestFileRewrittenInPlace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.log")
	appendFile(t, path, "")
	o := fileOpts(ModePolling, FileSpec{Pattern: path})
	o.HashInterval = 1 // every round
	src := newFileT(t, o)
	c := start(t, src)
	settle()
	appendFile(t, path, "aaa\n")
	c.waitCount(t, 1)
	if err := os.WriteFile(path, []byte("bbb\nccc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.waitCount(t, 3)
	if got, want := c.texts(), []string{"aaa", "bbb", "ccc"}; !slices.Equal(got, want) {
		t.Fatalf("lines = %q, want %q", got, want)
	}
}

func TestFileVanishAndCreateLater(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "later.log")
			c := start(t, newFileT(t, fileOpts(mode, FileSpec{Pattern: path})))
			settle()
			// Created after start: read from its beginning although "tail".
			appendFile(t, path, "a\nb\n")
			c.waitCount(t, 2)
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			settle()
			appendFile(t, path, "c\n")
			c.waitCount(t, 3)
			if got, want := c.texts(), []string{"a", "b", "c"}; !slices.Equal(got, want) {
				t.Fatalf("lines = %q, want %q", got, want)
			}
		})
	}
}

func TestFileGlobFindsNewFile(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			first := filepath.Join(dir, "a-access.log")
			appendFile(t, first, "skipped\n")
			appendFile(t, filepath.Join(dir, "other.txt"), "")
			c := start(t, newFileT(t, fileOpts(mode, FileSpec{Pattern: filepath.Join(dir, "*-access.log")})))
			settle()
			appendFile(t, first, "a1\n")
			c.waitCount(t, 1)
			second := filepath.Join(dir, "b-access.log")
			appendFile(t, second, "b1\nb2\n")
			appendFile(t, filepath.Join(dir, "other.txt"), "not matched\n")
			c.waitCount(t, 3)
			appendFile(t, first, "a2\n")
			c.waitCount(t, 4)
			settle()
			got := c.texts()
			slices.Sort(got)
			if want := []string{"a1", "a2", "b1", "b2"}; !slices.Equal(got, want) {
				t.Fatalf("lines = %q, want %q", got, want)
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			for _, l := range c.lines {
				if !strings.HasPrefix(l.Text, strings.TrimSuffix(filepath.Base(l.Path), "-access.log")) {
					t.Errorf("line %q from %s", l.Text, l.Path)
				}
			}
		})
	}
}

func TestFileResumeFromPosition(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	appendFile(t, path, "before\n")
	pos := newMemPositions()
	o := fileOpts(ModePolling, FileSpec{Pattern: path})
	o.Positions = pos
	c := start(t, newFileT(t, o))
	settle()
	appendFile(t, path, "l1\nl2\n")
	c.waitCount(t, 2)
	c.stop(t)
	saved, ok := pos.get(path)
	if !ok || saved.Offset != int64(len("before\nl1\nl2\n")) || saved.Hash == "" || saved.Inode == 0 {
		t.Fatalf("saved position %+v %v", saved, ok)
	}
	appendFile(t, path, "while down\n")
	c2 := start(t, newFileT(t, o))
	c2.waitCount(t, 1)
	appendFile(t, path, "l3\n")
	c2.waitCount(t, 2)
	if got, want := c2.texts(), []string{"while down", "l3"}; !slices.Equal(got, want) {
		t.Fatalf("after restart lines = %q, want %q", got, want)
	}

	// A position of another file (other first line) is ignored: tail again.
	c2.stop(t)
	if err := os.WriteFile(path, []byte("different\nbody\nwhile down 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c3 := start(t, newFileT(t, o))
	settle()
	appendFile(t, path, "l4\n")
	c3.waitCount(t, 1)
	settle()
	if got, want := c3.texts(), []string{"l4"}; !slices.Equal(got, want) {
		t.Fatalf("with a stale position lines = %q, want %q", got, want)
	}
}

// TestFileRotatedWhileStopped: the file is renamed away while no source
// runs; the next run finishes it from the saved offset (found by inode)
// and reads its successor from the start.
func TestFileRotatedWhileStopped(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "auth.log")
	appendFile(t, path, "")
	pos := newMemPositions()
	o := fileOpts(ModePolling, FileSpec{Pattern: path})
	o.Positions = pos
	c := start(t, newFileT(t, o))
	settle()
	appendFile(t, path, "seen\n")
	c.waitCount(t, 1)
	c.stop(t)
	appendFile(t, path, "late old\n")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path+".2", "an older rotation, not ours\n")
	appendFile(t, path, "new 1\nnew 2\n")
	c2 := start(t, newFileT(t, o))
	c2.waitCount(t, 3)
	settle()
	if got, want := c2.texts(), []string{"late old", "new 1", "new 2"}; !slices.Equal(got, want) {
		t.Fatalf("lines = %q, want %q", got, want)
	}
	c2.stop(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := pos.get(path); p.Inode != inode(fi) || p.Offset != fi.Size() {
		t.Errorf("saved %+v, want the new file's end %d", p, fi.Size())
	}
}

// TestFileRotatedWhileStoppedSuccessorLate: as above, but the rotation
// is caught between rename and create: the path is missing when the source
// starts and its successor appears later. The old file's rest still comes
// first (a missing path is "new when it appears", but the saved position
// of the previous run is still owed).
func TestFileRotatedWhileStoppedSuccessorLate(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "auth.log")
			appendFile(t, path, "")
			pos := newMemPositions()
			o := fileOpts(mode, FileSpec{Pattern: path, Head: true})
			o.Positions = pos
			c := start(t, newFileT(t, o))
			appendFile(t, path, "seen\n")
			c.waitCount(t, 1)
			c.stop(t)
			appendFile(t, path, "late old\n")
			if err := os.Rename(path, path+".1"); err != nil {
				t.Fatal(err)
			}
			c2 := start(t, newFileT(t, o))
			settle()
			appendFile(t, path, "new 1\n")
			c2.waitCount(t, 2)
			settle()
			if got, want := c2.texts(), []string{"late old", "new 1"}; !slices.Equal(got, want) {
				t.Fatalf("lines = %q, want %q", got, want)
			}
			c2.stop(t)
		})
	}
}

// TestFileGlobMatchesRotatedName: with logpath "app.log*", the name a file
// is rotated to matches too; its lines must not be read twice.
func TestFileGlobMatchesRotatedName(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "app.log")
			appendFile(t, path, "")
			c := start(t, newFileT(t, fileOpts(mode, FileSpec{Pattern: path + "*"})))
			settle()
			appendFile(t, path, "one\ntwo\n")
			c.waitCount(t, 2)
			if err := os.Rename(path, path+".1"); err != nil {
				t.Fatal(err)
			}
			appendFile(t, path+".1", "late write to the old file\n")
			appendFile(t, path, "three\n")
			c.waitCount(t, 4)
			appendFile(t, path+".1", "later still\n")
			c.waitCount(t, 5)
			settle()
			got := c.texts()
			want := []string{"one", "two", "late write to the old file", "three", "later still"}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("lines = %q, want %q", got, want)
			}
		})
	}
}

// TestFileSavesAfterBurst: in notify mode no event follows the last write,
// yet the position is saved within about SaveInterval.
func TestFileSavesAfterBurst(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.log")
	appendFile(t, path, "")
	pos := newMemPositions()
	o := fileOpts(ModeNotify, FileSpec{Pattern: path})
	o.Positions, o.SaveInterval = pos, 50*time.Millisecond
	c := start(t, newFileT(t, o))
	settle()
	for i := range 5 {
		appendFile(t, path, fmt.Sprintf("line %d\n", i))
	}
	c.waitCount(t, 5)
	waitFor(t, func() bool { p, _ := pos.get(path); return p.Offset == int64(5*len("line 0\n")) },
		func() string { p, _ := pos.get(path); return fmt.Sprintf("position saved at the end, have %+v", p) })
}

func TestFileMode(t *testing.T) {
	for _, tt := range []struct {
		backend string
		want    Mode
		err     bool
	}{
		{"auto", ModeAuto, false}, {"", ModeAuto, false}, {"pyinotify", ModeAuto, false},
		{"inotify", ModeAuto, false}, {"gamin", ModeAuto, false}, {"polling", ModePolling, false},
		{"systemd", 0, true}, {"nonsense", 0, true},
	} {
		got, err := FileMode(tt.backend)
		if tt.err != (err != nil) || got != tt.want {
			t.Errorf("FileMode(%q) = %v, %v", tt.backend, got, err)
		}
	}
	// Auto works where notifications do.
	path := filepath.Join(t.TempDir(), "a.log")
	appendFile(t, path, "")
	o := fileOpts(ModeAuto, FileSpec{Pattern: path})
	c := start(t, newFileT(t, o))
	settle()
	appendFile(t, path, "x\n")
	c.waitCount(t, 1)
}

func TestNewSourceErrors(t *testing.T) {
	if _, err := NewFile(FileOptions{}); err == nil {
		t.Error("NewFile without paths succeeded")
	}
	if _, err := NewFile(FileOptions{Files: []FileSpec{{Pattern: "/var/log/[x"}}}); err == nil {
		t.Error("NewFile with a broken glob succeeded")
	}
	if _, err := NewJournal(JournalOptions{Match: []string{"/usr/sbin/sshd"}}); !errors.Is(err, ErrMatch) {
		t.Errorf("NewJournal with a path match: %v", err)
	}
}
