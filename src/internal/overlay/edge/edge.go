// Package edge is the overlay's edge: it joins the guest's TAP device to a
// community through one or more supernodes, talks to other edges directly
// once they have been introduced, and relays through the supernode when
// they cannot reach each other. It speaks the native protocol (default) or
// N2N v1 for interoperation with Debian's n2n.
package edge

import (
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/overlay/config"
	"github.com/rocksclusters/vcluster/src/internal/overlay/stats"
	"github.com/rocksclusters/vcluster/src/internal/overlay/tap"
	"github.com/rocksclusters/vcluster/src/internal/overlay/udp"
	"github.com/rocksclusters/vcluster/src/internal/overlay/wire/native"
	v1 "github.com/rocksclusters/vcluster/src/internal/overlay/wire/v1"
)

// Timing. Registrations are frequent so that a restarted supernode, a
// moved guest or a changed underlay address is noticed within seconds.
const (
	tick             = 250 * time.Millisecond
	registerInterval = 2 * time.Second
	supernodeAlive   = 7 * time.Second  // no ACK for this long: fail over
	keepalive        = 3 * time.Second  // ping direct peers this often
	directFresh      = 10 * time.Second // direct path unused for this long: relay
	pingMinGap       = time.Second      // per peer, for introductions
	peerExpiry       = 5 * time.Minute
	// MaxPeers bounds the peer table; peers are only added after their
	// traffic authenticated (native) or parsed (v1).
	MaxPeers = 4096
	// UnderlayMTU is the path MTU assumed between edges.
	UnderlayMTU = 1500
	// fragSize is the plaintext carried by one native datagram.
	fragSize = UnderlayMTU - 20 - 8 - native.Overhead
)

// Edge is a running edge.
type Edge struct {
	cfg   *config.Resolved
	dev   *tap.Device
	conn  *udp.Conn
	mac   [6]byte
	proto *protocol
	mss   int // TCP MSS clamp
	log   *log.Logger
	cid   native.CommunityID

	keys atomic.Pointer[keySet]
	now  atomic.Int64 // coarse clock, ns since start

	start time.Time

	mu    sync.RWMutex
	peers map[[6]byte]*peer

	sns []*snode

	txCounter atomic.Uint64
	frameID   uint32 // under txMu
	reasm     reassembler

	// The native packet path's state: each direction's, under its mutex,
	// because a loop's busy-poll also works the other direction.
	txMu sync.Mutex
	txN  *txNative
	rxMu sync.Mutex
	rxN  *rxNative

	closing atomic.Bool
	done    chan struct{}

	Stats *stats.Set
	c     counters
}

// protocol is what the two wire protocols do differently. New picks one
// from the configuration; nothing else asks which protocol runs.
type protocol struct {
	offload  int                                           // TAP offloads (tap.Offload*)
	prepare  func(e *Edge) (stop func())                   // the loops' shared state, nil for none
	maxMSS   int                                           // TCP MSS ceiling below MTU-40, 0 for none
	keys     func(e *Edge, k, old *keySet) error           // derive k's keys from k.raw
	tapLoop  func(e *Edge) error                           // TAP to underlay, until Close
	udpLoop  func(e *Edge) error                           // underlay to TAP, until Close
	register func(e *Edge, deregister bool)                // to every supernode
	ping     func(e *Edge, mac [6]byte, to netip.AddrPort) // ask a peer for a direct path
}

func protocolFor(name string) *protocol {
	if name == config.V1 {
		return &v1Protocol
	}
	return &nativeProtocol
}

type keySet struct {
	gen   uint64
	raw   []byte // the community key
	epoch uint64
	nk    []byte      // native: key material
	tx    cipher.AEAD // native: our session
	tf    *v1.Cipher  // v1
	comm  [v1.CommunityLen]byte
}

type snode struct {
	addr     netip.AddrPort
	lastAck  atomic.Int64 // coarse ns, 0 = never
	mu       sync.Mutex
	observed netip.AddrPort
}

type peer struct {
	mac [6]byte

	mu         sync.Mutex
	direct     netip.AddrPort
	lastDirect int64
	origin     netip.AddrPort
	lastPing   int64
	lastSeen   int64

	// receive session: UDP goroutine only
	epoch uint64
	gen   uint64
	aead  cipher.AEAD
	win   native.Window
}

type counters struct {
	tapIn, tapOut                  *atomic.Uint64
	txDirect, txRelayed, txBcast   *atomic.Uint64
	rxDirect, rxRelayed            *atomic.Uint64
	txDatagrams, rxDatagrams       *atomic.Uint64
	dropAuth, dropReplay, dropComm *atomic.Uint64
	dropMalformed, dropProto       *atomic.Uint64
	dropNotForUs, dropStale        *atomic.Uint64
	dropPeersFull, dropReasm       *atomic.Uint64
	dropSendErr, dropTapErr        *atomic.Uint64
	mssClamped                     *atomic.Uint64
	tapSuperIn, tapSuperOut        *atomic.Uint64
	registers, registerAcks        *atomic.Uint64
	pings, pongs, addrChanges      *atomic.Uint64
	keyReloads                     *atomic.Uint64
}

// New opens the device and the socket. key is the community key.
func New(cfg *config.Resolved, key []byte, logger *log.Logger) (*Edge, error) {
	e, err := newEdge(cfg, key, logger)
	if err != nil {
		return nil, err
	}
	dev, err := tap.Open(cfg.Device, e.proto.offload)
	if err != nil {
		return nil, err
	}
	e.dev = dev
	if err := tap.Configure(dev.Name, e.MAC(), cfg.MTU, cfg.Prefix); err != nil {
		dev.Close()
		return nil, err
	}
	conn, err := udp.Listen(cfg.LocalPort)
	if err != nil {
		dev.Close()
		return nil, fmt.Errorf("udp port %d: %w", cfg.LocalPort, err)
	}
	e.conn = conn
	return e, nil
}

// newEdge is an Edge without its device and socket.
func newEdge(cfg *config.Resolved, key []byte, logger *log.Logger) (*Edge, error) {
	e := &Edge{cfg: cfg, proto: protocolFor(cfg.Protocol), log: logger, peers: map[[6]byte]*peer{},
		done: make(chan struct{}), Stats: &stats.Set{}, start: time.Now()}
	e.cid = native.MakeCommunityID(cfg.Community)
	e.mss = mssFor(cfg.MTU, e.proto.maxMSS)
	e.initCounters()
	for _, a := range cfg.Supernodes {
		e.sns = append(e.sns, &snode{addr: a})
	}
	mac := cfg.MAC
	if mac == nil {
		mac = make(net.HardwareAddr, 6)
		_, _ = rand.Read(mac)
		mac[0] = mac[0]&^1 | 2 // unicast, locally administered
	}
	copy(e.mac[:], mac)
	if err := e.SetKey(key); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *Edge) initCounters() {
	s := e.Stats
	c := &e.c
	c.tapIn, c.tapOut = s.Counter("tap_frames_in"), s.Counter("tap_frames_out")
	c.txDirect, c.txRelayed, c.txBcast = s.Counter("tx_frames_direct"), s.Counter("tx_frames_relayed"), s.Counter("tx_frames_broadcast")
	c.rxDirect, c.rxRelayed = s.Counter("rx_frames_direct"), s.Counter("rx_frames_relayed")
	c.txDatagrams, c.rxDatagrams = s.Counter("tx_datagrams"), s.Counter("rx_datagrams")
	c.dropAuth, c.dropReplay, c.dropComm = s.Counter("drop_auth"), s.Counter("drop_replay"), s.Counter("drop_community")
	c.dropMalformed, c.dropProto = s.Counter("drop_malformed"), s.Counter("drop_protocol")
	c.dropNotForUs, c.dropStale = s.Counter("drop_not_for_us"), s.Counter("drop_stale_session")
	c.dropPeersFull, c.dropReasm = s.Counter("drop_peer_table_full"), s.Counter("drop_reassembly")
	c.dropSendErr, c.dropTapErr = s.Counter("drop_send_error"), s.Counter("drop_tap_error")
	c.mssClamped = s.Counter("tcp_mss_clamped")
	c.tapSuperIn, c.tapSuperOut = s.Counter("tap_superframes_in"), s.Counter("tap_superframes_out")
	c.registers, c.registerAcks = s.Counter("supernode_registers"), s.Counter("supernode_acks")
	c.pings, c.pongs, c.addrChanges = s.Counter("pings"), s.Counter("pongs"), s.Counter("own_address_changes")
	c.keyReloads = s.Counter("key_reloads")
	s.Gauge("peers", func() uint64 { e.mu.RLock(); defer e.mu.RUnlock(); return uint64(len(e.peers)) })
	s.Gauge("peers_direct", func() uint64 {
		now := e.now.Load()
		e.mu.RLock()
		defer e.mu.RUnlock()
		n := 0
		for _, p := range e.peers {
			if _, ok := p.directAddr(now); ok {
				n++
			}
		}
		return uint64(n)
	})
	s.Gauge("supernodes_alive", func() uint64 {
		n := 0
		for _, sn := range e.sns {
			if sn.alive(e.now.Load()) {
				n++
			}
		}
		return uint64(n)
	})
}

// SetKey installs a (new) community key; used at start and on SIGHUP. A
// new key starts a new native session, so peers derive fresh keys for it.
func (e *Edge) SetKey(key []byte) error {
	if len(key) == 0 {
		return errors.New("empty key")
	}
	old := e.keys.Load()
	k := &keySet{raw: append([]byte(nil), key...)}
	if old != nil {
		k.gen = old.gen + 1
	}
	if err := e.proto.keys(e, k, old); err != nil {
		return err
	}
	e.keys.Store(k)
	if old != nil {
		e.c.keyReloads.Add(1)
	}
	return nil
}

// MAC is the edge's overlay MAC.
func (e *Edge) MAC() net.HardwareAddr { return net.HardwareAddr(e.mac[:]) }

// Device is the TAP device's name.
func (e *Edge) Device() string { return e.dev.Name }

// LocalPort is the underlay UDP port.
func (e *Edge) LocalPort() int { return e.conn.Port() }

// Run moves frames until Close; it returns the first fatal error. It
// returns once every goroutine it started has ended: a fatal error in one
// loop closes the edge, which ends the others.
func (e *Edge) Run() error {
	e.tickClock()
	if e.proto.prepare != nil {
		defer e.proto.prepare(e)() // after both loops have ended
	}
	errc := make(chan error, 2)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); errc <- e.proto.tapLoop(e) }()
	go func() { defer wg.Done(); errc <- e.proto.udpLoop(e) }()
	go func() { defer wg.Done(); e.timerLoop() }()
	e.registerAll()
	err := <-errc
	if e.closing.Load() {
		err = nil
	}
	e.Close()
	wg.Wait()
	return err
}

// Close deregisters and stops the edge.
func (e *Edge) Close() {
	if e.closing.Swap(true) {
		return
	}
	e.proto.register(e, true)
	close(e.done)
	e.conn.Close()
	e.dev.Close()
}

func (e *Edge) tickClock() { e.now.Store(int64(time.Since(e.start))) }

func (e *Edge) timerLoop() {
	t := time.NewTicker(tick)
	defer t.Stop()
	var lastReg, lastSweep int64
	for {
		select {
		case <-e.done:
			return
		case <-t.C:
		}
		e.tickClock()
		now := e.now.Load()
		if now-lastReg >= int64(registerInterval) {
			lastReg = now
			e.registerAll()
		}
		e.keepalives(now)
		if now-lastSweep >= int64(10*time.Second) {
			lastSweep = now
			e.sweep(now)
		}
	}
}

func (s *snode) alive(now int64) bool {
	a := s.lastAck.Load()
	return a != 0 && now-a < int64(supernodeAlive)
}

func (p *peer) directAddr(now int64) (netip.AddrPort, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.direct.IsValid() && now-p.lastDirect < int64(directFresh) {
		return p.direct, true
	}
	return netip.AddrPort{}, false
}

func (e *Edge) lookup(mac [6]byte) *peer {
	e.mu.RLock()
	p := e.peers[mac]
	e.mu.RUnlock()
	return p
}

// addPeer returns the peer for mac, adding it if the table has room.
func (e *Edge) addPeer(mac [6]byte) *peer {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p := e.peers[mac]; p != nil {
		return p
	}
	if len(e.peers) >= MaxPeers {
		e.c.dropPeersFull.Add(1)
		return nil
	}
	p := &peer{mac: mac}
	e.peers[mac] = p
	return p
}

func (e *Edge) sweep(now int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for m, p := range e.peers {
		p.mu.Lock()
		old := now-p.lastSeen > int64(peerExpiry)
		p.mu.Unlock()
		if old {
			delete(e.peers, m)
		}
	}
}

// relayTargets are the supernodes a relayed datagram goes to: the first
// live one, or all of them while none answers.
func (e *Edge) relayTargets(now int64, buf []netip.AddrPort) []netip.AddrPort {
	for _, s := range e.sns {
		if s.alive(now) {
			return append(buf, s.addr)
		}
	}
	for _, s := range e.sns {
		buf = append(buf, s.addr)
	}
	return buf
}

func (e *Edge) supernodeFor(from netip.AddrPort) *snode {
	for _, s := range e.sns {
		if s.addr == from {
			return s
		}
	}
	return nil
}

// route picks where a frame for dst goes: the peer's direct socket, or the
// supernode(s).
func (e *Edge) route(dst []byte, buf []netip.AddrPort) ([]netip.AddrPort, bool) {
	now := e.now.Load()
	if dst[0]&1 == 0 {
		if p := e.lookup([6]byte(dst)); p != nil {
			if a, ok := p.directAddr(now); ok {
				e.c.txDirect.Add(1)
				return append(buf, a), true
			}
		}
		e.c.txRelayed.Add(1)
	} else {
		e.c.txBcast.Add(1)
	}
	return e.relayTargets(now, buf), false
}

func (e *Edge) writeTap(b []byte) { e.writeTapFrames(b, 1) }

// writeTapFrames writes b, which carries frames frames (a coalesced
// super-frame carries many).
func (e *Edge) writeTapFrames(b []byte, frames int) {
	if _, err := e.dev.Write(b); err != nil {
		e.c.dropTapErr.Add(uint64(frames))
		return
	}
	e.c.tapOut.Add(uint64(frames))
}

func (e *Edge) send(b []byte, to netip.AddrPort) {
	if err := e.conn.WriteTo(b, to); err != nil {
		e.c.dropSendErr.Add(1)
		return
	}
	e.c.txDatagrams.Add(1)
}

// DumpStats writes the counters (for SIGUSR1).
func (e *Edge) DumpStats(w io.Writer) { _, _ = e.Stats.WriteTo(w) }

func (e *Edge) registerAll() { e.proto.register(e, false) }

func (e *Edge) keepalives(now int64) {
	type target struct {
		p  *peer
		to netip.AddrPort
	}
	var ts []target
	e.mu.RLock()
	for _, p := range e.peers {
		p.mu.Lock()
		if now-p.lastPing >= int64(keepalive) && now-p.lastSeen < int64(peerExpiry) {
			to := p.direct
			if !to.IsValid() || now-p.lastDirect >= int64(directFresh) {
				if p.origin.IsValid() {
					to = p.origin
				}
			}
			if to.IsValid() {
				p.lastPing = now
				ts = append(ts, target{p, to})
			}
		}
		p.mu.Unlock()
	}
	e.mu.RUnlock()
	for _, t := range ts {
		e.ping(t.p.mac, t.to)
	}
}

// introduce pings a peer at a socket learned from the supernode, at most
// once a second: the way to a direct path.
func (e *Edge) introduce(p *peer, to netip.AddrPort) {
	now := e.now.Load()
	p.mu.Lock()
	if p.lastPing != 0 && now-p.lastPing < int64(pingMinGap) {
		p.mu.Unlock()
		return
	}
	p.lastPing = max(now, 1)
	p.mu.Unlock()
	e.ping(p.mac, to)
}

func (e *Edge) ping(mac [6]byte, to netip.AddrPort) {
	e.c.pings.Add(1)
	e.proto.ping(e, mac, to)
}

// learnDirect records an authenticated datagram that came straight from
// the peer: its socket is the peer's direct address (roaming included).
func (p *peer) learnDirect(from netip.AddrPort, now int64) {
	p.mu.Lock()
	p.direct = from
	p.lastDirect = now
	p.lastSeen = now
	p.mu.Unlock()
}

func (p *peer) learnRelayed(origin netip.AddrPort, now int64) (needIntro bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lastSeen = now
	if origin.IsValid() {
		p.origin = origin
	}
	return !(p.direct.IsValid() && now-p.lastDirect < int64(directFresh)) || (origin.IsValid() && origin != p.direct)
}
