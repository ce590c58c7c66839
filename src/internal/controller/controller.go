package controller

import (
	"context"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/agentclient"
	"github.com/rocksclusters/vcluster/src/internal/auth"
	"github.com/rocksclusters/vcluster/src/internal/guestboot"
)

// Defaults of Options.
const (
	DefaultConcurrency  = 128
	DefaultCallTimeout  = 30 * time.Second
	DefaultBridge       = "eth0" // Rocks' Xen containers bridge the private network as eth0
	DefaultPublicBridge = "eth1"
)

// Options tune a Controller; zero values take the defaults.
type Options struct {
	Concurrency  int           // containers worked on at once
	CallTimeout  time.Duration // bound of each agent call
	Bridge       string        // bridge of a guest's private NIC
	PublicBridge string        // bridge of a virtual frontend's public NIC
	// Lease is carried in every signed call (clients.go; 0: DefaultLease);
	// LeaseArm grants it to agents that hold none (vclusterd only).
	Lease    time.Duration
	LeaseArm bool
	// Begin, when set, is told how many containers this pass works on,
	// before the first Progress.
	Begin func(total int)
	// Progress, when set, is called once per container when its work is
	// done (from several goroutines).
	Progress func(ContainerResult)
}

// Controller reconciles. It caches one agent client per container.
type Controller struct {
	db  *sql.DB
	opt Options

	mu      sync.Mutex
	clients map[string]*agentclient.Client
	keys    map[string]*auth.Key
	pools   map[string]*x509.CertPool // CA file -> its certificates
}

// New makes a Controller over the database.
func New(d *sql.DB, opt Options) *Controller {
	if opt.Concurrency < 1 {
		opt.Concurrency = DefaultConcurrency
	}
	if opt.CallTimeout <= 0 {
		opt.CallTimeout = DefaultCallTimeout
	}
	if opt.Bridge == "" {
		opt.Bridge = DefaultBridge
	}
	if opt.PublicBridge == "" {
		opt.PublicBridge = DefaultPublicBridge
	}
	return &Controller{db: d, opt: opt, clients: map[string]*agentclient.Client{}, keys: map[string]*auth.Key{},
		pools: map[string]*x509.CertPool{}}
}

// DB is the controller's database.
func (c *Controller) DB() *sql.DB { return c.db }

// active mirrors libvirt: a guest that holds resources.
func active(state string) bool {
	switch state {
	case agentapi.StateShutoff, agentapi.StateCrashed, agentapi.StateNoState, "":
		return false
	}
	return true
}

// spec is the agent's definition of a guest; boot is how it boots (the
// Rocks attributes guestboot reads, the same for sync and vclusterd).
func (c *Controller) spec(g *Guest, boot guestboot.Settings) agentapi.GuestSpec {
	s := agentapi.GuestSpec{Name: g.Name, CPUs: g.CPUs, MemMB: g.Mem, DiskGB: g.Disk,
		MACs: append([]string(nil), g.MACs...), Bridge: c.opt.Bridge}
	if len(g.MACs) > 1 {
		s.PublicBridge = c.opt.PublicBridge
	}
	boot.Apply(&s)
	return s
}

// bootFor reads the boot settings when some job defines a guest: a bad
// setting stops the definitions (one error) and nothing else.
func (c *Controller) bootFor(ctx context.Context, jobs map[*work][]job) (guestboot.Settings, error) {
	for _, js := range jobs {
		for _, j := range js {
			if j.define {
				return guestboot.Load(ctx, c.db)
			}
		}
	}
	return guestboot.Settings{}, nil
}

// call makes one state-changing call with its own deadline, counts it and
// records the first failure.
func (c *Controller) call(ctx context.Context, w *work, counter *int, fn func(context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, c.opt.CallTimeout)
	err := fn(cctx)
	cancel()
	*counter++
	if err != nil && w.res.Err == nil {
		w.res.Err = unreachable(err)
	}
	return err
}

func unreachable(err error) error {
	if _, ok := agentapi.FaultCode(err); ok {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("unreachable: no answer in time (%w)", err)
	}
	return fmt.Errorf("unreachable: %w", err)
}

// each runs fn over ws with at most Concurrency at once.
func (c *Controller) each(ctx context.Context, ws []*work, fn func(context.Context, *work)) {
	sem := make(chan struct{}, c.opt.Concurrency)
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(ctx, w)
		}()
	}
	wg.Wait()
}
