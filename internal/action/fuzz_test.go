package action

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzExpandDynamic: whatever the command text and the outside value, a
// value with shell characters never lands in the script, and reaches the
// arguments intact (NUL aside).
func FuzzExpandDynamic(f *testing.F) {
	seeds := []string{
		`echo <F-USER>`, `echo "<F-USER>" '<matches>'`, "cat <<EOF\n<matches>\nEOF\n",
		"cat <<'E'\n<F-X>\nE\necho <F-X>", "# <F-USER>\necho `echo <F-USER>` $(echo \"<fid>\")",
		`x${a:-<F-USER>}y "${b#<F-USER>}"`, `<F-USER><F-USER>`, `<<<<F-A>>>>`, `'"'"<F-A>"'"'`,
	}
	for i, s := range seeds {
		f.Add(s, hostileValues[i%len(hostileValues)])
	}
	f.Fuzz(func(t *testing.T, cmd, val string) {
		value := func(tag string) (string, bool) {
			if tag == "matches" || tag == "fid" {
				return val, true
			}
			return "", false
		}
		c := expandDynamic(cmd, value, func(string) string { return val }, extraTags{}, "actionban", "")
		if !needsVar(val) {
			return
		}
		if len(val) > 3 && !strings.Contains(cmd, val) && strings.Contains(c.Script, val) {
			t.Fatalf("value %q written into script %q", val, c.Script)
		}
		want := cleanArg(val)
		for _, a := range c.Args {
			if a != want {
				t.Fatalf("arg %q, want %q", a, want)
			}
		}
		if !utf8.ValidString(val) {
			return
		}
		if strings.Count(c.Script, "f2bV_") < len(c.Args) {
			t.Fatalf("script %q binds fewer variables than %d args", c.Script, len(c.Args))
		}
	})
}

// FuzzResolve: any property table resolves or reports ErrRecursive, and
// never grows without bound.
func FuzzResolve(f *testing.F) {
	f.Add("a=<b>\nb=<c>\nc=x", "<a>")
	f.Add("a=<b><b>\nb=<a>", "<a>")
	f.Add("a=<b?family=inet6>\nb?family=inet6=<a>\nb=1", "<a> <b>")
	f.Add("x=<y<z>>\nz=1\ny1=ok", "<x>")
	f.Add("a=<b><b><b><b>\nb=<c><c><c><c>\nc=<d><d><d><d>\nd=<e><e><e><e>\ne=xxxxxxxxxxxxxxxx", "<a><a><a><a>")
	f.Fuzz(func(t *testing.T, table, query string) {
		m := map[string]string{}
		for _, line := range strings.Split(table, "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				m[k] = v
			}
		}
		p := newProps(m)
		for _, cond := range []string{"", "family=inet6"} {
			res, err := p.resolve(cond)
			if err != nil {
				continue
			}
			out, err := expandStatic(query, res, cond, extraTags{})
			if err == nil && len(out) > maxValue {
				t.Fatalf("result of %d bytes", len(out))
			}
		}
	})
}

// FuzzShellRoundTrip runs a value through /bin/sh in each quoting context
// and checks the shell printed it back unchanged.
func FuzzShellRoundTrip(f *testing.F) {
	for _, v := range hostileValues {
		f.Add(v)
	}
	const tmpl = "printf '%s\\n' <F-V> > \"$D/plain\"\n" +
		"printf '%s\\n' \"<F-V>\" > \"$D/double\"\n" +
		"printf '%s\\n' 'v=<F-V>' > \"$D/single\"\n" +
		"cat > \"$D/heredoc\" <<EOF\n<F-V>\nEOF\n"
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, val string) {
		if !needsVar(val) || len(val) > 4096 || !utf8.ValidString(val) {
			return // plain values are written as they are, by design
		}
		for _, n := range []string{"plain", "double", "single", "heredoc", "PWN"} {
			os.Remove(filepath.Join(dir, n))
		}
		val = strings.ReplaceAll(val, "PWN", filepath.Join(dir, "PWN"))
		c := expandDynamic(tmpl, func(string) (string, bool) { return "", false },
			func(string) string { return val }, extraTags{}, "actionban", "")
		c.Script = "D='" + dir + "'\n" + c.Script
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		res, err := ShellRunner{}.Run(ctx, c, 5*time.Second)
		if err != nil || res.ExitCode != 0 {
			t.Fatalf("run: %v exit %d: %s", err, res.ExitCode, res.Stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "PWN")); err == nil {
			t.Fatalf("%q ran a command", val)
		}
		want := strings.ReplaceAll(val, "\x00", "\uFFFD")
		for n, w := range map[string]string{"plain": want, "double": want, "single": "v=" + want, "heredoc": want} {
			b, err := os.ReadFile(filepath.Join(dir, n))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSuffix(string(b), "\n"); got != w {
				t.Fatalf("%s: got %q, want %q", n, got, w)
			}
		}
	})
}
