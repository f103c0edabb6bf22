package main

import (
	"bytes"
	"io"
)

// lineBlocks reads a log in large blocks and hands out its lines as
// slices of them: one copy of the text (the kernel's, into the block)
// where a bufio.Reader plus a copy per line made two. A block is never
// written again where it holds data already read: a line that runs past
// the end of a block is moved to the start of a fresh one, and reads go
// only into the part of a block after everything read so far. So the
// lines stay valid, unchanged, for as long as anything refers to them,
// and may be turned into strings without a copy (a line kept somewhere
// keeps its block alive).
//
// Lines are cut as readLine cuts them (same truncation, same errors);
// TestLineBlocksAgree compares the two.
type lineBlocks struct {
	r        io.Reader
	buf      []byte // the current block; buf[lo:hi] is read and not yet handed out
	lo, hi   int
	err      error // the reader's error, once it came
	skipping bool  // dropping the rest of a line cut at the limit
	size     int   // block size
}

const lineBlockSize = 64 << 10

func newLineBlocks(r io.Reader) *lineBlocks {
	return &lineBlocks{r: r, size: lineBlockSize}
}

// next returns the next line without its '\n', truncated to limit bytes
// as readLine does (truncated then true); err is io.EOF after the last
// line (which may come with it) or the reader's error.
func (b *lineBlocks) next(limit int) (line []byte, truncated bool, err error) {
	for {
		pending := b.buf[b.lo:b.hi]
		i := bytes.IndexByte(pending, '\n')
		switch {
		case b.skipping && i >= 0:
			b.lo += i + 1
			b.skipping = false
			continue
		case b.skipping:
			b.lo = b.hi
		case i >= 0:
			line = pending[:i]
			b.lo += i + 1
			if len(line)+1 > limit { // readLine counts the '\n' against the limit
				return line[:min(len(line), limit)], true, nil
			}
			return line, false, nil
		case b.err != nil:
			b.lo = b.hi
			if len(pending) > limit {
				return pending[:limit], true, b.err
			}
			return pending, false, b.err
		case len(pending) > limit:
			// cut here; the rest of the line is dropped on the next calls
			b.lo, b.skipping = b.hi, true
			return pending[:limit], true, nil
		}
		if b.err != nil {
			return nil, false, b.err
		}
		b.fill()
	}
}

// fill reads more: into the unused end of the block, or into a fresh
// block that starts with the pending part of a line.
func (b *lineBlocks) fill() {
	if b.hi == len(b.buf) {
		n := b.hi - b.lo
		size := b.size
		for size < 2*n {
			size *= 2
		}
		nb := make([]byte, size)
		copy(nb, b.buf[b.lo:b.hi])
		b.buf, b.lo, b.hi = nb, 0, n
	}
	for tries := 0; ; tries++ {
		m, err := b.r.Read(b.buf[b.hi:])
		b.hi += m
		switch {
		case err != nil:
			b.err = err
		case m == 0 && tries < 100:
			continue
		case m == 0:
			b.err = io.ErrNoProgress // as bufio gives up on a reader
		}
		return
	}
}
