package datetime

import (
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_THREAD, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestCPUTime reports the CPU time per Find of the benchmark lines; it
// runs only with DT_CPU=1 and is meant for a busy machine, where wall-clock
// benchmarks mislead.
func TestCPUTime(t *testing.T) {
	if os.Getenv("DT_CPU") == "" {
		t.Skip()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cases := map[string][]string{
		"syslog": {"Jan  2 15:04:05 host sshd[1234]: Failed password for root from 192.168.1.10 port 22 ssh2",
			"Jan  2 15:04:06 host sshd[1234]: Failed password for invalid user admin from 10.0.0.1 port 2222 ssh2"},
		"rfc3339": {"2026-01-02T15:04:05.123456+01:00 host sshd[1234]: Failed password for root from 192.168.1.10 port 22 ssh2",
			"2026-01-02T15:04:06.000001+01:00 host sshd[1234]: Failed password for root from 10.0.0.1 port 22 ssh2"},
		"apache": {`192.168.1.10 - - [02/Jan/2026:15:04:05 +0100] "GET /wp-login.php HTTP/1.1" 404 512 "-" "Mozilla/5.0"`,
			`10.0.0.1 - admin [02/Jan/2026:15:04:06 +0100] "POST /login HTTP/1.1" 401 128 "-" "curl/8.0"`},
		"nodate": {"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.168.1.10"},
	}
	now := time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)
	for _, name := range []string{"syslog", "rfc3339", "apache", "nodate"} {
		lines := cases[name]
		d, _ := New(Options{Now: func() time.Time { return now }})
		for _, l := range lines {
			d.Find(l)
		}
		const n = 1000000
		st := cpuNow()
		for i := 0; i < n; i++ {
			d.Find(lines[i%len(lines)])
		}
		t.Logf("%-8s %v/op (CPU time)", name, (cpuNow()-st)/n)
	}
}

// TestThroughputFile runs Find over every line of the file named by
// DT_FILE and reports lines per second of CPU time.
func TestThroughputFile(t *testing.T) {
	fn := os.Getenv("DT_FILE")
	if fn == "" {
		t.Skip()
	}
	data, err := os.ReadFile(fn)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	d, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	dated := 0
	st, wall := cpuNow(), time.Now()
	for _, l := range lines {
		if m, ok := d.Find(l); ok && !m.Time.IsZero() {
			dated++
		}
	}
	cpu := cpuNow() - st
	t.Logf("%d lines (%d dated) in %v CPU (%v wall): %.2fM lines/s of CPU", len(lines), dated, cpu, time.Since(wall),
		float64(len(lines))/cpu.Seconds()/1e6)
}
