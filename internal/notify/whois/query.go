package whois

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"
)

// query sends q to server and returns its cleaned answer, cut at MaxAnswer
// bytes. The connection lives at most QueryTimeout, and never past ctx.
func (c *Client) query(ctx context.Context, dial func(context.Context, string, string) (net.Conn, error), server, q string) (string, error) {
	qctx, cancel := context.WithTimeout(ctx, c.cfg.QueryTimeout)
	defer cancel()
	conn, err := dial(qctx, "tcp", server)
	if err != nil {
		return "", fmt.Errorf("whois %s: %w", server, err)
	}
	defer conn.Close()
	// Whatever ends qctx (timeout, deadline, cancel) unblocks reads and
	// writes at once.
	stop := context.AfterFunc(qctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if dl, ok := qctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := io.WriteString(conn, q+"\r\n"); err != nil {
		return "", fmt.Errorf("whois %s: send query: %w", server, queryErr(qctx, err))
	}
	data, err := io.ReadAll(io.LimitReader(conn, c.cfg.MaxAnswer+1))
	if err != nil {
		return "", fmt.Errorf("whois %s: read answer: %w", server, queryErr(qctx, err))
	}
	if len(data) == 0 {
		return "", fmt.Errorf("whois %s: %w", server, ErrEmptyAnswer)
	}
	cut := int64(len(data)) > c.cfg.MaxAnswer
	if cut {
		data = data[:c.cfg.MaxAnswer]
	}
	raw := cleanRaw(data)
	if cut {
		if raw != "" && raw[len(raw)-1] != '\n' {
			raw += "\n"
		}
		raw += "% warden: answer cut at " + strconv.FormatInt(c.cfg.MaxAnswer, 10) + " bytes\n"
	}
	return raw, nil
}

// queryErr prefers the context's reason (deadline exceeded, canceled) to the
// network error it caused.
func queryErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return errors.Join(cerr, err)
	}
	// The connection's deadline is the context's; its timer may fire first.
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return errors.Join(context.DeadlineExceeded, err)
	}
	return err
}

// errNotPublic refuses a referred server on a local address.
var errNotPublic = errors.New("referred whois server has no public address")

// publicOnly is a net.Dialer Control that refuses every address that is not
// public unicast: loopback, private, link-local, unspecified, multicast.
func publicOnly(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", errNotPublic, address)
	}
	if !isPublic(ap.Addr()) {
		return fmt.Errorf("%w: %s", errNotPublic, ap.Addr())
	}
	return nil
}

func isPublic(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsGlobalUnicast() && !a.IsPrivate() && !a.IsLoopback() && !a.IsLinkLocalUnicast()
}
