package firewall

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

func loadTestServices(t testing.TB) *Services {
	t.Helper()
	s, err := LoadServices("testdata/services")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func r(first, last uint16) PortRange { return PortRange{First: first, Last: last} }

func TestParsePorts(t *testing.T) {
	svc := loadTestServices(t)
	tests := []struct {
		in   string
		want []PortRange
	}{
		{"", nil},
		{"22", []PortRange{r(22, 22)}},
		{"ssh", []PortRange{r(22, 22)}},
		{"SSH", []PortRange{r(22, 22)}},
		{"ssh,http,8080:8090", []PortRange{r(22, 22), r(80, 80), r(8080, 8090)}},
		{" ssh , www ", []PortRange{r(22, 22), r(80, 80)}},
		{"0:65535", []PortRange{r(0, 65535)}},
		{"1000-2000", []PortRange{r(1000, 2000)}},
		{"ssh:http", []PortRange{r(22, 80)}},
		{"ftp-data", []PortRange{r(20, 20)}},
		{"ftp-data-http", nil}, // error below, not a range of names
		{"http,https,80", []PortRange{r(80, 80), r(443, 443)}},
		{"10-20,15-30,31", []PortRange{r(10, 31)}},
		{"domain", []PortRange{r(53, 53)}}, // tcp preferred, same number anyway
		{"syslog", []PortRange{r(514, 514)}},
		{"weird", []PortRange{r(9999, 9999)}},
		{"krb5", []PortRange{r(88, 88)}},
		{",,22,", []PortRange{r(22, 22)}},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParsePorts(tc.in, svc)
			if tc.in == "ftp-data-http" {
				if err == nil {
					t.Fatalf("ParsePorts(%q) = %v, want error", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePorts(%q): %v", tc.in, err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("ParsePorts(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestParsePortsErrors(t *testing.T) {
	svc := loadTestServices(t)
	for _, in := range []string{"65536", "-1", "22:", ":22", "2000:1000", "nosuchservice", "22x", "ssh:nosuch", "1:2:3", "0x16"} {
		t.Run(in, func(t *testing.T) {
			got, err := ParsePorts(in, svc)
			if !errors.Is(err, ErrInvalidPort) {
				t.Fatalf("ParsePorts(%q) = %v, %v; want ErrInvalidPort", in, got, err)
			}
			if !strings.Contains(err.Error(), in) {
				t.Errorf("error %q does not quote the value %q", err, in)
			}
		})
	}
	// Without a services table only numbers work.
	if _, err := ParsePorts("ssh", nil); !errors.Is(err, ErrInvalidPort) {
		t.Errorf("ParsePorts(ssh, nil) = %v, want ErrInvalidPort", err)
	}
}

func TestParseServicesErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ssh\n", "x:1:"},
		{"# c\nssh 22\n", "x:2:"},
		{"ssh 70000/tcp\n", "x:1:"},
		{"ssh abc/tcp\n", "x:1:"},
		{"ssh 22/\n", "x:1:"},
	} {
		_, err := ParseServices(strings.NewReader(tc.in), "x")
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("ParseServices(%q) = %v, want error starting %q", tc.in, err, tc.want)
		}
	}
	if _, err := LoadServices("testdata/does-not-exist"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadServices(missing) = %v, want ErrNotExist", err)
	}
}

// TestSystemServices reads the real /etc/services when present: the names
// fail2ban's jail.conf uses most must resolve.
func TestSystemServices(t *testing.T) {
	svc, err := LoadServices(DefaultServicesPath)
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("no " + DefaultServicesPath)
	}
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParsePorts("ssh,http,https,smtp,imap,pop3", svc)
	if err != nil {
		t.Fatal(err)
	}
	want := []PortRange{r(22, 22), r(25, 25), r(80, 80), r(110, 110), r(143, 143), r(443, 443)}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestMergePorts(t *testing.T) {
	tests := []struct{ in, want []PortRange }{
		{nil, nil},
		{[]PortRange{r(5, 5), r(1, 1)}, []PortRange{r(1, 1), r(5, 5)}},
		{[]PortRange{r(1, 4), r(5, 9)}, []PortRange{r(1, 9)}},
		{[]PortRange{r(1, 10), r(2, 3)}, []PortRange{r(1, 10)}},
		{[]PortRange{r(65535, 65535), r(0, 65534)}, []PortRange{r(0, 65535)}},
	}
	for _, tc := range tests {
		in := slices.Clone(tc.in)
		if got := MergePorts(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("MergePorts(%v) = %v, want %v", tc.in, got, tc.want)
		}
		if !slices.Equal(in, tc.in) {
			t.Errorf("MergePorts modified its input")
		}
	}
}

func TestPortRangeString(t *testing.T) {
	if s := r(22, 22).String(); s != "22" {
		t.Errorf("got %q", s)
	}
	if s := r(1, 2).String(); s != "1-2" {
		t.Errorf("got %q", s)
	}
}

func FuzzParsePorts(f *testing.F) {
	for _, s := range []string{"ssh,http,8080:8090", "0:65535", "1000-2000", "ftp-data", "a-b:c", ",", "99999"} {
		f.Add(s)
	}
	svc := loadTestServices(f)
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParsePorts(in, svc)
		if err != nil {
			return
		}
		for i, p := range got {
			if p.First > p.Last {
				t.Fatalf("range %v runs backwards", p)
			}
			if i > 0 && int(got[i-1].Last)+1 >= int(p.First) {
				t.Fatalf("ranges %v and %v not merged or not sorted", got[i-1], p)
			}
		}
		// Rendering and re-parsing gives the same ranges.
		var parts []string
		for _, p := range got {
			parts = append(parts, p.String())
		}
		again, err := ParsePorts(strings.Join(parts, ","), nil)
		if err != nil || !slices.Equal(again, got) {
			t.Fatalf("round trip of %v: %v, %v", got, again, err)
		}
	})
}

func FuzzParseServices(f *testing.F) {
	data, err := os.ReadFile("testdata/services")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(data))
	f.Add("x 1/tcp a b c # c\n")
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseServices(strings.NewReader(in), "fuzz")
		if err != nil {
			return
		}
		for name, byProto := range s.ports {
			if _, ok := s.Lookup(name); !ok || len(byProto) == 0 {
				t.Fatalf("name %q parsed but does not resolve", name)
			}
		}
	})
}

func TestMultiportLists(t *testing.T) {
	var many []PortRange
	for p := uint16(1); p <= 16; p++ {
		many = append(many, PortRange{First: p * 10, Last: p * 10})
	}
	tests := []struct {
		name  string
		ports []PortRange
		want  []string
	}{
		{"one", []PortRange{rng(22, 22)}, []string{"22"}},
		{"range", []PortRange{rng(22, 22), rng(8000, 8100)}, []string{"22,8000:8100"}},
		{"sixteen singles split", many, []string{"10,20,30,40,50,60,70,80,90,100,110,120,130,140,150", "160"}},
		{"ranges take two slots", []PortRange{rng(1, 2), rng(4, 5), rng(7, 8), rng(10, 11), rng(13, 14), rng(16, 17), rng(19, 20), rng(22, 22), rng(30, 31)},
			[]string{"1:2,4:5,7:8,10:11,13:14,16:17,19:20,22", "30:31"}},
	}
	for _, tc := range tests {
		if got := MultiportLists(tc.ports); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func rng(first, last uint16) PortRange { return PortRange{First: first, Last: last} }
