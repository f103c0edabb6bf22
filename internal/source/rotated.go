package source

import (
	"context"
	"os"
	"path/filepath"
	"strings"
)

// findRotated looks next to path for the file a saved position belongs to
// after a rotation that happened while no source ran: same inode, same
// first-line hash, named path's base plus a suffix ("auth.log.1",
// "auth.log-20240101"). It returns a tailer positioned at the saved offset,
// or nil. Compressed copies are new files and are not found.
func (r *fileRun) findRotated(path string, pos Position) *tailer {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	for _, de := range entries {
		name := de.Name()
		if name == base || !strings.HasPrefix(name, base) || !de.Type().IsRegular() {
			continue
		}
		fi, err := de.Info()
		if err != nil || inode(fi) != pos.Inode || fi.Size() < pos.Offset {
			continue
		}
		old := newTailer(filepath.Join(dir, name), r.opts.MaxLine)
		ok, err := old.open(func(_ uint64, hash string, _ int64) int64 {
			if pos.Hash != "" && hash != pos.Hash {
				return -1
			}
			return pos.Offset
		})
		if err != nil || !ok {
			continue
		}
		if old.ino != pos.Inode || pos.Hash != "" && old.hash != pos.Hash {
			old.close() // replaced between the listing and the open
			continue
		}
		r.log.Info("finishing log rotated while stopped", "path", path, "rotated", old.path, "offset", pos.Offset)
		return old
	}
	return nil
}

// finishRotated hands on the rest of t's predecessor as lines of t.path.
// Positions are not saved meanwhile: if the source stops half-way, the
// next start finds the predecessor again.
func (r *fileRun) finishRotated(ctx context.Context, t *tracked) error {
	p := t.prev
	for {
		more, err := p.read(batchLines)
		if err != nil {
			p.close()
			t.prev = nil
			return err
		}
		if !more {
			p.flushHeld()
		}
		r.countCut(p)
		for i, l := range p.queued {
			l.Path = t.path
			select {
			case r.out <- l:
			case <-ctx.Done():
				p.queued = p.queued[i:]
				return ctx.Err()
			}
		}
		p.queued = p.queued[:0]
		if !more {
			p.close()
			t.prev = nil
			return nil
		}
	}
}
