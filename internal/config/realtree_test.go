package config

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const realTree = "/etc/fail2ban"

func needRealTree(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(realTree, "jail.conf")); err != nil {
		t.Skip("no fail2ban tree at", realTree)
	}
}

// TestRealTreeResolves loads the installed fail2ban tree with every jail
// enabled: each must find its filter and actions and parse its times.
func TestRealTreeResolves(t *testing.T) {
	needRealTree(t)
	cfg, err := Load(os.DirFS(realTree), Options{Root: realTree, ForceEnable: true})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if len(cfg.Jails) < 50 {
		t.Fatalf("only %d jails resolved", len(cfg.Jails))
	}
	for _, w := range cfg.Warnings {
		if strings.Contains(w.Msg, "unknown option") {
			t.Errorf("stock tree warned: %s", w)
		}
	}
	for _, j := range cfg.Jails {
		if j.Filter == nil || len(j.Filter.FailRegex) == 0 {
			t.Errorf("%s: no filter regexes", j.Name)
		}
		if len(j.Actions) == 0 {
			t.Errorf("%s: no actions", j.Name)
		}
		for _, a := range j.Actions {
			if !a.Python && a.Commands["actionban"] == "" {
				t.Errorf("%s: action %s has no actionban", j.Name, a.Name)
			}
		}
		if j.FindTime <= 0 || j.BanTime == 0 || j.MaxRetry <= 0 {
			t.Errorf("%s: times findtime=%v bantime=%v maxretry=%d", j.Name, j.FindTime, j.BanTime, j.MaxRetry)
		}
	}
	if s := cfg.Server; s.DBFile == "" || s.DBPurgeAge <= 0 || s.Socket == "" {
		t.Errorf("server settings: %+v", s)
	}
}

// f2bJail is what fail2ban-client -d sends the server for one jail.
type f2bJail struct {
	PrefRegex, DatePattern, FindTime, BanTime string
	FailRegex, IgnoreRegex, JournalMatch      []string
	MaxLines, MaxRetry                        int
	Actions                                   []string
	ActionOpts                                map[string]map[string]string
}

// fail2banDump runs fail2ban-client -d on dir and groups its commands by
// jail.
func fail2banDump(t *testing.T, dir string) (map[string]*f2bJail, map[string]string) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: not running fail2ban-client")
	}
	if _, err := exec.LookPath("fail2ban-client"); err != nil {
		t.Skip("fail2ban-client not installed")
	}
	cmd := exec.Command("sh", "-c", "fail2ban-client -c \"$1\" -d 2>/dev/null | python3 testdata/f2bdump.py", "sh", dir)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("fail2ban-client -d: %v", err)
	}
	jails := map[string]*f2bJail{}
	server := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		var c []any
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		if len(c) == 3 && c[0] == "set" {
			server[fmt.Sprint(c[1])] = fmt.Sprint(c[2])
			continue
		}
		if len(c) < 4 {
			continue
		}
		name, _ := c[1].(string)
		j := jails[name]
		if j == nil {
			j = &f2bJail{ActionOpts: map[string]map[string]string{}}
			jails[name] = j
		}
		str := func(v any) string { return fmt.Sprint(v) }
		list := func(v any) []string {
			if l, ok := v.([]any); ok {
				var s []string
				for _, x := range l {
					s = append(s, str(x))
				}
				return s
			}
			return []string{str(v)}
		}
		switch str(c[2]) {
		case "prefregex":
			j.PrefRegex = str(c[3])
		case "datepattern":
			j.DatePattern = str(c[3])
		case "findtime":
			j.FindTime = str(c[3])
		case "bantime":
			j.BanTime = str(c[3])
		case "maxlines":
			fmt.Sscan(str(c[3]), &j.MaxLines)
		case "maxretry":
			fmt.Sscan(str(c[3]), &j.MaxRetry)
		case "addfailregex":
			j.FailRegex = append(j.FailRegex, list(c[3])...)
		case "addignoreregex":
			j.IgnoreRegex = append(j.IgnoreRegex, list(c[3])...)
		case "addjournalmatch":
			var w []string
			for _, x := range c[3:] {
				w = append(w, str(x))
			}
			j.JournalMatch = append(j.JournalMatch, strings.Join(w, " "))
		case "addaction":
			j.Actions = append(j.Actions, str(c[3]))
		case "action":
			act := str(c[3])
			if j.ActionOpts[act] == nil {
				j.ActionOpts[act] = map[string]string{}
			}
			if c[0] == "multi-set" {
				for _, kv := range c[4].([]any) {
					p := kv.([]any)
					j.ActionOpts[act][str(p[0])] = str(p[1])
				}
			} else {
				j.ActionOpts[act][str(c[4])] = str(c[5])
			}
		}
	}
	return jails, server
}

// copyTree copies the installed tree into a temporary directory and adds
// files (jail.local and other overrides) to it.
func copyTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fail2ban")
	if out, err := exec.Command("cp", "-r", realTree, dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// overrides are local files laid over the installed tree, each set compared
// with fail2ban-client -d.
var overrides = []struct {
	name  string
	files map[string]string
	jails int // how many jails are enabled (0: don't check)
}{
	{name: "all-enabled", files: map[string]string{"jail.local": "[DEFAULT]\nenabled = true\n"}},
	{name: "sshd-modes", jails: 3, files: map[string]string{
		"jail.local": `[DEFAULT]
enabled = false
[sshd]
enabled = true
mode = aggressive
bantime = 1h30m
findtime = 1 hour 30 min
failregex = %(known/failregex)s
            ^extra from <HOST>$
action = %(action_mwl)s
         nftables[type=allports, name=extra]
[dropbear]
enabled = true
filter = sshd[mode=ddos, port="a,b"]
ignoreregex = ^ignored <HOST>$ ; inline comment
bantime = -1
action = iptables-multiport[port="80,443", protocol=tcp]
         sendmail-whois-lines[name=%(__name__)s, dest=root]
[recidive]
enabled = true
bantime = 1w
maxretry = 2
`,
		"filter.d/sshd.local": `[Definition]
failregex = %(known/failregex)s
            ^local extra <HOST> #not a comment$
[Init]
maxlines = 3
`,
		"action.d/iptables.local": "[Init]\nblocktype = DROP\n[Init?family=inet6]\nblocktype = DROP6\n",
	}},
}

// TestRealTreeMatchesFail2ban compares every jail of the installed tree
// (with local overrides) with what fail2ban-client -d makes of it:
// regexes, times and actions.
func TestRealTreeMatchesFail2ban(t *testing.T) {
	needRealTree(t)
	t.Parallel()
	all := append(overrides, struct {
		name  string
		files map[string]string
		jails int
	}{name: "every-filter-and-action", files: everyFilterAndAction(t)})
	for _, tc := range all {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := copyTree(t, tc.files)
			compareWithFail2ban(t, dir, tc.jails)
		})
	}
}

func compareWithFail2ban(t *testing.T, dir string, jails int) {
	want, server := fail2banDump(t, dir)
	cfg, err := Load(os.DirFS(dir), Options{Root: dir})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	s := cfg.Server
	for k, got := range map[string]string{"loglevel": s.LogLevel, "logtarget": s.LogTarget, "dbfile": s.DBFile,
		"syslogsocket": s.SyslogSocket, "allowipv6": s.AllowIPv6, "dbmaxmatches": fmt.Sprint(s.DBMaxMatches)} {
		if w, ok := server[k]; ok && w != got && w != "<nil>" {
			t.Errorf("server %s = %q, fail2ban %q", k, got, w)
		}
	}
	if w, ok := server["dbpurgeage"]; ok {
		if d, err := ParseTime(w); err != nil || d != s.DBPurgeAge {
			t.Errorf("server dbpurgeage = %v, fail2ban %q", s.DBPurgeAge, w)
		}
	}
	if len(server) == 0 {
		t.Error("fail2ban sent no server settings")
	}
	if len(cfg.Jails) != len(want) || len(want) == 0 || jails != 0 && len(want) != jails {
		t.Errorf("%d jails, fail2ban has %d", len(cfg.Jails), len(want))
	}
	for _, j := range cfg.Jails {
		w := want[j.Name]
		if w == nil {
			t.Errorf("jail %s unknown to fail2ban", j.Name)
			continue
		}
		f := j.Filter
		check := func(what string, got, exp any) {
			if !reflect.DeepEqual(got, exp) {
				t.Errorf("%s %s:\n got %q\nwant %q", j.Name, what, got, exp)
			}
		}
		check("prefregex", f.PrefRegex, w.PrefRegex)
		check("failregex", f.FailRegex, w.FailRegex)
		check("ignoreregex", f.IgnoreRegex, w.IgnoreRegex)
		check("datepattern", f.DatePattern, w.DatePattern)
		check("journalmatch", f.JournalMatch, w.JournalMatch)
		if w.MaxLines != 0 {
			check("maxlines", f.MaxLines, w.MaxLines)
		}
		if w.MaxRetry != 0 {
			check("maxretry", j.MaxRetry, w.MaxRetry)
		}
		for _, tm := range []struct {
			name string
			got  any
			raw  string
		}{{"findtime", j.FindTime, w.FindTime}, {"bantime", j.BanTime, w.BanTime}} {
			if tm.raw == "" {
				continue // not set: the server's default applies
			}
			d, err := ParseTime(tm.raw)
			if err != nil {
				t.Errorf("%s %s: fail2ban sends %q: %v", j.Name, tm.name, tm.raw, err)
			}
			check(tm.name, tm.got, d)
		}
		var names []string
		for _, a := range j.Actions {
			names = append(names, a.Name)
			opts := map[string]string{}
			for k, v := range a.Params {
				opts[k] = v
			}
			for k, v := range a.Commands {
				switch k {
				case "norestored", "actionstart_on_demand", "actionrepair_on_unban":
					// fail2ban sends these as booleans.
					v = strings.ToLower(pyBool(asBool(v)))
				}
				opts[k] = v
			}
			if !a.Python {
				if len(w.ActionOpts[a.Name]) == 0 {
					t.Errorf("%s: fail2ban has no options for action %s", j.Name, a.Name)
				}
				check("action "+a.Name, opts, w.ActionOpts[a.Name])
			}
		}
		check("actions", names, w.Actions)
	}
}

// everyFilterAndAction writes a jail.local with one jail per filter.d and
// per action.d file of the installed tree, so that files no stock jail
// uses are compared too.
func everyFilterAndAction(t *testing.T) map[string]string {
	var b strings.Builder
	// backend = systemd: every filter is also read with logtype=journal,
	// the stock jails run with logtype=file in "all-enabled".
	b.WriteString("[DEFAULT]\nenabled = false\nbackend = systemd\n")
	list := func(dir string) []string {
		ents, err := os.ReadDir(filepath.Join(realTree, dir))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range ents {
			if n, ok := strings.CutSuffix(e.Name(), ".conf"); ok {
				names = append(names, n)
			}
		}
		return names
	}
	for _, f := range list("filter.d") {
		if f == "common" || strings.HasSuffix(f, "-common") {
			continue // included by others, not filters by themselves
		}
		fmt.Fprintf(&b, "[flt-%s]\nenabled = true\nfilter = %s\nlogpath = /dev/null\naction = %%(action_)s\n", f, f)
	}
	for _, a := range list("action.d") {
		if strings.HasSuffix(a, "-common") {
			continue
		}
		fmt.Fprintf(&b, "[act-%s]\nenabled = true\nfilter = sshd\nlogpath = /dev/null\naction = %s\n", a, a)
	}
	return map[string]string{"jail.local": b.String()}
}
