package action

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/netip"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"warden/internal/fail2bantest"
)

// refTicket is a ticket as the reference script takes it.
type refTicket struct {
	IP       string            `json:"ip"`
	ID       string            `json:"id,omitempty"`
	Time     float64           `json:"time"`
	Failures int               `json:"failures"`
	BanTime  *int              `json:"bantime,omitempty"`
	BanCount int               `json:"bancount"`
	Restored bool              `json:"restored"`
	Matches  []string          `json:"matches"`
	Data     map[string]string `json:"data"`
}

func (r refTicket) ticket() Ticket {
	sec, frac := math.Modf(r.Time)
	t := Ticket{
		ID: r.ID, Failures: r.Failures, BanCount: r.BanCount, Restored: r.Restored,
		Matches: r.Matches, Fields: r.Data, Time: time.Unix(int64(sec), int64(frac*1e9)),
	}
	if p, err := netip.ParsePrefix(r.IP); err == nil {
		t.Prefix = p
	} else {
		t.Addr = netip.MustParseAddr(r.IP)
	}
	if r.BanTime != nil {
		t.BanTime = time.Duration(*r.BanTime) * time.Second
	}
	return t
}

type refOp struct {
	Op     string     `json:"op"`
	Ticket *refTicket `json:"ticket,omitempty"`
}

// hostile is outside text that must never run.
const hostile = "x'; touch /tmp/pwned #\"$(id)`id`\n~!*?[a] {b} <c> |&;\\ end"

func refOps() []refOp {
	bt := 3600
	t4 := &refTicket{IP: "192.0.2.10", Time: 1700000000.25, Failures: 5, BanCount: 2,
		Matches: []string{"Nov 27 sshd[1]: Failed password for " + hostile + " from 192.0.2.10", "second line"},
		Data:    map[string]string{"user": hostile, "fport": "22"}}
	t6 := &refTicket{IP: "2001:db8::7", Time: 1700000100, Failures: 1, BanTime: &bt, Restored: true,
		Matches: []string{"plain"}, Data: map[string]string{"user": "alice"}}
	tn := &refTicket{IP: "198.51.100.0/24", ID: "some id$", Time: 1700000200.5, Failures: 2,
		Data: map[string]string{"fid": "some id$"}}
	return []refOp{
		{Op: "start"},
		{Op: "ban", Ticket: t4},
		{Op: "ban", Ticket: t6},
		{Op: "ban", Ticket: tn},
		{Op: "check"},
		{Op: "reban", Ticket: t4},
		{Op: "prolong", Ticket: t4},
		{Op: "unban", Ticket: t4},
		{Op: "unban", Ticket: tn},
		{Op: "flush"},
		{Op: "stop"},
	}
}

// refRun asks fail2ban (testdata/f2bref.py) what it would run.
func refRun(t *testing.T, dir, jail string, now float64, bantime int, ops []refOp, fails map[string]int) map[string][][]string {
	t.Helper()
	py := fail2bantest.Python(t)
	in, _ := json.Marshal(map[string]any{"dir": dir, "jail": jail, "now": now, "bantime": bantime, "ops": ops, "fails": fails})
	cmd := exec.Command(py, "testdata/f2bref.py")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("f2bref.py: %v\n%s", err, stderr.String())
	}
	var res struct {
		Actions map[string][][]string `json:"actions"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("f2bref.py output: %v\n%s", err, out)
	}
	return res.Actions
}

// varRefRE matches the forms warden writes a variable reference in; they
// are all fail2ban's bare $name, quoted for where they stand.
var varRefRE = regexp.MustCompile(`'"\$(f2bV_\w+)"'|"\$(f2bV_\w+)"|\$\{(f2bV_\w+)\}`)

func asFail2ban(script string) string {
	return varRefRE.ReplaceAllStringFunc(script, func(m string) string {
		sm := varRefRE.FindStringSubmatch(m)
		return "$" + sm[1] + sm[2] + sm[3]
	})
}

// diffAction uses every dynamic tag in every quoting context.
const diffAction = `[Definition]
actionstart = start <name> <tag> <family> [<ip>] <bantime> <time>
actionban = ban <ip> "<ip>" '<ip>' <fid> "<fid>" <ip-rev> <failures> <ipfailures> <ipjailfailures> <bancount> <restored> <bantime> <time>
            u=<F-USER> "u=<F-USER>" 'u=<F-USER>' "$(echo "<F-USER>")" <F-NOPE>|<F-ID>|<F-PORT>
            cat <<EOF
            <matches>
            EOF
            m='<ipmatches>' j="<ipjailmatches>" # <F-USER>
            <unknown> <br> <sp> <blocktype> <tag>
actionunban = unban <ip> <blocktype>
actionprolong = prolong <ip> <bantime>
actionflush = flush <family>
actionstop = stop <family>
[Init]
tag = t
blocktype = REJECT
[Init?family=inet6]
blocktype = DROP6
`

// stockActions are the action.d files run against fail2ban, with the
// arguments a jail would give them.
var stockActions = []string{
	`iptables[port="ssh", protocol=tcp]`, `iptables-multiport[port="ssh,2222"]`, `iptables-allports`,
	`iptables-ipset[port=ssh]`, `iptables-ipset-proto6`, `iptables-xt_recent-echo`, `iptables-new`,
	`iptables-multiport-log`, `nftables[port=ssh]`, `nftables-multiport`, `nftables-allports`,
	`firewallcmd-ipset[port=ssh]`, `firewallcmd-rich-rules[port=ssh]`, `firewallcmd-rich-logging`,
	`firewallcmd-new`, `firewallcmd-allports`, `firewallcmd-multiport`, `hostsdeny`, `route`,
	`shorewall`, `shorewall-ipset-proto6`, `nginx-block-map`, `sendmail-whois-matches`,
	`sendmail-whois-ipmatches`, `sendmail-whois-ipjailmatches`, `sendmail-whois-lines`, `sendmail-buffered`,
	`mail-whois-lines`, `mail-buffered`, `mail`, `xarf-login-attack`, `abuseipdb[abuseipdb_apikey=k, abuseipdb_category=18]`,
	`complain`, `dummy`, `cloudflare`, `cloudflare-token`, `netscaler`, `ufw`, `apf`, `bsd-ipfw`, `pf`,
	`osx-afctl`, `osx-ipfw`, `symbiosis-blacklist-allports`, `npf`, `ipfilter`, `ipfw`, `mynetwatchman`,
	`blocklist_de[email=a@b, service=ssh, apikey=k]`, `wdiff[tag=x]`, `dshield`, `nsupdate[domain=example.org, nsupdatecmd=nsupdate]`, `apprise`, `ipthreat[ipthreat_apikey=k]`,
}

// TestStockActionsMatchFail2ban runs every stock action through the same
// operations here and in fail2ban's CommandAction, and compares the
// commands (fail2ban's bare $f2bV_x standing for warden's quoted forms).
func TestStockActionsMatchFail2ban(t *testing.T) {
	const jail = "sshd"
	local := "[" + jail + "]\nenabled = true\nbackend = polling\nlogpath = /dev/null\nbantime = 600\naction = " +
		strings.Join(stockActions, "\n         ") + "\n"
	dir := copyTree(t, map[string]string{"jail.local": local, "action.d/wdiff.conf": diffAction})
	compareWithFail2ban(t, dir, jail, len(stockActions), refOps(), nil)
}

// compareWithFail2ban runs ops on every action of jail in dir, here and in
// fail2ban, with the scripts in fails failing so many times, and compares
// the commands run (and the operations that failed).
func compareWithFail2ban(t *testing.T, dir, jail string, actions int, ops []refOp, fails map[string]int) {
	t.Helper()
	const now = 1700000300.75
	want := refRun(t, dir, jail, now, 600, ops, fails)
	j := loadJail(t, dir, jail)
	if len(j.Actions) != actions || len(want) != actions {
		t.Fatalf("%d actions loaded, fail2ban has %d, want %d", len(j.Actions), len(want), actions)
	}
	sec, frac := math.Modf(now)
	clock := func() time.Time { return time.Unix(int64(sec), int64(frac*1e9)) }
	ctx := context.Background()
	for _, ca := range j.Actions {
		t.Run(ca.Name, func(t *testing.T) {
			rec := &recorder{fails: map[string]int{}}
			for k, v := range fails {
				rec.fails[k] = v
			}
			a, err := New(ca, Options{Runner: rec, Jail: jail, BanTime: 600 * time.Second, Now: clock})
			if err != nil {
				t.Fatal(err)
			}
			var errs []string
			for _, op := range ops {
				rec.op = op.Op
				var err error
				switch op.Op {
				case "start":
					err = a.Start(ctx)
				case "stop":
					err = a.Stop(ctx)
				case "flush":
					err = a.Flush(ctx)
				case "check":
					err = a.Check(ctx)
				case "ban":
					err = a.Ban(ctx, op.Ticket.ticket())
				case "reban":
					err = a.Reban(ctx, op.Ticket.ticket())
				case "prolong":
					if a.Prolongable() {
						err = a.Prolong(ctx, op.Ticket.ticket())
					}
				case "unban":
					err = a.Unban(ctx, op.Ticket.ticket())
				}
				if err != nil {
					if fails == nil {
						t.Fatalf("%s: %v", op.Op, err)
					}
					rec.cmds = append(rec.cmds, recorded{op.Op, Command{Script: "ERROR"}})
					errs = append(errs, err.Error())
				}
			}
			var got [][]string
			for _, r := range rec.cmds {
				got = append(got, append([]string{r.op, asFail2ban(r.cmd.Script)}, r.cmd.Args...))
			}
			ref := want[ca.Name]
			if len(ref) == 0 {
				t.Fatalf("fail2ban ran nothing for %s", ca.Name)
			}
			for i := 0; i < max(len(got), len(ref)); i++ {
				var g, w []string
				if i < len(got) {
					g = got[i]
				}
				if i < len(ref) {
					w = ref[i]
				}
				if strings.Join(g, "\x00") != strings.Join(w, "\x00") {
					t.Errorf("command %d:\n got %q\nwant %q", i, g, w)
				}
			}
			if t.Failed() {
				t.Logf("errors: %q\n got %q\nwant %q", errs, got, ref)
			}
		})
	}
}

// repairAction has a check and a repair; repair_on_unban is set.
const repairAction = `[Definition]
actionstart = start <x>
actionstop = stop <x>
actioncheck = check <x>
actionrepair = repair <x>
actionrepair_on_unban = true
actionban = ban <ip> <x>
actionunban = unban <ip> <x>
actionflush = flush <x>
[Init]
x = 4
[Init?family=inet6]
x = 6
`

// restartAction has a check and no repair: a failed check restarts it.
const restartAction = `[Definition]
actionstart = start
actionstop = stop
actioncheck = check
actionban = ban <ip>
actionunban = unban <ip>
`

// TestRepairMatchesFail2ban makes commands fail and compares what both
// do about it: retries, checks, repairs, restarts, errors.
func TestRepairMatchesFail2ban(t *testing.T) {
	const jail = "sshd"
	local := "[" + jail + "]\nenabled = true\nbackend = polling\nlogpath = /dev/null\nbantime = 600\n" +
		"action = wrepair\n         wrestart\n         iptables[port=ssh]\n"
	dir := copyTree(t, map[string]string{"jail.local": local, "action.d/wrepair.conf": repairAction,
		"action.d/wrestart.conf": restartAction})
	t4 := &refTicket{IP: "192.0.2.10", Time: 1700000000.25, Failures: 5}
	t6 := &refTicket{IP: "2001:db8::7", Time: 1700000100, Failures: 1}
	ops := []refOp{
		{Op: "start"}, {Op: "ban", Ticket: t4}, {Op: "ban", Ticket: t6}, {Op: "unban", Ticket: t4},
		{Op: "check"}, {Op: "ban", Ticket: t4}, {Op: "unban", Ticket: t6}, {Op: "flush"}, {Op: "stop"},
	}
	ipt := "for proto in $(echo 'tcp' | sed 's/,/ /g'); do\niptables -w -C INPUT -p $proto --dport ssh -j f2b-sshd\ndone"
	scenarios := []struct {
		name  string
		fails map[string]int
	}{
		{"bans fail once", map[string]int{"ban 192.0.2.10 4": 1, "ban 192.0.2.10": 1, "ban 2001:db8::7 6": 1}},
		{"ban and check fail", map[string]int{"ban 192.0.2.10 4": 1, "check 4": 1, "ban 192.0.2.10": 1, "check": 1}},
		{"unban and check fail", map[string]int{"unban 192.0.2.10 4": 1, "check 4": 1, "unban 192.0.2.10": 1, "check": 1}},
		{"check broken for good", map[string]int{"check 4": -1, "check 6": 2, "check": -1, "repair 4": -1, ipt: -1,
			"ban 192.0.2.10 4": 1, "ban 192.0.2.10": 1, "iptables -w -I f2b-sshd 1 -s 192.0.2.10 -j REJECT --reject-with icmp-port-unreachable": 1}},
		{"start fails", map[string]int{"start 4": 1, "start": 1}},
		{"everything fails twice", map[string]int{"start 4": 2, "start 6": 2, "ban 192.0.2.10 4": 2, "ban 2001:db8::7 6": 2,
			"check 4": 2, "repair 4": 2, "stop": 2, "check": 2, "ban 192.0.2.10": 2, "start": 2}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			compareWithFail2ban(t, dir, jail, 3, ops, sc.fails)
		})
	}
}
