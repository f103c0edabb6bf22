package main

import (
	"fmt"
	"net/netip"
	"strconv"
	"time"
)

// nginxKind writes nginx's error.log: basic-auth failures, limit_req
// rejections and the usual errors and notices around them.
type nginxKind struct{}

// apacheKind writes Apache 2.4's error.log with mod_auth_basic and
// mod_authz_core failures among ordinary errors.
type apacheKind struct{}

const (
	ngxAuth = fNginxAuth | fNginxAuthAggr
	vhost   = "www.example.org"
)

func (nginxKind) stamp(dst []byte, t time.Time, _ string) []byte {
	return append(t.AppendFormat(dst, "2006/01/02 15:04:05"), ' ')
}

func (nginxKind) filters() []filterSpec {
	return []filterSpec{
		{fNginxAuth, "nginx-http-auth", true},
		{fNginxAuthAggr, "nginx-http-auth[mode=aggressive]", false},
		{fNginxLimit, "nginx-limit-req", true},
	}
}

// ngxConn numbers a client connection as nginx does (*N, counting up per
// worker) and prefixes its lines.
type ngxConn struct {
	worker string // "812#812: "
	conn   int
	client string
	addr   netip.Addr
	lines  []entry
}

func newNgxConn(g *generator, a netip.Addr) *ngxConn {
	w := 812 + g.rng.IntN(4)
	return &ngxConn{worker: fmt.Sprintf("%d#%d: ", w, w), conn: 1000 + g.rng.IntN(900000), client: a.String(), addr: a}
}

func (c *ngxConn) add(hits filterBit, level, format string, args ...any) {
	text := "[" + level + "] " + c.worker + "*" + strconv.Itoa(c.conn) + " " + fmt.Sprintf(format, args...)
	c.lines = append(c.lines, entry{text: text, hits: hits, addr: c.addr})
}

func (nginxKind) attack(g *generator, a netip.Addr) []entry {
	c := newNgxConn(g, a)
	switch x := g.rng.IntN(100); {
	case x < 50:
		path := [...]string{"/admin/", "/phpmyadmin/", "/private/", "/grafana/login"}[g.rng.IntN(4)]
		n := 1 + g.rng.IntN(4)
		for range n {
			u := botUser(g)
			if g.rng.IntN(2) == 0 {
				c.add(ngxAuth, "error", `user "%s" was not found in "/etc/nginx/.htpasswd", client: %s, server: %s, request: "GET %s HTTP/1.1", host: "%[3]s"`,
					u, c.client, vhost, path)
			} else {
				c.add(ngxAuth, "error", `user "%s": password mismatch, client: %s, server: %s, request: "GET %s HTTP/1.1", host: "%[3]s", referrer: "https://%[3]s%[4]s"`,
					u, c.client, vhost, path)
			}
		}
	case x < 85:
		path := [...]string{"/wp-login.php", "/xmlrpc.php", "/api/login", "/search?q=" + g.token(6, alnum)}[g.rng.IntN(4)]
		ex := 5 + g.rng.Float64()*20
		c.add(0, "warn", `delaying request, excess: 0.%03d, by zone "perip", client: %s, server: %s, request: "POST %s HTTP/1.1", host: "%[3]s"`,
			g.rng.IntN(1000), c.client, vhost, path)
		for n := 2 + g.rng.IntN(8); n > 0; n-- {
			c.add(fNginxLimit, "error", `limiting requests, excess: %.3f by zone "perip", client: %s, server: %s, request: "POST %s HTTP/1.1", host: "%[3]s"`,
				ex, c.client, vhost, path)
			ex += g.rng.Float64()
		}
	default:
		c.add(fNginxAuthAggr, "crit", "SSL_do_handshake() failed (SSL: error:0A0000C6:SSL routines::packet length too long) while SSL handshaking, client: %s, server: 0.0.0.0:443",
			c.client)
	}
	return c.lines
}

func (nginxKind) benign(g *generator) []entry {
	a := g.benignIP()
	if g.rng.IntN(3) == 0 {
		a = g.randomIP()
	}
	c := newNgxConn(g, a)
	switch x := g.rng.IntN(100); {
	case x < 40:
		f := [...]string{"favicon.ico", "robots.txt", "apple-touch-icon.png", "apple-touch-icon-precomposed.png", ".well-known/security.txt"}[g.rng.IntN(5)]
		c.add(0, "error", `open() "/var/www/html/%s" failed (2: No such file or directory), client: %s, server: %s, request: "GET /%[1]s HTTP/1.1", host: "%[3]s"`,
			f, c.client, vhost)
	case x < 60:
		// a browser's first request before it asks for credentials
		c.add(0, "error", `no user/password was provided for basic authentication, client: %s, server: %s, request: "GET /private/ HTTP/1.1", host: "%[2]s"`,
			c.client, vhost)
	case x < 72:
		c.add(0, "error", `upstream timed out (110: Connection timed out) while reading response header from upstream, client: %s, server: %s, request: "GET /api/report HTTP/1.1", upstream: "http://127.0.0.1:8080/api/report", host: "%[2]s"`,
			c.client, vhost)
	case x < 82:
		c.add(0, "warn", `an upstream response is buffered to a temporary file /var/cache/nginx/proxy_temp/%d/%02d/00000%05d while reading upstream, client: %s, server: %s, request: "GET /download/backup.tar HTTP/1.1", upstream: "http://127.0.0.1:8080/download/backup.tar", host: "%[5]s"`,
			g.rng.IntN(10), g.rng.IntN(100), g.rng.IntN(100000), c.client, vhost)
	case x < 92:
		c.add(0, "error", `client intended to send too large body: %d bytes, client: %s, server: %s, request: "POST /upload HTTP/2.0", host: "%[3]s"`,
			2000000+g.rng.IntN(90000000), c.client, vhost)
	default:
		// worker notices carry no connection number
		c.lines = append(c.lines, entry{text: fmt.Sprintf("[notice] %d#%d: signal process started", 4100+g.rng.IntN(900), 4100)})
	}
	return c.lines
}

func (apacheKind) stamp(dst []byte, t time.Time, _ string) []byte {
	dst = append(dst, '[')
	dst = t.AppendFormat(dst, "Mon Jan 02 15:04:05.000000 2006")
	return append(dst, "] "...)
}

func (apacheKind) filters() []filterSpec {
	return []filterSpec{
		{fApacheAuth, "apache-auth", true},
	}
}

// apacheLine builds one error-log entry: module and level, process/thread
// and, when there is one, the client with its source port.
func apacheLine(g *generator, hits filterBit, module string, a netip.Addr, format string, args ...any) entry {
	client := ""
	if a.IsValid() {
		client = " [client " + a.String() + ":" + strconv.Itoa(g.port()) + "]"
	}
	pid := 2200 + g.rng.IntN(60)
	return entry{
		text: fmt.Sprintf("[%s] [pid %d:tid %d]%s ", module, pid, 139800000000000+g.rng.IntN(999999999), client) + fmt.Sprintf(format, args...),
		hits: hits, addr: a,
	}
}

func (apacheKind) attack(g *generator, a netip.Addr) []entry {
	var ls []entry
	path := [...]string{"/admin/", "/private/", "/server-status", "/backup/"}[g.rng.IntN(4)]
	for n := 1 + g.rng.IntN(4); n > 0; n-- {
		switch g.rng.IntN(3) {
		case 0:
			ls = append(ls, apacheLine(g, fApacheAuth, "auth_basic:error", a, "AH01618: user %s not found: %s", botUser(g), path))
		case 1:
			ls = append(ls, apacheLine(g, fApacheAuth, "auth_basic:error", a, `AH01617: user %s: authentication failure for "%s": Password Mismatch`, botUser(g), path))
		default:
			f := [...]string{".env", ".git/config", "wp-config.php.bak", ".aws/credentials"}[g.rng.IntN(4)]
			ls = append(ls, apacheLine(g, fApacheAuth, "authz_core:error", a, "AH01630: client denied by server configuration: /var/www/html/%s", f))
		}
	}
	if g.rng.IntN(3) == 0 {
		// scanners also trip errors apache-auth does not care about
		ls = append(ls, apacheLine(g, 0, "proxy_fcgi:error", a, "AH01071: Got error 'Primary script unknown'"))
	}
	return ls
}

func (apacheKind) benign(g *generator) []entry {
	a := g.benignIP()
	switch x := g.rng.IntN(100); {
	case x < 35:
		return []entry{apacheLine(g, 0, "php:warn", a, "PHP Warning:  Undefined array key \"%s\" in /var/www/html/index.php on line %d, referer: https://%s/",
			[...]string{"page", "id", "lang"}[g.rng.IntN(3)], 10+g.rng.IntN(300), vhost)}
	case x < 55:
		return []entry{apacheLine(g, 0, "autoindex:error", a, "AH01276: Cannot serve directory /var/www/html/files/: No matching DirectoryIndex (index.html,index.php) found, and server-generated directory index forbidden by Options directive")}
	case x < 70:
		return []entry{apacheLine(g, 0, "ssl:info", a, "AH01964: Connection to child %d established (server %s:443)", g.rng.IntN(50), vhost)}
	case x < 85:
		return []entry{apacheLine(g, 0, "core:info", a, "AH00128: File does not exist: /var/www/html/%s",
			[...]string{"favicon.ico", "robots.txt", "apple-touch-icon.png"}[g.rng.IntN(3)])}
	default:
		return []entry{
			apacheLine(g, 0, "mpm_event:notice", netip.Addr{}, "AH00489: Apache/2.4.62 (Debian) OpenSSL/3.0.15 configured -- resuming normal operations"),
			apacheLine(g, 0, "core:notice", netip.Addr{}, "AH00094: Command line: '/usr/sbin/apache2'"),
		}
	}
}
