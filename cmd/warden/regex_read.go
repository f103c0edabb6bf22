package main

import (
	"bytes"
	"io"
	"math"
	"sync"
	"sync/atomic"
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
	// recycle, when set, gives blocks to read into and takes the ones
	// left behind (nil: every block is fresh, and lines stay valid for
	// as long as anything refers to them)
	recycle *blockRecycler
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
		var nb []byte
		if b.recycle != nil {
			nb = b.recycle.block(size)
		}
		if nb == nil {
			nb = make([]byte, size)
		}
		copy(nb, b.buf[b.lo:b.hi])
		if b.recycle != nil && b.buf != nil {
			b.recycle.retire(b.buf)
		}
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

// blockRecycler lets lineBlocks read into blocks again once no line in
// them is needed. A fresh 64 KB block costs its zeroing and, where the
// runtime had given the memory back, 16 page faults (about 10 us each on
// the VM of bench/README, regex round 12); a recycled one neither.
//
// A block is retired when the reader moves on from it, with the number
// of lines handed out so far: every line in it is among those. Once the
// consumer has finished that many lines (done), and keeps nothing of
// them that is not a copy, the block is free. The reader and the
// consumer may be two goroutines (filter.ProcessSeq with workers).
type blockRecycler struct {
	// handed counts the lines handed out; owned by the reader, who
	// writes it for each line, so it has a cache line of its own: done
	// reads oldest for each line on the other goroutine, and when the
	// two shared a line each write took it from the other core
	// (bench/README, regex round 14)
	_      [64]byte
	handed int
	_      [64]byte
	// oldest is the count the oldest retired block waits for
	// (math.MaxInt64 when none waits), so done takes the lock only when
	// something is to be freed
	oldest atomic.Int64

	mu      sync.Mutex
	retired []retiredBlock // oldest first
	free    [][]byte
	// poison, for tests: a freed block is overwritten, so that a line
	// still in use shows up as garbage
	poison bool
}

type retiredBlock struct {
	buf  []byte
	upto int // free once this many lines are done
}

// maxFreeBlocks bounds the blocks kept for reuse; the lines in flight in
// filter.ProcessSeq span about four.
const maxFreeBlocks = 8

func newBlockRecycler() *blockRecycler {
	r := &blockRecycler{}
	r.oldest.Store(math.MaxInt64)
	return r
}

// block is a free block of the given size, or nil.
func (r *blockRecycler) block(size int) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.free) > 0 {
		b := r.free[len(r.free)-1]
		r.free = r.free[:len(r.free)-1]
		if len(b) == size {
			return b
		}
	}
	return nil
}

// retire notes that the reader moved on from buf.
func (r *blockRecycler) retire(buf []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.retired = append(r.retired, retiredBlock{buf, r.handed})
	if len(r.retired) == 1 {
		r.oldest.Store(int64(r.handed))
	}
}

// done tells that the consumer has finished n lines in all.
func (r *blockRecycler) done(n int) {
	if int64(n) < r.oldest.Load() {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	i := 0
	for ; i < len(r.retired) && r.retired[i].upto <= n; i++ {
		b := r.retired[i].buf
		if r.poison {
			for j := range b {
				b[j] = 0xff
			}
		}
		if len(r.free) < maxFreeBlocks {
			r.free = append(r.free, b)
		}
	}
	r.retired = append(r.retired[:0], r.retired[i:]...)
	if len(r.retired) > 0 {
		r.oldest.Store(int64(r.retired[0].upto))
	} else {
		r.oldest.Store(math.MaxInt64)
	}
}
