package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"warden/internal/fail2bantest"
)

// TestRegexRecycledBlocks: warden regex reads its log into blocks that
// are read into again once their lines are done (blockRecycler). Here
// every freed block is overwritten with 0xff and the blocks are small
// (4 KB, a few dozen lines), so a line that something still holds after
// its result was recorded (the summary's lines and ids, the filter's
// last date text and multi-line ids, the date detector's memo) would
// show up as garbage or as a different count. The output must be that of
// a run whose blocks are never reused, for the summary, -v, the printed
// lines and --out, with one worker and with three, on fail2ban's sample
// logs (sshd's multi-line ids; a log without dates on some lines).
func TestRegexRecycledBlocks(t *testing.T) {
	samples := fail2bantest.Samples(t)
	dir := t.TempDir()
	type run struct {
		log, filter string
		opts        regexOpts
	}
	var runs []run
	for _, lf := range [][2]string{
		{"sshd", "sshd"}, {"sshd", "sshd[mode=aggressive]"}, {"postfix", "postfix[mode=aggressive]"},
		{"dovecot", "dovecot"}, {"nginx-http-auth", "nginx-http-auth[mode=aggressive]"},
		{"apache-auth", "apache-auth"}, {"slapd", "slapd"},
	} {
		for _, o := range []regexOpts{
			{},
			{verbose: 1, printAllMatched: true},
			{printAllMissed: true},
			{json: true},
			{out: "ip"},
			{out: "<ip> <F-USER> <msg>"},
			{out: "[time, ip, user]"},
		} {
			runs = append(runs, run{lf[0], lf[1], o})
		}
	}
	logs := map[string]string{}
	for _, rn := range runs {
		if _, ok := logs[rn.log]; ok {
			continue
		}
		data, err := os.ReadFile(filepath.Join(samples, rn.log))
		if err != nil {
			t.Fatal(err)
		}
		n := 600/(bytes.Count(data, []byte("\n"))+1) + 1
		path := filepath.Join(dir, rn.log+".log")
		if err := os.WriteFile(path, bytes.Repeat(data, n), 0o600); err != nil {
			t.Fatal(err)
		}
		logs[rn.log] = path
	}
	for _, rn := range runs {
		for _, jobs := range []int{1, 3} {
			var outs [2]string
			for i, recycle := range []bool{false, true} {
				o := rn.opts
				o.config, o.encoding, o.logLevel, o.raw, o.jobs = "/etc/fail2ban", "UTF-8", "critical", true, jobs
				var out bytes.Buffer
				r := &regexRun{o: &o, configGiven: true, stdout: &out, ctx: context.Background(), noRecycle: !recycle, blockSize: 4 << 10}
				if recycle {
					r.recycler = newBlockRecycler()
					r.recycler.poison = true
				}
				if _, err := r.main([]string{logs[rn.log], rn.filter}); err != nil {
					t.Fatalf("%s %s %+v: %v", rn.log, rn.filter, rn.opts, err)
				}
				outs[i] = normalize(out.String())
			}
			if outs[0] != outs[1] {
				t.Errorf("%s %s -j %d %+v: recycled blocks change the output:\nfresh:\n%s\nrecycled:\n%s",
					rn.log, rn.filter, jobs, rn.opts, outs[0], outs[1])
			}
			if strings.Contains(outs[1], "\xff") || strings.Contains(outs[1], "\ufffd") {
				t.Errorf("%s %s -j %d %+v: output holds overwritten text", rn.log, rn.filter, jobs, rn.opts)
			}
		}
	}
}

// TestDefaultJobs: one worker per CPU, two on two (bench/README, regex
// round 15), and one when the count is unknown.
func TestDefaultJobs(t *testing.T) {
	for _, tc := range []struct{ cpus, want int }{{0, 1}, {1, 1}, {2, 2}, {3, 3}, {8, 8}} {
		if got := defaultJobs(tc.cpus); got != tc.want {
			t.Errorf("defaultJobs(%d) = %d, want %d", tc.cpus, got, tc.want)
		}
	}
}

// FuzzRecycledBlocks streams arbitrary bytes through a real filter in
// blocks of 64 bytes, once recycled (freed blocks overwritten with 0xff)
// and once not: the statistics and every kept line and id must agree.
func FuzzRecycledBlocks(f *testing.F) {
	f.Add([]byte("2024-01-02 03:04:05 x failed from 192.0.2.1\r\n#c\n\n\xff\xfe from 1.2.3.4"))
	f.Add([]byte("Jan  1 00:00:00 h failed from [::1]\nfailed from 10.0.0.1\nignored failed from 10.0.0.2\n" +
		strings.Repeat("Jan  1 00:00:01 h failed from 192.0.2.7 for a line longer than one block of sixty-four bytes\n", 3)))
	f.Fuzz(func(t *testing.T, in []byte) {
		run := func(recycle bool) string {
			o := &regexOpts{verbose: 1, printAllMatched: true, printAllMissed: true, printAllIgnored: true}
			r := &regexRun{o: o, stdout: io.Discard, ctx: context.Background(), noRecycle: !recycle, blockSize: 64}
			if recycle {
				r.recycler = newBlockRecycler()
				r.recycler.poison = true
			}
			setupFuzzRun(t, r, true)
			if err := r.processReader(bytes.NewReader(in), int64(len(in))); err != nil {
				t.Fatal(err)
			}
			st := r.stats
			st.elapsed = 0
			return fmt.Sprintf("%+v", st)
		}
		if fresh, recycled := run(false), run(true); fresh != recycled {
			t.Fatalf("recycled blocks change the statistics for %q:\nfresh:    %s\nrecycled: %s", in, fresh, recycled)
		}
	})
}
