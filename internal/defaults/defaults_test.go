package defaults

import (
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// confFiles lists every file of the embedded tree.
func confFiles(t *testing.T) []string {
	t.Helper()
	var names []string
	err := fs.WalkDir(FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			names = append(names, p)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk: %v", err)
	}
	return names
}

func TestFSLayout(t *testing.T) {
	for _, name := range []string{
		"jail.conf", "fail2ban.conf", "paths-common.conf", "paths-debian.conf", "paths-fedora.conf",
		"filter.d/common.conf", "filter.d/sshd.conf", "action.d/nftables-multiport.conf",
		"action.d/sendmail-whois-lines.conf",
	} {
		if _, err := fs.Stat(FS(), name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := fs.Stat(FS(), "tree"); err == nil {
		t.Errorf("FS is not rooted at the tree: it still has a tree/ directory")
	}
}

// Every file must parse, use only the sections the dialect knows, and
// name only includes that exist.
func TestEveryFileParses(t *testing.T) {
	files := confFiles(t)
	if len(files) < 20 {
		t.Fatalf("tree has only %d files", len(files))
	}
	jails := map[string]bool{}
	for _, name := range files {
		t.Run(name, func(t *testing.T) {
			if !strings.HasSuffix(name, ".conf") {
				t.Fatalf("%s: only .conf files belong in the default tree", name)
			}
			data, err := fs.ReadFile(FS(), name)
			if err != nil {
				t.Fatal(err)
			}
			f, err := parseINI(name, string(data))
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Sections) == 0 {
				t.Fatalf("%s: no sections", name)
			}
			allowed := map[string]bool{"INCLUDES": true, "DEFAULT": true}
			switch dir := path.Dir(name); {
			case dir == "filter.d" || dir == "action.d":
				allowed["Definition"], allowed["Init"] = true, true
				allowed["Init?family=inet6"] = true
			case name == "fail2ban.conf":
				allowed["Definition"], allowed["Thread"] = true, true
			}
			for _, s := range f.Sections {
				if name == "jail.conf" && !allowed[s.Name] {
					jails[s.Name] = true
					continue
				}
				if !allowed[s.Name] {
					t.Errorf("%s:%d: unexpected section [%s]", name, s.Line, s.Name)
				}
			}
			if _, err := loadStack(FS(), name, 0); err != nil {
				t.Error(err)
			}
		})
	}
}

// Every %(name)s in every file must resolve within the file and its
// includes.
func TestInterpolationResolves(t *testing.T) {
	for _, name := range confFiles(t) {
		st, err := loadStack(FS(), name, 0)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		f := st[slices.IndexFunc(st, func(x *iniFile) bool { return x.Name == name })]
		// DEFAULT options of jail.conf are expanded inside each jail (they
		// may name per-jail options such as logpath), the rest in place.
		contexts := func(sec string) []string { return []string{sec} }
		if name == "jail.conf" {
			jails := jailNames(st)
			contexts = func(sec string) []string {
				if sec == "DEFAULT" {
					return jails
				}
				return []string{sec}
			}
		}
		for _, s := range f.Sections {
			if s.Name == "INCLUDES" {
				continue
			}
			for _, k := range s.Keys {
				for _, ctx := range contexts(s.Name) {
					if _, err := st.expand(ctx, k.Value, 0); err != nil {
						t.Errorf("%s:%d: %s: %v", name, k.Line, k.Name, err)
					}
				}
			}
		}
	}
}

var reParams = regexp.MustCompile(`^([\w.-]+)(?:\[.*\])?$`)

// refName returns the file name a filter or action reference points to:
// "postfix[mode=auth]" -> "postfix".
func refName(ref string) (string, bool) {
	m := reParams.FindStringSubmatch(strings.TrimSpace(ref))
	if m == nil {
		return "", false
	}
	return m[1], true
}

// jailStack loads jail.conf with its includes.
func jailStack(t *testing.T) stack {
	t.Helper()
	st, err := loadStack(FS(), "jail.conf", 0)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// jailNames lists the jail sections of jail.conf in order.
func jailNames(st stack) []string {
	var names []string
	for _, f := range st {
		if f.Name != "jail.conf" {
			continue
		}
		for _, s := range f.Sections {
			if s.Name != "DEFAULT" && s.Name != "INCLUDES" {
				names = append(names, s.Name)
			}
		}
	}
	return names
}

func TestJailsAreTheExpectedOnes(t *testing.T) {
	st := jailStack(t)
	want := []string{
		"sshd", "apache-auth", "apache-badbots", "nginx-http-auth", "nginx-limit-req", "nginx-botsearch",
		"postfix", "postfix-rbl", "postfix-sasl", "dovecot", "exim", "exim-spam", "recidive",
	}
	got := jailNames(st)
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("jails = %v, want %v", got, want)
	}
	for _, j := range got {
		v, _ := st.lookup(j, "enabled")
		if enabled := v == "true"; enabled != (j == "sshd") {
			t.Errorf("[%s] enabled = %q; only sshd is on by default", j, v)
		}
		for _, key := range []string{"logpath", "port", "bantime", "findtime", "maxretry", "action"} {
			v, ok := st.lookup(j, key)
			if !ok {
				t.Errorf("[%s] has no %s", j, key)
				continue
			}
			if _, err := st.expand(j, v, 0); err != nil {
				t.Errorf("[%s] %s: %v", j, key, err)
			}
		}
	}
}

func TestDefaultSettings(t *testing.T) {
	st := jailStack(t)
	for key, want := range map[string]string{
		"bantime":  "10m",
		"findtime": "10m",
		"maxretry": "5",
		"backend":  "auto",
		"usedns":   "warn",
		"ignoreip": "127.0.0.1/8 ::1",
	} {
		if got, _ := st.lookup("DEFAULT", key); got != want {
			t.Errorf("[DEFAULT] %s = %q, want %q", key, got, want)
		}
	}
	for _, macro := range []string{"action_", "action_mw", "action_mwl"} {
		if _, ok := st.lookup("DEFAULT", macro); !ok {
			t.Errorf("[DEFAULT] lacks the %s macro that user jail.local files refer to", macro)
		}
	}
}

// Every filter and action a jail (or one of the DEFAULT action macros) names
// must exist, and a filter with modes must know the mode the jail asks for.
func TestJailReferencesExist(t *testing.T) {
	st := jailStack(t)
	reModeParam := regexp.MustCompile(`\bmode=([\w-]+)`)
	for _, j := range jailNames(st) {
		filter, _ := st.lookup(j, "filter")
		filter, err := st.expand(j, filter, 0)
		if err != nil {
			t.Errorf("[%s] filter: %v", j, err)
			continue
		}
		fname, ok := refName(filter)
		if !ok {
			t.Errorf("[%s] filter = %q is not a filter reference", j, filter)
			continue
		}
		fst, err := loadStack(FS(), "filter.d/"+fname+".conf", 0)
		if err != nil {
			t.Errorf("[%s] filter %q: %v", j, fname, err)
			continue
		}
		if m := reModeParam.FindStringSubmatch(filter); m != nil && usesModes(fst) {
			if _, ok := fst.lookup("Definition", "__mode_"+m[1]); !ok {
				t.Errorf("[%s] asks filter %s for mode %q, which it does not define", j, fname, m[1])
			}
		}
		var actions []string
		for _, key := range []string{"action", "action_", "action_mw", "action_mwl"} {
			v, _ := st.lookup(j, key)
			v, err := st.expand(j, v, 0)
			if err != nil {
				t.Errorf("[%s] %s: %v", j, key, err)
				continue
			}
			actions = append(actions, strings.Split(v, "\n")...)
		}
		for _, a := range actions {
			if strings.TrimSpace(a) == "" {
				continue
			}
			aname, ok := refName(a)
			if !ok {
				t.Errorf("[%s] action %q is not an action reference", j, a)
				continue
			}
			if _, err := loadStack(FS(), "action.d/"+aname+".conf", 0); err != nil {
				t.Errorf("[%s] action %q: %v", j, aname, err)
			}
		}
	}
}

// usesModes reports whether a filter selects its regexes by <mode>.
func usesModes(st stack) bool {
	for _, f := range st {
		for _, s := range f.Sections {
			for _, k := range s.Keys {
				if strings.Contains(k.Value, "<__mode_<mode>>") {
					return true
				}
			}
		}
	}
	return false
}

// Every filter must define failregex, and every action the ban commands.
func TestDefinitionsComplete(t *testing.T) {
	for _, name := range confFiles(t) {
		dir, base := path.Split(name)
		if dir == "" || strings.Contains(base, "common") {
			continue
		}
		st, err := loadStack(FS(), name, 0)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var need []string
		switch dir {
		case "filter.d/":
			need = []string{"failregex"}
		case "action.d/":
			need = []string{"actionstart", "actionstop", "actionban", "actionunban"}
		}
		for _, key := range need {
			if _, ok := st.lookup("Definition", key); !ok {
				t.Errorf("%s: [Definition] lacks %s", name, key)
			}
		}
	}
}
