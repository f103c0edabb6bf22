package server

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"

	"warden/internal/firewall"
)

// blockingHeal is a Backend, Healer and generationer whose Heal waits for
// release; its Ban commits (moves the generation) at once.
type blockingHeal struct {
	firewall.Backend
	healing chan struct{} // closed when Heal starts
	release chan struct{}

	mu     sync.Mutex
	gen    uint32
	rounds int
}

func (f *blockingHeal) Generation() (uint32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gen, nil
}
func (f *blockingHeal) Check(context.Context, []firewall.Ban) (firewall.Repair, error) {
	return firewall.Repair{}, nil
}
func (f *blockingHeal) Heal(context.Context, []firewall.Ban) (firewall.Repair, error) {
	f.mu.Lock()
	f.rounds++
	first := f.rounds == 1
	f.mu.Unlock()
	if first {
		close(f.healing)
		<-f.release
	}
	return firewall.Repair{}, nil
}
func (f *blockingHeal) Ban(context.Context, []firewall.Ban) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gen++
	return nil
}
func (f *blockingHeal) Unban(ctx context.Context, bans []firewall.Ban) error { return f.Ban(ctx, bans) }

// TestUnchangedHealBanDuringRound checks that the heal wrapper does not
// hold Ban up while the backend's round runs, and that a round during
// which only we committed verifies the ruleset (our commits are chained),
// while one during which someone else committed too does not.
func TestUnchangedHealBanDuringRound(t *testing.T) {
	one := []firewall.Ban{{Jail: "sshd", Prefix: netip.MustParsePrefix("192.0.2.1/32")}}
	tests := []struct {
		name    string
		foreign bool // another process commits during the round, between our bans
		spared  bool // the next round is spared
	}{
		{"only our bans", false, true},
		{"a foreign commit between ours", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &blockingHeal{healing: make(chan struct{}), release: make(chan struct{})}
			h, ok := ownJails(f, map[string]bool{"sshd": true}).(*unchangedHeal)
			if !ok {
				t.Fatal("ownJails of a generationer is not an *unchangedHeal")
			}
			ctx := context.Background()
			done := make(chan error, 1)
			go func() {
				_, err := h.Heal(ctx, one)
				done <- err
			}()
			<-f.healing
			banned := make(chan error, 1)
			go func() {
				err := h.Ban(ctx, one)
				if err == nil && tt.foreign {
					f.mu.Lock()
					f.gen++
					f.mu.Unlock()
				}
				if err == nil {
					err = h.Unban(ctx, one)
				}
				banned <- err
			}()
			select {
			case err := <-banned:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(30 * time.Second):
				close(f.release)
				t.Fatal("Ban waited for the heal round")
			}
			close(f.release)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if got := !h.HealNeeded(); got != tt.spared {
				t.Fatalf("next round spared = %v, want %v", got, tt.spared)
			}
			if _, err := h.Heal(ctx, one); err != nil {
				t.Fatal(err)
			}
			if h.HealNeeded() {
				t.Error("a clean round with nothing beside it did not verify the ruleset")
			}
			want := 1
			if !tt.spared {
				want = 2
			}
			if f.rounds != want {
				t.Errorf("%d rounds, want %d", f.rounds, want)
			}
		})
	}
}

// genBackend is fakeBackend with a generation (moved by Setup and Ban) and
// heal rounds: what natives.setup sees of nftables.
type genBackend struct {
	*fakeBackend
	gen    uint32
	rounds int
}

func (g *genBackend) Generation() (uint32, error) { return g.gen, nil }
func (g *genBackend) Setup(ctx context.Context, js []firewall.JailSpec) error {
	g.gen++
	return g.fakeBackend.Setup(ctx, js)
}
func (g *genBackend) Ban(ctx context.Context, bs []firewall.Ban) error {
	g.gen++
	return g.fakeBackend.Ban(ctx, bs)
}
func (g *genBackend) Check(context.Context, []firewall.Ban) (firewall.Repair, error) {
	return firewall.Repair{}, nil
}
func (g *genBackend) Heal(context.Context, []firewall.Ban) (firewall.Repair, error) {
	g.rounds++
	return firewall.Repair{}, nil
}

// TestSetupFromNothingSparesFirstHeal: when the kind says nothing of ours
// was installed before Setup, the first heal round after Setup and our own
// bans is spared; when it was (or cannot tell), the round runs.
func TestSetupFromNothingSparesFirstHeal(t *testing.T) {
	one := []firewall.Ban{{Jail: "sshd", Prefix: netip.MustParsePrefix("192.0.2.1/32")}}
	for _, absent := range []bool{true, false} {
		b := &genBackend{fakeBackend: &fakeBackend{name: "k"}}
		k := nativeKind{
			Name: "k",
			Open: func(context.Context, *Options) (firewall.Backend, error) { return b, nil },
			Absent: func(context.Context, *Options) bool {
				return absent
			},
		}
		n := &natives{kinds: []nativeKind{k}}
		o := &Options{Logger: slog.New(slog.DiscardHandler)}
		jr := &jailRun{name: "sshd", kind: "k", spec: &firewall.JailSpec{Name: "sshd"}}
		used, err := n.setup(t.Context(), o, []*jailRun{jr})
		if err != nil || len(used) != 1 {
			t.Fatalf("setup: %v, %d backends", err, len(used))
		}
		own := used[0].own
		if err := own.Ban(t.Context(), one); err != nil {
			t.Fatal(err)
		}
		if _, err := own.(firewall.Healer).Heal(t.Context(), one); err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{true: 0, false: 1}[absent]; b.rounds != want {
			t.Errorf("absent before setup %v: %d complete rounds, want %d", absent, b.rounds, want)
		}
	}
}
