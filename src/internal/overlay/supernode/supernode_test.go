package supernode

import (
	"io"
	"log"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/overlay/wire/native"
	v1 "github.com/rocksclusters/vcluster/src/internal/overlay/wire/v1"
)

// A flood of fake registrations fills the table to its bound and no
// further; real registrations are acknowledged with the observed socket.
func TestRegistrationFloodBounded(t *testing.T) {
	s, err := New(0, log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	s.MaxPeers, s.MaxPerCommunity = 300, 200
	go s.Run()
	defer s.Close()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sn := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: s.Port()}
	send := func(b []byte) {
		if _, err := c.WriteToUDP(b, sn); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 500; i++ {
		comm := "flood-a"
		if i%2 == 1 {
			comm = "flood-b"
		}
		r := native.Register{Type: native.TypeRegister, Community: native.MakeCommunityID(comm),
			MAC: [6]byte{2, 0, 0, 0, byte(i >> 8), byte(i)}, Epoch: 1, Name: comm}
		send(r.Append(nil))
		if i%50 == 0 {
			time.Sleep(5 * time.Millisecond) // let the socket drain
		}
	}
	// A v1 registration and garbage.
	var h [v1.HeaderLen + 3]byte
	comm, _ := v1.MakeCommunity("v1c")
	(&v1.Header{Version: 1, Type: v1.MsgRegister, Community: comm, SrcMAC: [6]byte{2, 9}}).Marshal(h[:])
	send(h[:])
	send([]byte{0xff, 1, 2})
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if v, _ := s.Stats.Get("drop_malformed"); v >= 1 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	peers, _ := s.Stats.Get("peers")
	full, _ := s.Stats.Get("drop_table_full")
	if peers > 300 || peers < 250 {
		t.Fatalf("peers = %d, want the bound 300 (or close: UDP may drop)", peers)
	}
	if full == 0 {
		t.Fatal("no registration refused although the table is full")
	}
	// Acks carry the socket the supernode saw.
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 2048)
	n, _, err := c.ReadFromUDP(buf)
	if err != nil {
		t.Fatal(err)
	}
	var a native.RegisterAck
	if err := a.Parse(buf[:n]); err != nil {
		t.Fatalf("first reply is not a REGISTER_ACK: %v", err)
	}
	local := c.LocalAddr().(*net.UDPAddr).AddrPort()
	if a.Observed != netip.AddrPortFrom(local.Addr().Unmap(), local.Port()) {
		t.Fatalf("observed %v, want %v", a.Observed, local)
	}
}

func FuzzHandle(f *testing.F) {
	r := native.Register{Type: native.TypeRegister, Community: native.MakeCommunityID("c"), Name: "c"}
	f.Add(r.Append(nil))
	var h [v1.HeaderLen + 3]byte
	(&v1.Header{Version: 1, Type: v1.MsgPacket}).Marshal(h[:])
	f.Add(h[:])
	dg := make([]byte, native.Overhead+10)
	dg[0], dg[1] = native.Marker, native.TypeData
	f.Add(dg)
	s, err := New(0, log.New(io.Discard, "", 0))
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	out := make([]byte, 65536+native.TrailerLen)
	from := netip.MustParseAddrPort("127.0.0.1:9")
	f.Fuzz(func(t *testing.T, d []byte) {
		if len(d) > 65536 {
			return
		}
		s.handle(d, from, out)
	})
}
