package main

import (
	"math"
	"net/netip"
)

// makeAddresses draws the attacker set (about one in eight IPv6, at least
// one when there are four or more) with Zipf-like weights, and a pool of
// benign client addresses disjoint from it.
func (g *generator) makeAddresses() {
	k := g.cfg.Attackers
	seen := make(map[netip.Addr]bool, k+16)
	nv6 := 0
	if k >= 4 {
		nv6 = max(1, k/8)
	}
	for len(g.attackers) < k {
		var a netip.Addr
		if len(g.attackers) < nv6 {
			a = g.publicV6()
		} else {
			a = g.publicV4()
		}
		if seen[a] {
			continue
		}
		seen[a] = true
		g.attackers = append(g.attackers, a)
	}
	// shuffle so the IPv6 ones are not always the heaviest hitters
	g.rng.Shuffle(len(g.attackers), func(i, j int) {
		g.attackers[i], g.attackers[j] = g.attackers[j], g.attackers[i]
	})
	g.cumWeight = make([]float64, k)
	total := 0.0
	for i := range k {
		total += 1 / math.Pow(float64(i+1), 0.8)
		g.cumWeight[i] = total
	}
	// benign clients: an office range, home users, a VPN, a monitoring host
	for len(g.benignIPs) < 12 {
		var a netip.Addr
		switch len(g.benignIPs) % 4 {
		case 0:
			a = netip.AddrFrom4([4]byte{192, 168, 1, byte(10 + g.rng.IntN(200))})
		case 1:
			a = netip.AddrFrom4([4]byte{10, byte(g.rng.IntN(8)), byte(g.rng.IntN(256)), byte(1 + g.rng.IntN(250))})
		case 2:
			a = g.publicV4()
		default:
			a = g.publicV6()
		}
		if seen[a] {
			continue
		}
		seen[a] = true
		g.benignIPs = append(g.benignIPs, a)
	}
}

// publicV4 returns a random global unicast IPv4 address outside the private,
// shared, documentation and multicast ranges.
func (g *generator) publicV4() netip.Addr {
	for {
		b := [4]byte{byte(1 + g.rng.IntN(223)), byte(g.rng.IntN(256)), byte(g.rng.IntN(256)), byte(1 + g.rng.IntN(254))}
		a := netip.AddrFrom4(b)
		if a.IsPrivate() || a.IsLoopback() || !a.IsGlobalUnicast() || b[0] == 100 || b[0] == 0 ||
			(b[0] == 192 && b[1] == 0) || (b[0] == 198 && (b[1] == 18 || b[1] == 19 || b[1] == 51)) ||
			(b[0] == 203 && b[1] == 0 && b[2] == 113) || (b[0] == 169 && b[1] == 254) {
			continue
		}
		return a
	}
}

// publicV6 returns an address in a well-known provider prefix; half of them have a
// short interface id (::1a2b), the rest a random 64-bit one.
func (g *generator) publicV6() netip.Addr {
	// the first 32 bits of some large hosting and access networks, so the
	// addresses look like the IPv6 attackers seen in practice
	prefixes := [...][4]byte{
		{0x20, 0x01, 0x41, 0xd0}, {0x2a, 0x01, 0x04, 0xf8}, {0x26, 0x04, 0xa8, 0x80},
		{0x2a, 0x03, 0xb0, 0xc0}, {0x24, 0x00, 0x61, 0x80}, {0x20, 0x01, 0x0b, 0xc8},
		{0x24, 0x0e, 0x03, 0x90}, {0x2a, 0x0e, 0x97, 0xc0},
	}
	var b [16]byte
	p := prefixes[g.rng.IntN(len(prefixes))]
	copy(b[:4], p[:])
	b[4], b[5], b[6], b[7] = byte(g.rng.IntN(256)), byte(g.rng.IntN(256)), 0, byte(g.rng.IntN(16))
	if g.rng.IntN(2) == 0 {
		b[14], b[15] = byte(g.rng.IntN(256)), byte(1+g.rng.IntN(255))
	} else {
		for i := 8; i < 16; i++ {
			b[i] = byte(g.rng.IntN(256))
		}
	}
	return netip.AddrFrom16(b)
}
