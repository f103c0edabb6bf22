package nftables

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// batchMsg is one decoded message of an element batch.
type batchMsg struct {
	typ, flags uint16
	seq        uint32
	family     byte
	resID      uint16
	table, set string
	elems      []string // key, "!" after an interval end, "@ms" with a timeout
}

// decodeBatch splits an element batch into its messages, checking every
// length on the way.
func decodeBatch(t *testing.T, b []byte) []batchMsg {
	t.Helper()
	var out []batchMsg
	for len(b) > 0 {
		if len(b) < unix.SizeofNlMsghdr+4 {
			t.Fatalf("%d bytes left, less than a header", len(b))
		}
		l := int(binary.NativeEndian.Uint32(b))
		if l < unix.SizeofNlMsghdr+4 || l > len(b) || l%4 != 0 {
			t.Fatalf("message length %d of %d bytes left", l, len(b))
		}
		m := batchMsg{
			typ:    binary.NativeEndian.Uint16(b[4:]),
			flags:  binary.NativeEndian.Uint16(b[6:]),
			seq:    binary.NativeEndian.Uint32(b[8:]),
			family: b[16],
			resID:  binary.BigEndian.Uint16(b[18:]),
		}
		top := attrs{b: b[unix.SizeofNlMsghdr+4 : l]}
		for top.next() {
			switch top.typ {
			case unix.NFTA_SET_ELEM_LIST_TABLE:
				m.table = string(top.val[:len(top.val)-1])
			case unix.NFTA_SET_ELEM_LIST_SET:
				m.set = string(top.val[:len(top.val)-1])
			case unix.NFTA_SET_ELEM_LIST_ELEMENTS:
				list := attrs{b: top.val}
				for list.next() {
					m.elems = append(m.elems, elemText(t, list.val))
				}
				if list.err != nil {
					t.Fatal(list.err)
				}
			}
		}
		if top.err != nil {
			t.Fatal(top.err)
		}
		out = append(out, m)
		b = b[l:]
	}
	return out
}

func elemText(t *testing.T, b []byte) string {
	t.Helper()
	e, ok, err := decodeElem(b)
	if err != nil || !ok {
		t.Fatalf("element: ok %v, %v", ok, err)
	}
	s := e.key.String()
	if e.end {
		s += "!"
	}
	a := attrs{b: b}
	for a.next() {
		if a.typ == unix.NFTA_SET_ELEM_TIMEOUT {
			s += fmt.Sprintf("@%d", binary.BigEndian.Uint64(a.val))
		}
	}
	return s
}

func TestElemBatchEncoding(t *testing.T) {
	var e elemBatch
	e.begin(make([]byte, 0, 8), byte(unix.NFPROTO_INET), unix.NFT_MSG_NEWSETELEM, 41)
	e.forSet("warden", "addr4-sshd")
	e.add(netip.MustParsePrefix("192.0.2.7/32"), 90*time.Second)
	e.add(netip.MustParsePrefix("192.0.2.8/32"), 0)
	e.forSet("warden", "net6-sshd")
	e.add(netip.MustParsePrefix("2001:db8::/32"), time.Minute)
	e.add(netip.MustParsePrefix("ffff::/16"), time.Minute)
	e.forSet("warden", "empty") // no element: no message
	msgs := decodeBatch(t, e.end())

	newElem := uint16(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_NEWSETELEM)
	elemFlags := uint16(unix.NLM_F_REQUEST | unix.NLM_F_ACK | unix.NLM_F_CREATE)
	want := []batchMsg{
		{typ: unix.NFNL_MSG_BATCH_BEGIN, flags: unix.NLM_F_REQUEST, seq: 41, resID: unix.NFNL_SUBSYS_NFTABLES},
		{typ: newElem, flags: elemFlags, seq: 42, family: unix.NFPROTO_INET, table: "warden", set: "addr4-sshd",
			elems: []string{"192.0.2.7@90000", "192.0.2.8"}},
		{typ: newElem, flags: elemFlags, seq: 43, family: unix.NFPROTO_INET, table: "warden", set: "net6-sshd",
			elems: []string{"2001:db8::@60000", "2001:db9::!", "ffff::@60000"}},
		{typ: unix.NFNL_MSG_BATCH_END, flags: unix.NLM_F_REQUEST, seq: 44, resID: unix.NFNL_SUBSYS_NFTABLES},
	}
	if got, want := fmt.Sprint(msgs), fmt.Sprint(want); got != want {
		t.Errorf("batch\n got %s\nwant %s", got, want)
	}
	if e.acks != 2 || e.elems != 5 || e.seq != 45 {
		t.Errorf("acks %d, elements %d, next seq %d; want 2, 5, 45", e.acks, e.elems, e.seq)
	}
}

// A set's elements are cut into messages of chunkElements, an interval's
// end staying with its start; each element list fits its 16-bit length.
func TestElemBatchChunks(t *testing.T) {
	var e elemBatch
	e.begin(nil, byte(unix.NFPROTO_INET), unix.NFT_MSG_DELSETELEM, 1)
	e.forSet("warden", "net6-sshd")
	for i := range chunkElements {
		p := netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i >> 8), byte(i)}), 128)
		if i == chunkElements-1 {
			p = netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i >> 8), byte(i)}), 48)
		}
		e.add(p, 24*time.Hour)
	}
	e.add(netip.MustParsePrefix("2001:db9::/32"), 24*time.Hour)
	msgs := decodeBatch(t, e.end())
	if len(msgs) != 4 {
		t.Fatalf("%d messages, want begin, two element messages, end", len(msgs))
	}
	first, second := msgs[1].elems, msgs[2].elems
	if len(first) != chunkElements+1 || first[len(first)-1] != "2001:db8:400::!" {
		t.Errorf("first message: %d elements ending %q; want %d ending with the interval end",
			len(first), first[len(first)-1], chunkElements+1)
	}
	if len(second) != 2 || second[0] != "2001:db9::@86400000" || second[1] != "2001:dba::!" {
		t.Errorf("second message: %q", second)
	}
	if msgs[1].typ != unix.NFNL_SUBSYS_NFTABLES<<8|unix.NFT_MSG_DELSETELEM {
		t.Errorf("message type %#x, want DELSETELEM", msgs[1].typ)
	}
}
