package nftables

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// elemAttr encodes one NFTA_LIST_ELEM the way the kernel dumps it.
func elemAttr(key []byte, flags uint32, timeoutMs, expiresMs uint64) []byte {
	var in []byte
	in = append(in, attr(unix.NLA_F_NESTED|unix.NFTA_SET_ELEM_KEY, attr(unix.NFTA_DATA_VALUE, key))...)
	if flags != 0 {
		in = append(in, attr(unix.NFTA_SET_ELEM_FLAGS, binary.BigEndian.AppendUint32(nil, flags))...)
	}
	if timeoutMs != 0 {
		in = append(in, attr(unix.NFTA_SET_ELEM_TIMEOUT, binary.BigEndian.AppendUint64(nil, timeoutMs))...)
		in = append(in, attr(unix.NFTA_SET_ELEM_EXPIRATION, binary.BigEndian.AppendUint64(nil, expiresMs))...)
	}
	return attr(unix.NLA_F_NESTED|unix.NFTA_LIST_ELEM, in)
}

// elemMsg encodes a NEWSETELEM payload of generation gen holding elems.
func elemMsg(gen uint16, elems ...[]byte) []byte {
	b := []byte{unix.NFPROTO_INET, unix.NFNETLINK_V0, byte(gen >> 8), byte(gen)}
	b = append(b, attr(unix.NFTA_SET_ELEM_LIST_TABLE, []byte("warden\x00"))...)
	b = append(b, attr(unix.NFTA_SET_ELEM_LIST_SET, []byte("addr4-sshd\x00"))...)
	return append(b, attr(unix.NLA_F_NESTED|unix.NFTA_SET_ELEM_LIST_ELEMENTS, slices.Concat(elems...))...)
}

func TestDecodeElemMsg(t *testing.T) {
	v4 := netip.MustParseAddr("192.0.2.7")
	v6 := netip.MustParseAddr("2001:db8::1")
	tests := []struct {
		name    string
		data    []byte
		gen     uint16
		want    []setElem
		wantErr bool
	}{
		{name: "empty list", data: elemMsg(7), gen: 7},
		{name: "host with timeout", data: elemMsg(0x1234, elemAttr(v4.AsSlice(), 0, 3600_000, 1500)), gen: 0x1234,
			want: []setElem{{key: v4, left: 1500 * time.Millisecond}}},
		{name: "no timeout", data: elemMsg(1, elemAttr(v6.AsSlice(), 0, 0, 0)), gen: 1,
			want: []setElem{{key: v6}}},
		{name: "timeout due now stays a timeout", data: elemMsg(1, elemAttr(v4.AsSlice(), 0, 1000, 0)), gen: 1,
			want: []setElem{{key: v4, left: time.Millisecond}}},
		{name: "interval end", data: elemMsg(2,
			elemAttr([]byte{198, 51, 101, 0}, unix.NFT_SET_ELEM_INTERVAL_END, 0, 0),
			elemAttr([]byte{198, 51, 100, 0}, 0, 60_000, 59_000)), gen: 2,
			want: []setElem{
				{key: netip.MustParseAddr("198.51.101.0"), end: true},
				{key: netip.MustParseAddr("198.51.100.0"), left: 59 * time.Second},
			}},
		{name: "key that is no address skipped", data: elemMsg(3, elemAttr([]byte{1, 2, 3}, 0, 0, 0), elemAttr(v4.AsSlice(), 0, 0, 0)), gen: 3,
			want: []setElem{{key: v4}}},
		{name: "huge expiry saturates", data: elemMsg(3, elemAttr(v4.AsSlice(), 0, 1<<63, 1<<63)), gen: 3,
			want: []setElem{{key: v4, left: msDuration(1 << 63)}}},
		{name: "short header", data: []byte{1, 0}, wantErr: true},
		{name: "attribute past the end", data: append(elemMsg(4), 0xff, 0x00, 0x01, 0x00), gen: 4, wantErr: true},
		{name: "element attribute past the end", data: func() []byte {
			m := elemMsg(5, elemAttr(v4.AsSlice(), 0, 0, 0))
			m[len(m)-len(elemAttr(v4.AsSlice(), 0, 0, 0))+4] = 0xff // the key's length
			return m
		}(), gen: 5, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []setElem
			gen, err := decodeElemMsg(tt.data, func(e setElem) { got = append(got, e) })
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if gen != tt.gen {
				t.Errorf("gen = %#x, want %#x", gen, tt.gen)
			}
			if !tt.wantErr && !slices.Equal(got, tt.want) {
				t.Errorf("elements = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// FuzzDecodeElemMsg checks that no payload panics the decoder and that
// every element it hands out has an address key.
func FuzzDecodeElemMsg(f *testing.F) {
	v4 := netip.MustParseAddr("192.0.2.7").AsSlice()
	f.Add(elemMsg(1))
	f.Add(elemMsg(2, elemAttr(v4, 0, 1000, 500), elemAttr(netip.MustParseAddr("2001:db8::").AsSlice(), unix.NFT_SET_ELEM_INTERVAL_END, 0, 0)))
	f.Add([]byte{1, 0, 0, 0, 4, 0, 3, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		n := 0
		_, err := decodeElemMsg(data, func(e setElem) {
			n++
			if !e.key.IsValid() || e.left < 0 {
				t.Fatalf("element %+v", e)
			}
		})
		m := 0
		_, err2 := decodeElemMsg(data, func(setElem) { m++ })
		if n != m || (err == nil) != (err2 == nil) {
			t.Fatalf("two decodes differ: %d, %v and %d, %v", n, err, m, err2)
		}
	})
}

// nlmsg encodes one netlink message.
func nlmsg(typ uint16, seq uint32, data []byte) []byte {
	b := make([]byte, unix.SizeofNlMsghdr, unix.SizeofNlMsghdr+len(data)+3)
	binary.NativeEndian.PutUint32(b, uint32(unix.SizeofNlMsghdr+len(data)))
	binary.NativeEndian.PutUint16(b[4:], typ)
	binary.NativeEndian.PutUint32(b[8:], seq)
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func TestWalkMessages(t *testing.T) {
	newElem := uint16(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_NEWSETELEM)
	errno := func(e unix.Errno) []byte { return binary.NativeEndian.AppendUint32(nil, uint32(-int32(e))) }
	zero := []byte{0, 0, 0, 0}
	tests := []struct {
		name     string
		in       []byte
		payloads int
		done     bool
		err      error
	}{
		{name: "elements, not done", in: slices.Concat(nlmsg(newElem, 9, []byte{1, 2, 3}), nlmsg(newElem, 9, []byte{4})), payloads: 2},
		{name: "elements then done", in: slices.Concat(nlmsg(newElem, 9, zero), nlmsg(unix.NLMSG_DONE, 9, zero)), payloads: 1, done: true},
		{name: "other sequence ignored", in: slices.Concat(nlmsg(newElem, 8, zero), nlmsg(unix.NLMSG_DONE, 8, zero), nlmsg(newElem, 9, zero)), payloads: 1},
		{name: "error", in: nlmsg(unix.NLMSG_ERROR, 9, errno(unix.ENOENT)), done: true, err: unix.ENOENT},
		{name: "done with error", in: nlmsg(unix.NLMSG_DONE, 9, errno(unix.EINTR)), done: true, err: unix.EINTR},
		{name: "length past the end", in: nlmsg(newElem, 9, zero)[:unix.SizeofNlMsghdr+2], err: errBadMessage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			done, err := walkMessages(tt.in, 9, func([]byte) error { n++; return nil })
			if n != tt.payloads || done != tt.done || !errors.Is(err, tt.err) {
				t.Errorf("got %d payloads, done %v, err %v; want %d, %v, %v", n, done, err, tt.payloads, tt.done, tt.err)
			}
		})
	}
}
