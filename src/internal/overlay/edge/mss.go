package edge

import "encoding/binary"

// clampMSS lowers the MSS option of an IPv4 TCP SYN in an Ethernet frame to
// mss, so that TCP through the overlay never sends segments that would need
// fragmentation: N2N's most reported stall.
// With partial checksum (virtio NEEDS_CSUM) the kernel still fills the
// checksum, so only the option changes; otherwise the checksum is updated
// incrementally (RFC 1624).
func clampMSS(eth []byte, partialCsum bool, mss int) bool {
	if len(eth) < 14+20+20 || eth[12] != 0x08 || eth[13] != 0x00 {
		return false
	}
	ip := eth[14:]
	ihl := int(ip[0]&0x0f) * 4
	if ip[0]>>4 != 4 || ihl < 20 || ip[9] != 6 || len(ip) < ihl+20 {
		return false
	}
	if binary.BigEndian.Uint16(ip[6:])&0x1fff != 0 { // not the first fragment
		return false
	}
	tcp := ip[ihl:]
	if tcp[13]&0x02 == 0 { // SYN
		return false
	}
	doff := int(tcp[12]>>4) * 4
	if doff < 20 || len(tcp) < doff {
		return false
	}
	limit := uint16(mss)
	opts := tcp[20:doff]
	for i := 0; i < len(opts); {
		switch opts[i] {
		case 0:
			return false
		case 1:
			i++
			continue
		}
		if i+1 >= len(opts) || opts[i+1] < 2 || i+int(opts[i+1]) > len(opts) {
			return false
		}
		if opts[i] == 2 && opts[i+1] == 4 {
			old := binary.BigEndian.Uint16(opts[i+2:])
			if old <= limit {
				return false
			}
			binary.BigEndian.PutUint16(opts[i+2:], limit)
			if !partialCsum {
				// The option's 16-bit value sits at an even or odd offset
				// of the TCP header; update the sum over the right words.
				off := 20 + i + 2
				updateCsum(tcp, off, old, limit)
			}
			return true
		}
		i += int(opts[i+1])
	}
	return false
}

func updateCsum(tcp []byte, off int, old, new uint16) {
	sum := uint32(^binary.BigEndian.Uint16(tcp[16:]))
	if off%2 == 0 {
		sum += uint32(^old) + uint32(new)
	} else {
		// The value straddles two words: swap byte order of both values.
		o := old>>8 | old<<8
		n := new>>8 | new<<8
		sum += uint32(^o) + uint32(n)
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(tcp[16:], ^uint16(sum))
}

// v1MSS is the largest MSS whose frames fit one N2N v1 datagram in a
// 1500-byte underlay packet: 20 IP + 8 UDP + 84 header + 7 LZO prefix +
// 14 Ethernet + 20 IP + 20 TCP + 3 LZO trailer = 176 bytes of overhead.
const v1MSS = UnderlayMTU - 176

// mssFor is the clamp for an overlay MTU under a protocol's ceiling
// (protocol.maxMSS, 0 for none).
func mssFor(mtu, ceiling int) int {
	m := mtu - 40
	if ceiling > 0 && m > ceiling {
		m = ceiling
	}
	return m
}
