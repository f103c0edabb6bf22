package webhook

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"warden/internal/config"
)

func settings(file string, kv ...string) map[string]config.Setting {
	m := map[string]config.Setting{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = config.Setting{Value: kv[i+1], Pos: config.Pos{File: file, Line: 10 + i/2}}
	}
	return m
}

func TestParseTargets(t *testing.T) {
	const f = "/etc/fail2ban/fail2ban.local"
	tests := []struct {
		name     string
		sections map[string]map[string]config.Setting
		want     []Target
		err      string // substring of the error; "" for none
	}{
		{
			name: "defaults, other sections ignored",
			sections: map[string]map[string]config.Setting{
				"webhook:ops": settings(f, "url", "https://hooks.example.com/x"),
				"mail":        settings(f, "digest", "15m"),
			},
			want: []Target{{Name: "ops", URL: "https://hooks.example.com/x", Format: FormatJSON, Timeout: DefaultTimeout,
				Retries: DefaultRetries, Pos: config.Pos{File: f, Line: 10}}},
		},
		{
			name: "every option, sorted by name",
			sections: map[string]map[string]config.Setting{
				"webhook:b": settings(f, "url", "http://127.0.0.1:8080/h", "format", "Slack", "secret", "k", "token", "t",
					"timeout", "3s", "digest", "15m", "jails", "sshd, nginx  postfix", "retries", "0"),
				"webhook:a": settings(f, "url", "https://ntfy.example/warden", "format", "ntfy"),
			},
			want: []Target{
				{Name: "a", URL: "https://ntfy.example/warden", Format: FormatNtfy, Timeout: DefaultTimeout, Retries: DefaultRetries,
					Pos: config.Pos{File: f, Line: 10}},
				{Name: "b", URL: "http://127.0.0.1:8080/h", Format: FormatSlack, Secret: "k", Token: "t", Timeout: 3 * time.Second,
					Digest: 15 * time.Minute, Jails: []string{"sshd", "nginx", "postfix"}, Retries: 0, Pos: config.Pos{File: f, Line: 10}},
			},
		},
		{"missing url", map[string]map[string]config.Setting{"webhook:x": settings(f, "format", "json")}, nil, f + ":10: [webhook:x]: bad webhook configuration: url is missing"},
		{"bad scheme", map[string]map[string]config.Setting{"webhook:x": settings(f, "url", "file:///etc/passwd")}, nil, f + ":10: [webhook:x]"},
		{"bad format", map[string]map[string]config.Setting{"webhook:x": settings(f, "url", "https://a.example", "format", "xml")}, nil, f + ":11: [webhook:x]: bad webhook configuration: format"},
		{"bad digest", map[string]map[string]config.Setting{"webhook:x": settings(f, "url", "https://a.example", "digest", "soon")}, nil, f + ":11: "},
		{"zero timeout", map[string]map[string]config.Setting{"webhook:x": settings(f, "url", "https://a.example", "timeout", "0")}, nil, "timeout must be above 0"},
		{"bad retries", map[string]map[string]config.Setting{"webhook:x": settings(f, "url", "https://a.example", "retries", "-1")}, nil, "retries"},
		{"unknown key", map[string]map[string]config.Setting{"webhook:x": settings(f, "url", "https://a.example", "hedaer", "x")}, nil, `unknown option "hedaer"`},
		{"no name", map[string]map[string]config.Setting{"webhook:": settings(f, "url", "https://a.example")}, nil, "needs a name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTargets(tt.sections)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrConfig) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(got, tt.want, func(a, b Target) bool {
				return a.Name == b.Name && a.URL == b.URL && a.Format == b.Format && a.Secret == b.Secret && a.Token == b.Token &&
					a.Timeout == b.Timeout && a.Digest == b.Digest && slices.Equal(a.Jails, b.Jails) && a.Retries == b.Retries && a.Pos == b.Pos
			}) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// FuzzParseTargets checks that any section either fails with ErrConfig or
// gives a target warden can use.
func FuzzParseTargets(f *testing.F) {
	f.Add("https://hooks.example.com/x", "json", "10s", "15m", "sshd, nginx", "3", "tok")
	f.Add("http://[::1]:8080/", "MATRIX", "1d", "0", "", "100", "")
	f.Add("ftp://x", "xml", "-1", "x", ",,,", "-5", "a\nb")
	f.Fuzz(func(t *testing.T, u, format, timeout, digest, jails, retries, token string) {
		sec := map[string]map[string]config.Setting{"webhook:fz": settings("f", "url", u, "format", format,
			"timeout", timeout, "digest", digest, "jails", jails, "retries", retries, "token", token)}
		got, err := ParseTargets(sec)
		if err != nil {
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("error without ErrConfig: %v", err)
			}
			return
		}
		tg := got[0]
		if !strings.HasPrefix(tg.URL, "http://") && !strings.HasPrefix(tg.URL, "https://") {
			t.Fatalf("url %q", tg.URL)
		}
		if tg.Timeout <= 0 || tg.Digest < 0 || tg.Retries < 0 || !slices.Contains(formats, tg.Format) || strings.ContainsAny(tg.Token, "\r\n") {
			t.Fatalf("target %+v", tg)
		}
		for _, j := range tg.Jails {
			if j == "" || strings.ContainsAny(j, ", \t\n") {
				t.Fatalf("jail %q", j)
			}
		}
	})
}
