package jail

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"testing"
	"time"
)

const (
	f2bPython = "/usr/bin/python3"
	f2bPkg    = "/usr/lib/python3/dist-packages/fail2ban"
)

// runF2B runs testdata/f2bref.py on job and decodes its answer into out.
func runF2B(t *testing.T, job any, out any) {
	t.Helper()
	if _, err := os.Stat(f2bPkg); err != nil {
		t.Skip("fail2ban is not installed")
	}
	in, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(f2bPython, "testdata/f2bref.py")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("f2bref.py: %v\n%s", err, stderr.String())
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("f2bref.py answer %q: %v", b, err)
	}
}

// event is one failure: id (an address), log time and clock, in seconds.
// Count > 0 makes it an operator's attempt worth Count failures.
type event struct {
	ID    string
	T     float64
	Now   float64
	Count int
}

func (e event) MarshalJSON() ([]byte, error) { return json.Marshal([]any{e.ID, e.T, e.Now, e.Count}) }

type sequence struct {
	name     string
	maxRetry int
	findTime int
	events   []event
}

const t0 = 1_700_000_000.0

func ip(i int) string { return fmt.Sprintf("192.0.2.%d", i%250+1) }

// sequences builds the differential inputs. lag is how far the clock may
// run from the log time (0: the clock is the latest stamp seen).
func sequences(lag float64) []sequence {
	r := rand.New(rand.NewPCG(7, uint64(lag)))
	var seqs []sequence
	gen := func(name string, mr, ft, n int, next func(i int, t float64) (string, float64)) {
		s := sequence{name: name, maxRetry: mr, findTime: ft}
		t, now := t0, t0
		for i := range n {
			var id string
			id, t = next(i, t)
			now = max(now, t)
			clock := now
			if lag > 0 {
				clock = t + math.Round((r.Float64()*2-1)*lag)
			}
			s.events = append(s.events, event{ID: id, T: t, Now: clock})
		}
		seqs = append(seqs, s)
	}
	gen("steady", 5, 600, 40, func(i int, t float64) (string, float64) { return ip(1), t + 50 })
	gen("slow", 3, 600, 40, func(i int, t float64) (string, float64) { return ip(1), t + 200 })
	gen("spread", 4, 300, 60, func(i int, t float64) (string, float64) {
		return ip(1), t + float64(r.IntN(240))
	})
	gen("halves", 5, 600, 60, func(i int, t float64) (string, float64) {
		return ip(1), t + float64(r.IntN(400))/2
	})
	gen("bursty", 5, 600, 80, func(i int, t float64) (string, float64) {
		if i%3 == 0 {
			return ip(2), t + float64(300+r.IntN(700))
		}
		return ip(2), t + float64(r.IntN(3))
	})
	gen("backwards", 4, 600, 60, func(i int, t float64) (string, float64) {
		return ip(3), t + float64(r.IntN(200)-90)
	})
	gen("many", 3, 600, 600, func(i int, t float64) (string, float64) {
		return ip(r.IntN(40)), t + float64(r.IntN(20))
	})
	gen("maxretry1", 1, 600, 20, func(i int, t float64) (string, float64) { return ip(i % 3), t + 7 })
	// Operator attempts (at the clock, worth 1-3 failures) mixed in.
	gen("attempts", 6, 600, 80, func(i int, t float64) (string, float64) {
		return ip(r.IntN(3)), t + float64(r.IntN(120))
	})
	last := &seqs[len(seqs)-1]
	for i := range last.events {
		if i%3 == 1 {
			last.events[i].Count = 1 + r.IntN(3)
			if lag == 0 {
				// The manager has no clock: give it the attempt's time.
				last.events[i].T = last.events[i].Now
			}
		}
	}
	return seqs
}

type refBan []float64 // retry, failures, time; nil: no ban

func secs(f float64) time.Time {
	s, frac := math.Modf(f)
	return time.Unix(int64(s), int64(math.Round(frac*1e9)))
}

// replay feeds a sequence to a jail and returns one answer per event.
func replay(t *testing.T, s sequence, cfg Config, inOp bool) []refBan {
	t.Helper()
	var now time.Time
	cfg.MaxRetry, cfg.FindTime = s.maxRetry, time.Duration(s.findTime)*time.Second
	cfg.Clock = func() time.Time { return now }
	j := New(cfg)
	j.SetInOperation(inOp)
	out := make([]refBan, len(s.events))
	for i, e := range s.events {
		now = secs(e.Now)
		a := netip.MustParseAddr(e.ID)
		f := Failure{Host: e.ID, Addr: a, Time: secs(e.T)}
		add := j.AddFailure
		if e.Count > 0 {
			f.Time, f.Lines, add = time.Time{}, make([]string, e.Count), j.AddAttempt
		}
		tk, ok := add(context.Background(), f)
		if ok {
			out[i] = refBan{float64(tk.Retry), float64(tk.Failures), float64(tk.Time.UnixNano()) / 1e9}
		}
	}
	return out
}

func compareBans(t *testing.T, s sequence, got, want []refBan) {
	t.Helper()
	bans := 0
	for i := range want {
		if (got[i] == nil) != (want[i] == nil) ||
			got[i] != nil && (got[i][0] != math.Floor(want[i][0]) || got[i][1] != want[i][1] || math.Abs(got[i][2]-want[i][2]) > 1e-6) {
			t.Errorf("%s: event %d %+v: ban %v, fail2ban %v", s.name, i, s.events[i], got[i], want[i])
		}
		if want[i] != nil {
			bans++
		}
	}
	t.Logf("%s: %d events, %d bans agree", s.name, len(want), bans)
}

// TestDifferentialFailManager compares the ban decisions with fail2ban's
// FailManager cleaned up before every failure (the jail's default purge).
func TestDifferentialFailManager(t *testing.T) {
	type job struct {
		Mode     string  `json:"mode"`
		MaxRetry int     `json:"maxretry"`
		FindTime int     `json:"findtime"`
		Events   []event `json:"events"`
	}
	seqs := sequences(0)
	var jobs []job
	for _, s := range seqs {
		jobs = append(jobs, job{"manager", s.maxRetry, s.findTime, s.events})
	}
	var want [][]refBan
	runF2B(t, jobs, &want)
	for i, s := range seqs {
		t.Run(s.name, func(t *testing.T) {
			compareBans(t, s, replay(t, s, Config{}, false), want[i])
		})
	}
}

// TestDifferentialFilter compares with fail2ban's whole Filter path (time
// rules, ignoring old lines, lazy cleanup), clocks running up to two
// minutes off the log stamps, in and out of operation.
func TestDifferentialFilter(t *testing.T) {
	type job struct {
		Mode     string  `json:"mode"`
		MaxRetry int     `json:"maxretry"`
		FindTime int     `json:"findtime"`
		InOp     bool    `json:"inop"`
		Events   []event `json:"events"`
	}
	type run struct {
		s    sequence
		inOp bool
	}
	var runs []run
	var jobs []job
	for _, inOp := range []bool{true, false} {
		for _, lag := range []float64{0, 120} {
			for _, s := range sequences(lag) {
				s.name = fmt.Sprintf("%s/inop=%v/lag=%v", s.name, inOp, lag)
				runs = append(runs, run{s, inOp})
				jobs = append(jobs, job{"filter", s.maxRetry, s.findTime, inOp, s.events})
			}
		}
	}
	var want [][]refBan
	runF2B(t, jobs, &want)
	for i, r := range runs {
		t.Run(r.s.name, func(t *testing.T) {
			compareBans(t, r.s, replay(t, r.s, Config{Fail2banPurge: true}, r.inOp), want[i])
		})
	}
}
