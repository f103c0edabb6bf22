package server

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"

	"warden/internal/firewall"
)

func TestJailsOnlyKeep(t *testing.T) {
	ban := func(jail, addr string) firewall.Ban {
		return firewall.Ban{Jail: jail, Prefix: netip.PrefixFrom(netip.MustParseAddr(addr), 32)}
	}
	a, b, c := ban("sshd", "192.0.2.1"), ban("web", "192.0.2.2"), ban("sshd", "192.0.2.3")
	tests := []struct {
		name     string
		in, want []firewall.Ban
		same     bool // the input slice itself comes back
	}{
		{"all belong", []firewall.Ban{a, c}, []firewall.Ban{a, c}, true},
		{"first foreign", []firewall.Ban{b, a, c}, []firewall.Ban{a, c}, false},
		{"middle foreign", []firewall.Ban{a, b, c}, []firewall.Ban{a, c}, false},
		{"none belong", []firewall.Ban{b}, []firewall.Ban{}, false},
		{"empty", nil, nil, true},
	}
	jo := jailsOnly{jails: map[string]bool{"sshd": true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.in)
			got := jo.keep(in)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("keep = %v, want %v", got, tt.want)
			}
			if !slices.Equal(in, tt.in) {
				t.Fatalf("keep changed its input: %v, was %v", in, tt.in)
			}
			if same := len(in) > 0 && len(got) > 0 && &got[0] == &in[0]; same != (tt.same && len(in) > 0) {
				t.Fatalf("keep returned the input slice: %v, want %v", same, tt.same)
			}
		})
	}
}

// fakeHeal is a Healer and generationer: Heal reports what is set in
// repair and, when commits is set, moves the generation while it runs.
type fakeHeal struct {
	firewall.Backend
	gen     uint32
	genErr  error
	rounds  int
	repair  firewall.Repair
	commits uint32
}

func (f *fakeHeal) Generation() (uint32, error) { return f.gen, f.genErr }
func (f *fakeHeal) Check(context.Context, []firewall.Ban) (firewall.Repair, error) {
	return firewall.Repair{}, nil
}
func (f *fakeHeal) Heal(context.Context, []firewall.Ban) (firewall.Repair, error) {
	f.rounds++
	f.gen += f.commits
	return f.repair, nil
}

func TestUnchangedHealSparesRounds(t *testing.T) {
	one := []firewall.Ban{{Jail: "sshd", Prefix: netip.MustParsePrefix("192.0.2.1/32")}}
	two := append(slices.Clone(one), firewall.Ban{Jail: "sshd", Prefix: netip.MustParsePrefix("192.0.2.2/32")})
	// Each step changes the fake, then runs one round; rounds is the
	// fake's count of complete rounds after the step.
	steps := []struct {
		name   string
		change func(f *fakeHeal)
		want   []firewall.Ban
		rounds int
	}{
		{"first round is complete", func(*fakeHeal) {}, one, 1},
		{"nothing changed: spared", func(*fakeHeal) {}, one, 1},
		{"someone committed", func(f *fakeHeal) { f.gen++ }, one, 2},
		{"spared again", func(*fakeHeal) {}, one, 2},
		{"more bans wanted, none committed", func(*fakeHeal) {}, two, 3},
		{"generation unreadable", func(f *fakeHeal) { f.genErr = errors.New("no netlink") }, two, 4},
		{"unreadable again: no round is spared", func(*fakeHeal) {}, two, 5},
		{"readable again: complete round", func(f *fakeHeal) { f.genErr = nil }, two, 6},
		{"then spared", func(*fakeHeal) {}, two, 6},
		{"a round that mends", func(f *fakeHeal) { f.gen++; f.repair = firewall.Repair{Bans: 1}; f.commits = 1 }, two, 7},
		{"is followed by a complete round", func(f *fakeHeal) { f.repair = firewall.Repair{}; f.commits = 0 }, two, 8},
		{"a round during which the generation moves", func(f *fakeHeal) { f.gen++; f.commits = 1 }, two, 9},
		{"is followed by a complete round too", func(f *fakeHeal) { f.commits = 0 }, two, 10},
		{"and then spared", func(*fakeHeal) {}, two, 10},
	}
	f := &fakeHeal{}
	h := ownJails(f, map[string]bool{"sshd": true}).(firewall.Healer)
	if _, ok := h.(*unchangedHeal); !ok {
		t.Fatalf("ownJails of a generationer = %T, want *unchangedHeal", h)
	}
	for _, s := range steps {
		s.change(f)
		if _, err := h.Heal(context.Background(), s.want); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if f.rounds != s.rounds {
			t.Fatalf("%s: %d complete rounds, want %d", s.name, f.rounds, s.rounds)
		}
	}
}
