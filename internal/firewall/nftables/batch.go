package nftables

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// Adding and deleting set elements goes around google/nftables'
// SetAddElements and Flush, like reading sets back (dump.go): the library
// builds a netlink.Attribute with slices of its own per element and
// marshals each level again, about 650 bytes of garbage an element (65 MB
// for a flood's 100,000 bans). Here a batch is encoded straight into one
// buffer that the backend keeps between batches, sent on the raw socket
// with one sendmsg, and its acknowledgements read back by sequence number.
// The messages are the ones the library sends (same header flags and
// attributes, the lookup set id aside, which only a set created in the same
// batch needs).

// elemBatch encodes one nf_tables batch of set element messages.
type elemBatch struct {
	buf    []byte
	family byte
	op     uint16 // unix.NFT_MSG_NEWSETELEM or unix.NFT_MSG_DELSETELEM
	seq    uint32 // the next message's sequence number
	first  uint32 // the batch begin's sequence number
	acks   int    // messages sent with NLM_F_ACK
	elems  int    // elements encoded in all
	// The open message: where it and its element list start in buf, and
	// how many elements it holds (msgAt < 0: none open).
	msgAt, listAt, inMsg int
	table, set           string
}

// header appends a netlink message header numbered e.seq (its length is
// filled in when the message is closed) and the nfgenmsg header.
func (e *elemBatch) header(typ uint16, flags uint16, family byte, resID uint16) {
	var h [unix.SizeofNlMsghdr + 4]byte
	binary.NativeEndian.PutUint16(h[4:], typ)
	binary.NativeEndian.PutUint16(h[6:], flags)
	binary.NativeEndian.PutUint32(h[8:], e.seq)
	h[16] = family
	h[17] = unix.NFNETLINK_V0
	binary.BigEndian.PutUint16(h[18:], resID)
	e.seq++
	e.buf = append(e.buf, h[:]...)
}

// setLen16 writes the length of the attribute that starts at at and pads
// buf to four bytes.
func (e *elemBatch) setLen16(at int) {
	binary.NativeEndian.PutUint16(e.buf[at:], uint16(len(e.buf)-at))
	e.pad()
}

func (e *elemBatch) pad() {
	for len(e.buf)%4 != 0 {
		e.buf = append(e.buf, 0)
	}
}

// attrStart appends an attribute header whose length setLen16 fills in.
func (e *elemBatch) attrStart(typ uint16) int {
	at := len(e.buf)
	e.buf = append(e.buf, 0, 0, 0, 0)
	binary.NativeEndian.PutUint16(e.buf[at+2:], typ)
	return at
}

func (e *elemBatch) attr(typ uint16, val []byte) {
	at := e.attrStart(typ)
	e.buf = append(e.buf, val...)
	e.setLen16(at)
}

func (e *elemBatch) attrString(typ uint16, s string) {
	at := e.attrStart(typ)
	e.buf = append(e.buf, s...)
	e.buf = append(e.buf, 0)
	e.setLen16(at)
}

// begin starts a batch into buf (reused from its start).
func (e *elemBatch) begin(buf []byte, family byte, op uint16, seq uint32) {
	*e = elemBatch{buf: buf[:0], family: family, op: op, seq: seq, first: seq, msgAt: -1}
	e.header(unix.NFNL_MSG_BATCH_BEGIN, unix.NLM_F_REQUEST, unix.AF_UNSPEC, unix.NFNL_SUBSYS_NFTABLES)
	binary.NativeEndian.PutUint32(e.buf, uint32(len(e.buf)))
}

// forSet makes the following elements go to the set named set of table.
func (e *elemBatch) forSet(table, set string) {
	e.closeMsg()
	e.table, e.set = table, set
}

// openMsg starts a set element message for the current set.
func (e *elemBatch) openMsg() {
	e.msgAt = len(e.buf)
	e.header(unix.NFNL_SUBSYS_NFTABLES<<8|e.op, unix.NLM_F_REQUEST|unix.NLM_F_ACK|unix.NLM_F_CREATE, e.family, 0)
	e.attrString(unix.NFTA_SET_ELEM_LIST_TABLE, e.table)
	e.attrString(unix.NFTA_SET_ELEM_LIST_SET, e.set)
	e.listAt = e.attrStart(unix.NLA_F_NESTED | unix.NFTA_SET_ELEM_LIST_ELEMENTS)
	e.inMsg = 0
	e.acks++
}

// closeMsg ends the open message, if any.
func (e *elemBatch) closeMsg() {
	if e.msgAt < 0 {
		return
	}
	e.setLen16(e.listAt)
	binary.NativeEndian.PutUint32(e.buf[e.msgAt:], uint32(len(e.buf)-e.msgAt))
	e.msgAt = -1
}

// add encodes p as the set's element(s), as elementsFor: a host is one
// element, a network a start and (unless it reaches the top of the address
// space) an interval end, both in the same message. A zero timeout encodes
// none (the element stays until deleted).
func (e *elemBatch) add(p netip.Prefix, timeout time.Duration) {
	if e.msgAt >= 0 && e.inMsg >= chunkElements {
		e.closeMsg()
	}
	if e.msgAt < 0 {
		e.openMsg()
	}
	e.elem(p.Addr(), timeout, false)
	if kindOf(p).net {
		if end := lastAddr(p).Next(); end.IsValid() {
			e.elem(end, 0, true)
		}
	}
}

func (e *elemBatch) elem(a netip.Addr, timeout time.Duration, end bool) {
	at := e.attrStart(unix.NLA_F_NESTED | unix.NFTA_LIST_ELEM)
	if end {
		e.attr(unix.NFTA_SET_ELEM_FLAGS, binary.BigEndian.AppendUint32(nil, unix.NFT_SET_ELEM_INTERVAL_END))
	}
	key := e.attrStart(unix.NLA_F_NESTED | unix.NFTA_SET_ELEM_KEY)
	if a.Is4() {
		k := a.As4()
		e.attr(unix.NFTA_DATA_VALUE, k[:])
	} else {
		k := a.As16()
		e.attr(unix.NFTA_DATA_VALUE, k[:])
	}
	e.setLen16(key)
	if timeout != 0 {
		var ms [8]byte
		binary.BigEndian.PutUint64(ms[:], uint64(timeout.Milliseconds()))
		e.attr(unix.NFTA_SET_ELEM_TIMEOUT, ms[:])
	}
	e.setLen16(at)
	e.inMsg++
	e.elems++
}

// end closes the batch and returns its bytes.
func (e *elemBatch) end() []byte {
	e.closeMsg()
	at := len(e.buf)
	e.header(unix.NFNL_MSG_BATCH_END, unix.NLM_F_REQUEST, unix.AF_UNSPEC, unix.NFNL_SUBSYS_NFTABLES)
	binary.NativeEndian.PutUint32(e.buf[at:], uint32(len(e.buf)-at))
	return e.buf
}

// errBatchAnswer is an acknowledgement the batch did not ask for.
var errBatchAnswer = errors.New("unexpected answer to a batch")

// beginElems starts a batch of op (NFT_MSG_NEWSETELEM or DELSETELEM) in
// the backend's buffer. The caller holds b.mu until commitElems.
func (b *Backend) beginElems(e *elemBatch, op uint16) {
	e.begin(b.elemBuf, byte(b.table.Family), op, b.seq)
}

// commitElems sends the batch e on the raw socket and reads its
// acknowledgements: the first error the kernel reports is returned (the
// kernel then has applied none of the batch). After an error the socket is
// dropped, since answers may be left unread on it. The caller holds b.mu.
func (b *Backend) commitElems(e *elemBatch) error {
	msg := e.end()
	b.elemBuf = msg[:0] // kept for the next batch
	b.seq = e.seq
	if e.acks == 0 {
		return nil
	}
	err := b.sendBatch(msg, e.first, e.seq, e.acks)
	if err != nil {
		b.dropRaw()
	}
	return err
}

// sendBatch writes msg, whose messages are numbered first to last-1 (the
// batch's begin and end messages the first and the last of them), and
// waits for acks acknowledgements. An error answering the begin or the end
// message is the kernel's only answer (the batch was refused whole).
func (b *Backend) sendBatch(msg []byte, first, last uint32, acks int) error {
	c, err := b.rawConn()
	if err != nil {
		return err
	}
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		return serr != unix.EAGAIN && serr != unix.EINTR
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("sendmsg: %w", serr)
	}
	if b.ackBuf == nil {
		b.ackBuf = make([]byte, ackBufBytes)
	}
	var kerr error // the first error the kernel reported
	for acks > 0 {
		n, err := recvInto(raw, b.ackBuf)
		if err != nil {
			return err
		}
		m := msgs{b: b.ackBuf[:n]}
		for m.next() {
			if m.seq-first >= last-first {
				continue // a late answer to something else
			}
			if m.typ != unix.NLMSG_ERROR || len(m.data) < 4 {
				return fmt.Errorf("%w: type %d", errBatchAnswer, m.typ)
			}
			code := int32(binary.NativeEndian.Uint32(m.data))
			if code < 0 && kerr == nil {
				kerr = unix.Errno(-code)
			}
			if m.seq == first || m.seq == last-1 {
				if kerr == nil {
					return fmt.Errorf("%w: acknowledged batch header", errBatchAnswer)
				}
				return kerr
			}
			acks--
		}
		if m.err != nil {
			return m.err
		}
	}
	return kerr
}

// ackBufBytes holds a datagram of acknowledgements (short ones: the
// socket asks for no echo of the request).
const ackBufBytes = 64 << 10
