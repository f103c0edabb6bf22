package jail

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/replay/*/want.txt")

// TestReplayGolden replays testdata/replay/<case>/input.txt through a jail
// and compares the tickets and counters with want.txt.
//
// input.txt: "config key=value..." first; then one failure a line,
// "<clock s> <stamp s> <id or address> [nofail] [line text]" (seconds
// from a fixed base); a line "live" switches the jail into operation.
func TestReplayGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/replay/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no replay cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			got := replayFile(t, filepath.Join(dir, "input.txt"))
			wantPath := filepath.Join(dir, "want.txt")
			if *update {
				if err := os.WriteFile(wantPath, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(wantPath)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if got != string(want) {
				t.Errorf("replay differs from %s:\n--- got\n%s--- want\n%s", wantPath, got, want)
			}
		})
	}
}

func replayFile(t *testing.T, path string) string {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	clk := &fakeClock{}
	var j *Jail
	var out strings.Builder
	sc := bufio.NewScanner(fh)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#':
			continue
		case strings.HasPrefix(line, "config "):
			cfg, inOp := replayConfig(t, fmt.Sprintf("%s:%d", path, n), strings.Fields(line)[1:])
			cfg.Clock = clk.Now
			j = New(cfg)
			j.SetInOperation(inOp)
			continue
		case line == "live":
			j.SetInOperation(true)
			continue
		}
		w := strings.SplitN(line, " ", 4)
		if len(w) < 3 || j == nil {
			t.Fatalf("%s:%d: bad line %q", path, n, line)
		}
		now, err1 := strconv.Atoi(w[0])
		at, err2 := strconv.Atoi(w[1])
		if err1 != nil || err2 != nil {
			t.Fatalf("%s:%d: bad times", path, n)
		}
		clk.now = base.Add(time.Duration(now) * time.Second)
		f := Failure{Host: w[2], ID: w[2], Time: base.Add(time.Duration(at) * time.Second)}
		if a, err := netip.ParseAddr(w[2]); err == nil {
			f.Addr = a
		}
		if len(w) == 4 {
			text := w[3]
			if rest, ok := strings.CutPrefix(text, "nofail "); ok {
				f.NoFail, text = true, rest
			}
			f.Lines = []string{text}
		}
		if tk, ok := j.AddFailure(context.Background(), f); ok {
			fmt.Fprintf(&out, "line %d: ban %s prefix=%v failures=%d retry=%d time=+%ds matches=%q\n",
				n, tk.ID, tk.Prefix, tk.Failures, tk.Retry, int(tk.Time.Sub(base)/time.Second), tk.Matches)
		}
	}
	fmt.Fprintf(&out, "stats %+v\n", j.Stats())
	return out.String()
}

func replayConfig(t *testing.T, at string, kv []string) (Config, bool) {
	var cfg Config
	inOp := true
	for _, p := range kv {
		k, v, _ := strings.Cut(p, "=")
		n, err := strconv.Atoi(v)
		b := v == "true"
		switch k {
		case "maxretry":
			cfg.MaxRetry = n
		case "findtime":
			cfg.FindTime = time.Duration(n) * time.Second
		case "maxmatches":
			cfg.MaxMatches = n
		case "prefix4":
			cfg.BanPrefix4 = n
		case "byprefix":
			cfg.CountByPrefix, err = b, nil
		case "inop":
			inOp, err = b, nil
		default:
			t.Fatalf("%s: unknown key %q", at, k)
		}
		if err != nil {
			t.Fatalf("%s: %s: %v", at, p, err)
		}
	}
	return cfg, inOp
}
