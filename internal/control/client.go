package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Client is a connection to the daemon's control socket. Its methods may
// be called from several goroutines; requests are sent one at a time.
type Client struct {
	mu     sync.Mutex
	conn   net.Conn
	br     *bufio.Reader
	nextID uint64
	max    int
	// broken is set once a request failed mid-way: the stream may hold a
	// late answer, so the connection is closed and not reused.
	broken error
}

// Dial connects to the control socket at path. ctx bounds the dial only;
// each call takes its own context.
func Dial(ctx context.Context, path string) (*Client, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("control: connect to %s: %w", path, err)
	}
	return NewClient(c), nil
}

// NewClient wraps an established connection.
func NewClient(c net.Conn) *Client {
	return &Client{conn: c, br: bufio.NewReaderSize(c, 4096), max: 64 << 20}
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Call sends one command's words and returns the raw JSON result. A
// server-side failure is returned as *Error (test it with errors.Is
// against ErrUnknownJail and the other sentinels). The words are not
// checked here; use ParseCommand first for a clear local error.
func (c *Client) Call(ctx context.Context, words []string) (json.RawMessage, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken != nil {
		return nil, fmt.Errorf("control: connection unusable after an earlier failure: %w", c.broken)
	}
	c.nextID++
	id := c.nextID
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Time{}
	}
	_ = c.conn.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { _ = c.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	werr := writeMessage(c.conn, Request{Version: ProtocolVersion, ID: id, Command: words})
	// Even when the write failed, the server may have said why it hung
	// up (busy, denied) before closing; that answer is the better error.
	line, err := ReadFrame(c.br, c.max)
	if err != nil {
		if werr != nil {
			err = fmt.Errorf("control: send %s: %w", words[0], werr)
		} else {
			err = fmt.Errorf("control: read answer to %s: %w", words[0], err)
		}
		err = c.ctxErr(ctx, err)
		c.broken = err
		c.conn.Close()
		return nil, err
	}
	var resp Response
	if err := json.Unmarshal(line, &resp); err != nil {
		return nil, fmt.Errorf("control: malformed answer to %s: %w", words[0], err)
	}
	if resp.Error != nil {
		return nil, resp.Error
	}
	if werr != nil {
		return nil, fmt.Errorf("control: send %s: %w", words[0], werr)
	}
	if resp.ID != id {
		return nil, fmt.Errorf("control: answer id %d does not match request id %d", resp.ID, id)
	}
	if !resp.OK {
		return nil, fmt.Errorf("control: answer to %s is neither ok nor an error", words[0])
	}
	return resp.Result, nil
}

// ctxErr names the context's error when it caused err: the connection
// deadline is the context's, so a timeout can beat ctx.Err by a moment.
func (c *Client) ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return errors.Join(ctx.Err(), err)
	}
	var ne net.Error
	if dl, ok := ctx.Deadline(); ok && errors.As(err, &ne) && ne.Timeout() && !time.Now().Before(dl) {
		return errors.Join(context.DeadlineExceeded, err)
	}
	return err
}

// Do sends a parsed command and decodes its result into out (which may be
// nil to discard it).
func (c *Client) Do(ctx context.Context, cmd Command, out any) error {
	raw, err := c.Call(ctx, cmd.Words())
	if err != nil {
		return err
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("control: decode result of %s: %w", cmd.Name, err)
	}
	return nil
}

// Ping checks that the daemon answers.
func (c *Client) Ping(ctx context.Context) error {
	var s string
	if err := c.Do(ctx, Command{Name: "ping"}, &s); err != nil {
		return err
	}
	if s != "pong" {
		return fmt.Errorf("control: ping answered %q", s)
	}
	return nil
}

// Version returns the daemon's version.
func (c *Client) Version(ctx context.Context) (string, error) {
	var s string
	err := c.Do(ctx, Command{Name: "version"}, &s)
	return s, err
}

// Status lists the running jails.
func (c *Client) Status(ctx context.Context) (ServerStatus, error) {
	var s ServerStatus
	err := c.Do(ctx, Command{Name: "status"}, &s)
	return s, err
}

// JailStatus reports one jail; flavor may be "".
func (c *Client) JailStatus(ctx context.Context, jail string, flavor Flavor) (JailStatus, error) {
	var s JailStatus
	err := c.Do(ctx, Command{Name: "status", Jail: jail, Flavor: flavor}, &s)
	return s, err
}

// StatusAll reports the daemon and every jail.
func (c *Client) StatusAll(ctx context.Context, flavor Flavor) (AllStatus, error) {
	var s AllStatus
	err := c.Do(ctx, Command{Name: "status", All: true, Flavor: flavor}, &s)
	return s, err
}

// Stats returns every jail's counters.
func (c *Client) Stats(ctx context.Context) ([]JailStats, error) {
	var s []JailStats
	err := c.Do(ctx, Command{Name: "stats"}, &s)
	return s, err
}

// Banned lists banned addresses and networks per jail, limited to the
// bans overlapping ips when given. For a network, use Do with a Command.
func (c *Client) Banned(ctx context.Context, ips ...netip.Addr) ([]JailBans, error) {
	var s []JailBans
	err := c.Do(ctx, Command{Name: "banned", IPs: hostPrefixes(ips)}, &s)
	return s, err
}

// BanIP bans ips in jail and returns how many were newly banned.
func (c *Client) BanIP(ctx context.Context, jail string, ips ...netip.Addr) (int, error) {
	var n int
	err := c.Do(ctx, Command{Name: "banip", Jail: jail, IPs: hostPrefixes(ips)}, &n)
	return n, err
}

// UnbanIP lifts the bans in jail overlapping ips (an address inside a
// banned network lifts that network's ban) and returns how many were
// lifted. For a network, use Do with a Command.
func (c *Client) UnbanIP(ctx context.Context, jail string, reportAbsent bool, ips ...netip.Addr) (int, error) {
	var n int
	err := c.Do(ctx, Command{Name: "unbanip", Jail: jail, IPs: hostPrefixes(ips), ReportAbsent: reportAbsent}, &n)
	return n, err
}

// Unban lifts the bans overlapping ips in every jail.
func (c *Client) Unban(ctx context.Context, ips ...netip.Addr) (int, error) {
	var n int
	err := c.Do(ctx, Command{Name: "unban", IPs: hostPrefixes(ips)}, &n)
	return n, err
}

// hostPrefixes turns addresses into /32 and /128 prefixes; an invalid
// address stays invalid, and the server refuses it.
func hostPrefixes(ips []netip.Addr) []netip.Prefix {
	if ips == nil {
		return nil
	}
	out := make([]netip.Prefix, len(ips))
	for i, a := range ips {
		out[i] = netip.PrefixFrom(a, a.BitLen())
	}
	return out
}

// UnbanAll lifts every ban.
func (c *Client) UnbanAll(ctx context.Context) (int, error) {
	var n int
	err := c.Do(ctx, Command{Name: "unban", All: true}, &n)
	return n, err
}

// Get reads an option; jail "" addresses the daemon. The value is decoded
// from JSON (numbers as json.Number, lists as []any).
func (c *Client) Get(ctx context.Context, jail, option string, args ...string) (any, error) {
	return c.value(ctx, Command{Name: "get", Jail: jail, Option: option, Args: args})
}

// Set changes an option and returns its new value, as Get.
func (c *Client) Set(ctx context.Context, jail, option string, values ...string) (any, error) {
	return c.value(ctx, Command{Name: "set", Jail: jail, Option: option, Args: values})
}

func (c *Client) value(ctx context.Context, cmd Command) (any, error) {
	raw, err := c.Call(ctx, cmd.Words())
	if err != nil {
		return nil, err
	}
	return decodeValue(raw)
}

func decodeValue(raw json.RawMessage) (any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("control: decode value: %w", err)
	}
	return v, nil
}

// Reload rereads the configuration.
func (c *Client) Reload(ctx context.Context, opts ReloadOptions) error {
	cmd := Command{Name: "reload", Reload: opts}
	return c.Do(ctx, cmd, nil)
}

// Start starts a jail.
func (c *Client) Start(ctx context.Context, jail string) error {
	return c.Do(ctx, Command{Name: "start", Jail: jail}, nil)
}

// Stop stops a jail, or the daemon when jail is "".
func (c *Client) Stop(ctx context.Context, jail string) error {
	return c.Do(ctx, Command{Name: "stop", Jail: jail}, nil)
}

// FlushLogs makes the daemon reopen its log file.
func (c *Client) FlushLogs(ctx context.Context) (string, error) {
	var s string
	err := c.Do(ctx, Command{Name: "flushlogs"}, &s)
	return s, err
}
