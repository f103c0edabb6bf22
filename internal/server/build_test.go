package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"warden/internal/config"
	"warden/internal/firewall"
)

func TestNftablesSpec(t *testing.T) {
	svc := specServices(t)
	tests := []specCase{
		{
			name:   "multiport by service name",
			file:   "action.d/nftables-multiport.conf",
			params: map[string]string{"port": "ssh", "protocol": "tcp", "chain_hook": "input", "blocktype": "reject"},
			want: firewall.JailSpec{Name: "j", Ports: []firewall.PortRange{{First: 22, Last: 22}},
				Protocols: []string{"tcp"}, Chain: "input", BlockType: "reject"},
		},
		{
			name:   "list and range, drop, forward",
			file:   "action.d/nftables.conf",
			params: map[string]string{"port": "http,https,8000:8010", "protocol": "tcp", "chain_hook": "forward", "blocktype": "drop"},
			want: firewall.JailSpec{Name: "j", Ports: []firewall.PortRange{{First: 80, Last: 80}, {First: 443, Last: 443}, {First: 8000, Last: 8010}},
				Protocols: []string{"tcp"}, Chain: "forward", BlockType: "drop"},
		},
		{
			name:   "allports ignores port",
			file:   "action.d/nftables-allports.conf",
			params: map[string]string{"port": "ssh", "protocol": "tcp", "type": "allports"},
			want:   firewall.JailSpec{Name: "j", Protocols: []string{"tcp"}, Chain: "input", BlockType: "reject"},
		},
		{
			name:   "reject with icmp stays reject",
			file:   "action.d/nftables-multiport.conf",
			params: map[string]string{"port": "22", "protocol": "udp", "blocktype": "reject with icmp type port-unreachable"},
			want: firewall.JailSpec{Name: "j", Ports: []firewall.PortRange{{First: 22, Last: 22}},
				Protocols: []string{"udp"}, Chain: "input", BlockType: "reject"},
		},
		{
			name:   "unknown hook",
			file:   "action.d/nftables-multiport.conf",
			params: map[string]string{"port": "22", "chain_hook": "output"},
			err:    firewall.ErrInvalidJail,
		},
	}
	checkSpecs(t, nftablesSpec, svc, tests)
	if _, err := nftablesSpec("j", &config.Action{File: "nftables.conf", Params: map[string]string{"port": "nosuchservice"}}, svc); err == nil {
		t.Error("unknown service name accepted")
	}
}

// specCase is one action file with parameters and the jail spec (or the
// error) a native kind's spec function makes of it.
type specCase struct {
	name   string
	file   string
	params map[string]string
	want   firewall.JailSpec
	err    error
}

// specServices is the small services table the spec tests resolve port
// names with.
func specServices(t *testing.T) *firewall.Services {
	t.Helper()
	svc, err := firewall.ParseServices(strings.NewReader("ssh 22/tcp\nhttp 80/tcp\nhttps 443/tcp\n"), "services")
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// checkSpecs runs each case through spec for jail "j" as a subtest.
func checkSpecs(t *testing.T, spec func(string, *config.Action, *firewall.Services) (firewall.JailSpec, error), svc *firewall.Services, tests []specCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &config.Action{Name: "x", File: tt.file, Params: tt.params}
			got, err := spec("j", a, svc)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestChooseDB(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct{ flag, dbfile, want string }{
		{"/tmp/x.db", "/var/lib/other.db", "/tmp/x.db"},
		{"", "", DefaultDB},
		{"", "/var/lib/fail2ban/fail2ban.sqlite3", DefaultDB},
		{"", "/srv/warden.db", "/srv/warden.db"},
		{"", "None", ":memory:"},
	}
	for _, tt := range tests {
		if got := chooseDB(tt.flag, tt.dbfile, log); got != tt.want {
			t.Errorf("chooseDB(%q, %q) = %q, want %q", tt.flag, tt.dbfile, got, tt.want)
		}
	}
}

func TestHeadPaths(t *testing.T) {
	got := headPaths("/var/log/a.log\n/var/log/b.log head\n  /var/log/c*.log tail\n/var/log/d head ")
	want := map[string]bool{"/var/log/b.log": true, "/var/log/d": true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("headPaths = %v, want %v", got, want)
	}
}

func FuzzHeadPaths(f *testing.F) {
	f.Add("/var/log/a.log\n/var/log/b.log head")
	f.Add(" head\n\nhead head")
	f.Fuzz(func(t *testing.T, s string) {
		for p := range headPaths(s) {
			if p != strings.TrimSpace(p) {
				t.Errorf("path %q not trimmed", p)
			}
			if !strings.Contains(s, p+" ") && p != "" {
				t.Errorf("path %q not in input", p)
			}
		}
	})
}

func TestBanTimeConfig(t *testing.T) {
	j := &config.Jail{Name: "j", BanTime: 10 * time.Minute, BanTimeIncrement: true, BanTimeMaxTime: time.Hour,
		Options: map[string]string{"bantime.factor": "2", "bantime.multipliers": "1 2 4 8"}}
	bt, err := banTimeConfig(j)
	if err != nil {
		t.Fatal(err)
	}
	if bt.BanTime != 10*time.Minute || !bt.Increment || bt.Factor != 2 || bt.MaxTime != time.Hour ||
		!reflect.DeepEqual(bt.Multipliers, []int64{1, 2, 4, 8}) {
		t.Errorf("banTimeConfig = %+v", bt)
	}
	j.Options = map[string]string{"bantime.multipliers": "1 x"}
	if _, err := banTimeConfig(j); err == nil || !strings.Contains(err.Error(), "bantime.multipliers") {
		t.Errorf("bad multipliers: err = %v", err)
	}
}

// recordBackend remembers what it was asked to ban.
type recordBackend struct {
	firewall.Backend
	bans []firewall.Ban
}

func (r *recordBackend) Ban(_ context.Context, b []firewall.Ban) error {
	r.bans = append(r.bans, b...)
	return nil
}

func TestJailsOnly(t *testing.T) {
	rec := &recordBackend{}
	b := jailsOnly{Backend: rec, jails: map[string]bool{"sshd": true}}
	in := []firewall.Ban{{Jail: "sshd"}, {Jail: "apache"}, {Jail: "sshd"}}
	if err := b.Ban(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if len(rec.bans) != 2 || rec.bans[0].Jail != "sshd" || rec.bans[1].Jail != "sshd" {
		t.Errorf("backend got %+v", rec.bans)
	}
	if len(in) != 3 || in[1].Jail != "apache" {
		t.Errorf("caller's slice changed: %+v", in)
	}
	rec.bans = nil
	if err := b.Ban(context.Background(), []firewall.Ban{{Jail: "apache"}}); err != nil || rec.bans != nil {
		t.Errorf("foreign-only batch reached the backend: %v %+v", err, rec.bans)
	}
}

func TestSDNotify(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	if err := SDNotify("READY=1"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	_ = ln.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := ln.Read(buf)
	if err != nil || string(buf[:n]) != "READY=1" {
		t.Errorf("read %q, %v; want READY=1", buf[:n], err)
	}
	t.Setenv("NOTIFY_SOCKET", "")
	if err := SDNotify("READY=1"); err != nil {
		t.Errorf("without NOTIFY_SOCKET: %v", err)
	}
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "absent"))
	if err := SDNotify("READY=1"); err == nil {
		t.Error("missing socket: no error")
	}
}

func TestNewReportsBadJails(t *testing.T) {
	cfg := loadTree(t, map[string]string{
		"filter.d/f.conf":        "[Definition]\nfailregex = ^fail from <HOST>$\n",
		"action.d/nftables.conf": "[Definition]\nactionban = true\n[Init]\nport = nosuchport\nchain_hook = input\n",
		"jail.conf":              "[a]\nenabled = true\nfilter = f\nlogpath = /dev/null\naction = nftables\n",
	})
	_, err := New(Options{Config: cfg, ServicesPath: writeServices(t)})
	if err == nil || !strings.Contains(err.Error(), "jail a") || !strings.Contains(err.Error(), "jail.conf:1") {
		t.Errorf("New = %v, want an error naming jail a at jail.conf:1", err)
	}
}

func writeServices(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "services")
	if err := os.WriteFile(p, []byte(fmt.Sprintf("ssh %d/tcp\n", 22)), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestActionChoice(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"filter.d/f.conf":                  "[Definition]\nfailregex = ^fail from <HOST>$\n",
		"action.d/nftables-multiport.conf": "[Definition]\nactionban = nft add element x <ip>\n[Init]\nport = 22\nprotocol = tcp\nchain_hook = input\nblocktype = reject\n",
		"action.d/record.conf":             "[Definition]\nactionban = echo <ip>\n",
		"jail.conf": "[DEFAULT]\nfilter = f\nlogpath = /dev/null\n" +
			"[native]\nenabled = true\naction = nftables-multiport[port=2222]\n" +
			"[mixed]\nenabled = true\naction = nftables-multiport\n        record\n" +
			"[shell]\nenabled = true\naction = record\n",
	}
	cfg := loadTreeIn(t, dir, files)
	tests := []struct {
		shell        bool
		jail         string
		ports        string // "" when not native
		shellActions int
	}{
		{false, "native", "2222", 0},
		{false, "mixed", "22", 1},
		{false, "shell", "", 1},
		{true, "native", "", 1},
		{true, "mixed", "", 2},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/shell=%v", tt.jail, tt.shell), func(t *testing.T) {
			s, err := New(Options{Config: cfg, ShellActions: tt.shell, ServicesPath: writeServices(t)})
			if err != nil {
				t.Fatal(err)
			}
			j := s.byName[tt.jail]
			ports := ""
			if j.spec != nil {
				ports = fmt.Sprint(j.spec.Ports[0].First)
			}
			if ports != tt.ports || len(j.actions) != tt.shellActions {
				t.Errorf("native ports %q, %d shell actions; want %q, %d", ports, len(j.actions), tt.ports, tt.shellActions)
			}
		})
	}
}

func FuzzNftablesSpec(f *testing.F) {
	svc, err := firewall.ParseServices(strings.NewReader("ssh 22/tcp\nhttp 80/tcp\n"), "services")
	if err != nil {
		f.Fatal(err)
	}
	f.Add("ssh", "tcp", "input", "reject", "")
	f.Add("http,8000:8010", "tcp,udp", "forward", "drop", "")
	f.Add("", "tcp", "", "REJECT --reject-with icmp-port-unreachable", "allports")
	f.Fuzz(func(t *testing.T, port, proto, hook, block, typ string) {
		a := &config.Action{File: "action.d/nftables.conf", Params: map[string]string{
			"port": port, "protocol": proto, "chain_hook": hook, "blocktype": block, "type": typ}}
		spec, err := nftablesSpec("j", a, svc)
		if err != nil {
			return
		}
		if spec.Chain != firewall.ChainInput && spec.Chain != firewall.ChainForward {
			t.Errorf("chain %q", spec.Chain)
		}
		if spec.BlockType != firewall.BlockReject && spec.BlockType != firewall.BlockDrop {
			t.Errorf("block type %q", spec.BlockType)
		}
		for _, p := range spec.Ports {
			if p.First > p.Last {
				t.Errorf("port range %v", p)
			}
		}
	})
}
