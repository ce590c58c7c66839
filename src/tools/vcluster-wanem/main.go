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
	"sync/atomic"
	"syscall"
	"time"

	"github.com/songgao/water"
)

// slotSize holds any packet the TUN device can deliver at an MTU up to
// slotSize (we set the device MTU to 1500, the veth MTU).
const slotSize = 2048

type emulator struct {
	dev   *water.Interface
	q     *delayLine
	start time.Time

	delay atomic.Int64  // nanoseconds
	loss  atomic.Uint64 // math.Float64bits of the drop probability

	forwarded atomic.Uint64
	lost      atomic.Uint64 // dropped on purpose (loss)
	overflow  atomic.Uint64 // dropped because the line was full
	errs      atomic.Uint64
}

func (e *emulator) now() int64 { return int64(time.Since(e.start)) }

// readLoop moves packets from the device into the delay line.
func (e *emulator) readLoop(seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var scratch [slotSize]byte
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
		case n == 0:
		case rng.Float64() < math.Float64frombits(e.loss.Load()):
			e.lost.Add(1)
		case e.delay.Load() == 0 && e.q.len() == 0:
			// Nothing to wait for and nothing queued ahead: send at once
			// instead of handing over to the writer (a wake-up per packet
			// halves throughput at 0 ms).
			if _, err := e.dev.Write(buf[:n]); err != nil {
				e.errs.Add(1)
			} else {
				e.forwarded.Add(1)
			}
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
		if _, err := e.dev.Write(pkt); err != nil {
			e.errs.Add(1)
		} else {
			e.forwarded.Add(1)
		}
		e.q.pop()
	}
}

func (e *emulator) status() string {
	return fmt.Sprintf("delay=%v loss=%g forwarded=%d lost=%d overflow=%d errors=%d queued=%d",
		time.Duration(e.delay.Load()), math.Float64frombits(e.loss.Load()),
		e.forwarded.Load(), e.lost.Load(), e.overflow.Load(), e.errs.Load(), e.q.len())
}

func (e *emulator) apply(c command) {
	if c.hasDelay {
		e.delay.Store(int64(c.delay))
	}
	if c.hasLoss {
		e.loss.Store(math.Float64bits(c.loss))
	}
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
					e.apply(c)
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

	cfg := water.Config{DeviceType: water.TUN}
	cfg.Name = *dev
	cfg.Persist = true // routes pointing at the device survive a restart
	ifc, err := water.New(cfg)
	if err != nil {
		return fmt.Errorf("open TUN %s: %v", *dev, err)
	}
	e := &emulator{dev: ifc, q: newDelayLine(*queue, slotSize), start: time.Now()}
	e.apply(command{delay: d, loss: p, hasDelay: true, hasLoss: true})

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
	fmt.Fprintf(os.Stderr, "vcluster-wanem: ready dev=%s delay=%v loss=%g queue=%d\n",
		ifc.Name(), d, p, e.q.capacity())

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
