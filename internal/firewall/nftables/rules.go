package nftables

import (
	"encoding/binary"
	"fmt"

	nft "github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"warden/internal/firewall"
)

// addRule queues the rule that blocks the members of one of a jail's sets:
//
//	[meta l4proto {protocols}] [th dport {ports}] ip saddr @set reject|drop
//
// Port and protocol lists of more than one entry become anonymous constant
// sets created in the same batch.
func (b *Backend) addRule(j firewall.JailSpec, k setKind) error {
	var exprs []expr.Any
	if len(j.Protocols) > 0 {
		exprs = append(exprs, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1})
		if len(j.Protocols) == 1 {
			n, _ := firewall.ProtocolNumber(j.Protocols[0])
			exprs = append(exprs, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{n}})
		} else {
			s, err := b.anonProtoSet(j.Protocols)
			if err != nil {
				return err
			}
			exprs = append(exprs, &expr.Lookup{SourceRegister: 1, SetID: s.ID, SetName: s.Name})
		}
	}
	if len(j.Ports) > 0 {
		exprs = append(exprs, &expr.Payload{
			DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2,
		})
		switch r := j.Ports[0]; {
		case len(j.Ports) == 1 && r.First == r.Last:
			exprs = append(exprs, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: be16(r.First)})
		case len(j.Ports) == 1:
			exprs = append(exprs, &expr.Range{Op: expr.CmpOpEq, Register: 1, FromData: be16(r.First), ToData: be16(r.Last)})
		default:
			s, err := b.anonPortSet(j.Ports)
			if err != nil {
				return err
			}
			exprs = append(exprs, &expr.Lookup{SourceRegister: 1, SetID: s.ID, SetName: s.Name})
		}
	}
	family, offset, length := byte(unix.NFPROTO_IPV4), uint32(12), uint32(4)
	if k.v6 {
		family, offset, length = unix.NFPROTO_IPV6, 8, 16
	}
	exprs = append(exprs,
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{family}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: length},
		&expr.Lookup{SourceRegister: 1, SetName: setName(j.Name, k)},
	)
	if j.BlockType == firewall.BlockDrop {
		exprs = append(exprs, &expr.Verdict{Kind: expr.VerdictDrop})
	} else {
		exprs = append(exprs, &expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_PORT_UNREACH})
	}
	b.conn.AddRule(&nft.Rule{Table: b.table, Chain: b.chain(j.Chain), Exprs: exprs})
	return nil
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

func (b *Backend) anonProtoSet(protos []string) (*nft.Set, error) {
	s := &nft.Set{Table: b.table, Anonymous: true, Constant: true, KeyType: nft.TypeInetProto}
	elems := make([]nft.SetElement, 0, len(protos))
	for _, p := range protos {
		n, _ := firewall.ProtocolNumber(p)
		elems = append(elems, nft.SetElement{Key: []byte{n}})
	}
	if err := b.conn.AddSet(s, elems); err != nil {
		return nil, fmt.Errorf("protocol set: %w", err)
	}
	return s, nil
}

// anonPortSet builds an interval set of port ranges, encoded like nft
// does: each range is a start element and an end element one past its
// last port (omitted when the range runs to 65535), preceded by an end
// marker at 0 when the first range does not start there.
func (b *Backend) anonPortSet(ports []firewall.PortRange) (*nft.Set, error) {
	s := &nft.Set{Table: b.table, Anonymous: true, Constant: true, Interval: true, KeyType: nft.TypeInetService}
	var elems []nft.SetElement
	if ports[0].First != 0 {
		elems = append(elems, nft.SetElement{Key: be16(0), IntervalEnd: true})
	}
	for _, r := range ports {
		elems = append(elems, nft.SetElement{Key: be16(r.First)})
		if r.Last != 65535 {
			elems = append(elems, nft.SetElement{Key: be16(r.Last + 1), IntervalEnd: true})
		}
	}
	if err := b.conn.AddSet(s, elems); err != nil {
		return nil, fmt.Errorf("port set: %w", err)
	}
	return s, nil
}

// ruleSet returns the name of the named set a rule looks addresses up in,
// or "" when the rule is not one of ours.
func ruleSet(r *nft.Rule) string {
	for _, e := range r.Exprs {
		if l, ok := e.(*expr.Lookup); ok {
			if _, _, ok := parseSetName(l.SetName); ok {
				return l.SetName
			}
		}
	}
	return ""
}
