package alloc

import (
	"fmt"
	"net/netip"
)

// OverlaySpace is where virtual clusters' overlay subnets come from when
// add vcluster is given no subnet= (RFC 6598 shared address space).
var OverlaySpace = netip.MustParsePrefix("100.64.0.0/10")

// FreeSubnet finds the first block of OverlaySpace, at least a /24 and big
// enough for hosts, that overlaps none of taken.
func FreeSubnet(taken []netip.Prefix, hosts int) (netip.Prefix, error) {
	bits := 24
	for bits > OverlaySpace.Bits() && 1<<(32-bits)-2 < hosts {
		bits--
	}
	step := uint32(1) << (32 - bits)
	b := OverlaySpace.Addr().As4()
	start := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	end := start + 1<<(32-OverlaySpace.Bits())
	for a := start; a < end; a += step {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), bits)
		if !overlapsAny(p, taken) {
			return p, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("no free /%d left in %s for the overlay; give subnet=", bits, OverlaySpace)
}

// Overlapping is the first of taken that overlaps p, if any.
func Overlapping(p netip.Prefix, taken []netip.Prefix) (netip.Prefix, bool) {
	for _, t := range taken {
		if t.Overlaps(p) {
			return t, true
		}
	}
	return netip.Prefix{}, false
}

func overlapsAny(p netip.Prefix, taken []netip.Prefix) bool {
	_, hit := Overlapping(p, taken)
	return hit
}
