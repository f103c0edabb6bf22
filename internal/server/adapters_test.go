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

// fakeHeal is a Backend, Healer and generationer: Heal reports what is set
// in repair and, when commits is set, moves the generation while it runs;
// Ban and Unban commit once, or fail with banErr.
type fakeHeal struct {
	firewall.Backend
	gen     uint32
	genErr  error
	banErr  error
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
func (f *fakeHeal) Ban(context.Context, []firewall.Ban) error {
	if f.banErr != nil {
		return f.banErr
	}
	f.gen++
	return nil
}
func (f *fakeHeal) Unban(ctx context.Context, bans []firewall.Ban) error { return f.Ban(ctx, bans) }

func TestUnchangedHealSparesRounds(t *testing.T) {
	one := []firewall.Ban{{Jail: "sshd", Prefix: netip.MustParsePrefix("192.0.2.1/32")}}
	other := []firewall.Ban{{Jail: "web", Prefix: netip.MustParsePrefix("192.0.2.2/32")}}
	f := &fakeHeal{}
	h, ok := ownJails(f, map[string]bool{"sshd": true}).(*unchangedHeal)
	if !ok {
		t.Fatalf("ownJails of a generationer = %T, want *unchangedHeal", ownJails(f, nil))
	}
	ctx := context.Background()
	ban := func(*fakeHeal) {
		if err := h.Ban(ctx, one); err != nil {
			t.Fatal(err)
		}
	}
	// Each step changes the fake, then runs one heal round; rounds is the
	// fake's count of complete rounds after the step.
	steps := []struct {
		name   string
		change func(f *fakeHeal)
		rounds int
	}{
		{"first round is complete", func(*fakeHeal) {}, 1},
		{"nothing changed: spared", func(*fakeHeal) {}, 1},
		{"someone committed", func(f *fakeHeal) { f.gen++ }, 2},
		{"spared again", func(*fakeHeal) {}, 2},
		{"our own bans and unbans: spared", func(f *fakeHeal) {
			ban(f)
			if err := h.Unban(ctx, one); err != nil {
				t.Fatal(err)
			}
			ban(f)
		}, 2},
		{"another jail's ban never reaches the backend", func(f *fakeHeal) {
			f.banErr = errors.New("must not be called")
			if err := h.Ban(ctx, other); err != nil {
				t.Fatal(err)
			}
			f.banErr = nil
		}, 2},
		{"someone committed before our ban", func(f *fakeHeal) { f.gen++; ban(f) }, 3},
		{"a failed ban", func(f *fakeHeal) {
			f.banErr = errors.New("netlink")
			if err := h.Ban(ctx, one); err == nil {
				t.Fatal("Ban's error lost")
			}
			f.banErr = nil
		}, 4},
		{"spared after the complete round", func(*fakeHeal) {}, 4},
		{"generation unreadable", func(f *fakeHeal) { f.genErr = errors.New("no netlink") }, 5},
		{"unreadable again: no round is spared", func(*fakeHeal) {}, 6},
		{"a ban while unreadable", func(f *fakeHeal) { ban(f) }, 7},
		{"readable again: complete round", func(f *fakeHeal) { f.genErr = nil }, 8},
		{"then spared", func(*fakeHeal) {}, 8},
		{"a round that mends", func(f *fakeHeal) { f.gen++; f.repair = firewall.Repair{Bans: 1}; f.commits = 1 }, 9},
		{"is followed by a complete round", func(f *fakeHeal) { f.repair = firewall.Repair{}; f.commits = 0 }, 10},
		{"a round during which the generation moves", func(f *fakeHeal) { f.gen++; f.commits = 1 }, 11},
		{"is followed by a complete round too", func(f *fakeHeal) { f.commits = 0 }, 12},
		{"and then spared", func(*fakeHeal) {}, 12},
	}
	for _, s := range steps {
		s.change(f)
		before := f.rounds
		needed := h.HealNeeded()
		if _, err := h.Heal(ctx, one); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if f.rounds != s.rounds {
			t.Fatalf("%s: %d complete rounds, want %d", s.name, f.rounds, s.rounds)
		}
		if ran := f.rounds > before; needed != ran {
			t.Fatalf("%s: HealNeeded = %v, but the round ran: %v", s.name, needed, ran)
		}
	}
}
