package nftables

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"time"

	nft "github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Reading a set back goes around google/nftables' GetSetElements, which
// buffers the whole dump and then builds a SetElement (with slices of its
// own) per element: at 100,000 elements that was most of a heal round's
// CPU and memory. Here each message of the dump is decoded as it arrives,
// into setElem values handed to a callback, and nothing is kept.

// setElem is what warden needs of one element of a set dump.
type setElem struct {
	key netip.Addr
	end bool // an interval set's end element (one past the last address)
	// left is the time until the kernel drops the element; zero for an
	// element without a timeout.
	left time.Duration
}

// nlaTypeMask strips the nested and byte-order flags off an attribute type.
const nlaTypeMask = 0x3fff

var (
	errBadAttr    = errors.New("malformed netlink attribute")
	errBadMessage = errors.New("malformed netlink message")
)

// attrs walks the netlink attributes packed in b without allocating.
type attrs struct {
	b   []byte
	typ uint16
	val []byte
	err error
}

// next moves to the next attribute; false at the end or on an error.
func (a *attrs) next() bool {
	if len(a.b) == 0 || a.err != nil {
		return false
	}
	if len(a.b) < 4 {
		a.err = errBadAttr
		return false
	}
	l := int(binary.NativeEndian.Uint16(a.b))
	if l < 4 || l > len(a.b) {
		a.err = errBadAttr
		return false
	}
	a.typ = binary.NativeEndian.Uint16(a.b[2:]) & nlaTypeMask
	a.val = a.b[4:l]
	a.b = a.b[min((l+3)&^3, len(a.b)):]
	return true
}

// msgs walks the netlink messages packed in one datagram without
// allocating, as attrs walks attributes; bytes too few for a header at the
// end are ignored.
type msgs struct {
	b    []byte
	typ  uint16
	seq  uint32
	data []byte // the payload after the netlink header
	err  error
}

// next moves to the next message; false at the end or on an error.
func (m *msgs) next() bool {
	if len(m.b) < unix.SizeofNlMsghdr || m.err != nil {
		return false
	}
	l := int(binary.NativeEndian.Uint32(m.b))
	if l < unix.SizeofNlMsghdr || l > len(m.b) {
		m.err = errBadMessage
		return false
	}
	m.typ = binary.NativeEndian.Uint16(m.b[4:])
	m.seq = binary.NativeEndian.Uint32(m.b[8:])
	m.data = m.b[unix.SizeofNlMsghdr:l]
	m.b = m.b[min((l+unix.NLMSG_ALIGNTO-1)&^(unix.NLMSG_ALIGNTO-1), len(m.b)):]
	return true
}

// decodeElemMsg decodes the payload of one NFT_MSG_NEWSETELEM message (the
// nfgenmsg header, then attributes) and calls fn for each element with a
// key that is an IPv4 or IPv6 address. gen is the message's res_id: the
// low 16 bits of the ruleset generation the kernel walked the set at.
func decodeElemMsg(data []byte, fn func(setElem)) (gen uint16, err error) {
	if len(data) < 4 {
		return 0, errors.New("set element message too short")
	}
	gen = binary.BigEndian.Uint16(data[2:4])
	top := attrs{b: data[4:]}
	for top.next() {
		if top.typ != unix.NFTA_SET_ELEM_LIST_ELEMENTS {
			continue
		}
		list := attrs{b: top.val}
		for list.next() {
			if list.typ != unix.NFTA_LIST_ELEM {
				continue
			}
			e, ok, err := decodeElem(list.val)
			if err != nil {
				return gen, err
			}
			if ok {
				fn(e)
			}
		}
		if list.err != nil {
			return gen, list.err
		}
	}
	return gen, top.err
}

// decodeElem decodes one NFTA_LIST_ELEM; ok is false when its key is not
// an address.
func decodeElem(b []byte) (e setElem, ok bool, err error) {
	a := attrs{b: b}
	timeout := false
	for a.next() {
		switch a.typ {
		case unix.NFTA_SET_ELEM_KEY:
			k := attrs{b: a.val}
			for k.next() {
				if k.typ == unix.NFTA_DATA_VALUE {
					e.key, ok = netip.AddrFromSlice(k.val)
				}
			}
			if k.err != nil {
				return setElem{}, false, k.err
			}
		case unix.NFTA_SET_ELEM_FLAGS:
			if len(a.val) == 4 {
				e.end = binary.BigEndian.Uint32(a.val)&unix.NFT_SET_ELEM_INTERVAL_END != 0
			}
		case unix.NFTA_SET_ELEM_TIMEOUT:
			timeout = len(a.val) == 8
		case unix.NFTA_SET_ELEM_EXPIRATION:
			if len(a.val) == 8 {
				e.left = msDuration(binary.BigEndian.Uint64(a.val))
			}
		}
	}
	if a.err != nil {
		return setElem{}, false, a.err
	}
	if !timeout {
		e.left = 0
	} else if e.left == 0 {
		e.left = time.Millisecond // due now; keep it distinct from "no timeout"
	}
	return e, ok, nil
}

// msDuration converts the kernel's milliseconds, saturating.
func msDuration(ms uint64) time.Duration {
	const most = uint64(1<<63-1) / uint64(time.Millisecond)
	return time.Duration(min(ms, most)) * time.Millisecond
}

// dumpBufBytes holds one message of a dump: the kernel fills at most about
// 32 KiB per message.
const dumpBufBytes = 64 << 10

// dialRaw opens a plain netlink socket to nf_tables in the backend's
// namespace, tuned like the library's.
func (b *Backend) dialRaw() (*netlink.Conn, error) {
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: b.netns})
	if err != nil {
		return nil, fmt.Errorf("nftables: open netlink: %w", err)
	}
	if err := tuneSocket(c); err != nil {
		c.Close()
		return nil, fmt.Errorf("nftables: open netlink: %w", err)
	}
	return c, nil
}

// dumpSet streams the elements of our set named set over c, calling fn for
// each. settled reports that every message of the dump was walked at the
// same ruleset generation: when a commit lands between two messages the
// kernel resumes its walk by counting elements, and may skip some (or
// repeat them), so an unsettled dump can lack elements that were there
// all along. A set that does not exist yields unix.ENOENT.
func (b *Backend) dumpSet(c *netlink.Conn, set string, fn func(setElem)) (settled bool, err error) {
	attr, err := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_SET_ELEM_LIST_TABLE, Data: []byte(b.table.Name + "\x00")},
		{Type: unix.NFTA_SET_ELEM_LIST_SET, Data: []byte(set + "\x00")},
	})
	if err != nil {
		return false, err
	}
	req, err := c.Send(netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETSETELEM),
			Flags: netlink.Request | netlink.Dump,
		},
		Data: append([]byte{byte(b.table.Family), unix.NFNETLINK_V0, 0, 0}, attr...),
	})
	if err != nil {
		return false, fmt.Errorf("send: %w", err)
	}
	raw, err := c.SyscallConn()
	if err != nil {
		return false, err
	}
	buf := make([]byte, dumpBufBytes)
	settled, first := true, true
	var gen uint16
	for {
		n, err := recvInto(raw, buf)
		if err != nil {
			return false, err
		}
		done, err := walkMessages(buf[:n], req.Header.Sequence, func(data []byte) error {
			g, err := decodeElemMsg(data, fn)
			if first {
				gen, first = g, false
			} else if g != gen {
				settled = false
			}
			return err
		})
		if err != nil || done {
			return settled, err
		}
	}
}

// walkMessages calls fn with the payload of each set element message in b
// that answers request seq; done is true once the dump's end was read. An
// error message from the kernel is returned as its errno.
func walkMessages(b []byte, seq uint32, fn func([]byte) error) (done bool, err error) {
	newElem := uint16(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_NEWSETELEM)
	m := msgs{b: b}
	for m.next() {
		if m.seq != seq {
			continue // a late answer to something else
		}
		switch m.typ {
		case unix.NLMSG_DONE, unix.NLMSG_ERROR:
			if len(m.data) >= 4 {
				if code := int32(binary.NativeEndian.Uint32(m.data)); code < 0 {
					return true, unix.Errno(-code)
				}
			}
			if m.typ == unix.NLMSG_DONE {
				return true, nil
			}
		case newElem:
			if err := fn(m.data); err != nil {
				return false, err
			}
		}
	}
	return false, m.err
}

// probeChunk bounds the lookups sent in one go, so that their answers fit
// the receive buffer.
const probeChunk = 2048

// probeHosts asks the kernel, one lookup per address, which of addrs our
// set named set (a set of hosts) holds. Unlike a dump, a lookup cannot
// miss an element because of commits landing around it.
func (b *Backend) probeHosts(c *netlink.Conn, set string, addrs []netip.Addr) ([]bool, error) {
	present := make([]bool, len(addrs))
	head := []byte{byte(b.table.Family), unix.NFNETLINK_V0, 0, 0}
	for start := 0; start < len(addrs); start += probeChunk {
		chunk := addrs[start:min(start+probeChunk, len(addrs))]
		msgs := make([]netlink.Message, len(chunk))
		for i, a := range chunk {
			elem := attr(unix.NLA_F_NESTED|unix.NFTA_LIST_ELEM,
				attr(unix.NLA_F_NESTED|unix.NFTA_SET_ELEM_KEY, attr(unix.NFTA_DATA_VALUE, a.AsSlice())))
			data, err := netlink.MarshalAttributes([]netlink.Attribute{
				{Type: unix.NFTA_SET_ELEM_LIST_TABLE, Data: []byte(b.table.Name + "\x00")},
				{Type: unix.NFTA_SET_ELEM_LIST_SET, Data: []byte(set + "\x00")},
				{Type: unix.NLA_F_NESTED | unix.NFTA_SET_ELEM_LIST_ELEMENTS, Data: elem},
			})
			if err != nil {
				return nil, err
			}
			msgs[i] = netlink.Message{
				Header: netlink.Header{
					Type:  netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETSETELEM),
					Flags: netlink.Request,
				},
				Data: append(head[:len(head):len(head)], data...),
			}
		}
		sent, err := c.SendMessages(msgs)
		if err != nil {
			return nil, fmt.Errorf("send: %w", err)
		}
		index := make(map[uint32]int, len(sent))
		for i, m := range sent {
			index[m.Header.Sequence] = start + i
		}
		if err := b.probeAnswers(c, index, present); err != nil {
			return nil, err
		}
	}
	return present, nil
}

// probeAnswers reads one answer per lookup in index (sequence number to
// position in present): an element found, or ENOENT.
func (b *Backend) probeAnswers(c *netlink.Conn, index map[uint32]int, present []bool) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	buf := make([]byte, dumpBufBytes)
	newElem := uint16(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_NEWSETELEM)
	for left := len(index); left > 0; {
		n, err := recvInto(raw, buf)
		if err != nil {
			return err
		}
		m := msgs{b: buf[:n]}
		for m.next() {
			i, ok := index[m.seq]
			if !ok {
				continue
			}
			switch {
			case m.typ == newElem:
				present[i] = true
			case m.typ == unix.NLMSG_ERROR && len(m.data) >= 4:
				code := int32(binary.NativeEndian.Uint32(m.data))
				if code < 0 && unix.Errno(-code) != unix.ENOENT {
					return unix.Errno(-code)
				}
			default:
				continue
			}
			left--
		}
		if m.err != nil {
			return m.err
		}
	}
	return nil
}

// attr encodes one netlink attribute, padded to 4 bytes.
func attr(typ uint16, data []byte) []byte {
	b := make([]byte, 4+len(data), (4+len(data)+3)&^3)
	binary.NativeEndian.PutUint16(b, uint16(4+len(data)))
	binary.NativeEndian.PutUint16(b[2:], typ)
	copy(b[4:], data)
	return b[:cap(b)]
}

// recvInto reads one datagram of netlink messages into buf, waiting for it
// on the socket's poller; a datagram larger than buf is an error.
func recvInto(raw syscall.RawConn, buf []byte) (int, error) {
	var n, flags int
	var rerr error
	if err := raw.Read(func(fd uintptr) bool {
		n, _, flags, _, rerr = unix.Recvmsg(int(fd), buf, nil, 0)
		return rerr != unix.EAGAIN && rerr != unix.EINTR
	}); err != nil {
		return 0, err
	}
	if rerr != nil {
		return 0, fmt.Errorf("recvmsg: %w", rerr)
	}
	if flags&unix.MSG_TRUNC != 0 {
		return 0, errors.New("recvmsg: message truncated")
	}
	return n, nil
}

// SetKeys reads the distinct elements of a set (interval end elements
// left out, so a range gives its start once) in the network namespace
// netns (a file descriptor; 0 is this process's), with the same streaming
// dump a heal round uses. settled is false when a commit landed during the
// dump, which may then have missed elements. Even a settled dump can
// repeat elements (and skip as many) while the kernel grows the set's hash
// table in the background (see heal.go); as a map, keys holds each once,
// so len(keys) never exceeds what the set held. It is for tools that watch
// a set fill (bench/bantime); a set that does not exist yields unix.ENOENT.
func SetKeys(netns int, family nft.TableFamily, table, set string) (keys map[netip.Addr]struct{}, settled bool, err error) {
	b := &Backend{table: &nft.Table{Name: table, Family: family}, netns: netns}
	c, err := b.dialRaw()
	if err != nil {
		return nil, false, err
	}
	defer c.Close()
	keys = make(map[netip.Addr]struct{})
	settled, err = b.dumpSet(c, set, func(e setElem) {
		if !e.end {
			keys[e.key] = struct{}{}
		}
	})
	return keys, settled, err
}

// HasElements reports, one lookup per address, which of addrs the set of
// hosts named set holds, in the network namespace netns (as SetKeys).
// A lookup costs the kernel a hash probe where a dump walks the whole set,
// so a tool that waits for a set to fill can ask it often without taking
// CPU from the server under test (bench/bantime).
func HasElements(netns int, family nft.TableFamily, table, set string, addrs []netip.Addr) ([]bool, error) {
	b := &Backend{table: &nft.Table{Name: table, Family: family}, netns: netns}
	c, err := b.dialRaw()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return b.probeHosts(c, set, addrs)
}
