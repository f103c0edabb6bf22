package config

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*/want.txt golden files")

// dump renders a loaded Config as stable text for golden files.
func dump(cfg *Config, err error) string {
	var b strings.Builder
	if cfg != nil {
		s := cfg.Server
		fmt.Fprintf(&b, "server loglevel=%s logtarget=%s socket=%s dbfile=%s dbpurgeage=%v dbmaxmatches=%d\n",
			s.LogLevel, s.LogTarget, s.Socket, s.DBFile, s.DBPurgeAge, s.DBMaxMatches)
		fmt.Fprintf(&b, "files %s\n", strings.Join(cfg.Files, " "))
		for _, w := range cfg.Warnings {
			fmt.Fprintf(&b, "warning %s\n", w)
		}
		for _, j := range cfg.Jails {
			fmt.Fprintf(&b, "\n[%s] %s enabled=%v backend=%s maxretry=%d findtime=%v bantime=%v\n",
				j.Name, j.Pos, j.Enabled, j.Backend, j.MaxRetry, j.FindTime, j.BanTime)
			fmt.Fprintf(&b, "  logfiles %+v\n  ignoreip %q\n", j.LogFiles, j.IgnoreIP)
			for _, k := range sortedKeys(j.Options) {
				fmt.Fprintf(&b, "  opt %s = %q\n", k, j.Options[k])
			}
			if f := j.Filter; f != nil {
				fmt.Fprintf(&b, "  filter %s (%s) maxlines=%d datepattern=%q\n", f.Name, f.File, f.MaxLines, f.DatePattern)
				fmt.Fprintf(&b, "    prefregex %q\n", f.PrefRegex)
				for _, r := range f.FailRegex {
					fmt.Fprintf(&b, "    failregex %q\n", r)
				}
				for _, r := range f.IgnoreRegex {
					fmt.Fprintf(&b, "    ignoreregex %q\n", r)
				}
				for _, r := range f.JournalMatch {
					fmt.Fprintf(&b, "    journalmatch %q\n", r)
				}
			}
			for _, a := range j.Actions {
				fmt.Fprintf(&b, "  action %s (%s) python=%v norestored=%v\n", a.Name, a.File, a.Python, a.NoRestored)
				for _, k := range sortedKeys(a.Params) {
					fmt.Fprintf(&b, "    param %s = %q\n", k, a.Params[k])
				}
				for _, k := range sortedKeys(a.Commands) {
					fmt.Fprintf(&b, "    cmd %s = %q\n", k, a.Commands[k])
				}
			}
		}
	}
	if err != nil {
		fmt.Fprintf(&b, "error %v\n", err)
	}
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// TestGolden loads each testdata/<case>/tree and compares the result with
// testdata/<case>/want.txt. A case may restrict itself to one jail with a
// file named "jail" holding its name.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/tree")
	if err != nil || len(dirs) == 0 {
		t.Fatal("no golden cases", err)
	}
	for _, tree := range dirs {
		dir := filepath.Dir(tree)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			opts := Options{Root: "/etc/fail2ban", Version: "test"}
			if b, err := os.ReadFile(filepath.Join(dir, "jail")); err == nil {
				opts.Jail = strings.TrimSpace(string(b))
			}
			if _, err := os.Stat(filepath.Join(dir, "force")); err == nil {
				opts.ForceEnable = true
			}
			if _, err := os.Stat(filepath.Join(dir, "compare")); err == nil {
				t.Run("fail2ban", func(t *testing.T) {
					t.Parallel()
					compareWithFail2ban(t, tree, 0)
				})
			}
			cfg, err := Load(os.DirFS(tree), opts)
			got := dump(cfg, err)
			wantFile := filepath.Join(dir, "want.txt")
			if *update {
				if err := os.WriteFile(wantFile, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from %s:\n%s", tree, wantFile, diffLines(string(want), got))
			}
		})
	}
}

// diffLines shows the lines that differ, enough to see what changed.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d\n- %s\n+ %s\n", i+1, wl, gl)
		}
	}
	return b.String()
}
