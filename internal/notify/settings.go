package notify

import (
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"warden/internal/config"
)

// Settings are the server-wide mail options, from fail2ban.conf/.local's
// [mail] section:
//
//	smtp     = host:port      deliver by SMTP instead of the sendmail binary
//	sendmail = /path          the sendmail binary (default: sendmail on PATH)
//	username, password        SMTP AUTH (PLAIN, or LOGIN); never sent unencrypted
//	starttls = auto|yes|no    use STARTTLS when offered (auto), require it, or never
//	helo     = name           our name in EHLO (default: hostname)
//	hostname = name           this machine's name in messages, and the domain
//	                          SMTP delivery adds to bare recipients (default: hostname)
//	digest   = 15m            one message per period instead of one per ban
//	alert    = jail:sshd, ...  in digest mode, bans also mailed at once (see ParseAlerts)
//	queue    = 1000           messages waiting at most
//	attempts = 5              tries per message
//	backoff  = 30s            wait before the second try, doubling after
//	timeout  = 1m             one SMTP or sendmail delivery
//	retry    = 5m             how often mail kept in the database is tried again
//	dest, sender              the digest's recipients and sender (default: the
//	                          first mail action's)
type Settings struct {
	Dest               []string
	Sender             string
	SMTP               string
	Sendmail           string
	Username, Password string
	TLS                TLSMode
	Helo, Hostname     string
	Digest             time.Duration
	Alerts             Alerts
	Queue, Attempts    int
	Backoff, Timeout   time.Duration
	Retry              time.Duration
}

// ParseSettings reads a [mail] section; errors name the file and line.
func ParseSettings(sec map[string]config.Setting) (Settings, error) {
	s := Settings{Queue: 1000, Attempts: 5, Backoff: 30 * time.Second, Timeout: time.Minute, Retry: 5 * time.Minute}
	keys := make([]string, 0, len(sec))
	for k := range sec {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := strings.TrimSpace(sec[k].Value)
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%s: [mail] %s = %q: %s", sec[k].Pos, k, clip(v), fmt.Sprintf(format, args...))
		}
		var err error
		switch strings.ToLower(k) {
		case "smtp":
			if v != "" {
				if _, _, err := net.SplitHostPort(v); err != nil {
					return s, bad("want host:port")
				}
			}
			s.SMTP = v
		case "sendmail":
			s.Sendmail = v
		case "dest":
			if s.Dest, err = SplitAddresses(v); err != nil {
				return s, bad("%v", err)
			}
		case "sender":
			if err := CheckAddress(v); err != nil {
				return s, bad("%v", err)
			}
			s.Sender = v
		case "username":
			s.Username = v
		case "password":
			s.Password = sec[k].Value
		case "starttls":
			switch strings.ToLower(v) {
			case "", "auto", "opportunistic":
				s.TLS = TLSOpportunistic
			case "yes", "true", "on", "1", "required":
				s.TLS = TLSRequired
			case "no", "false", "off", "0":
				s.TLS = TLSOff
			default:
				return s, bad("want auto, yes or no")
			}
		case "helo":
			s.Helo = headerText(v)
		case "hostname":
			s.Hostname = headerText(v)
		case "digest":
			if v == "" || strings.EqualFold(v, "off") || strings.EqualFold(v, "no") {
				s.Digest = 0
				continue
			}
			if s.Digest, err = config.ParseTime(v); err != nil || s.Digest < time.Second {
				return s, bad("want a period of at least a second (15m, 1h) or off")
			}
		case "alert":
			if s.Alerts, err = ParseAlerts(v); err != nil {
				return s, bad("%v", err)
			}
		case "queue", "attempts":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return s, bad("want a whole number above 0")
			}
			if k == "queue" {
				s.Queue = n
			} else {
				s.Attempts = n
			}
		case "backoff", "timeout", "retry":
			d, err := config.ParseTime(v)
			if err != nil || d <= 0 {
				return s, bad("want a duration (30s, 5m)")
			}
			switch k {
			case "backoff":
				s.Backoff = d
			case "timeout":
				s.Timeout = d
			default:
				s.Retry = d
			}
		default:
			return s, bad("unknown option")
		}
	}
	if s.Username != "" && s.SMTP == "" {
		pos := sec["username"].Pos
		return s, fmt.Errorf("%s: [mail] username is set but smtp is not: sendmail takes no credentials", pos)
	}
	if s.Hostname == "" {
		s.Hostname, _ = os.Hostname()
	}
	return s, nil
}

// Deliverer returns the delivery the settings ask for.
func (s *Settings) Deliverer() Deliverer {
	if s.SMTP != "" {
		helo := s.Helo
		if helo == "" {
			helo = s.Hostname
		}
		return &SMTP{Addr: s.SMTP, Helo: helo, Domain: s.Hostname, TLS: s.TLS, Username: s.Username, Password: s.Password, Timeout: s.Timeout}
	}
	return &Sendmail{Path: s.Sendmail, Timeout: s.Timeout}
}
