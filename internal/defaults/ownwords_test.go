package defaults

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// stockFilters is where Debian's fail2ban package keeps its filters.
const stockFilters = "/etc/fail2ban/filter.d"

// regexLines returns the value lines of a file that look like regexes:
// they start with "^" or mention <HOST>, and are long enough to carry some
// expression of their own.
func regexLines(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
			continue
		}
		if _, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "^") {
			line = strings.TrimSpace(v)
		}
		if len(line) >= 20 && (strings.HasPrefix(line, "^") || strings.Contains(line, "<HOST>")) {
			out = append(out, line)
		}
	}
	return out
}

// Our filters are written from the log formats, not copied: no regex line
// of the embedded tree may equal one of fail2ban's (GPL) filter files.
func TestRegexesAreOurOwn(t *testing.T) {
	entries, err := os.ReadDir(stockFilters)
	if err != nil {
		t.Skipf("fail2ban's filters are not installed: %v", err)
	}
	stock := map[string]string{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(stockFilters, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range regexLines(string(data)) {
			stock[l] = e.Name()
		}
	}
	if len(stock) < 100 {
		t.Fatalf("found only %d regex lines in %s; is the reader broken?", len(stock), stockFilters)
	}
	ours, err := fs.Glob(FS(), "filter.d/*.conf")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, name := range ours {
		data, err := fs.ReadFile(FS(), name)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range regexLines(string(data)) {
			checked++
			if src, ok := stock[l]; ok {
				t.Errorf("%s: line equals one in fail2ban's %s: %s", name, src, l)
			}
		}
	}
	if checked < 50 {
		t.Fatalf("checked only %d regex lines of our own tree", checked)
	}
}
