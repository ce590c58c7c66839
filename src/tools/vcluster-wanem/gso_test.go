package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
	"github.com/rocksclusters/vcluster/src/internal/testenv/netns"
	"golang.org/x/sys/unix"
)

// gsoBed is one namespace holding three TUN devices with virtio-net
// headers: the test writes into tin0; packets from tin0 are policy-routed
// to wan0, where an in-process emulator delays them; what it writes back
// is routed to tout0, which the test reads. tin0 → wan0 → tout0 is the
// bed's site → WAN → site path without the veths.
type gsoBed struct {
	in, wan, out *tunDev
	e            *emulator
}

func newGSOBed(t *testing.T) *gsoBed {
	t.Helper()
	binaries.RequireRoot(t)
	binaries.Require(t, "ip", "sysctl")
	ns := netns.Unique("wanem")
	sh := func(name string, args ...string) {
		t.Helper()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
		}
	}
	if err := netns.Add(ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netns.Delete(ns) })
	// Before the devices exist, so that they inherit the defaults; no
	// IPv6, so nothing but our packet reaches tout0.
	sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1",
		"net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
		"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")

	// TUNSETIFF creates the device in the calling thread's namespace: a
	// locked thread enters ns and is thrown away afterwards (never
	// unlocked).
	b := &gsoBed{}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open("/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns: %v", err)
			return
		}
		for _, d := range []struct {
			p    **tunDev
			name string
		}{{&b.in, "tin0"}, {&b.wan, "wan0"}, {&b.out, "tout0"}} {
			if *d.p, err = openTUN(d.name); err != nil {
				errc <- fmt.Errorf("%s: %v", d.name, err)
				return
			}
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.in.Close(); b.wan.Close(); b.out.Close() })
	for _, c := range [][]string{
		{"link", "set", "tin0", "mtu", "1500", "up"},
		{"link", "set", "wan0", "mtu", "1500", "up"},
		{"link", "set", "tout0", "mtu", "1500", "up"},
		{"addr", "add", "198.18.0.1/24", "dev", "tin0"},
		{"addr", "add", "198.18.1.1/24", "dev", "tout0"},
		{"rule", "add", "iif", "tin0", "lookup", "100", "priority", "100"},
		{"route", "add", "default", "dev", "wan0", "table", "100"},
	} {
		sh("ip", append([]string{"-n", ns}, c...)...)
	}
	b.e = &emulator{dev: b.wan, q: newDelayLine(64, 1<<20, maxPacket), start: time.Now(),
		setOffload: b.wan.setOffload}
	go b.e.readLoop(1)
	go b.e.writeLoop()
	return b
}

// counts returns the emulator's forwarded and super-packet counters once
// they reach want (or after a second): the writer counts a packet just
// after writing it, so the test may read it a moment before.
func (b *gsoBed) counts(fwd, super uint64) (uint64, uint64) {
	deadline := time.Now().Add(time.Second)
	for {
		f, s := b.e.forwarded.Load(), b.e.super.Load()
		if f >= fwd && s >= super || time.Now().After(deadline) {
			return f, s
		}
		time.Sleep(time.Millisecond)
	}
}

// superPacket is a TCP/IPv4 GSO packet of payload bytes from 198.18.0.2
// to 198.18.1.2, cut into mss-byte segments, behind its virtio-net header
// (partial checksum: the TCP checksum field holds the pseudo-header sum).
func superPacket(payload, mss int) []byte {
	const ipLen, tcpLen = 20, 20
	p := make([]byte, vnetHdrLen+ipLen+tcpLen+payload)
	h := p[:vnetHdrLen]
	h[0] = unix.VIRTIO_NET_HDR_F_NEEDS_CSUM
	h[1] = unix.VIRTIO_NET_HDR_GSO_TCPV4
	binary.LittleEndian.PutUint16(h[2:], ipLen+tcpLen) // hdr_len
	binary.LittleEndian.PutUint16(h[4:], uint16(mss))  // gso_size
	binary.LittleEndian.PutUint16(h[6:], ipLen)        // csum_start
	binary.LittleEndian.PutUint16(h[8:], 16)           // csum_offset
	ip := p[vnetHdrLen:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(ipLen+tcpLen+payload))
	binary.BigEndian.PutUint16(ip[4:], 0x1234) // id
	ip[6] = 0x40                               // DF
	ip[8] = 64                                 // TTL
	ip[9] = unix.IPPROTO_TCP
	copy(ip[12:], []byte{198, 18, 0, 2, 198, 18, 1, 2})
	binary.BigEndian.PutUint16(ip[10:], ^fold(sum(ip[:ipLen])))
	tcp := ip[ipLen:]
	binary.BigEndian.PutUint16(tcp[0:], 40000)
	binary.BigEndian.PutUint16(tcp[2:], 5201)
	binary.BigEndian.PutUint32(tcp[4:], 1)
	binary.BigEndian.PutUint32(tcp[8:], 1)
	tcp[12] = 5 << 4
	tcp[13] = 0x18 // PSH ACK
	binary.BigEndian.PutUint16(tcp[14:], 65535)
	for i := range payload {
		tcp[tcpLen+i] = byte(i * 7)
	}
	pseudo := sum(ip[12:20]) + unix.IPPROTO_TCP + uint32(tcpLen+payload)
	binary.BigEndian.PutUint16(tcp[16:], fold(pseudo))
	return p
}

func sum(b []byte) uint32 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	return s
}

func fold(s uint32) uint16 {
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// readIPv4 reads from d until an IPv4 packet arrives or the deadline.
func readIPv4(t *testing.T, d *tunDev, buf []byte, deadline time.Time) []byte {
	t.Helper()
	_ = d.SetReadDeadline(deadline)
	for {
		n, err := d.Read(buf)
		if err != nil {
			t.Fatalf("read tout0: %v", err)
		}
		if n > vnetHdrLen && buf[vnetHdrLen]>>4 == 4 {
			return buf[:n]
		}
	}
}

// TestGSOSuperPacketIntact writes one 20 000-byte TCP super-packet into
// the namespace: it must cross the emulator (delayed, not on the 0 ms
// fast path) as one packet and come out with the same virtio-net header
// and bytes (only TTL and header checksum changed by the two routing
// hops). With loss set the offloads go off: the kernel then hands the
// emulator wire-sized segments, and back on at loss 0.
func TestGSOSuperPacketIntact(t *testing.T) {
	b := newGSOBed(t)
	const payload, mss = 20000, 1448
	pkt := superPacket(payload, mss)
	buf := make([]byte, maxPacket)

	if err := b.e.apply(command{delay: 5 * time.Millisecond, hasDelay: true}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := b.in.Write(pkt); err != nil {
		t.Fatalf("write tin0: %v", err)
	}
	got := readIPv4(t, b.out, buf, time.Now().Add(5*time.Second))
	if el := time.Since(start); el < 5*time.Millisecond {
		t.Errorf("super-packet came back after %v, before the 5 ms delay", el)
	}
	if len(got) != len(pkt) {
		t.Fatalf("got a %d-byte packet, sent %d: the super-packet was split or cut (status %s)", len(got), len(pkt), b.e.status())
	}
	if got[1] != pkt[1] || !bytes.Equal(got[4:10], pkt[4:10]) || got[0]&unix.VIRTIO_NET_HDR_F_NEEDS_CSUM == 0 {
		t.Errorf("virtio-net header % x, sent % x", got[:vnetHdrLen], pkt[:vnetHdrLen])
	}
	ip, sent := got[vnetHdrLen:], pkt[vnetHdrLen:]
	if ip[8] != sent[8]-2 {
		t.Errorf("TTL %d after two hops, sent %d", ip[8], sent[8])
	}
	if fold(sum(ip[:20])) != 0xffff {
		t.Error("IPv4 header checksum wrong after forwarding")
	}
	if !bytes.Equal(ip[:8], sent[:8]) || !bytes.Equal(ip[9:10], sent[9:10]) || !bytes.Equal(ip[12:], sent[12:]) {
		t.Error("packet bytes changed on the way")
	}
	if f, s := b.counts(1, 1); f != 1 || s != 1 {
		t.Errorf("emulator forwarded %d packets (%d super-packets), want one super-packet", f, s)
	}

	// Loss on: offloads off, so the emulator sees (and may drop) wire
	// packets; the kernel segments before wan0.
	if err := b.e.apply(command{loss: 1e-12, hasLoss: true, delay: 0, hasDelay: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.in.Write(pkt); err != nil {
		t.Fatalf("write tin0: %v", err)
	}
	segs := (payload + mss - 1) / mss
	var bytesOut int
	for i := 0; i < segs; i++ {
		seg := readIPv4(t, b.out, buf, time.Now().Add(5*time.Second))
		if len(seg) > vnetHdrLen+1500 || seg[1] != unix.VIRTIO_NET_HDR_GSO_NONE {
			t.Fatalf("segment %d: %d bytes, gso_type %d: not segmented with loss on", i, len(seg), seg[1])
		}
		bytesOut += len(seg) - vnetHdrLen - 40
	}
	if bytesOut != payload {
		t.Errorf("segments carried %d bytes, want %d", bytesOut, payload)
	}
	if f, s := b.counts(uint64(1+segs), 1); f != uint64(1+segs) || s != 1 {
		t.Errorf("after loss on: forwarded %d (%d super), want %d (1 super)", f, s, 1+segs)
	}

	// Loss back to 0: whole super-packets again.
	if err := b.e.apply(command{hasLoss: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.in.Write(pkt); err != nil {
		t.Fatalf("write tin0: %v", err)
	}
	if got := readIPv4(t, b.out, buf, time.Now().Add(5*time.Second)); len(got) != len(pkt) {
		t.Fatalf("after loss 0: got %d bytes, want the whole %d-byte super-packet", len(got), len(pkt))
	}
	if _, s := b.counts(uint64(2+segs), 2); s != 2 {
		t.Errorf("after loss 0: %d super-packets forwarded, want 2", s)
	}
}
