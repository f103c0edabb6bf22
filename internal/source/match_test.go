package source

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseJournalMatch(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  []string
		err   bool
	}{
		{"none", nil, nil, false},
		{"one term", []string{"_SYSTEMD_UNIT=sshd.service"}, []string{"_SYSTEMD_UNIT=sshd.service"}, false},
		{"and plus or", []string{"_SYSTEMD_UNIT=sshd.service + _COMM=sshd"},
			[]string{"_SYSTEMD_UNIT=sshd.service", "+", "_COMM=sshd"}, false},
		{"lines are alternatives", []string{"A=1 B=2", "C=3"}, []string{"A=1", "B=2", "+", "C=3"}, false},
		{"quotes", []string{`MESSAGE="a b" X='c d' Y=e\ f`}, []string{"MESSAGE=a b", "X=c d", "Y=e f"}, false},
		{"empty groups dropped", []string{"+ A=1 + + B=2 +"}, []string{"A=1", "+", "B=2"}, false},
		{"value with =", []string{"MESSAGE=a=b"}, []string{"MESSAGE=a=b"}, false},
		{"path refused", []string{"/usr/sbin/sshd"}, nil, true},
		{"option refused", []string{"--file=/x"}, nil, true},
		{"lower-case field", []string{"comm=sshd"}, nil, true},
		{"digit first", []string{"1A=x"}, nil, true},
		{"unterminated", []string{`A="x`}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseJournalMatch(tt.lines)
			if tt.err {
				if !errors.Is(err, ErrMatch) {
					t.Fatalf("err = %v, want ErrMatch (got %q)", err, got)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestJournalArgs(t *testing.T) {
	one := 1
	since := time.Unix(1700000000, 250000000)
	tests := []struct {
		name   string
		opts   JournalOptions
		cursor string
		want   string
	}{
		{"defaults", JournalOptions{Match: []string{"A=1"}}, "",
			"--follow --output=json --all --no-pager --quiet --system --lines=0 -- A=1"},
		{"cursor", JournalOptions{}, "s=1;t=2", "--follow --output=json --all --no-pager --quiet --system --after-cursor=s=1;t=2 --no-tail --"},
		{"since", JournalOptions{Since: since}, "",
			"--follow --output=json --all --no-pager --quiet --system --since=@1700000000.250000 --no-tail --"},
		{"path and flags", JournalOptions{Path: "/var/log/journal/x", Flags: &one}, "",
			"--follow --output=json --all --no-pager --quiet --directory=/var/log/journal/x --lines=0 --"},
		{"path, no flags", JournalOptions{Path: "/j", Namespace: "ns"}, "",
			"--follow --output=json --all --no-pager --quiet --directory=/j --namespace=ns --lines=0 --"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := NewJournal(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			args, err := j.Args(tt.cursor)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(args, " "); got != tt.want {
				t.Errorf("args\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func FuzzParseJournalMatch(f *testing.F) {
	f.Add("_SYSTEMD_UNIT=sshd.service + _COMM=sshd")
	f.Add(`MESSAGE="a \"b\"" X='y'`)
	f.Add(`A=\`)
	f.Fuzz(func(t *testing.T, s string) {
		args, err := ParseJournalMatch([]string{s})
		if err != nil {
			return
		}
		for i, a := range args {
			if a == "+" {
				if i == 0 || i == len(args)-1 || args[i-1] == "+" {
					t.Fatalf("misplaced + in %q", args)
				}
				continue
			}
			if strings.HasPrefix(a, "-") || !strings.Contains(a, "=") {
				t.Fatalf("term %q would not be a journalctl match", a)
			}
		}
	})
}

// TestParseJournalMatchInstalledFilters parses the journalmatch of every
// filter fail2ban ships (read from /etc/fail2ban at test time).
func TestParseJournalMatchInstalledFilters(t *testing.T) {
	files, _ := filepath.Glob("/etc/fail2ban/filter.d/*.conf")
	if len(files) == 0 {
		t.Skip("fail2ban's filter.d is not installed")
	}
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			v, ok := strings.CutPrefix(line, "journalmatch")
			if !ok || !strings.HasPrefix(strings.TrimSpace(v), "=") {
				continue
			}
			v = strings.TrimPrefix(strings.TrimSpace(v), "=")
			args, err := ParseJournalMatch([]string{v})
			if err != nil {
				t.Errorf("%s: %v", f, err)
				continue
			}
			if want := len(strings.Fields(v)); len(args) != want {
				t.Errorf("%s: %q gave %q", f, v, args)
			}
			n++
		}
	}
	if n < 10 {
		t.Errorf("only %d journalmatch lines found", n)
	}
}
