package server

import (
	"context"
	"io"
	"log/slog"
	"reflect"
	"sync"
	"testing"

	"warden/internal/config"
	"warden/internal/firewall"
)

func TestNativeFor(t *testing.T) {
	tests := []struct {
		base string
		kind string // "" = shell
	}{
		{"nftables", "nftables"},
		{"nftables-multiport", "nftables"},
		{"nftables-allports", "nftables"},
		{"iptables-multiport", ""},
		{"sendmail-whois", ""},
	}
	for _, tt := range tests {
		k, ok := nativeFor(tt.base)
		if got := map[bool]string{true: k.Name}[ok]; got != tt.kind {
			t.Errorf("nativeFor(%q) = %q, want %q", tt.base, got, tt.kind)
		}
	}
	seen := map[string]string{}
	for _, k := range nativeKinds() {
		if k.Spec == nil || k.Open == nil || k.Available == nil {
			t.Errorf("kind %s: missing function", k.Name)
		}
		if _, ok := kindByName(k.Name); !ok {
			t.Errorf("kindByName(%q) not found", k.Name)
		}
		for _, a := range k.Actions {
			if other, dup := seen[a]; dup {
				t.Errorf("action %s claimed by %s and %s", a, other, k.Name)
			}
			seen[a] = k.Name
		}
	}
}

// fakeBackend records the jails of its last Setup and the bans it got.
type fakeBackend struct {
	name   string
	mu     sync.Mutex
	jails  []string
	bans   []firewall.Ban
	closed bool
}

func (f *fakeBackend) Name() string { return f.name }
func (f *fakeBackend) Setup(_ context.Context, js []firewall.JailSpec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.jails = nil
	for _, j := range js {
		f.jails = append(f.jails, j.Name)
	}
	return nil
}
func (f *fakeBackend) Ban(_ context.Context, bs []firewall.Ban) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bans = append(f.bans, bs...)
	return nil
}
func (f *fakeBackend) Unban(context.Context, []firewall.Ban) error  { return nil }
func (f *fakeBackend) List(context.Context) ([]firewall.Ban, error) { return nil, nil }
func (f *fakeBackend) Teardown(context.Context) error               { return nil }
func (f *fakeBackend) Close() error                                 { f.closed = true; return nil }

func fakeKind(name string, opened map[string]*fakeBackend) nativeKind {
	return nativeKind{
		Name: name,
		Spec: func(jail string, _ *config.Action, _ *firewall.Services) (firewall.JailSpec, error) {
			return firewall.JailSpec{Name: jail}, nil
		},
		Open: func(context.Context, *Options) (firewall.Backend, error) {
			if opened[name] != nil {
				panic("opened twice: " + name)
			}
			b := &fakeBackend{name: name}
			opened[name] = b
			return b, nil
		},
		Available: func(context.Context, *Options) bool { return true },
	}
}

// TestNativesSetup follows jails moving between native kinds over three
// generations: a kind is opened once, when first needed; a kind left
// without jails is set up with none (its rules removed) and gets no bans.
func TestNativesSetup(t *testing.T) {
	opened := map[string]*fakeBackend{}
	n := &natives{kinds: []nativeKind{fakeKind("a", opened), fakeKind("b", opened)}}
	o := &Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	jr := func(name, kind string) *jailRun {
		if kind == "" {
			return &jailRun{name: name}
		}
		return &jailRun{name: name, kind: kind, spec: &firewall.JailSpec{Name: name}}
	}
	gens := []struct {
		jails    []*jailRun
		wantA    []string // jails of a's last Setup; nil also when never opened
		wantB    []string
		backends int
	}{
		{[]*jailRun{jr("x", "a"), jr("y", "a"), jr("z", "")}, []string{"x", "y"}, nil, 1},
		{[]*jailRun{jr("x", "a"), jr("y", "b")}, []string{"x"}, []string{"y"}, 2},
		{[]*jailRun{jr("x", "b"), jr("y", "b")}, nil, []string{"x", "y"}, 1},
	}
	ctx := context.Background()
	for i, g := range gens {
		bs, err := n.setup(ctx, o, g.jails)
		if err != nil {
			t.Fatalf("generation %d: %v", i, err)
		}
		if len(bs) != g.backends {
			t.Errorf("generation %d: %d backends, want %d", i, len(bs), g.backends)
		}
		var gotA, gotB []string
		if opened["a"] != nil {
			gotA = opened["a"].jails
		}
		if opened["b"] != nil {
			gotB = opened["b"].jails
		}
		if !reflect.DeepEqual(gotA, g.wantA) || !reflect.DeepEqual(gotB, g.wantB) {
			t.Errorf("generation %d: a=%v b=%v, want a=%v b=%v", i, gotA, gotB, g.wantA, g.wantB)
		}
		// Every backend handed on sees only its own jails' bans.
		for _, b := range bs {
			if err := b.Ban(ctx, []firewall.Ban{{Jail: "x"}, {Jail: "y"}, {Jail: "z"}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := len(opened["a"].bans); got != 3 { // x, y in gen 0; x in gen 1
		t.Errorf("backend a got %d bans, want 3", got)
	}
	if got := len(opened["b"].bans); got != 3 { // y in gen 1; x, y in gen 2
		t.Errorf("backend b got %d bans, want 3", got)
	}
	if _, err := n.setup(ctx, o, []*jailRun{jr("q", "nosuch")}); err == nil {
		t.Error("unknown kind accepted")
	}
	n.close()
	if !opened["a"].closed || !opened["b"].closed {
		t.Error("backends not closed")
	}
}
