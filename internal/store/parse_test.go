package store

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"
)

func TestParsePrefixText(t *testing.T) {
	tests := []struct {
		in, want string // want "" means an error
	}{
		{"192.0.2.1", "192.0.2.1"},
		{" 192.0.2.1\n", "192.0.2.1"},
		{"192.0.2.1/32", "192.0.2.1"},
		{"192.0.2.77/24", "192.0.2.0/24"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"::ffff:192.0.2.0/120", "192.0.2.0/24"},
		{"::ffff:0:0/95", "::fffe:0:0/95"}, // not IPv4-mapped: masked as IPv6
		{"2001:DB8::1", "2001:db8::1"},
		{"2001:db8::1/64", "2001:db8::/64"},
		{"0.0.0.0/0", "0.0.0.0/0"},
		{"fe80::1%eth0", ""},
		{"192.0.2.1/33", ""},
		{"host.example.org", ""},
		{"", ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			p, err := parsePrefixText(tc.in)
			if tc.want == "" {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("got %v, %v; want ErrInvalid", p, err)
				}
				return
			}
			if err != nil || prefixText(p) != tc.want {
				t.Fatalf("got %q, %v; want %q", prefixText(p), err, tc.want)
			}
		})
	}
}

func TestParseFail2banData(t *testing.T) {
	tests := []struct {
		in       string
		matches  []string
		failures int
		err      bool
	}{
		{``, nil, 0, false},
		{`{}`, nil, 0, false},
		{`{"matches": null, "failures": null}`, nil, 0, false},
		{`{"matches": ["a", "b"], "failures": 3}`, []string{"a", "b"}, 3, false},
		{`{"matches": [["multi ", "line"], "x", 5], "failures": 2.0}`, []string{"multi line", "x"}, 2, false},
		{`{"failures": -4}`, nil, 0, false},
		{`{"failures": 1e30}`, nil, 0, false},
		{`{"matches": "abc"}`, nil, 0, true},
		{`{"failures": "3"}`, nil, 0, true},
		{`[1, 2]`, nil, 0, true},
		{`{not json`, nil, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			d, err := parseFail2banData([]byte(tc.in))
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if !tc.err && (!slices.Equal(d.matches, tc.matches) || d.failures != tc.failures) {
				t.Fatalf("got %q %d, want %q %d", d.matches, d.failures, tc.matches, tc.failures)
			}
		})
	}
}

func TestBanTimeRoundTrip(t *testing.T) {
	tests := []struct {
		in   time.Duration
		sec  int64
		back time.Duration
	}{
		{-1, -1, -1},
		{-time.Hour, -1, -1},
		{0, 0, 0},
		{time.Millisecond, 1, time.Second},
		{90 * time.Second, 90, 90 * time.Second},
		{1<<63 - 1, 9223372037, 1<<63 - 1},
	}
	for _, tc := range tests {
		if got := banSeconds(tc.in); got != tc.sec {
			t.Errorf("banSeconds(%v) = %d, want %d", tc.in, got, tc.sec)
		}
		if got := banDuration(tc.sec); got != tc.back {
			t.Errorf("banDuration(%d) = %v, want %v", tc.sec, got, tc.back)
		}
	}
}

// FuzzParsePrefixText checks that any text the parser accepts is stored
// canonically: parsing its stored form again gives the same prefix.
func FuzzParsePrefixText(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "10.0.0.0/8", "::ffff:1.2.3.4/128", "2001:db8::/32", "fe80::1%lo", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePrefixText(s)
		if err != nil {
			return
		}
		if !p.IsValid() || p != p.Masked() || p.Addr().Is4In6() {
			t.Fatalf("%q parsed to non-canonical %v", s, p)
		}
		again, err := parsePrefixText(prefixText(p))
		if err != nil || again != p {
			t.Fatalf("%q: stored as %q, read back as %v, %v", s, prefixText(p), again, err)
		}
		if _, err := netip.ParsePrefix(p.String()); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzParseFail2banData checks the importer's JSON reader never panics and
// that what it accepts survives warden's own data encoding.
func FuzzParseFail2banData(f *testing.F) {
	for _, s := range []string{`{"matches": ["a"], "failures": 1}`, `{"matches": [["a", "b"]]}`, `{}`, `null`, `[`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := parseFail2banData(b)
		if err != nil {
			return
		}
		if d.failures < 0 {
			t.Fatalf("negative failures %d", d.failures)
		}
		enc, err := encodeData(d.matches, len(d.matches))
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeData(enc)
		if err != nil || len(back) != len(d.matches) {
			t.Fatalf("round trip of %q: %q, %v", d.matches, back, err)
		}
	})
}

// FuzzFail2banRow checks that converting any fail2ban row either fails
// cleanly or yields a ban the store accepts.
func FuzzFail2banRow(f *testing.F) {
	f.Add("192.0.2.1", "sshd", 1700000000.5, int64(600), int64(2), []byte(`{"matches": ["x"]}`))
	f.Add("2001:db8::/64", "j", 0.0, int64(-2), int64(0), []byte(nil))
	f.Add("bad", "", -1.0, int64(-1), int64(-5), []byte(`{`))
	f.Fuzz(func(t *testing.T, ip, jail string, when float64, bantime, count int64, data []byte) {
		r := fail2banRow{ip: ip, jail: jail, timeofban: when, bantime: bantime, bancount: count, data: data}
		b, _, err := r.toBan(10 * time.Minute)
		if err != nil {
			return
		}
		if err := b.validate(); err != nil {
			t.Fatalf("row %+v gave an invalid ban %+v: %v", r, b, err)
		}
		if b.Count < 1 || (b.BanTime < 0 && b.BanTime != -1) {
			t.Fatalf("row %+v gave ban %+v", r, b)
		}
	})
}
