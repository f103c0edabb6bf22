package main

import (
	"fmt"
	"net/netip"
	"strconv"
	"time"
)

// authKind writes a Debian-style auth.log: sshd, pam, cron, sudo,
// systemd-logind, plus some systemd and kernel lines as on hosts that send
// everything to one file.
type authKind struct{ rfc3339 bool }

// what fail2ban's sshd filter reports: n in both modes, a in aggressive only
const (
	sshN = fSSHD | fSSHDAggr
	sshA = fSSHDAggr
)

func (k authKind) stamp(dst []byte, t time.Time, host string) []byte {
	if k.rfc3339 {
		// rsyslog's RSYSLOG_FileFormat: microseconds and a numeric offset
		dst = t.AppendFormat(dst, "2006-01-02T15:04:05.000000-07:00")
	} else {
		dst = t.AppendFormat(dst, "Jan _2 15:04:05")
	}
	dst = append(dst, ' ')
	dst = append(dst, host...)
	return append(dst, ' ')
}

func (authKind) filters() []filterSpec {
	return []filterSpec{
		{fSSHD, "sshd", true},
		{fSSHDAggr, "sshd[mode=aggressive]", false},
	}
}

func (authKind) attack(g *generator, a netip.Addr) []entry {
	switch x := g.rng.IntN(100); {
	case x < 40:
		return sshInvalidUser(g, a)
	case x < 68:
		return sshRootGuess(g, a)
	case x < 93:
		return sshScanner(g, a)
	default:
		return sshNotAllowed(g, a)
	}
}

func (authKind) benign(g *generator) []entry {
	switch x := g.rng.IntN(100); {
	case x < 22:
		return sshLogin(g)
	case x < 50:
		return cronJob(g)
	case x < 62:
		return sudoCommand(g)
	case x < 80:
		return systemdUnit(g)
	default:
		return kernelBlock(g)
	}
}

// sshConn holds what every line of one sshd connection shares.
type sshConn struct {
	prefix string // "sshd[1234]: "
	ip     string
	port   string
	addr   netip.Addr
	lines  []entry
}

func newSSHConn(g *generator, a netip.Addr) *sshConn {
	return &sshConn{
		prefix: "sshd[" + strconv.Itoa(g.newPID()) + "]: ",
		ip:     a.String(),
		port:   strconv.Itoa(g.port()),
		addr:   a,
	}
}

func (c *sshConn) add(hits filterBit, format string, args ...any) {
	c.lines = append(c.lines, entry{text: c.prefix + fmt.Sprintf(format, args...), hits: hits, addr: c.addr})
}

// botUser returns a user name that password-guessing bots like to try.
func botUser(g *generator) string {
	names := [...]string{
		"admin", "test", "user", "oracle", "postgres", "ubuntu", "git", "ftpuser", "support",
		"guest", "pi", "deploy", "mysql", "hadoop", "jenkins", "minecraft", "tomcat", "ansible",
		"steam", "ts3", "nagios", "dev", "www", "odoo", "vagrant", "centos", "debian", "elastic",
	}
	return names[g.rng.IntN(len(names))]
}

// sshInvalidUser: a bot tries a user name that does not exist.
func sshInvalidUser(g *generator, a netip.Addr) []entry {
	c := newSSHConn(g, a)
	u := botUser(g)
	c.add(sshN, "Invalid user %s from %s port %s", u, c.ip, c.port)
	tries := 1
	if g.rng.IntN(4) == 0 {
		tries += 1 + g.rng.IntN(3)
	}
	c.add(0, "pam_unix(sshd:auth): check pass; user unknown")
	c.add(0, "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=%s", c.ip)
	for range tries {
		c.add(sshN, "Failed password for invalid user %s from %s port %s ssh2", u, c.ip, c.port)
	}
	if tries > 1 {
		c.add(0, "PAM %d more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=%s", tries-1, c.ip)
	}
	if g.rng.IntN(10) < 7 {
		c.add(0, "Received disconnect from %s port %s:11: Bye Bye [preauth]", c.ip, c.port)
		c.add(sshA, "Disconnected from invalid user %s %s port %s [preauth]", u, c.ip, c.port)
	} else {
		c.add(sshA, "Connection closed by invalid user %s %s port %s [preauth]", u, c.ip, c.port)
	}
	return c.lines
}

// sshRootGuess: password guessing against root, up to MaxAuthTries.
func sshRootGuess(g *generator, a netip.Addr) []entry {
	c := newSSHConn(g, a)
	c.add(0, "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=%s  user=root", c.ip)
	tries := 1 + g.rng.IntN(3)
	if g.rng.IntN(5) == 0 {
		tries = 6
	}
	for range tries {
		c.add(sshN, "Failed password for root from %s port %s ssh2", c.ip, c.port)
	}
	if tries == 6 {
		c.add(sshN, "error: maximum authentication attempts exceeded for root from %s port %s ssh2 [preauth]", c.ip, c.port)
		c.add(0, "Disconnecting authenticating user root %s port %s: Too many authentication failures [preauth]", c.ip, c.port)
	}
	if tries > 1 {
		c.add(0, "PAM %d more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=%s  user=root", tries-1, c.ip)
	}
	if tries < 6 {
		c.add(0, "Received disconnect from %s port %s:11: Bye Bye [preauth]", c.ip, c.port)
		c.add(sshA, "Disconnected from authenticating user root %s port %s [preauth]", c.ip, c.port)
	}
	return c.lines
}

// sshScanner: probes that never get as far as authentication. Only the
// aggressive mode reports them.
func sshScanner(g *generator, a netip.Addr) []entry {
	c := newSSHConn(g, a)
	switch g.rng.IntN(6) {
	case 0:
		c.add(sshA, "Connection closed by %s port %s [preauth]", c.ip, c.port)
	case 1:
		c.add(sshA, "Did not receive identification string from %s port %s", c.ip, c.port)
	case 2:
		// the failure is only known once the next line names the address
		c.add(0, "error: kex_exchange_identification: Connection closed by remote host")
		c.add(sshA, "Connection closed by %s port %s", c.ip, c.port)
	case 3:
		c.add(0, "error: kex_exchange_identification: read: Connection reset by peer")
		c.add(sshA, "Connection reset by %s port %s", c.ip, c.port)
	case 4:
		c.add(sshA, "Unable to negotiate with %s port %s: no matching key exchange method found. "+
			"Their offer: diffie-hellman-group14-sha1,diffie-hellman-group-exchange-sha1,diffie-hellman-group1-sha1 [preauth]", c.ip, c.port)
	default:
		c.add(0, "error: kex_exchange_identification: banner line contains invalid characters")
		c.add(sshA, "banner exchange: Connection from %s port %s: invalid format", c.ip, c.port)
	}
	return c.lines
}

// sshNotAllowed: an existing account that AllowUsers shuts out.
func sshNotAllowed(g *generator, a netip.Addr) []entry {
	c := newSSHConn(g, a)
	u := [...]string{"root", "www-data", "backup", "postgres"}[g.rng.IntN(4)]
	c.add(sshN, "User %s from %s not allowed because not listed in AllowUsers", u, c.ip)
	c.add(sshN, "Failed password for invalid user %s from %s port %s ssh2", u, c.ip, c.port)
	c.add(sshA, "Connection closed by invalid user %s %s port %s [preauth]", u, c.ip, c.port)
	return c.lines
}

// staffUser returns one of the host's first n real users: name and uid.
func staffUser(g *generator, n int) (string, int) {
	users := [...]struct {
		name string
		uid  int
	}{{"alice", 1000}, {"bob", 1001}, {"carol", 1002}, {"deploy", 998}}
	u := users[g.rng.IntN(min(n, len(users)))]
	return u.name, u.uid
}

// sshLogin: a successful login, the session's life, and its end.
func sshLogin(g *generator) []entry {
	a := g.benignIP()
	c := newSSHConn(g, a)
	name, uid := staffUser(g, 4)
	if g.rng.IntN(4) == 0 {
		c.add(0, "Accepted password for %s from %s port %s ssh2", name, c.ip, c.port)
	} else {
		alg := [...]string{"ED25519", "RSA", "ECDSA"}[g.rng.IntN(3)]
		c.add(0, "Accepted publickey for %s from %s port %s ssh2: %s SHA256:%s", name, c.ip, c.port, alg, g.token(43, b64))
	}
	c.add(0, "pam_unix(sshd:session): session opened for user %s(uid=%d) by (uid=0)", name, uid)
	sid := 1 + g.rng.IntN(9000)
	logind := func(format string, args ...any) {
		c.lines = append(c.lines, entry{text: "systemd-logind[612]: " + fmt.Sprintf(format, args...)})
	}
	logind("New session %d of user %s.", sid, name)
	c.add(0, "Received disconnect from %s port %s:11: disconnected by user", c.ip, c.port)
	c.add(0, "Disconnected from user %s %s port %s", name, c.ip, c.port)
	c.add(0, "pam_unix(sshd:session): session closed for user %s", name)
	logind("Session %d logged out. Waiting for processes to exit.", sid)
	logind("Removed session %d.", sid)
	return c.lines
}

func cronJob(g *generator) []entry {
	p := "CRON[" + strconv.Itoa(g.newPID()) + "]: "
	u, uid := "root", 0
	if g.rng.IntN(4) == 0 {
		u, uid = "www-data", 33
	}
	cmd := [...]string{
		"command -v debian-sa1 > /dev/null && debian-sa1 1 1",
		"cd / && run-parts --report /etc/cron.hourly",
		"[ -x /usr/lib/php/sessionclean ] && if [ ! -d /run/systemd/system ]; then /usr/lib/php/sessionclean; fi",
		"/usr/local/bin/backup.sh --quiet",
	}[g.rng.IntN(4)]
	return []entry{
		{text: fmt.Sprintf("%spam_unix(cron:session): session opened for user %s(uid=%d) by (uid=0)", p, u, uid)},
		{text: fmt.Sprintf("%s(%s) CMD (%s)", p, u, cmd)},
		{text: fmt.Sprintf("%spam_unix(cron:session): session closed for user %s", p, u)},
	}
}

func sudoCommand(g *generator) []entry {
	name, uid := staffUser(g, 3)
	cmd := [...]string{
		"/usr/bin/systemctl restart nginx", "/usr/bin/apt update", "/usr/bin/journalctl -u sshd",
		"/usr/bin/tail -f /var/log/auth.log", "/usr/sbin/nft list ruleset",
	}[g.rng.IntN(5)]
	return []entry{
		{text: fmt.Sprintf("sudo:    %s : TTY=pts/%d ; PWD=/home/%s ; USER=root ; COMMAND=%s", name, g.rng.IntN(4), name, cmd)},
		{text: fmt.Sprintf("sudo: pam_unix(sudo:session): session opened for user root(uid=0) by %s(uid=%d)", name, uid)},
		{text: "sudo: pam_unix(sudo:session): session closed for user root"},
	}
}

func systemdUnit(g *generator) []entry {
	units := [...][2]string{
		{"apt-daily.service", "Daily apt download activities"},
		{"logrotate.service", "Rotate log files"},
		{"man-db.service", "Daily man-db regeneration"},
		{"systemd-tmpfiles-clean.service", "Cleanup of Temporary Directories"},
		{"phpsessionclean.service", "Clean php session files"},
	}
	u := units[g.rng.IntN(len(units))]
	return []entry{
		{text: fmt.Sprintf("systemd[1]: Starting %s - %s...", u[0], u[1])},
		{text: fmt.Sprintf("systemd[1]: %s: Deactivated successfully.", u[0])},
		{text: fmt.Sprintf("systemd[1]: Finished %s - %s.", u[0], u[1])},
	}
}

// kernelBlock: a firewall log line. It names an address but no filter here
// should report it.
func kernelBlock(g *generator) []entry {
	dpt := [...]int{23, 445, 3389, 5900, 8080, 1433, 6379}[g.rng.IntN(7)]
	return []entry{{text: fmt.Sprintf("kernel: [%s] [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:3a:7c:11:d0:07:ca:8e:c1:02:08:00 "+
		"SRC=%s DST=203.0.113.10 LEN=44 TOS=0x00 PREC=0x00 TTL=%d ID=%d PROTO=TCP SPT=%d DPT=%d WINDOW=1024 RES=0x00 SYN URGP=0",
		g.uptime(), g.randomIP(), 230+g.rng.IntN(20), g.rng.IntN(65536), g.port(), dpt)}}
}
