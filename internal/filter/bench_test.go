package filter

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"

	"warden/internal/datetime"
)

// noDates finds no date: benchmarks of the filter alone.
type noDates struct{}

func (noDates) Find(string) (datetime.Match, bool) { return datetime.Match{}, false }

// threadCPU is the CPU time used so far by the calling OS thread.
func threadCPU() int64 {
	var ru syscall.Rusage
	const rusageThread = 1 // RUSAGE_THREAD
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// cpuLoop runs fn b.N times on one locked thread and reports, besides
// wall time, "cpu-ns/op": the thread's CPU time, which stays meaningful on
// a machine shared with other work.
func cpuLoop(b *testing.B, fn func(i int)) {
	b.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	start := threadCPU()
	i := 0
	for b.Loop() {
		fn(i)
		i++
	}
	if i > 0 {
		b.ReportMetric(float64(threadCPU()-start)/float64(i), "cpu-ns/op")
	}
}

// authLog builds a deterministic auth.log-like sample (date text already
// removed, as the date detector would): mostly routine sshd, PAM, cron and
// sudo lines, with a share of failures.
func authLog(n int) []string {
	rng := rand.New(rand.NewPCG(1, 2))
	ip := func() string {
		return fmt.Sprintf("%d.%d.%d.%d", 1+rng.IntN(223), rng.IntN(256), rng.IntN(256), 1+rng.IntN(254))
	}
	pid := func() int { return 1000 + rng.IntN(60000) }
	noise := []func() string{
		func() string {
			return fmt.Sprintf("web01 sshd[%d]: Accepted publickey for deploy from %s port %d ssh2: ED25519 SHA256:x1y2z3", pid(), ip(), 1024+rng.IntN(60000))
		},
		func() string {
			return fmt.Sprintf("web01 sshd[%d]: pam_unix(sshd:session): session opened for user deploy(uid=1000) by (uid=0)", pid())
		},
		func() string {
			return fmt.Sprintf("web01 sshd[%d]: pam_unix(sshd:session): session closed for user deploy", pid())
		},
		func() string {
			return fmt.Sprintf("web01 sshd[%d]: Received disconnect from %s port %d:11: disconnected by user", pid(), ip(), 1024+rng.IntN(60000))
		},
		func() string {
			return fmt.Sprintf("web01 sshd[%d]: Disconnected from user deploy %s port %d", pid(), ip(), 1024+rng.IntN(60000))
		},
		func() string {
			return fmt.Sprintf("web01 CRON[%d]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)", pid())
		},
		func() string {
			return fmt.Sprintf("web01 CRON[%d]: pam_unix(cron:session): session closed for user root", pid())
		},
		func() string {
			return "web01 sudo:   deploy : TTY=pts/0 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/systemctl restart app"
		},
		func() string {
			return fmt.Sprintf("web01 systemd-logind[%d]: New session %d of user deploy.", pid(), rng.IntN(9999))
		},
		func() string {
			return fmt.Sprintf("web01 sshd[%d]: Server listening on 0.0.0.0 port 22.", pid())
		},
	}
	fails := []func() string{
		func() string {
			return fmt.Sprintf("web01 sshd[%d]: Failed password for root from %s port %d ssh2", pid(), ip(), 1024+rng.IntN(60000))
		},
		func() string {
			return fmt.Sprintf("web01 sshd[%d]: Failed password for invalid user admin from %s port %d ssh2", pid(), ip(), 1024+rng.IntN(60000))
		},
		func() string {
			return fmt.Sprintf("web01 sshd[%d]: Invalid user oracle from %s port %d", pid(), ip(), 1024+rng.IntN(60000))
		},
		func() string {
			return fmt.Sprintf("web01 sshd[%d]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=%s  user=root", pid(), ip())
		},
		func() string {
			return fmt.Sprintf("web01 sshd[%d]: Connection closed by authenticating user root %s port %d [preauth]", pid(), ip(), 1024+rng.IntN(60000))
		},
	}
	out := make([]string, n)
	for i := range out {
		if rng.IntN(100) < 15 {
			out[i] = fails[rng.IntN(len(fails))]()
		} else {
			out[i] = noise[rng.IntN(len(noise))]()
		}
	}
	return out
}

// BenchmarkSSHD measures Process per line with fail2ban's sshd filter
// (read from /etc/fail2ban at run time): a routine line, failure lines,
// and a realistic mix without dates (filter only) and with syslog dates
// (filter plus the datetime detector); lines/s = 1e9 / ns/op.
func BenchmarkSSHD(b *testing.B) {
	noise := "web01 sshd[4242]: pam_unix(sshd:session): session closed for user deploy"
	fail := "web01 sshd[4242]: Failed password for invalid user admin from 203.0.113.7 port 52113 ssh2"
	invalid := "web01 sshd[4242]: Invalid user oracle from 203.0.113.8 port 40000"
	mix := authLog(10000)
	for _, mode := range []string{"normal", "aggressive"} {
		def := f2bDefinition(b, "sshd", map[string]string{"mode": mode})
		// filter alone (lines carry no date) ...
		f, err := Compile(def, Options{Dates: noDates{}})
		if err != nil {
			b.Fatal(err)
		}
		// ... and with the datetime detector on syslog-dated lines
		fd, err := Compile(def, Options{})
		if err != nil {
			b.Fatal(err)
		}
		dated := make([]string, len(mix))
		for i, l := range mix {
			dated[i] = fmt.Sprintf("Nov %2d 10:%02d:%02d %s", 1+i%28, i/60%60, i%60, l)
		}
		for _, bc := range []struct {
			name  string
			f     *Filter
			lines []string
		}{{"noise", f, []string{noise}}, {"failed", f, []string{fail}}, {"invalid", f, []string{invalid}}, {"mix", f, mix},
			{"mix-dated", fd, dated}} {
			b.Run(mode+"/"+bc.name, func(b *testing.B) {
				cpuLoop(b, func(i int) { bc.f.Process(bc.lines[i%len(bc.lines)]) })
			})
		}
	}
}

// BenchmarkOwnRegex measures a filter with our own small regexes.
func BenchmarkOwnRegex(b *testing.B) {
	f, err := Compile(Definition{FailRegex: []string{
		`^\S+ app\[\d+\]: login failed for <F-USER>\S+</F-USER> from <HOST>$`,
		`^\S+ app\[\d+\]: too many requests from <ADDR>$`,
	}}, Options{Dates: noDates{}})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, line string }{
		{"noise", "host app[12]: request served in 12ms for 192.0.2.1"},
		{"failure", "host app[12]: login failed for bob from 192.0.2.1"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cpuLoop(b, func(int) { f.Process(bc.line) })
		})
	}
}

// BenchmarkCompile measures compiling fail2ban's sshd filter.
func BenchmarkCompile(b *testing.B) {
	def := f2bDefinition(b, "sshd", map[string]string{"mode": "aggressive"})
	cpuLoop(b, func(int) {
		if _, err := Compile(def, Options{}); err != nil {
			b.Fatal(err)
		}
	})
}

// processCPU is the CPU time used so far by the whole process.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkProcessSeq measures ProcessSeq on fail2ban's sshd filter with
// warden regex's options over dated auth.log lines, sequentially (1) and
// with workers; an op is one line. lines/s is wall-clock throughput,
// lines/cpu-s per second of CPU of all threads (steadier on a shared
// machine).
func BenchmarkProcessSeq(b *testing.B) {
	mix := authLog(20000)
	dated := make([]string, len(mix))
	for i, l := range mix {
		dated[i] = fmt.Sprintf("Nov %2d 10:%02d:%02d %s", 1+i%28, i/60%60, i%60, l)
	}
	for _, mode := range []string{"normal", "aggressive"} {
		def := f2bDefinition(b, "sshd", map[string]string{"mode": mode})
		for _, workers := range []int{1, 2, 4} {
			b.Run(fmt.Sprintf("%s/workers=%d", mode, workers), func(b *testing.B) {
				f, err := Compile(def, Options{Diagnostics: true})
				if err != nil {
					b.Fatal(err)
				}
				lines := func(yield func(string) bool) {
					for i := 0; i < b.N; i++ {
						if !yield(dated[i%len(dated)]) {
							return
						}
					}
				}
				b.ReportAllocs()
				cpu := processCPU()
				b.ResetTimer()
				n := 0
				if err := f.ProcessSeq(context.Background(), lines, workers, func(string, Result) { n++ }); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if n != b.N {
					b.Fatalf("%d results for %d lines", n, b.N)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
				if used := processCPU() - cpu; used > 0 {
					b.ReportMetric(float64(b.N)/(float64(used)/1e9), "lines/cpu-s")
				}
			})
		}
	}
}

// floodLines are the lines of the server's flood benchmark
// (bench/bantime): six failures from each of n addresses, syslog-dated.
func floodLines(n int) []string {
	out := make([]string, 0, 6*n)
	for i := range n {
		for j := range 6 {
			out = append(out, fmt.Sprintf("Nov 27 18:%02d:%02d bench sshd[%d]: Failed password for invalid user admin from 10.%d.%d.%d port %d ssh2",
				i/2000%60, i/40%60, 1000+i%30000, 1+i/65536, i/256%256, i%256, 40000+j))
		}
	}
	return out
}

// BenchmarkFlood measures a failure line of the server's flood through
// fail2ban's sshd filter with the server's options (whole failures:
// fields and lines), one line at a time and through ProcessSeq; an op is
// one line.
func BenchmarkFlood(b *testing.B) {
	lines := floodLines(2000)
	def := f2bDefinition(b, "sshd", nil)
	b.Run("process", func(b *testing.B) {
		f, err := Compile(def, Options{})
		if err != nil {
			b.Fatal(err)
		}
		cpuLoop(b, func(i int) {
			if len(f.Process(lines[i%len(lines)]).Failures) != 1 {
				b.Fatal("no failure")
			}
		})
	})
	b.Run("seq/workers=2", func(b *testing.B) {
		f, err := Compile(def, Options{})
		if err != nil {
			b.Fatal(err)
		}
		seq := func(yield func(string) bool) {
			for i := 0; i < b.N; i++ {
				if !yield(lines[i%len(lines)]) {
					return
				}
			}
		}
		b.ReportAllocs()
		cpu := processCPU()
		b.ResetTimer()
		n := 0
		if err := f.ProcessSeq(context.Background(), seq, 2, func(_ string, res Result) { n += len(res.Failures) }); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if n != b.N {
			b.Fatalf("%d failures for %d lines", n, b.N)
		}
		if used := processCPU() - cpu; used > 0 {
			b.ReportMetric(float64(used)/float64(b.N), "cpu-ns/op")
		}
	})
}
