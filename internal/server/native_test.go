package server

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"warden/internal/config"
	"warden/internal/defaults"
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
		{"iptables-multiport", "ipset"},
		{"iptables-new", ""},
		{"sendmail-whois", ""},
	}
	for _, tt := range tests {
		k, ok := nativeFor(nativeKinds(), tt.base)
		if got := map[bool]string{true: k.Name}[ok]; got != tt.kind {
			t.Errorf("nativeFor(%q) = %q, want %q", tt.base, got, tt.kind)
		}
	}
	seen := map[string]string{}
	for _, k := range nativeKinds() {
		if k.Spec == nil || k.Open == nil || k.Available == nil {
			t.Errorf("kind %s: missing function", k.Name)
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
	torn   bool
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
func (f *fakeBackend) Teardown(context.Context) error               { f.torn = true; return nil }
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
			if err := b.own.Ban(ctx, []firewall.Ban{{Jail: "x"}, {Jail: "y"}, {Jail: "z"}}); err != nil {
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
	n.stop(ctx, false, o.Logger)
	if !opened["a"].torn || !opened["b"].torn {
		t.Error("backends not torn down")
	}
	if !opened["a"].closed || !opened["b"].closed {
		t.Error("backends not closed")
	}
}

// loadTree writes files under a new directory and loads it.
func loadTree(t *testing.T, files map[string]string) *config.Config {
	t.Helper()
	return loadTreeIn(t, t.TempDir(), files)
}

// loadTreeIn writes files under dir and loads dir as the configuration.
func loadTreeIn(t *testing.T, dir string, files map[string]string) *config.Config {
	t.Helper()
	writeTree(t, dir, files)
	cfg, err := config.Load(os.DirFS(dir), config.Options{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// writeTree writes each file (a path relative to dir) with its text,
// making the directories it needs.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBanactionAuto(t *testing.T) {
	cfg := loadTree(t, map[string]string{
		"filter.d/f.conf":      "[Definition]\nfailregex = ^fail from <HOST>$\n",
		"action.d/record.conf": "[Definition]\nactionban = echo <ip>\n",
		"jail.conf": "[DEFAULT]\nfilter = f\nlogpath = /dev/null\nbanaction = auto\nport = ssh\n" +
			"action_ = %(banaction)s[port=\"%(port)s\", protocol=\"tcp\", chain=\"<known/chain>\"]\n" +
			"[one]\nenabled = true\naction = %(action_)s\n" +
			"[named]\nenabled = true\naction = auto[name=other, port=22]\n" +
			"[two]\nenabled = true\naction = %(action_)s\n        record\n" +
			"[three]\nenabled = true\naction = record\n",
	})
	tests := []struct {
		name      string
		available []bool // of kinds a, b, c
		shell     bool
		want      string // the kind jails one and two get; "" = error
	}{
		{"first available wins", []bool{false, true, true}, false, "b"},
		{"preference order", []bool{true, true, false}, false, "a"},
		{"shell actions do not apply to auto", []bool{false, false, true}, true, "c"},
		{"none available", []bool{false, false, false}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opened := map[string]*fakeBackend{}
			var kinds []nativeKind
			probes := 0
			for i, name := range []string{"a", "b", "c"} {
				k := fakeKind(name, opened)
				avail := tt.available[i]
				k.Available = func(context.Context, *Options) bool { probes++; return avail }
				kinds = append(kinds, k)
			}
			var logs strings.Builder
			s, err := New(Options{Config: cfg, kinds: kinds, ShellActions: tt.shell, ServicesPath: writeServices(t),
				Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if tt.want == "" {
				if err == nil || !strings.Contains(err.Error(), "banaction = auto") {
					t.Fatalf("err = %v, want a banaction = auto error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"one", "two", "named"} {
				if j := s.byName[name]; j.kind != tt.want || j.spec == nil {
					t.Errorf("jail %s: kind %q, want %q", name, j.kind, tt.want)
				}
			}
			if j := s.byName["three"]; j.spec != nil || len(j.actions) != 1 {
				t.Errorf("jail three: spec %v, %d actions; want shell only", j.spec, len(j.actions))
			}
			if got := len(s.byName["two"].actions); got != 1 {
				t.Errorf("jail two: %d shell actions, want 1", got)
			}
			if n := strings.Count(logs.String(), "banaction auto"); n != 1 {
				t.Errorf("choice logged %d times, want once:\n%s", n, logs.String())
			}
			if want := strings.Index("abc", tt.want) + 1; probes != want {
				t.Errorf("%d probes, want %d (stop at the first available)", probes, want)
			}
		})
	}
}

func TestReadSettings(t *testing.T) {
	tests := []struct {
		name string
		opt  map[string]string
		o    Options
		want settings
		bad  bool
	}{
		{name: "defaults", want: settings{heal: DefaultHealInterval}},
		{name: "from config", opt: map[string]string{"healinterval": "1m", "keepbans": "yes"}, want: settings{heal: time.Minute, keep: true}},
		{name: "zero turns healing off", opt: map[string]string{"healinterval": "0"}, want: settings{}},
		{name: "option overrides", opt: map[string]string{"healinterval": "1m", "keepbans": "no"},
			o: Options{HealInterval: 2 * time.Second, KeepBans: true}, want: settings{heal: 2 * time.Second, keep: true}},
		{name: "negative option turns healing off", o: Options{HealInterval: -1}, want: settings{}},
		{name: "bad interval", opt: map[string]string{"healinterval": "soon"}, bad: true},
		{name: "bad keepbans", opt: map[string]string{"keepbans": "maybe"}, bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readSettings(&tt.o, config.Server{Options: tt.opt})
			if tt.bad {
				if err == nil {
					t.Fatalf("accepted: %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestAutoParams(t *testing.T) {
	a := &config.Action{Name: "auto", File: "action.d/auto", Params: map[string]string{
		"port": "ssh", "protocol": "tcp", "chain": "<known/chain>", "name": "sshd"}}
	got := autoParams(a).Params
	want := map[string]string{"port": "ssh", "protocol": "tcp", "name": "sshd"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("params %v, want %v", got, want)
	}
	if a.Params["chain"] == "" {
		t.Error("the configuration's action was changed")
	}
}

// TestEmbeddedDefaultsAuto checks that the embedded tree's jails run on
// the backend banaction = auto detects, with recidive's auto-allports
// blocking every port, and that --shell-actions runs the tree's auto.conf
// commands (nftables) instead.
func TestEmbeddedDefaultsAuto(t *testing.T) {
	if _, err := os.Stat("/etc/services"); err != nil {
		t.Skip("the embedded jails name ports by service: needs /etc/services (Debian package netbase)")
	}
	cfg, err := config.Load(defaults.FS(), config.Options{Root: "/etc/warden", ForceEnable: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, shell := range []bool{false, true} {
		opened := map[string]*fakeBackend{}
		k := fakeKind("detected", opened)
		k.Spec = nftablesSpec
		s, err := New(Options{Config: cfg, kinds: []nativeKind{k}, ShellActions: shell,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"sshd", "recidive"} {
			j := s.byName[name]
			if j == nil {
				t.Fatalf("jail %s not built", name)
			}
			if shell {
				if j.spec != nil {
					t.Errorf("shell: jail %s runs natively on %s", name, j.kind)
				}
				continue
			}
			if j.spec == nil || j.kind != "detected" {
				t.Fatalf("jail %s: kind %q, spec %v; want the detected backend", name, j.kind, j.spec)
			}
			if all := len(j.spec.Ports) == 0; all != (name == "recidive") {
				t.Errorf("jail %s: ports %v (all ports: %v)", name, j.spec.Ports, all)
			}
		}
	}
}

// TestNftablesAbsent: in a fresh namespace warden's table is absent; once
// the backend's Setup made it, it is not.
func TestNftablesAbsent(t *testing.T) {
	_, fd := testNetns(t)
	o := &Options{NetNS: fd, Logger: slog.New(slog.DiscardHandler)}
	if !nftablesAbsent(t.Context(), o) {
		t.Fatal("fresh namespace: table not absent")
	}
	b, err := nftablesKind().Open(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := b.(interface{ Close() error }); ok {
		defer c.Close()
	}
	if err := b.Setup(t.Context(), []firewall.JailSpec{{Name: "sshd", Chain: firewall.ChainInput}}); err != nil {
		t.Fatal(err)
	}
	if nftablesAbsent(t.Context(), o) {
		t.Error("after Setup: table absent")
	}
}
