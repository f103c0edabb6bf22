// Command bantime is the measuring half of bench/server-vs-fail2ban: it
// appends sshd failure lines with current timestamps to a log a server
// watches, and times how long the server takes to put the addresses into an
// nftables set inside a network namespace.
//
//	bantime flood   -log F -ns NS -set "inet T S" -k K [-base A] [-fails 6] [-want N]
//	bantime latency -log F -ns NS -set "inet T S" -n 50 [-base A] [-fails 6]
//	bantime wait    -ns NS -set "inet T S" -want N -since UNIXNANO
//
// flood formats K addresses × fails lines, writes them in one call and
// prints the seconds from the write until the set holds want elements
// (default K); latency bans n fresh addresses one after another and
// prints the median, p99 and maximum delay between a write and the
// element's appearance in `nft monitor`; wait polls the set until it holds
// want elements and prints the seconds since the given instant (a server's
// start).
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	nft "github.com/google/nftables"

	"warden/internal/firewall/nftables"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: bantime flood|latency|wait [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "flood":
		err = flood(os.Args[2:])
	case "latency":
		err = latency(os.Args[2:])
	case "wait":
		err = wait(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bantime:", err)
		os.Exit(1)
	}
}

// common holds the flags every subcommand shares.
type common struct {
	log, ns, set, base string
	fails              int
	timeout            time.Duration
}

func (c *common) register(fs *flag.FlagSet, base string) {
	fs.StringVar(&c.log, "log", "", "log file the server watches")
	fs.StringVar(&c.ns, "ns", "", "network namespace of the server")
	fs.StringVar(&c.set, "set", "", `nftables set: "family table set"`)
	fs.StringVar(&c.base, "base", base, "first IPv4 address; the others follow it")
	fs.IntVar(&c.fails, "fails", 6, "failure lines per address")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Minute, "give up after this long")
}

// failures writes fails sshd failure lines for each of k addresses from base.
func failures(w io.Writer, base netip.Addr, k, fails int) (netip.Addr, error) {
	bw := bufio.NewWriterSize(w, min(1<<20, 128*k*fails))
	stamp := time.Now().Format(time.Stamp)
	a := base
	for i := range k {
		for j := range fails {
			fmt.Fprintf(bw, "%s bench sshd[%d]: Failed password for invalid user admin from %s port %d ssh2\n",
				stamp, 1000+i%30000, a, 40000+j)
		}
		a = a.Next()
	}
	return a, bw.Flush()
}

func appendLines(path string, base netip.Addr, k, fails int) (netip.Addr, error) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return base, err
	}
	next, err := failures(f, base, k, fails)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return next, err
}

// appendText appends b to the file at path in one write.
func appendText(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// readKeys reads the set's distinct elements; n is their number (0 if
// the set does not exist yet or cannot be read; -1 when a commit landed
// during the read, which can then miss elements, and keys is then nil).
// It streams the set over netlink inside the namespace, as warden's heal
// rounds do: `nft list set` spends about 1.2 CPU-s formatting 100,000
// elements (and google/nftables' GetSetElements about as much building
// them), which the server under test had to compete for at every poll.
// Interval ends are not counted, so a range or prefix counts once.
func readKeys(ns, set string) (keys map[netip.Addr]struct{}, n int) {
	h, fam, table, name, err := openSet(ns, set)
	if err != nil {
		return nil, 0
	}
	defer h.Close()
	keys, settled, err := nftables.SetKeys(int(h.Fd()), fam, table, name)
	switch {
	case err != nil:
		return nil, 0
	case !settled:
		return nil, -1
	}
	return keys, len(keys)
}

// openSet parses set ("FAMILY TABLE SET", as nft names it) and opens the
// named network namespace ns, which the caller closes.
func openSet(ns, set string) (h *os.File, fam nft.TableFamily, table, name string, err error) {
	f := strings.Fields(set)
	if len(f) != 3 {
		return nil, 0, "", "", fmt.Errorf("set %q: want FAMILY TABLE SET", set)
	}
	fam, ok := families[f[0]]
	if !ok {
		return nil, 0, "", "", fmt.Errorf("set %q: unknown family", set)
	}
	h, err = os.Open("/run/netns/" + ns)
	if err != nil {
		return nil, 0, "", "", err
	}
	return h, fam, f[1], f[2], nil
}

// families are nft's family words.
var families = map[string]nft.TableFamily{
	"inet": nft.TableFamilyINet, "ip": nft.TableFamilyIPv4, "ip6": nft.TableFamilyIPv6,
}

// ipv4 finds the addresses in `nft monitor`'s lines.
var ipv4 = regexp.MustCompile(`\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b`)

// has reports whether the set holds every one of addrs. An error (no
// namespace, a set the kernel cannot look hosts up in) is returned; a set
// that does not exist yet holds nothing.
func has(ns, set string, addrs []netip.Addr) (bool, error) {
	h, fam, table, name, err := openSet(ns, set)
	if err != nil {
		return false, err
	}
	defer h.Close()
	in, err := nftables.HasElements(int(h.Fd()), fam, table, name, addrs)
	if err != nil {
		return false, err
	}
	return !slices.Contains(in, false), nil
}

// probeEvery is how often poll looks up its probe addresses.
const probeEvery = 5 * time.Millisecond

// poll waits until the set holds want elements and returns the time since start.
// Counting a large set walks all of it in the kernel, CPU that the server
// under test competes for: a count every 20 ms over a flood of 100,000
// took 3.2-3.5 CPU-s of the two cores' 4.8 in its 2.4 s (mostly kernel
// time), so the server had one core, not two. With probe addresses
// (those the server should ban last), poll first looks them up every
// probeEvery, a hash probe each, and counts only once all are in (or a
// lookup fails), and then again every probeEvery for a second; without,
// or after that second, it counts at an interval that grows with the
// wait: 20 ms for the first second, 100 ms up to ten seconds, 500 ms after
// that. Only a count ends the wait (or, in pollSeen, the lookups of what
// a count skipped), and the time returned is the start of that count
// (see below).
func poll(ctx context.Context, ns, set string, want int, start time.Time, probe []netip.Addr) (time.Duration, error) {
	d, _, _, _, _, err := pollSeen(ctx, ns, set, want, start, probe, nil)
	return d, err
}

// pollSeen is poll, also returning when the probe addresses were first
// all seen in the set (zero without probes), how many counts it took and
// what the first count found (-1: a commit landed during it).
//
// With expect (the addresses being banned; the set's other elements are
// known to be in already), a settled count that falls short is checked:
// the expected addresses it did not read are looked up one by one, and if
// all are there, the wait ends when the lookups did (elements are not
// removed while it waits, so the set then held want). A dump during the
// kernel's background rehash skips elements that are there, so a count
// alone would wait for the next one, 0.13-0.2 s later. looked is how many
// lookups that took (0: a count ended it).
func pollSeen(ctx context.Context, ns, set string, want int, start time.Time, probe, expect []netip.Addr) (d, seen time.Duration, counts, first, looked int, err error) {
	last := 0
	for len(probe) > 0 {
		in, err := has(ns, set, probe)
		if in {
			seen = time.Since(start)
		}
		if in || err != nil {
			break // an error: the counts alone decide
		}
		select {
		case <-ctx.Done():
			return 0, 0, 0, 0, 0, fmt.Errorf("%v not all in the set after %v: %w", probe, time.Since(start).Round(time.Millisecond), ctx.Err())
		case <-time.After(probeEvery):
		}
	}
	for {
		at := time.Since(start)
		keys, n := readKeys(ns, set)
		counts++
		if counts == 1 {
			first = n
		}
		if ctx.Err() == nil {
			last = n
		}
		if n >= want {
			// A count is only taken from a settled dump: no commit
			// landed while it ran, so the set already held those
			// elements when it began. Walking 100,000 takes the
			// kernel 0.13-0.2 s, which is the tool's, not the server's.
			return at, seen, counts, first, 0, nil
		}
		if n > 0 && len(expect) > 0 {
			var missing []netip.Addr
			for _, a := range expect {
				if _, ok := keys[a]; !ok {
					missing = append(missing, a)
				}
			}
			if len(missing) <= len(expect)/4 {
				if in, err := has(ns, set, missing); err == nil && in {
					return time.Since(start), seen, counts, first, len(missing), nil
				}
			}
		}
		every := 20 * time.Millisecond
		switch el := time.Since(start); {
		case seen > 0 && el < seen+time.Second:
			// The probes are in: the set is full or nearly so, and a
			// count can fall short of elements that are there (a
			// dump during the kernel's background rehash skips some;
			// only distinct ones are counted). Count again at once.
			every = probeEvery
		case el > 10*time.Second:
			every = 500 * time.Millisecond
		case el > time.Second:
			every = 100 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return 0, 0, 0, 0, 0, fmt.Errorf("%d of %d elements after %v: %w", last, want, time.Since(start).Round(time.Millisecond), ctx.Err())
		case <-time.After(every):
		}
	}
}

func flood(args []string) error {
	var c common
	fs := flag.NewFlagSet("flood", flag.ExitOnError)
	c.register(fs, "100.64.0.1")
	k := fs.Int("k", 1000, "addresses")
	want := fs.Int("want", 0, "elements the set must reach (default: k)")
	_ = fs.Parse(args)
	if *want == 0 {
		*want = *k
	}
	base, err := netip.ParseAddr(c.base)
	if err != nil {
		return err
	}
	// The lines are formatted before the clock starts and written in one
	// call: formatting 600,000 lines takes 0.3-0.5 CPU-s, which the server
	// under test would share the two cores with while it is timed.
	var text bytes.Buffer
	text.Grow(*k * c.fails * 100)
	next, err := failures(&text, base, *k, c.fails)
	if err != nil {
		return err
	}
	// The flood's addresses, to look up those a count may have skipped
	// (pollSeen); the set's other elements (want - k) are in already.
	var expect []netip.Addr
	if *want >= *k {
		expect = make([]netip.Addr, 0, *k)
		for a := base; len(expect) < *k; a = a.Next() {
			expect = append(expect, a)
		}
	}
	// Nor is a collection of those 60 MB left running into the timed
	// part: one is finished here, and none starts after it until the
	// heap reaches 1 GiB (each count of the set makes a map of its
	// elements; a server that never fills the set must not make the
	// tool grow without bound until the timeout).
	runtime.GC()
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(1 << 30)
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	start := time.Now()
	if err := appendText(c.log, text.Bytes()); err != nil {
		return err
	}
	written := time.Since(start)
	// The lines come address by address, so the last address is the
	// last the server decides to ban; want may count bans made before
	// the flood (server-vs-fail2ban's latency addresses), already in.
	var probe []netip.Addr
	if *k > 0 && *want >= *k && base.Is4() {
		probe = []netip.Addr{next.Prev()}
	}
	d, seen, counts, first, looked, err := pollSeen(ctx, c.ns, c.set, *want, start, probe, expect)
	if err != nil {
		return err
	}
	fmt.Printf("all_banned_s=%.3f bans_per_s=%.0f write_s=%.3f last_seen_s=%.3f counts=%d first_count=%d looked_up=%d\n",
		d.Seconds(), float64(*k)/d.Seconds(), written.Seconds(), seen.Seconds(), counts, first, looked)
	return nil
}

func wait(args []string) error {
	var c common
	fs := flag.NewFlagSet("wait", flag.ExitOnError)
	c.register(fs, "100.64.0.1")
	want := fs.Int("want", 1, "elements the set must reach")
	since := fs.Int64("since", 0, "start instant, Unix nanoseconds")
	_ = fs.Parse(args)
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	d, err := poll(ctx, c.ns, c.set, *want, time.Unix(0, *since), nil)
	if err != nil {
		return err
	}
	fmt.Printf("restored_s=%.3f\n", d.Seconds())
	return nil
}

func latency(args []string) error {
	var c common
	fs := flag.NewFlagSet("latency", flag.ExitOnError)
	c.register(fs, "198.18.0.1")
	n := fs.Int("n", 50, "bans to time")
	gap := fs.Duration("gap", 100*time.Millisecond, "pause between bans")
	samples := fs.String("samples", "", "also write a line a ban to this file: start (Unix ns), delay (µs), address, write (µs), netlink event (µs, - if unseen)")
	_ = fs.Parse(args)
	base, err := netip.ParseAddr(c.base)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	mon := exec.CommandContext(ctx, "ip", "netns", "exec", c.ns, "nft", "monitor", "new", "elements")
	out, err := mon.StdoutPipe()
	if err != nil {
		return err
	}
	if err := mon.Start(); err != nil {
		return err
	}
	defer func() { _ = mon.Process.Kill(); _ = mon.Wait() }()
	// seen receives every address named in an element the monitor reports;
	// the reader goroutine owns and closes it.
	seen := make(chan string, 1024)
	go func() {
		defer close(seen)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<26)
		for sc.Scan() {
			for _, m := range ipv4.FindAll(sc.Bytes(), -1) {
				seen <- string(m)
			}
		}
	}()
	warm, err := subscribed(ctx, c, base, seen)
	if err != nil {
		return err
	}
	var nl *nlSeen
	if *samples != "" {
		if nl, err = watchElements(c.ns); err != nil {
			return err
		}
		defer nl.close()
	}
	// The log stays open, as a syslog daemon keeps it, and each ban's
	// lines are formatted before its clock starts: the time measured is
	// from the write that appends them, not the tool's own formatting
	// (which, with a 1 MB buffer a ban, cost page faults and collections
	// of its own that showed up as 2-10 ms delays of the write).
	lf, err := os.OpenFile(c.log, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer lf.Close()
	var lat []time.Duration
	var each, text bytes.Buffer
	a := base
	for range *n {
		text.Reset()
		if _, err := failures(&text, a, 1, c.fails); err != nil {
			return err
		}
		start := time.Now()
		if _, err := lf.Write(text.Bytes()); err != nil {
			return err
		}
		wrote := time.Since(start)
		want := a.String()
	recv:
		for {
			select {
			case s, ok := <-seen:
				if !ok {
					return errors.New("nft monitor ended")
				}
				if s == want {
					break recv
				}
			case <-ctx.Done():
				return fmt.Errorf("%s never reached the set: %w", want, ctx.Err())
			}
		}
		lat = append(lat, time.Since(start))
		if nl != nil {
			// "-" when the netlink event has not been read (yet).
			seenNL := "-"
			if at := nl.at(a); !at.IsZero() {
				seenNL = fmt.Sprint(at.Sub(start).Microseconds())
			}
			fmt.Fprintf(&each, "%d %d %s %d %s\n", start.UnixNano(), lat[len(lat)-1].Microseconds(), want,
				wrote.Microseconds(), seenNL)
		}
		a = a.Next()
		time.Sleep(*gap)
	}
	if *samples != "" {
		if err := os.WriteFile(*samples, each.Bytes(), 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("%s warmup=%d\n", summary(lat), warm)
	return nil
}

// nlSeen records when the kernel announced each new IPv4 element over
// netlink (the events nft monitor prints, taken without its process), so
// that -samples can tell the server's delay from the monitor's.
type nlSeen struct {
	mu   sync.Mutex
	when map[netip.Addr]time.Time
	mon  *nft.Monitor
	done chan struct{} // closed when the reader goroutine has ended
}

func watchElements(ns string) (*nlSeen, error) {
	h, err := os.Open("/run/netns/" + ns)
	if err != nil {
		return nil, err
	}
	// The monitor's socket is made in the namespace by AddMonitor; the
	// handle is not needed after it.
	defer h.Close()
	conn, err := nft.New(nft.WithNetNSFd(int(h.Fd())))
	if err != nil {
		return nil, err
	}
	mon := nft.NewMonitor(nft.WithMonitorAction(nft.MonitorActionNew), nft.WithMonitorObject(nft.MonitorObjectElements))
	ch, err := conn.AddMonitor(mon)
	if err != nil {
		return nil, err
	}
	n := &nlSeen{when: map[netip.Addr]time.Time{}, mon: mon, done: make(chan struct{})}
	// The library owns ch and closes it once mon is closed.
	go func() {
		defer close(n.done)
		for ev := range ch {
			now := time.Now()
			elems, ok := ev.Data.([]nft.SetElement)
			if !ok {
				continue
			}
			n.mu.Lock()
			for _, e := range elems {
				if a, ok := netip.AddrFromSlice(e.Key); ok {
					if _, dup := n.when[a]; !dup {
						n.when[a] = now
					}
				}
			}
			n.mu.Unlock()
		}
	}()
	return n, nil
}

// at returns when a was announced, or the zero time.
func (n *nlSeen) at(a netip.Addr) time.Time {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.when[a]
}

// close closes the monitor's socket (the Conn is not a lasting one, so
// CloseLasting would leave it open) and waits for the reader to end.
func (n *nlSeen) close() {
	_ = n.mon.Close()
	<-n.done
}

// summary sorts lat and gives its count, median, 99th percentile (nearest
// rank: the smallest value at or above 99% of the samples) and maximum.
func summary(lat []time.Duration) string {
	if len(lat) == 0 {
		return "n=0"
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	p99 := lat[(len(lat)*99+99)/100-1]
	return fmt.Sprintf("n=%d median_ms=%.1f p99_ms=%.1f max_ms=%.1f", len(lat), ms(lat[len(lat)/2]), ms(p99), ms(lat[len(lat)-1]))
}

// subscribed returns once the monitor reports elements: nft first reads the
// whole ruleset (seconds with 100,000 elements in place), so the server is
// made to ban a warm-up address (base's /16, from .255.1 on; the next one
// every second) until the monitor names it. The warm-up is the server's own
// commit: a probe element in a table of the tool's own, as before, was two
// or more commits by another process, which made warden's next heal round
// (healinterval 5 s) a full one in the middle of the samples, and that, not
// the single-ban path, was the 11-24 ms outlier of about every other run
// (bench/README.md, end of session 6).
// It returns how many warm-up addresses it wrote (the set holds them
// too).
func subscribed(ctx context.Context, c common, base netip.Addr, seen <-chan string) (int, error) {
	if !base.Is4() {
		return 0, fmt.Errorf("base %v: want an IPv4 address", base)
	}
	b := base.As4()
	for i := 1; i < 255; i++ {
		addr := netip.AddrFrom4([4]byte{b[0], b[1], 255, byte(i)})
		if _, err := appendLines(c.log, addr, 1, c.fails); err != nil {
			return i - 1, err
		}
		tick := time.After(time.Second)
		for {
			select {
			case s, ok := <-seen:
				if !ok {
					return i, errors.New("nft monitor ended")
				}
				if s == addr.String() {
					return i, nil
				}
				continue
			case <-tick:
			case <-ctx.Done():
				return i, fmt.Errorf("nft monitor never subscribed: %w", ctx.Err())
			}
			break
		}
	}
	return 254, errors.New("nft monitor never named a warm-up ban")
}
