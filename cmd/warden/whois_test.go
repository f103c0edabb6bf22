package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"warden/internal/notify/whois/whoistest"
)

func runWhois(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	dir := t.TempDir()
	out, _ := os.Create(dir + "/out")
	errf, _ := os.Create(dir + "/err")
	code := run(context.Background(), append([]string{"warden", "whois"}, args...), os.Stdin, out, errf)
	o, _ := os.ReadFile(out.Name())
	e, _ := os.ReadFile(errf.Name())
	return code, string(o), string(e)
}

func TestWhoisCommand(t *testing.T) {
	srv := whoistest.Start(t, "inetnum: 192.0.2.0 - 192.0.2.255\nnetname: DOC-NET\ncountry: ZZ\norg-name: Line\r\nBcc: x@example.com\n").Addr()
	tests := []struct {
		name  string
		args  []string
		code  int
		check func(t *testing.T, out, errOut string)
	}{
		{"text", []string{"--server", srv, "192.0.2.7"}, 0, func(t *testing.T, out, _ string) {
			for _, want := range []string{"address: 192.0.2.7\n", "netname: DOC-NET\n", "cidr:    192.0.2.0/24\n", "org:     Line\n", "\nBcc: x@example.com\n", "\nnetname: DOC-NET\n"} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		}},
		{"json", []string{"--json", "--server", srv, "192.0.2.7"}, 0, func(t *testing.T, out, _ string) {
			var got whoisJSON
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatal(err)
			}
			if got.Addr != "192.0.2.7" || got.Summary.NetName != "DOC-NET" || got.Summary.Country != "ZZ" || len(got.Chain) != 1 || !strings.Contains(got.Raw, "netname: DOC-NET") {
				t.Errorf("json %+v", got)
			}
			// The field names are the interface (json.Unmarshal above
			// would also accept "NetName").
			for _, want := range []string{`"addr": "192.0.2.7"`, `"netname": "DOC-NET"`, `"country": "ZZ"`, `"cidr": "192.0.2.0/24"`, `"chain": [`} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %s:\n%s", want, out)
				}
			}
		}},
		{"not an address", []string{"--server", srv, "example.com"}, 2, func(t *testing.T, _, errOut string) {
			if !strings.Contains(errOut, "not an IP address") {
				t.Errorf("stderr %q", errOut)
			}
		}},
		{"off", []string{"--server", "off", "192.0.2.7"}, 1, func(t *testing.T, _, errOut string) {
			if !strings.Contains(errOut, "whois disabled") {
				t.Errorf("stderr %q", errOut)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runWhois(t, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.code, errOut)
			}
			tt.check(t, out, errOut)
		})
	}
}
