package filter

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// compiled is one regex of a Definition, compiled, or why not.
type compiled struct {
	p   *pattern
	err error
}

// compilePatterns compiles a definition's regexes (the prefregex if any,
// the failregexes, the ignoreregexes: that order) on up to one goroutine
// per CPU. Each compilePattern is independent of the others, and
// compiling is most of a short run's start-up: about 35 of the 80 CPU-ms
// before `warden regex` reads its first line with sshd's 20-odd
// failregexes, while the other cores have nothing to do yet (bench/README,
// regex round 15). The results are in order; Compile reports the first
// error among them, as it did compiling one after the other.
func compilePatterns(def Definition, multi bool, timeout time.Duration) []compiled {
	type job struct {
		src   string
		multi bool
	}
	var jobs []job
	if def.PrefRegex != "" {
		jobs = append(jobs, job{def.PrefRegex, false})
	}
	for _, r := range def.FailRegex {
		jobs = append(jobs, job{r, multi})
	}
	for _, r := range def.IgnoreRegex {
		jobs = append(jobs, job{r, false})
	}
	out := make([]compiled, len(jobs))
	run := func(i int) {
		out[i].p, out[i].err = compilePattern(jobs[i].src, def.UseDNS, jobs[i].multi, timeout)
	}
	workers := min(runtime.GOMAXPROCS(0), len(jobs))
	if workers <= 1 {
		for i := range jobs {
			run(i)
		}
		return out
	}
	// the jobs are taken in order, one at a time, by whichever goroutine
	// is free (regexes differ a lot in cost: sshd's longest take 10 times
	// its shortest)
	var next atomic.Int64 // jobs taken so far
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(jobs); i = int(next.Add(1)) - 1 {
				run(i)
			}
		})
	}
	wg.Wait()
	return out
}
