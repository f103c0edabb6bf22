package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"warden/internal/config"
	"warden/internal/control"
)

// reloadRig is a server on a configuration directory of its own whose jails
// record their shell actions, one line per event, in dir/record.
type reloadRig struct {
	t      *testing.T
	dir    string
	record string
	c      *control.Client
}

const reloadJailHead = `[DEFAULT]
backend = polling
ignoreself = false
findtime = 10m
bantime = 1h
`

func (r *reloadRig) write(name, text string) {
	r.t.Helper()
	p := filepath.Join(r.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		r.t.Fatal(err)
	}
}

// jails writes jail.conf with one section per entry of secs ("name maxretry").
func (r *reloadRig) jails(secs ...string) {
	r.t.Helper()
	var b strings.Builder
	b.WriteString(reloadJailHead)
	for _, s := range secs {
		var name string
		var maxretry int
		if _, err := fmt.Sscan(s, &name, &maxretry); err != nil {
			r.t.Fatal(err)
		}
		fmt.Fprintf(&b, "\n[%s]\nenabled = true\nfilter = app\nlogpath = %s\nmaxretry = %d\naction = record[tag=%s]\n",
			name, filepath.Join(r.dir, name+".log"), maxretry, name)
		if _, err := os.Stat(filepath.Join(r.dir, name+".log")); err != nil {
			r.write(name+".log", "")
		}
	}
	r.write("jail.conf", b.String())
}

// server makes a server on cfg with its database and socket in the rig's
// directory, reloading through r.load; notify receives sd_notify states.
func (r *reloadRig) server(cfg *config.Config, notify func(string) error) *Server {
	r.t.Helper()
	srv, err := New(Options{
		Config: cfg, DBPath: filepath.Join(r.dir, "w.db"), Socket: filepath.Join(r.dir, "w.sock"),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Notify: notify,
		Load:   r.load,
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return srv
}

func (r *reloadRig) load() (*config.Config, error) {
	return config.Load(os.DirFS(r.dir), config.Options{Root: r.dir})
}

func (r *reloadRig) fail(jail, ip string, n int) {
	r.t.Helper()
	f, err := os.OpenFile(filepath.Join(r.dir, jail+".log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		r.t.Fatal(err)
	}
	defer f.Close()
	for range n {
		fmt.Fprintf(f, "%s login failed from %s\n", time.Now().Format("2006-01-02 15:04:05"), ip)
	}
}

func (r *reloadRig) recorded(line string) bool {
	b, _ := os.ReadFile(r.record)
	return strings.Contains(string(b), line+"\n")
}

func (r *reloadRig) status(jail string) control.JailStatus {
	r.t.Helper()
	st, err := r.c.JailStatus(context.Background(), jail, control.FlavorBasic)
	if err != nil {
		r.t.Fatalf("status %s: %v", jail, err)
	}
	return st
}

func (r *reloadRig) running() []string {
	r.t.Helper()
	st, err := r.c.Status(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	return st.Jails
}

// TestReload drives reloads through the control socket: an invalid
// configuration is refused and the old one keeps running; a valid one
// changes maxretry of a jail (its bans kept), removes a jail (its bans
// lifted) and adds one; an unchanged jail keeps its failure counts; --unban
// lifts the bans of the reloaded jail, --restart rebuilds an unchanged one;
// stop and start act on one jail.
func TestReload(t *testing.T) {
	r := &reloadRig{t: t, dir: t.TempDir()}
	r.record = filepath.Join(r.dir, "record")
	r.write("filter.d/app.conf", "[Definition]\nfailregex = login failed from <HOST>$\n")
	r.write("action.d/record.conf", "[Definition]\nactionban = echo <tag> ban <ip> >> "+r.record+
		"\nactionunban = echo <tag> unban <ip> >> "+r.record+"\n\n[Init]\ntag = none\n")
	r.jails("app 3", "gone 3")
	cfg, err := r.load()
	if err != nil {
		t.Fatal(err)
	}
	srv := r.server(cfg, func(string) error { return nil })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	waitUntil(t, "the socket answers", func() bool {
		r.c, err = control.Dial(ctx, filepath.Join(r.dir, "w.sock"))
		return err == nil
	})
	defer r.c.Close()
	waitUntil(t, "the server is ready", func() bool { return len(r.running()) == 2 })

	app1 := netip.MustParseAddr("198.51.100.1")
	gone2 := netip.MustParseAddr("198.51.100.2")
	if _, err := r.c.BanIP(ctx, "app", app1); err != nil {
		t.Fatal(err)
	}
	if _, err := r.c.BanIP(ctx, "gone", gone2); err != nil {
		t.Fatal(err)
	}
	r.fail("app", "198.51.100.9", 2) // below maxretry 3
	waitUntil(t, "two failures counted in app", func() bool { return r.status("app").TotalFailed == 2 })

	// An invalid configuration: refused with the file and line, nothing changes.
	r.write("jail.conf", reloadJailHead+"\n[app]\nenabled = true\nfilter = app\nlogpath = "+
		filepath.Join(r.dir, "app.log")+"\nmaxretry = many\n")
	err = r.c.Reload(ctx, control.ReloadOptions{})
	if err == nil || !strings.Contains(err.Error(), "jail.conf:") {
		t.Fatalf("reload of an invalid configuration: %v, want an error naming jail.conf:LINE", err)
	}
	if got := r.running(); !slices.Equal(got, []string{"app", "gone"}) {
		t.Errorf("after a refused reload jails = %v, want [app gone]", got)
	}
	if st := r.status("app"); st.TotalFailed != 2 || st.CurrentlyBanned != 1 {
		t.Errorf("after a refused reload app = %+v", st)
	}

	// app: maxretry 3 -> 2; gone removed; added new.
	r.jails("app 2", "added 3")
	if err := r.c.Reload(ctx, control.ReloadOptions{}); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if got := r.running(); !slices.Equal(got, []string{"added", "app"}) {
		t.Errorf("after reload jails = %v, want [added app]", got)
	}
	if v, err := r.c.Get(ctx, "app", "maxretry"); err != nil || fmt.Sprint(v) != "2" {
		t.Errorf("get app maxretry = %v, %v; want 2", v, err)
	}
	if st := r.status("app"); !slices.Contains(st.BannedIPs, control.AddrTarget(app1)) {
		t.Errorf("changed jail app lost its ban of %s: %+v", app1, st)
	}
	if !r.recorded("gone unban 198.51.100.2") {
		b, _ := os.ReadFile(r.record)
		t.Errorf("the removed jail's ban was not lifted; record:\n%s", b)
	}
	if _, err := r.c.JailStatus(ctx, "gone", control.FlavorBasic); err == nil {
		t.Error("status of the removed jail answered")
	}
	r.fail("app", "198.51.100.3", 2)
	waitUntil(t, "198.51.100.3 banned after 2 failures (new maxretry)", func() bool { return r.recorded("app ban 198.51.100.3") })
	r.fail("added", "198.51.100.4", 3)
	waitUntil(t, "the added jail bans", func() bool { return r.recorded("added ban 198.51.100.4") })

	// The same configuration again: every jail is unchanged and keeps its counts.
	before := r.status("added").TotalFailed
	if err := r.c.Reload(ctx, control.ReloadOptions{}); err != nil {
		t.Fatalf("second reload: %v", err)
	}
	if st := r.status("added"); st.TotalFailed != before || before != 3 {
		t.Errorf("unchanged jail: total failed %d -> %d, want 3 kept", before, st.TotalFailed)
	}

	// --restart rebuilds a jail even when unchanged: counts start again,
	// bans stay.
	if err := r.c.Reload(ctx, control.ReloadOptions{Jail: "added", Restart: true}); err != nil {
		t.Fatalf("reload --restart added: %v", err)
	}
	if st := r.status("added"); st.TotalFailed != 0 || st.CurrentlyBanned != 1 {
		t.Errorf("after reload --restart added = %+v, want no failures and its ban kept", st)
	}

	// --unban on one jail lifts its bans only.
	if err := r.c.Reload(ctx, control.ReloadOptions{Jail: "app", Unban: true}); err != nil {
		t.Fatalf("reload --unban app: %v", err)
	}
	if st := r.status("app"); st.CurrentlyBanned != 0 {
		t.Errorf("after reload --unban app still has bans: %+v", st)
	}
	if st := r.status("added"); st.CurrentlyBanned != 1 {
		t.Errorf("reload --unban app touched added: %+v", st)
	}
	if err := r.c.Reload(ctx, control.ReloadOptions{Jail: "nosuch"}); !isErr(err, control.ErrUnknownJail) {
		t.Errorf("reload nosuch: %v, want unknown jail", err)
	}

	// stop JAIL lifts its bans; start JAIL brings it back.
	if err := r.c.Stop(ctx, "added"); err != nil {
		t.Fatalf("stop added: %v", err)
	}
	if got := r.running(); !slices.Equal(got, []string{"app"}) {
		t.Errorf("after stop added jails = %v", got)
	}
	if !r.recorded("added unban 198.51.100.4") {
		t.Error("stop added did not lift its ban")
	}
	if err := r.c.Start(ctx, "added"); err != nil {
		t.Fatalf("start added: %v", err)
	}
	if got := r.running(); !slices.Equal(got, []string{"added", "app"}) {
		t.Errorf("after start added jails = %v", got)
	}
	if err := r.c.Start(ctx, "added"); !isErr(err, control.ErrBadArgs) {
		t.Errorf("start of a running jail: %v", err)
	}

	// As fail2ban-client's: --if-exists skips a jail not configured;
	// reload --all (the same as a bare reload) starts a stopped jail
	// again; --unban --all lifts the bans of every jail.
	if err := r.c.Reload(ctx, control.ReloadOptions{Jail: "nosuch", IfExists: true}); err != nil {
		t.Errorf("reload --if-exists nosuch: %v", err)
	}
	if err := r.c.Stop(ctx, "added"); err != nil {
		t.Fatalf("stop added: %v", err)
	}
	if _, err := r.c.BanIP(ctx, "app", app1); err != nil {
		t.Fatal(err)
	}
	if _, err := r.c.Call(ctx, []string{"reload", "--all"}); err != nil {
		t.Fatalf("reload --all: %v", err)
	}
	if got := r.running(); !slices.Equal(got, []string{"added", "app"}) {
		t.Errorf("after reload --all jails = %v, want the stopped jail back", got)
	}
	if st := r.status("app"); st.CurrentlyBanned != 1 {
		t.Errorf("reload --all lost app's ban: %+v", st)
	}
	if _, err := r.c.Call(ctx, []string{"reload", "--unban", "--all"}); err != nil {
		t.Fatalf("reload --unban --all: %v", err)
	}
	for _, j := range []string{"app", "added"} {
		if st := r.status(j); st.CurrentlyBanned != 0 {
			t.Errorf("after reload --unban --all %s still has bans: %+v", j, st)
		}
	}
}
