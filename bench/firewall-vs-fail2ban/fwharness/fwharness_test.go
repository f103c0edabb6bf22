package fwharness

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"warden/internal/firewall"
)

func TestBansDistinct(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	list := Bans(70000, now)
	seen := map[string]bool{}
	for _, b := range list {
		if seen[b.Prefix.String()] {
			t.Fatalf("duplicate %s", b.Prefix)
		}
		seen[b.Prefix.String()] = true
		if b.Jail != Jail.Name || !b.Expires.Equal(now.Add(24*time.Hour)) {
			t.Fatalf("ban %+v: want jail %s, a day long", b, Jail.Name)
		}
	}
	if list[0].Prefix.String() != "100.64.0.1/32" || list[256].Prefix.String() != "100.64.1.1/32" {
		t.Errorf("first addresses %s, %s", list[0].Prefix, list[256].Prefix)
	}
}

func TestParseKs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		most int
		want []int
	}{
		{"10000,100000", 1 << 20, []int{10000, 100000}},
		{"5, 7", 10, []int{5, 7}},
		{"10", 10, []int{10}},
		{"11", 10, nil},
		{"0", 10, nil},
		{"x", 10, nil},
		{"1,,2", 10, nil},
	} {
		got, err := ParseKs(tc.in, tc.most, "")
		if (err == nil) != (tc.want != nil) || !slices.Equal(got, tc.want) {
			t.Errorf("ParseKs(%q, %d) = %v, %v; want %v", tc.in, tc.most, got, err, tc.want)
		}
	}
}

// memFW is an in-memory backend holding at most max bans; shared state
// survives a new Open, as a kernel's would.
type memFW struct {
	bans map[string]firewall.Ban
	max  int
}

var errFull = errors.New("set full")

func (m *memFW) Name() string                                     { return "mem" }
func (m *memFW) Setup(context.Context, []firewall.JailSpec) error { return nil }
func (m *memFW) Unban(context.Context, []firewall.Ban) error      { return nil }
func (m *memFW) Teardown(context.Context) error                   { clear(m.bans); return nil }
func (m *memFW) Check(context.Context, []firewall.Ban) (firewall.Repair, error) {
	return firewall.Repair{}, nil
}

func (m *memFW) Ban(_ context.Context, bans []firewall.Ban) error {
	if len(m.bans)+len(bans) > m.max {
		return errFull
	}
	for _, b := range bans {
		m.bans[b.Prefix.String()] = b
	}
	return nil
}

func (m *memFW) List(context.Context) ([]firewall.Ban, error) {
	var out []firewall.Ban
	for _, b := range m.bans {
		out = append(out, b)
	}
	return out, nil
}

func (m *memFW) Heal(ctx context.Context, want []firewall.Ban) (firewall.Repair, error) {
	n := len(want) - len(m.bans)
	return firewall.Repair{Bans: n}, m.Ban(ctx, want[len(m.bans):])
}

func TestMeasureAll(t *testing.T) {
	m := &memFW{bans: map[string]firewall.Ban{}, max: 3}
	tg := Target{
		Name:    "mem",
		Open:    func() (firewall.Backend, error) { return m, nil },
		Disturb: func(context.Context, firewall.Backend) error { clear(m.bans); return nil },
	}
	var out bytes.Buffer
	err := MeasureAll(context.Background(), &out, tg, []int{2, 3, 5, 1})
	if !errors.Is(err, errFull) || !strings.HasPrefix(err.Error(), "mem k=5: apply: ") {
		t.Errorf("error %v, want mem k=5's apply to fail", err)
	}
	line := regexp.MustCompile(`^backend=mem k=(\d) apply_s=[0-9.]+ list_s=[0-9.]+ restore_s=[0-9.]+ heal_s=[0-9.]+$`)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	var ks []string
	for _, l := range lines {
		sm := line.FindStringSubmatch(l)
		if sm == nil {
			t.Fatalf("line %q", l)
		}
		ks = append(ks, sm[1])
	}
	if !slices.Equal(ks, []string{"2", "3"}) {
		t.Errorf("lines for k=%v, want 2 and 3 and nothing after the failure", ks)
	}
}
