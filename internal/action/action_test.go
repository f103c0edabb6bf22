package action

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"warden/internal/config"
)

// famAction has an inet6 variant, so it starts on demand per family.
const famAction = `[Definition]
actionstart = start <chain>
actionstop = stop <chain>
actionflush = flush <chain>
actionreload = reload <chain>
actionban = ban <chain> <ip> <family>
actionunban = unban <chain> <ip>
[Init]
chain = f2b4
[Init?family=inet6]
chain = f2b6
`

func TestFamilyLifecycle(t *testing.T) {
	a, rec := newTest(t, famAction, "", Options{})
	ctx := context.Background()
	v4 := Ticket{Addr: mustAddr("192.0.2.1")}
	v6 := Ticket{Addr: mustAddr("2001:db8::1")}
	steps := []struct {
		name string
		do   func() error
		want []string
	}{
		{"start waits for a ban", func() error { return a.Start(ctx) }, nil},
		{"unban before any ban", func() error { return a.Unban(ctx, v4) }, nil},
		{"first inet4 ban starts inet4", func() error { return a.Ban(ctx, v4) }, []string{"start f2b4", "ban f2b4 192.0.2.1 inet4"}},
		{"second inet4 ban", func() error { return a.Ban(ctx, Ticket{Addr: mustAddr("192.0.2.2")}) }, []string{"ban f2b4 192.0.2.2 inet4"}},
		{"unban inet6 before any inet6 ban", func() error { return a.Unban(ctx, v6) }, nil},
		{"first inet6 ban starts inet6", func() error { return a.Ban(ctx, v6) }, []string{"start f2b6", "ban f2b6 2001:db8::1 inet6"}},
		{"reload the started families", func() error { return a.Reload(ctx) }, []string{"reload f2b4", "reload f2b6"}},
		{"unban", func() error { return a.Unban(ctx, v4) }, []string{"unban f2b4 192.0.2.1"}},
		{"flush both", func() error { return a.Flush(ctx) }, []string{"flush f2b4", "flush f2b6"}},
		{"flush with nothing banned", func() error { return a.Flush(ctx) }, nil},
		{"unban after flush", func() error { return a.Unban(ctx, v6) }, nil},
		{"stop both", func() error { return a.Stop(ctx) }, []string{"stop f2b4", "stop f2b6"}},
		{"stop again", func() error { return a.Stop(ctx) }, nil},
		{"ban after stop starts again", func() error { return a.Ban(ctx, v6) }, []string{"start f2b6", "ban f2b6 2001:db8::1 inet6"}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := rec.take(); !slices.Equal(got, s.want) {
			t.Fatalf("%s: ran %q, want %q", s.name, got, s.want)
		}
	}
}

func TestPlainLifecycle(t *testing.T) {
	conf := "[Definition]\nactionstart = start <name>\nactionstop = stop\nactionban = ban <ip>\nactionunban = unban <ip>\nactionflush = flush\n"
	tests := []struct {
		name   string
		opts   string // jail arguments
		noIPv6 bool
		ops    []string
		want   []string
	}{
		{"start runs at once", "", false, []string{"start", "ban4", "unban4", "stop"},
			[]string{"start wt", "ban 192.0.2.1", "unban 192.0.2.1", "stop"}},
		{"unban without ban does nothing", "", false, []string{"start", "unban4", "flush", "stop"},
			[]string{"start wt", "stop"}},
		{"inet6 bans need no start of their own", "", false, []string{"start", "ban6", "ban4", "flush", "stop"},
			[]string{"start wt", "ban 2001:db8::1", "ban 192.0.2.1", "flush", "stop"}},
		{"start on demand when asked", "[actionstart_on_demand=true]", false, []string{"start", "ban4", "ban4", "stop"},
			[]string{"start wt", "ban 192.0.2.1", "ban 192.0.2.1", "stop"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, rec := newTest(t, conf, tc.opts, Options{NoIPv6: tc.noIPv6})
			ctx := context.Background()
			for _, op := range tc.ops {
				var err error
				switch op {
				case "start":
					err = a.Start(ctx)
				case "stop":
					err = a.Stop(ctx)
				case "flush":
					err = a.Flush(ctx)
				case "ban4":
					err = a.Ban(ctx, Ticket{Addr: mustAddr("192.0.2.1")})
				case "ban6":
					err = a.Ban(ctx, Ticket{Addr: mustAddr("2001:db8::1")})
				case "unban4":
					err = a.Unban(ctx, Ticket{Addr: mustAddr("192.0.2.1")})
				}
				if err != nil {
					t.Fatalf("%s: %v", op, err)
				}
			}
			if got := rec.take(); !slices.Equal(got, tc.want) {
				t.Fatalf("ran %q, want %q", got, tc.want)
			}
		})
	}
}

// TestSameCommandOncePerFamilies: a start command that does not depend on
// the family runs once even when both families start.
func TestSameCommandOncePerFamilies(t *testing.T) {
	conf := "[Definition]\nactionstart = start\nactionstop = stop\nactionban = ban <ip> <x>\n[Init]\nx = 4\n[Init?family=inet6]\nx = 6\n"
	a, rec := newTest(t, conf, "[actionstart_on_demand=false]", Options{})
	ctx := context.Background()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Ban(ctx, Ticket{Addr: mustAddr("2001:db8::2")}); err != nil {
		t.Fatal(err)
	}
	if err := a.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{"start", "ban 2001:db8::2 6", "stop"}
	if got := rec.take(); !slices.Equal(got, want) {
		t.Fatalf("ran %q, want %q", got, want)
	}
}

func TestCheckAndRepair(t *testing.T) {
	base := "[Definition]\nactionstart = start\nactionstop = stop\nactioncheck = check\nactionban = ban <ip>\nactionunban = unban <ip>\n"
	const ban, unban = "ban 192.0.2.1", "unban 192.0.2.1"
	tests := []struct {
		name    string
		conf    string
		fails   map[string]int
		op      string
		wantErr bool
		want    []string
		epoch   int
	}{
		{"ban retried when check passes", base, map[string]int{ban: 1}, "ban",
			false, []string{ban, "check", ban}, 0},
		{"ban fails twice", base, map[string]int{ban: 2}, "ban",
			true, []string{ban, "check", ban}, 0},
		{"ban retried after repair", base + "actionrepair = repair\n", map[string]int{ban: 1, "check": 1}, "ban",
			false, []string{ban, "check", "repair", "check", ban}, 1},
		{"no repair command: restart", base, map[string]int{"check": 1}, "check",
			false, []string{"check", "stop", "start", "check"}, 1},
		{"repair fails", base + "actionrepair = repair\n", map[string]int{"check": -1, "repair": -1}, "check",
			true, []string{"check", "repair"}, 1},
		{"still broken after repair", base + "actionrepair = repair\n", map[string]int{"check": -1}, "check",
			true, []string{"check", "repair", "check"}, 1},
		{"unban not repaired", base + "actionrepair = repair\n", map[string]int{unban: 1, "check": 1}, "unban",
			true, []string{unban, "check"}, 0},
		{"unban repaired when asked", base + "actionrepair = repair\nactionrepair_on_unban = true\n",
			map[string]int{unban: 1, "check": 1}, "unban",
			false, []string{unban, "check", "repair", "check", unban}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, rec := newTest(t, tc.conf, "", Options{})
			ctx := context.Background()
			tk := Ticket{Addr: mustAddr("192.0.2.1")}
			if err := a.Start(ctx); err != nil {
				t.Fatal(err)
			}
			if tc.op == "unban" {
				if err := a.Ban(ctx, tk); err != nil {
					t.Fatal(err)
				}
			}
			rec.take()
			rec.fails = tc.fails
			var err error
			switch tc.op {
			case "ban":
				err = a.Ban(ctx, tk)
			case "check":
				err = a.Check(ctx)
			case "unban":
				err = a.Unban(ctx, tk)
			}
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, ErrFailed) {
				t.Fatalf("err = %v, want ErrFailed", err)
			}
			if got := rec.take(); !slices.Equal(got, tc.want) {
				t.Fatalf("ran %q, want %q", got, tc.want)
			}
			if a.Epoch() != tc.epoch {
				t.Fatalf("epoch %d, want %d", a.Epoch(), tc.epoch)
			}
		})
	}
}

func TestRebanAndProlong(t *testing.T) {
	tests := []struct {
		conf       string
		prolonging bool
		want       []string
	}{
		{"[Definition]\nactionban = ban <ip>\n", false, []string{"ban 192.0.2.1"}},
		{"[Definition]\nactionban = ban <ip>\nactionreban = reban <ip>\nactionprolong = prolong <ip> <bantime>\n", true,
			[]string{"reban 192.0.2.1", "prolong 192.0.2.1 7200"}},
	}
	for _, tc := range tests {
		a, rec := newTest(t, tc.conf, "", Options{BanTime: time.Hour})
		tk := Ticket{Addr: mustAddr("192.0.2.1"), BanTime: 2 * time.Hour}
		if err := a.Reban(context.Background(), tk); err != nil {
			t.Fatal(err)
		}
		if a.Prolongable() != tc.prolonging {
			t.Fatalf("Prolongable() = %v", a.Prolongable())
		}
		if a.Prolongable() {
			if err := a.Prolong(context.Background(), tk); err != nil {
				t.Fatal(err)
			}
		}
		if got := rec.take(); !slices.Equal(got, tc.want) {
			t.Fatalf("ran %q, want %q", got, tc.want)
		}
	}
}

// TestStartStopTags: start/stop/flush see an empty ticket: <ip> is empty,
// <bantime> the jail's, <time> the clock's.
func TestStartStopTags(t *testing.T) {
	conf := "[Definition]\nactionstart = start [<ip>] <bantime> <time> <failures> <family> <br>x<sp>y\n"
	now := time.Unix(1700000000, 500000000)
	a, rec := newTest(t, conf, "", Options{BanTime: -time.Second, Now: func() time.Time { return now }})
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"start [] -1 1700000000.5 0  \nx y"}
	if got := rec.take(); !slices.Equal(got, want) {
		t.Fatalf("ran %q, want %q", got, want)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name, conf, want string
	}{
		{"self reference", "[Definition]\nactionban = <a>\n[Init]\na = x<b>\nb = <a>\n", "recursive"},
		{"bad timeout", "[Definition]\nactionban = x\n[Init]\ntimeout = soon\n", "timeout"},
		{"zero timeout", "[Definition]\nactionban = x\n[Init]\ntimeout = 0\n", "timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := newErr(t, tc.conf)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestPythonActionRefused(t *testing.T) {
	_, err := New(&config.Action{Name: "smtp", File: "action.d/smtp.py", Python: true}, Options{})
	if !errors.Is(err, ErrPython) {
		t.Fatalf("err = %v", err)
	}
}

// TestConcurrentBans: bans from many goroutines each run once.
func TestConcurrentBans(t *testing.T) {
	a, rec := newTest(t, famAction, "", Options{})
	ctx := context.Background()
	done := make(chan error) // one result per goroutine
	for i := range 20 {
		go func() {
			addr := mustAddr("192.0.2." + strconv.Itoa(i+1))
			if i%2 == 1 {
				addr = mustAddr("2001:db8::" + strconv.Itoa(i+1))
			}
			done <- a.Ban(ctx, Ticket{Addr: addr})
		}()
	}
	for range 20 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	got := rec.take()
	starts := 0
	for _, s := range got {
		if strings.HasPrefix(s, "start") {
			starts++
		}
	}
	if len(got) != 22 || starts != 2 {
		t.Fatalf("ran %d commands, %d starts: %q", len(got), starts, got)
	}
}
