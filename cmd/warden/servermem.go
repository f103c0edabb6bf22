package main

import (
	"log/slog"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// The server's soft memory limit (issue 3: RSS under 64 MB with 100,000
// bans in force). Go's collector lets the heap grow to twice what is live
// (GOGC=100), and returns freed pages to the system only slowly; under a
// flood the garbage of the log pipeline fills that room, so the process
// peaked near 80 MB while 20 MB of heap were live. A memory limit makes the
// collector run, and the scavenger give pages back, before the Go runtime
// holds more than the limit (the binary's own pages, about 16 MB of the
// RSS, and SQLite's are not counted in it).
//
// The limit follows what is live: max(memLimitFloor, 3/2 of the live heap
// plus the runtime's own memory), recomputed after every collection. So a
// small daemon stays within the floor, and a large one keeps a third of
// its limit free for garbage, never driving the collector into running
// back to back (a fixed limit below a growing live heap would: the
// runtime then spends up to half the CPU collecting). GOMEMLIMIT or GOGC
// in the environment (any value, "off" included) is the operator's choice
// of how the collector trades memory for CPU: the server then sets no
// limit of its own.
//
// Measured (bench/README.md, "Flood memory and latency, round 4" and the
// flood's round 6): the limit costs the flood CPU in collections (and the
// scavenger returning pages that are faulted in again), less the more room
// it leaves. At 4/3 with SQLite's 4 MiB page caches a flood of 100,000
// attackers peaked at 60-63 MB (76-83 MB without the limit); 3/2 then
// peaked at 66 MB. With the store's caches at 512 KiB (outside this limit,
// like the binary's own pages of about 16 MB), 3/2 peaks at 59-62 MB for
// about half the collector's extra CPU of 4/3; 5/3 reached 63-64 MB.
const (
	memLimitFloor = 32 << 20
	memLimitNum   = 3
	memLimitDen   = 2
)

// memLimit keeps the runtime's memory limit. adjust runs on the runtime's
// cleanup goroutine after each collection, until stop.
type memLimit struct {
	log *slog.Logger

	mu      sync.Mutex // guards the fields below
	stopped bool
	samples []metrics.Sample
	limit   int64
}

// startMemoryLimit sets the server's memory limit unless GOMEMLIMIT or
// GOGC is set, and keeps it following the live heap; stop removes it (the
// server's tests run several servers in one process).
func startMemoryLimit(log *slog.Logger) (stop func()) {
	for _, env := range []string{"GOMEMLIMIT", "GOGC"} {
		if v := os.Getenv(env); v != "" {
			log.Debug("memory limit left to the runtime's settings", env, v)
			return func() {}
		}
	}
	m := &memLimit{log: log}
	// Read after each collection, in this order (see adjust).
	for _, name := range []string{
		"/gc/heap/live:bytes",
		"/memory/classes/total:bytes",
		"/memory/classes/heap/objects:bytes",
		"/memory/classes/heap/unused:bytes",
		"/memory/classes/heap/free:bytes",
		"/memory/classes/heap/released:bytes",
	} {
		m.samples = append(m.samples, metrics.Sample{Name: name})
	}
	m.adjust()
	m.arm()
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.stopped = true
		debug.SetMemoryLimit(math.MaxInt64)
	}
}

// gcSentinel is allocated and dropped at once; its cleanup runs after the
// next collection. It is 16 bytes or more so that the tiny allocator never
// puts it in a block with other objects (which would delay the cleanup).
type gcSentinel struct{ _ [16]byte }

func (m *memLimit) arm() {
	runtime.AddCleanup(&gcSentinel{}, func(m *memLimit) {
		if m.adjust() {
			m.arm()
		}
	}, m)
}

// adjust sets the limit for what the last collection found live; false
// once stopped.
func (m *memLimit) adjust() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return false
	}
	metrics.Read(m.samples)
	v := func(i int) int64 {
		if m.samples[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return int64(m.samples[i].Value.Uint64())
	}
	live, total := v(0), v(1)
	heap := v(2) + v(3) + v(4) + v(5)
	limit := memLimitFor(live, total-heap)
	if m.limit == 0 {
		m.log.Debug("memory limit set", "limit_mib", limit>>20)
	}
	m.limit = limit
	// Compared with the runtime's, not our last one: another server of
	// the process (tests) may have stopped and removed it.
	if debug.SetMemoryLimit(-1) != limit {
		debug.SetMemoryLimit(limit)
	}
	return true
}

// memLimitFor is the limit for a live heap and the runtime's memory beside
// the heap (stacks, collector metadata), rounded up to whole MiB.
func memLimitFor(live, runtimeOwn int64) int64 {
	want := (max(live, 0) + max(runtimeOwn, 0)) * memLimitNum / memLimitDen
	want = (want + 1<<20 - 1) &^ (1<<20 - 1)
	return max(memLimitFloor, want)
}
