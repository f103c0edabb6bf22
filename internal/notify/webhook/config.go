package webhook

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"warden/internal/config"
)

// Format is the shape of a request body.
type Format string

// Formats. See format.go for each body.
const (
	FormatJSON    Format = "json"
	FormatSlack   Format = "slack"
	FormatDiscord Format = "discord"
	FormatMatrix  Format = "matrix"
	FormatNtfy    Format = "ntfy"
)

var formats = []Format{FormatJSON, FormatSlack, FormatDiscord, FormatMatrix, FormatNtfy}

// ErrConfig marks a [webhook:NAME] section that cannot be used.
var ErrConfig = errors.New("bad webhook configuration")

// Target is one [webhook:NAME] section of fail2ban.conf/.local:
//
//	[webhook:ops]
//	url     = https://hooks.example.com/T000/B000/XXXX
//	format  = json        ; json (default), slack, discord, matrix, ntfy
//	secret  = s3cret      ; HMAC-SHA256 of the body in X-Warden-Signature: sha256=<hex>
//	token   = abc         ; Authorization: Bearer abc (Matrix access token, ntfy token)
//	timeout = 10s         ; per request (fail2ban time syntax)
//	digest  = 15m         ; one message per period instead of one per event; 0 = off
//	jails   = sshd, nginx ; only these jails (default: all)
//	retries = 5           ; attempts after the first
//
// For Matrix, url is the client-server API's send endpoint up to the event
// type, e.g. https://matrix.example/_matrix/client/v3/rooms/!id:example/send/m.room.message;
// warden appends a transaction id and PUTs an m.notice.
type Target struct {
	Name    string
	URL     string
	Format  Format
	Secret  string
	Token   string
	Timeout time.Duration
	Digest  time.Duration
	Jails   []string
	Retries int
	// Pos is where the section's url was set, for messages.
	Pos config.Pos
}

// Covers tells whether the target takes jail's events: every jail when
// Jails is empty, else the jails it names.
func (t Target) Covers(jail string) bool {
	return len(t.Jails) == 0 || slices.Contains(t.Jails, jail)
}

// Default per-target settings.
const (
	DefaultTimeout = 10 * time.Second
	DefaultRetries = 5
)

// ParseTargets reads every [webhook:NAME] section of sections (the
// config.Server.Sections map), sorted by name. Errors carry file:line.
func ParseTargets(sections map[string]map[string]config.Setting) ([]Target, error) {
	var names []string
	for name := range sections {
		if strings.HasPrefix(strings.ToLower(name), "webhook:") {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var out []Target
	var errs []error
	for _, name := range names {
		t, err := parseTarget(name, sections[name])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, t)
	}
	return out, errors.Join(errs...)
}

func parseTarget(section string, opts map[string]config.Setting) (Target, error) {
	t := Target{
		Name:    strings.TrimSpace(section[len("webhook:"):]),
		Format:  FormatJSON,
		Timeout: DefaultTimeout,
		Retries: DefaultRetries,
	}
	bad := func(pos config.Pos, format string, args ...any) error {
		return fmt.Errorf("%s: [%s]: %w: %s", pos, section, ErrConfig, fmt.Sprintf(format, args...))
	}
	if t.Name == "" {
		return t, bad(anyPos(opts), "the section needs a name after webhook:")
	}
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		s := opts[k]
		v := strings.TrimSpace(s.Value)
		switch strings.ToLower(k) {
		case "url":
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return t, bad(s.Pos, "url = %q is not an http(s) URL", v)
			}
			t.URL, t.Pos = u.String(), s.Pos
		case "format":
			f := Format(strings.ToLower(v))
			if !slices.Contains(formats, f) {
				return t, bad(s.Pos, "format = %q: want one of json, slack, discord, matrix, ntfy", v)
			}
			t.Format = f
		case "secret":
			t.Secret = v
		case "token":
			if strings.ContainsAny(v, "\r\n") {
				return t, bad(s.Pos, "token holds a line break")
			}
			t.Token = v
		case "timeout", "digest":
			d, err := config.ParseTime(v)
			if err != nil || d < 0 {
				return t, bad(s.Pos, "%s = %q is not a duration", k, v)
			}
			if k == "timeout" {
				if d == 0 {
					return t, bad(s.Pos, "timeout must be above 0")
				}
				t.Timeout = d
			} else {
				t.Digest = d
			}
		case "jails":
			t.Jails = splitList(v)
		case "retries":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 100 {
				return t, bad(s.Pos, "retries = %q: want a whole number from 0 to 100", v)
			}
			t.Retries = n
		default:
			return t, bad(s.Pos, "unknown option %q", k)
		}
	}
	if t.URL == "" {
		return t, bad(anyPos(opts), "url is missing")
	}
	return t, nil
}

// splitList splits "a, b c" into its words.
func splitList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
}

// anyPos is the first position of a section's options, for errors about
// the section as a whole.
func anyPos(opts map[string]config.Setting) config.Pos {
	var p config.Pos
	for _, s := range opts {
		if p.File == "" || s.Pos.File < p.File || s.Pos.File == p.File && s.Pos.Line < p.Line {
			p = s.Pos
		}
	}
	return p
}
