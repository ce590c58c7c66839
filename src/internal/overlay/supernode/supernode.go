// Package supernode introduces edges to each other and relays their frames
// when they cannot talk directly. It holds no community key: it routes by
// community and destination MAC. One UDP port serves both protocols: N2N v1
// datagrams (first byte 1) and native ones (first byte 'V').
package supernode

import (
	"errors"
	"log"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/overlay/stats"
	"github.com/rocksclusters/vcluster/src/internal/overlay/udp"
	"github.com/rocksclusters/vcluster/src/internal/overlay/wire/native"
	v1 "github.com/rocksclusters/vcluster/src/internal/overlay/wire/v1"
)

// Limits that keep a flood of fake registrations from exhausting memory.
const (
	DefaultMaxPeers     = 16384
	DefaultMaxCommunity = 2048
	// Registrations expire: native edges register every 2 s, Debian's v1
	// edges every 60 s (and the C supernode keeps them 5 minutes).
	nativeExpiry = 30 * time.Second
	v1Expiry     = 5 * time.Minute
	maxTTL       = 4
)

type key struct {
	v1   bool
	comm [native.MaxCommunity + 1]byte // v1: 16-byte field; native: 8-byte id
	mac  [6]byte
}

type entry struct {
	addr     netip.AddrPort
	lastSeen int64
	epoch    uint64
}

// Supernode is a running supernode.
type Supernode struct {
	conn *udp.Conn
	log  *log.Logger

	MaxPeers, MaxPerCommunity int

	mu     sync.RWMutex
	peers  map[key]*entry
	byComm map[[native.MaxCommunity + 1]byte]int // entries per community

	start time.Time
	now   atomic.Int64
	done  chan struct{}
	close atomic.Bool

	Stats *stats.Set
	c     struct {
		rx, tx, relayed, flooded               *atomic.Uint64
		registrations, deregistrations, expiry *atomic.Uint64
		dropFull, dropMalformed, dropUnknown   *atomic.Uint64
		dropTTL, dropSendErr                   *atomic.Uint64
	}
}

// New listens on port.
func New(port int, logger *log.Logger) (*Supernode, error) {
	conn, err := udp.Listen(port)
	if err != nil {
		return nil, err
	}
	s := &Supernode{conn: conn, log: logger, MaxPeers: DefaultMaxPeers, MaxPerCommunity: DefaultMaxCommunity,
		peers: map[key]*entry{}, byComm: map[[native.MaxCommunity + 1]byte]int{}, start: time.Now(),
		done: make(chan struct{}), Stats: &stats.Set{}}
	st := s.Stats
	s.c.rx, s.c.tx = st.Counter("rx_datagrams"), st.Counter("tx_datagrams")
	s.c.relayed, s.c.flooded = st.Counter("relayed_unicast"), st.Counter("relayed_flooded")
	s.c.registrations, s.c.deregistrations = st.Counter("registrations"), st.Counter("deregistrations")
	s.c.expiry = st.Counter("expired")
	s.c.dropFull, s.c.dropMalformed = st.Counter("drop_table_full"), st.Counter("drop_malformed")
	s.c.dropUnknown, s.c.dropTTL = st.Counter("drop_unknown_sender"), st.Counter("drop_ttl")
	s.c.dropSendErr = st.Counter("drop_send_error")
	st.Gauge("peers", func() uint64 { s.mu.RLock(); defer s.mu.RUnlock(); return uint64(len(s.peers)) })
	st.Gauge("communities", func() uint64 { s.mu.RLock(); defer s.mu.RUnlock(); return uint64(len(s.byComm)) })
	return s, nil
}

// Port is the bound UDP port.
func (s *Supernode) Port() int { return s.conn.Port() }

// Close stops Run.
func (s *Supernode) Close() {
	if s.close.Swap(true) {
		return
	}
	close(s.done)
	s.conn.Close()
}

// Run serves until Close.
func (s *Supernode) Run() error {
	go s.sweeper()
	buf := make([]byte, 65536)
	oob := make([]byte, udp.OOBSize)
	out := make([]byte, 65536+native.TrailerLen)
	for {
		n, seg, from, err := s.conn.Read(buf, oob)
		if err != nil {
			if s.close.Load() {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			continue
		}
		s.now.Store(int64(time.Since(s.start)))
		if seg <= 0 {
			seg = n
		}
		for off := 0; off < n; off += seg {
			s.c.rx.Add(1)
			s.handle(buf[off:min(off+seg, n)], from, out)
		}
	}
}

func (s *Supernode) sweeper() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		now := int64(time.Since(s.start))
		s.now.Store(now)
		s.mu.Lock()
		for k, e := range s.peers {
			exp := nativeExpiry
			if k.v1 {
				exp = v1Expiry
			}
			if now-e.lastSeen > int64(exp) {
				s.remove(k)
				s.c.expiry.Add(1)
			}
		}
		s.mu.Unlock()
	}
}

func (s *Supernode) remove(k key) {
	delete(s.peers, k)
	if s.byComm[k.comm]--; s.byComm[k.comm] <= 0 {
		delete(s.byComm, k.comm)
	}
}

// register adds or refreshes an edge; false when the tables are full.
func (s *Supernode) register(k key, from netip.AddrPort, epoch uint64) bool {
	now := s.now.Load()
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.peers[k]; e != nil {
		if e.addr != from {
			s.log.Printf("edge %s moved: %v -> %v", net.HardwareAddr(k.mac[:]), e.addr, from)
		}
		e.addr, e.lastSeen, e.epoch = from, now, epoch
		return true
	}
	if len(s.peers) >= s.MaxPeers || s.byComm[k.comm] >= s.MaxPerCommunity {
		s.c.dropFull.Add(1)
		return false
	}
	s.peers[k] = &entry{addr: from, lastSeen: now, epoch: epoch}
	s.byComm[k.comm]++
	s.c.registrations.Add(1)
	s.log.Printf("registered %s at %v", net.HardwareAddr(k.mac[:]), from)
	return true
}

func (s *Supernode) send(b []byte, to netip.AddrPort) {
	if err := s.conn.WriteTo(b, to); err != nil {
		s.c.dropSendErr.Add(1)
		return
	}
	s.c.tx.Add(1)
}

// forward sends b to the edge with dst, or floods the community (multicast
// or unknown destination), never back to the sender.
func (s *Supernode) forward(b []byte, k key, from netip.AddrPort) {
	var targets [64]netip.AddrPort
	ts := targets[:0]
	s.mu.RLock()
	if k.mac[0]&1 == 0 {
		if e := s.peers[k]; e != nil {
			ts = append(ts, e.addr)
		}
	}
	flood := len(ts) == 0
	if flood {
		for pk, e := range s.peers {
			if pk.v1 == k.v1 && pk.comm == k.comm && e.addr != from {
				ts = append(ts, e.addr)
			}
		}
	}
	s.mu.RUnlock()
	for _, a := range ts {
		if a == from {
			continue
		}
		s.send(b, a)
		if flood {
			s.c.flooded.Add(1)
		} else {
			s.c.relayed.Add(1)
		}
	}
}

func (s *Supernode) handle(d []byte, from netip.AddrPort, out []byte) {
	if len(d) == 0 {
		s.c.dropMalformed.Add(1)
		return
	}
	switch d[0] {
	case native.Marker:
		s.handleNative(d, from, out)
	case v1.Version:
		s.handleV1(d, from)
	default:
		s.c.dropMalformed.Add(1)
	}
}

func (s *Supernode) handleNative(d []byte, from netip.AddrPort, out []byte) {
	switch native.Type(d) {
	case native.TypeRegister, native.TypeDeregister:
		var r native.Register
		if r.Parse(d) != nil {
			s.c.dropMalformed.Add(1)
			return
		}
		k := key{mac: r.MAC}
		copy(k.comm[:], r.Community[:])
		if r.Type == native.TypeDeregister {
			s.mu.Lock()
			if e := s.peers[k]; e != nil && e.addr == from {
				s.remove(k)
				s.c.deregistrations.Add(1)
			}
			s.mu.Unlock()
			return
		}
		if !s.register(k, from, r.Epoch) {
			return
		}
		a := native.RegisterAck{Community: r.Community, MAC: r.MAC, Observed: from}
		var b [native.RegisterAckLen]byte
		s.send(a.Append(b[:0]), from)
	case native.TypeData, native.TypePing, native.TypePong:
		if len(d) < native.Overhead {
			s.c.dropMalformed.Add(1)
			return
		}
		var src key
		copy(src.comm[:], d[4:12])
		src.mac = [6]byte(d[12:18])
		// Relay only for registered edges at the socket they registered.
		s.mu.RLock()
		e := s.peers[src]
		ok := e != nil && e.addr == from
		s.mu.RUnlock()
		if !ok {
			s.c.dropUnknown.Add(1)
			return
		}
		n := copy(out, d)
		out[0] = native.MarkerRelayed
		native.PutAddrPort(out[n:], from)
		dst := key{comm: src.comm, mac: [6]byte(d[18:24])}
		s.forward(out[:n+native.TrailerLen], dst, from)
	default:
		s.c.dropMalformed.Add(1)
	}
}

func (s *Supernode) handleV1(d []byte, from netip.AddrPort) {
	var h v1.Header
	if h.Unmarshal(d) != nil {
		s.c.dropMalformed.Add(1)
		return
	}
	k := key{v1: true, mac: h.SrcMAC}
	copy(k.comm[:], h.Community[:])
	switch h.Type {
	case v1.MsgRegister:
		if !s.register(k, from, 0) {
			return
		}
		ack := v1.Header{Version: v1.Version, Type: v1.MsgRegisterAck, FromSupernode: true,
			Community: h.Community, DstMAC: h.SrcMAC}
		var b [v1.HeaderLen + 3]byte
		ack.Marshal(b[:])
		copy(b[v1.HeaderLen:], v1.LZOTrailer[:])
		s.send(b[:], from)
	case v1.MsgDeregister:
		s.mu.Lock()
		if e := s.peers[k]; e != nil && e.addr == from {
			s.remove(k)
			s.c.deregistrations.Add(1)
		}
		s.mu.Unlock()
	case v1.MsgPacket:
		if h.TTL >= maxTTL {
			s.c.dropTTL.Add(1)
			return
		}
		// As the C supernode: stamp the original sender's socket, mark it
		// as relayed, and forward the (still compressed) datagram.
		d[2]++
		v1.SetPublic(d, from)
		v1.SetFromSupernode(d)
		dst := key{v1: true, comm: k.comm, mac: h.DstMAC}
		s.forward(d, dst, from)
	default:
		s.c.dropMalformed.Add(1)
	}
}
