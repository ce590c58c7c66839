// Command vcluster-wanem is the test bed's WAN emulator: it forwards the
// packets that policy routing sends to its TUN device back into the kernel
// after a configurable one-way delay (and optional random loss). The
// kernel has no netem here, so the delay lives in user space.
//
// Inside the WAN namespace:
//
//	ip rule add iif <site uplink> lookup 100
//	ip route add default dev wan0 table 100
//
// sends every packet that arrives from a site to wan0; vcluster-wanem holds
// it in a delay line and writes it back to wan0, from where the main table
// routes it to its destination site. The delay and loss change at run time
// through a unix control socket ("set delay=50ms loss=0", "get").
//
// The device carries virtio-net headers with TCP segmentation offload, so
// the kernel hands over whole GSO super-packets (up to 64 KiB) instead of
// 1500-byte frames: one read and one write per super-packet is what lets
// the emulator keep up with the bed's 1 Gbit/s links. A super-packet is
// delayed and written back whole, header and all. Loss must hit wire
// packets, not super-packets, so while loss > 0 the offloads are switched
// off and the kernel segments before handing packets over (slower, exact).
//
// It is a test tool: it lives under src/tools and is not shipped in RPMs.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// packetIO is the device as the loops use it (a *tunDev in the program).
type packetIO interface {
	Read([]byte) (int, error)
	Write([]byte) (int, error)
}

type emulator struct {
	dev   packetIO
	q     *delayLine
	start time.Time

	// setOffload switches the device's segmentation offloads (nil: none
	// to switch); apply turns them off while loss > 0.
	setOffload func(on bool) error
	applyMu    sync.Mutex

	delay atomic.Int64  // nanoseconds
	loss  atomic.Uint64 // math.Float64bits of the drop probability

	forwarded atomic.Uint64
	super     atomic.Uint64 // of which GSO super-packets
	lost      atomic.Uint64 // dropped on purpose (loss)
	overflow  atomic.Uint64 // dropped because the line was full
	errs      atomic.Uint64
}

func (e *emulator) now() int64 { return int64(time.Since(e.start)) }

// readLoop moves packets from the device into the delay line.
func (e *emulator) readLoop(seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	scratch := make([]byte, maxPacket)
	for {
		buf := e.q.reserve()
		full := buf == nil
		if full {
			buf = scratch[:] // read and discard: the line is full
		}
		n, err := e.dev.Read(buf)
		if err != nil {
			return err
		}
		switch {
		case full:
			e.overflow.Add(1)
		case n <= vnetHdrLen:
			e.errs.Add(1) // a header without a packet: never from the kernel
		case rng.Float64() < math.Float64frombits(e.loss.Load()):
			e.lost.Add(1)
		case e.delay.Load() == 0 && e.q.len() == 0:
			// Nothing to wait for and nothing queued ahead: send at once
			// instead of handing over to the writer (a wake-up per packet
			// halves throughput at 0 ms).
			e.send(buf[:n])
		default:
			e.q.commit(n, e.now()+e.delay.Load())
		}
	}
}

// writeLoop sends each packet back to the device once it is due.
func (e *emulator) writeLoop() {
	for {
		pkt, due, ok := e.q.peek()
		if !ok {
			<-e.q.wake
			continue
		}
		if d := due - e.now(); d > 0 {
			time.Sleep(time.Duration(d))
		}
		e.send(pkt)
		e.q.pop()
	}
}

// send writes a packet, header first, back to the device.
func (e *emulator) send(pkt []byte) {
	if _, err := e.dev.Write(pkt); err != nil {
		e.errs.Add(1)
		return
	}
	e.forwarded.Add(1)
	if pkt[1] != unix.VIRTIO_NET_HDR_GSO_NONE { // gso_type
		e.super.Add(1)
	}
}

func (e *emulator) status() string {
	return fmt.Sprintf("delay=%v loss=%g forwarded=%d gso=%d lost=%d overflow=%d errors=%d queued=%d",
		time.Duration(e.delay.Load()), math.Float64frombits(e.loss.Load()),
		e.forwarded.Load(), e.super.Load(), e.lost.Load(), e.overflow.Load(), e.errs.Load(), e.q.len())
}

// apply sets delay and loss. Offloads go off before loss becomes
// non-zero and back on after it returns to zero, so a super-packet (whose
// loss would take all its segments at once) only meets loss = 0.
func (e *emulator) apply(c command) error {
	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	if c.hasDelay {
		e.delay.Store(int64(c.delay))
	}
	if !c.hasLoss {
		return nil
	}
	was := math.Float64frombits(e.loss.Load())
	if e.setOffload != nil && c.loss > 0 && was == 0 {
		if err := e.setOffload(false); err != nil {
			return fmt.Errorf("offloads off for loss: %v", err)
		}
	}
	e.loss.Store(math.Float64bits(c.loss))
	if e.setOffload != nil && c.loss == 0 && was > 0 {
		if err := e.setOffload(true); err != nil {
			return fmt.Errorf("offloads back on: %v", err)
		}
	}
	return nil
}

// serveControl answers one line per request on each connection.
func (e *emulator) serveControl(l net.Listener) {
	for {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			sc := bufio.NewScanner(conn)
			for sc.Scan() {
				c, err := parseCommand(sc.Text())
				if err != nil {
					fmt.Fprintf(conn, "error: %v\n", err)
					continue
				}
				if c.verb == "set" {
					if err := e.apply(c); err != nil {
						fmt.Fprintf(conn, "error: %v\n", err)
						continue
					}
					fmt.Fprintf(os.Stderr, "vcluster-wanem: delay=%v loss=%g\n",
						time.Duration(e.delay.Load()), math.Float64frombits(e.loss.Load()))
				}
				fmt.Fprintf(conn, "ok %s\n", e.status())
			}
		}()
	}
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "vcluster-wanem: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	dev := flag.String("dev", "wan0", "TUN device to attach to (created if missing, kept afterwards)")
	delayS := flag.String("delay", "0s", "initial one-way delay")
	lossS := flag.String("loss", "0", "initial drop probability, in [0,1)")
	queue := flag.Int("queue", 32768, "delay line capacity in packets (tail drop beyond)")
	bufMiB := flag.Int("buffer", 64, "delay line capacity in MiB (tail drop beyond; 64 MiB holds 250 ms at 1 Gbit/s each way)")
	ctl := flag.String("control", "", "unix socket for run-time control (set delay=.. loss=.., get)")
	seed := flag.Uint64("seed", 1, "seed of the loss generator")
	flag.Parse()
	if flag.NArg() != 0 {
		return fmt.Errorf("unexpected argument %q", flag.Arg(0))
	}
	d, err := parseDelay(*delayS)
	if err != nil {
		return err
	}
	p, err := parseLoss(*lossS)
	if err != nil {
		return err
	}
	if *queue < 1 || *queue > 1<<20 {
		return fmt.Errorf("queue %d outside 1..%d", *queue, 1<<20)
	}
	if *bufMiB < 1 || *bufMiB > 4096 {
		return fmt.Errorf("buffer %d MiB outside 1..4096", *bufMiB)
	}

	ifc, err := openTUN(*dev)
	if err != nil {
		return fmt.Errorf("open TUN %s: %v", *dev, err)
	}
	e := &emulator{dev: ifc, q: newDelayLine(*queue, *bufMiB<<20, maxPacket), start: time.Now(),
		setOffload: ifc.setOffload}
	if err := e.apply(command{delay: d, loss: p, hasDelay: true, hasLoss: true}); err != nil {
		return err
	}

	if *ctl != "" {
		_ = os.Remove(*ctl)
		l, err := net.Listen("unix", *ctl)
		if err != nil {
			return fmt.Errorf("control socket: %v", err)
		}
		defer os.Remove(*ctl)
		go e.serveControl(l)
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	rerr := make(chan error, 1)
	go func() { rerr <- e.readLoop(*seed) }()
	go e.writeLoop()
	fmt.Fprintf(os.Stderr, "vcluster-wanem: ready dev=%s delay=%v loss=%g queue=%d buffer=%dMiB offload=%#x\n",
		ifc.name, d, p, e.q.capacity(), len(e.q.buf)>>20, ifc.offload)

	select {
	case s := <-sig:
		fmt.Fprintf(os.Stderr, "vcluster-wanem: %v: %s\n", s, e.status())
		return nil
	case err := <-rerr:
		if errors.Is(err, os.ErrClosed) {
			return nil
		}
		return fmt.Errorf("read %s: %v", *dev, err)
	}
}
