package server

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"warden/internal/config"
)

func TestBanPrefixes(t *testing.T) {
	tests := []struct {
		opts map[string]string
		want prefixOpts
		bad  string // part of the error
	}{
		{opts: nil, want: prefixOpts{}},
		{opts: map[string]string{"banprefix4": "24", "banprefix6": "/64", "banprefix.count": "yes"}, want: prefixOpts{24, 64, true}},
		{opts: map[string]string{"banprefix4": "33"}, bad: "banprefix4"},
		{opts: map[string]string{"banprefix6": "0"}, bad: "banprefix6"},
		{opts: map[string]string{"banprefix6": "x"}, bad: "banprefix6"},
		{opts: map[string]string{"banprefix.count": "maybe"}, bad: "banprefix.count"},
	}
	for _, tt := range tests {
		got, err := banPrefixes(&config.Jail{Name: "j", Options: tt.opts})
		switch {
		case tt.bad != "":
			if err == nil || !strings.Contains(err.Error(), tt.bad) {
				t.Errorf("%v: err = %v, want one naming %s", tt.opts, err, tt.bad)
			}
		case err != nil:
			t.Errorf("%v: %v", tt.opts, err)
		case got != tt.want:
			t.Errorf("%v: got %+v, want %+v", tt.opts, got, tt.want)
		}
	}
}

// TestBanPrefixServer: with banprefix6 = 64 and banprefix.count, failures
// from three addresses of one /64 add up to maxretry, and the ban (action
// and "get JAIL banip") is the /64.
func TestBanPrefixServer(t *testing.T) {
	c, logPath, record := runtimeServer(t, "banprefix4 = 24\nbanprefix6 = 64\nbanprefix.count = true\n")
	appendLines(t, logPath, "login failed from 2001:db8:1:2::1", "login failed from 2001:db8:1:2::2", "login failed from 2001:db8:1:2:ffff::3")
	waitUntil(t, "the /64 is banned", func() bool {
		b, _ := os.ReadFile(record)
		return strings.Contains(string(b), "ban 2001:db8:1:2::/64\n")
	})
	v, err := c.Get(context.Background(), "app", "banip")
	if err != nil || fmt.Sprint(v) != "[2001:db8:1:2::/64]" {
		t.Errorf("get app banip = %v, %v; want the /64", v, err)
	}
}
