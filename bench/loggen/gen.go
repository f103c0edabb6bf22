package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"
	"sort"
	"strconv"
	"time"
)

// filterBit names one fail2ban filter (with its mode) that is expected to
// report a line as a failure. A line's bits are the generator's ground truth.
type filterBit uint16

const (
	fSSHD filterBit = 1 << iota
	fSSHDAggr
	fPostfix
	fPostfixAuth
	fPostfixAggr
	fDovecot
	fDovecotAggr
	fNginxAuth
	fNginxAuthAggr
	fNginxLimit
	fApacheAuth
)

// filterSpec ties a bit to the filter argument fail2ban-regex and warden
// regex accept. Primary filters are the ones a stock jail enables; their
// matches are what the summary calls attack lines.
type filterSpec struct {
	bit     filterBit
	name    string
	primary bool
}

// entry is one pending log line: everything after the timestamp (and host,
// for syslog kinds), plus the filters expected to match it and the address
// they should report.
type entry struct {
	text string
	hits filterBit
	addr netip.Addr
}

// session is a run of lines that belong together (one connection, one mail,
// one cron job). Sessions are interleaved, as concurrent processes are in a
// real log, but each one's lines keep their order.
type session struct {
	lines  []entry
	next   int
	attack bool
}

// kind is one log flavour: how a line is stamped and which events it has.
type kind interface {
	// stamp appends the line's timestamp and whatever separates it from the
	// entry text (for syslog kinds, " host ").
	stamp(dst []byte, t time.Time, host string) []byte
	attack(g *generator, a netip.Addr) []entry
	benign(g *generator) []entry
	filters() []filterSpec
}

// Config is the generator's input; it mirrors the command-line flags.
type Config struct {
	Kind        string
	Lines       int
	Attackers   int
	AttackRatio float64 // share of lines that belong to attack sessions
	Seed        uint64
	Start       time.Time
	Rate        float64 // lines per second of log time
	Host        string
}

// FilterStats is what one filter is expected to find.
type FilterStats struct {
	Name    string
	Primary bool
	Lines   int                // lines the filter reports as a failure
	Addrs   map[netip.Addr]int // failures per address
	bit     filterBit
}

// Stats summarises a generated log.
type Stats struct {
	Lines        int
	SessionLines int // lines of attack sessions, failures or not (see Config.AttackRatio)
	AttackLines  int // lines at least one primary filter reports
	Attackers    int // distinct addresses in those lines
	Filters      []FilterStats
}

// Filter returns the statistics for the named filter, if the kind has it.
func (s Stats) Filter(name string) (FilterStats, bool) {
	for _, f := range s.Filters {
		if f.Name == name {
			return f, true
		}
	}
	return FilterStats{}, false
}

// generator holds one run's state. It is not safe for concurrent use.
type generator struct {
	cfg       Config
	kind      kind
	rng       *rand.Rand
	now       time.Time
	boot      time.Time
	pid       int
	attackers []netip.Addr
	cumWeight []float64
	benignIPs []netip.Addr
	active    []*session
	// running mean lengths of attack and benign sessions, used to turn the
	// requested line ratio into a per-session probability
	meanAttack, meanBenign float64
}

// maxConcurrent bounds how many sessions are open at once. It stays well
// under fail2ban's multi-line cache size (100) so the ground truth does not
// depend on that cache's eviction.
const maxConcurrent = 8

// validate reports settings the generator cannot honour.
func (cfg Config) validate() error {
	if _, err := kindByName(cfg.Kind); err != nil {
		return err
	}
	switch {
	case cfg.Lines < 0:
		return fmt.Errorf("lines must be >= 0, got %d", cfg.Lines)
	case cfg.Attackers < 0:
		return fmt.Errorf("attackers must be >= 0, got %d", cfg.Attackers)
	case cfg.AttackRatio < 0 || cfg.AttackRatio > 1 || math.IsNaN(cfg.AttackRatio):
		return fmt.Errorf("attack-ratio must be within [0,1], got %v", cfg.AttackRatio)
	case !(cfg.Rate > 0) || math.IsInf(cfg.Rate, 0):
		return fmt.Errorf("rate must be > 0, got %v", cfg.Rate)
	}
	return nil
}

func newGenerator(cfg Config) (*generator, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	k, err := kindByName(cfg.Kind)
	if err != nil {
		return nil, err
	}
	if cfg.Host == "" {
		cfg.Host = "srv01"
	}
	g := &generator{
		cfg:        cfg,
		kind:       k,
		rng:        rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		now:        cfg.Start,
		boot:       cfg.Start.Add(-(73*time.Hour + 17*time.Minute)),
		meanAttack: 3,
		meanBenign: 3,
	}
	g.pid = 1000 + g.rng.IntN(30000)
	g.makeAddresses()
	return g, nil
}

// kindByName maps the -kind flag to its implementation.
func kindByName(name string) (kind, error) {
	switch name {
	case "auth":
		return authKind{rfc3339: false}, nil
	case "auth-rfc3339":
		return authKind{rfc3339: true}, nil
	case "mail":
		return mailKind{}, nil
	case "nginx":
		return nginxKind{}, nil
	case "apache":
		return apacheKind{}, nil
	}
	return nil, fmt.Errorf("unknown kind %q (want auth, auth-rfc3339, mail, nginx or apache)", name)
}

// Generate writes cfg.Lines lines to w and returns what fail2ban's filters
// are expected to find in them.
func Generate(cfg Config, w io.Writer) (Stats, error) {
	g, err := newGenerator(cfg)
	if err != nil {
		return Stats{}, err
	}
	return g.run(w)
}

func (g *generator) run(w io.Writer) (Stats, error) {
	bw := bufio.NewWriterSize(w, 256<<10)
	specs := g.kind.filters()
	st := Stats{Filters: make([]FilterStats, len(specs))}
	var primary filterBit
	for i, s := range specs {
		st.Filters[i] = FilterStats{Name: s.name, Primary: s.primary, Addrs: map[netip.Addr]int{}, bit: s.bit}
		if s.primary {
			primary |= s.bit
		}
	}
	attackers := map[netip.Addr]struct{}{}
	buf := make([]byte, 0, 512)
	for st.Lines < g.cfg.Lines {
		e, attack := g.nextEntry()
		buf = g.kind.stamp(buf[:0], g.now, g.cfg.Host)
		buf = append(buf, e.text...)
		buf = append(buf, '\n')
		if _, err := bw.Write(buf); err != nil {
			return st, fmt.Errorf("write line %d: %w", st.Lines+1, err)
		}
		st.Lines++
		if attack {
			st.SessionLines++
		}
		if e.hits != 0 {
			for i := range st.Filters {
				f := &st.Filters[i]
				if e.hits&f.bit != 0 {
					f.Lines++
					f.Addrs[e.addr]++
				}
			}
			if e.hits&primary != 0 {
				st.AttackLines++
				attackers[e.addr] = struct{}{}
			}
		}
		g.tick()
	}
	st.Attackers = len(attackers)
	if err := bw.Flush(); err != nil {
		return st, fmt.Errorf("flush: %w", err)
	}
	return st, nil
}

// nextEntry opens sessions as needed and returns the next line of a randomly
// chosen open session.
func (g *generator) nextEntry() (entry, bool) {
	for len(g.active) == 0 || (len(g.active) < maxConcurrent && g.rng.IntN(3) == 0) {
		g.open()
	}
	i := g.rng.IntN(len(g.active))
	s := g.active[i]
	e := s.lines[s.next]
	s.next++
	if s.next == len(s.lines) {
		last := len(g.active) - 1
		g.active[i] = g.active[last]
		g.active[last] = nil
		g.active = g.active[:last]
	}
	return e, s.attack
}

// open starts one session. The chance of an attack session is chosen so the
// share of attack lines approaches cfg.AttackRatio whatever the session
// lengths are.
func (g *generator) open() {
	r := g.cfg.AttackRatio
	p := 0.0
	if len(g.attackers) > 0 && r > 0 {
		a, b := r/g.meanAttack, (1-r)/g.meanBenign
		p = a / (a + b)
	}
	var s session
	if g.rng.Float64() < p {
		s = session{lines: g.kind.attack(g, g.attacker()), attack: true}
		g.meanAttack = 0.98*g.meanAttack + 0.02*float64(len(s.lines))
	} else {
		s = session{lines: g.kind.benign(g)}
		g.meanBenign = 0.98*g.meanBenign + 0.02*float64(len(s.lines))
	}
	if len(s.lines) > 0 {
		g.active = append(g.active, &s)
	}
}

// tick advances log time by an exponentially distributed gap.
func (g *generator) tick() {
	gap := g.rng.ExpFloat64() / g.cfg.Rate
	g.now = g.now.Add(time.Duration(gap * float64(time.Second)))
}

// newPID returns a fresh process id, as the kernel hands them out.
func (g *generator) newPID() int {
	g.pid += 1 + g.rng.IntN(40)
	if g.pid > 4194304 {
		g.pid = 300 + g.rng.IntN(1000)
	}
	return g.pid
}

// port returns an ephemeral source port (always five digits, which keeps
// "addr:port" forms unambiguous for IPv6).
func (g *generator) port() int { return 32768 + g.rng.IntN(60999-32768) }

func (g *generator) pick(xs []string) string { return xs[g.rng.IntN(len(xs))] }

func (g *generator) benignIP() netip.Addr { return g.benignIPs[g.rng.IntN(len(g.benignIPs))] }

// randomIP returns an arbitrary public-looking IPv4 address, for noise lines
// that no filter should match.
func (g *generator) randomIP() netip.Addr { return g.publicV4() }

// attacker picks an attacking address; a few addresses do most of the work,
// as in real logs.
func (g *generator) attacker() netip.Addr {
	x := g.rng.Float64() * g.cumWeight[len(g.cumWeight)-1]
	i := sort.SearchFloat64s(g.cumWeight, x)
	if i >= len(g.attackers) {
		i = len(g.attackers) - 1
	}
	return g.attackers[i]
}

// token returns n random characters from alphabet.
func (g *generator) token(n int, alphabet string) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.rng.IntN(len(alphabet))]
	}
	return string(b)
}

const (
	alnum  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b64    = alnum + "+/"
	hexUp  = "0123456789ABCDEF"
	digits = "0123456789"
)

// uptime is the kernel's seconds-since-boot stamp for the current line.
func (g *generator) uptime() string {
	d := g.now.Sub(g.boot)
	return strconv.FormatFloat(d.Seconds(), 'f', 6, 64)
}
