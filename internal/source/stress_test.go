package source

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// TestFileExactlyOnce has a writer append numbered lines and rotate the
// file (rename + create, or copy + truncate) while the source runs, and
// restarts the source with its saved positions twice. Every line must
// arrive exactly once, in order.
func TestFileExactlyOnce(t *testing.T) {
	for _, mode := range modes {
		for _, rot := range []string{"rename", "copytruncate"} {
			t.Run(mode.String()+"/"+rot, func(t *testing.T) {
				exactlyOnce(t, mode, rot)
			})
		}
	}
}

func exactlyOnce(t *testing.T, mode Mode, rot string) {
	const (
		total     = 3000
		rotEvery  = 400
		restartAt = 1100 // and 2200
	)
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendFile(t, path, "")
	pos := newMemPositions()
	// Head: the writer starts before the source has opened the file.
	o := fileOpts(mode, FileSpec{Pattern: path, Head: true})
	o.Positions = pos
	o.Logger = testLogger(t)

	var mu sync.Mutex
	var got []string
	receivedN := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }
	runs := 0
	run := func() *collector {
		runs++
		return start(t, newFileT(t, o))
	}
	c := run()
	harvest := func(c *collector) {
		c.stop(t)
		c.mu.Lock()
		defer c.mu.Unlock()
		mu.Lock()
		defer mu.Unlock()
		for _, l := range c.lines {
			got = append(got, l.Text)
		}
		c.lines = nil // counted in got now
	}
	seen := func() int { return receivedN() + c.count() }

	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { f.Close() }()
	lastRotation := 0 // lines written before the previous rotation
	for i := 1; i <= total; i++ {
		if i%rotEvery == 0 {
			// One rotation in flight at most: the source must have read a
			// line written after the previous rotation (else two quick
			// rotations could lose a whole file, in fail2ban too).
			prev := lastRotation
			waitFor(t, func() bool { return seen() > prev }, func() string { return fmt.Sprintf("catch-up before rotation %d: seen %d", i, seen()) })
			lastRotation = i - 1
			switch rot {
			case "rename":
				if err := os.Rename(path, fmt.Sprintf("%s.%d", path, i)); err != nil {
					t.Fatal(err)
				}
				f.Close()
				if f, err = os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err != nil {
					t.Fatal(err)
				}
			case "copytruncate":
				// The source must have read everything: logrotate's copy
				// is not followed, what is in the file at truncation and
				// not yet read is lost (in fail2ban too).
				waitFor(t, func() bool { return seen() >= i-1 }, func() string { return fmt.Sprintf("catch-up before truncate %d: seen %d", i, seen()) })
				if err := f.Truncate(0); err != nil {
					t.Fatal(err)
				}
			}
		}
		if i == restartAt || i == 2*restartAt {
			// The source may still be reading the file renamed away at
			// the last rotation: the next run finds it by its inode.
			harvest(c)
			c = run()
		}
		if _, err := fmt.Fprintf(f, "line %d %s\n", i, strings.Repeat("p", i%50)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { return seen() >= total }, func() string {
		mu.Lock()
		c.mu.Lock()
		nums := map[int]int{}
		for _, l := range got {
			n, _ := strconv.Atoi(strings.Fields(l)[1])
			nums[n]++
		}
		for _, l := range c.lines {
			n, _ := strconv.Atoi(strings.Fields(l.Text)[1])
			nums[n]++
		}
		c.mu.Unlock()
		mu.Unlock()
		var odd []string
		for n := 1; n <= total && len(odd) < 20; n++ {
			if nums[n] != 1 {
				odd = append(odd, fmt.Sprintf("%d:%d", n, nums[n]))
			}
		}
		t.Logf("counts off: %v", odd)
		fi, _ := os.Stat(path)
		p, _ := pos.get(path)
		return fmt.Sprintf("all lines, have %d; size %d, saved %+v, inode %d", seen(), fi.Size(), p, inode(fi))
	})
	settle()
	harvest(c)
	if len(got) != total {
		t.Errorf("got %d lines, want %d", len(got), total)
	}
	for i, l := range got {
		n, err := strconv.Atoi(strings.Fields(l)[1])
		if err != nil || n != i+1 {
			t.Fatalf("line %d is %q (runs %d)", i+1, l, runs)
		}
	}
}
