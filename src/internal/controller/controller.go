package controller

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/agentclient"
	"github.com/rocksclusters/vcluster/src/internal/auth"
)

// Defaults of Options.
const (
	DefaultConcurrency  = 128
	DefaultCallTimeout  = 30 * time.Second
	DefaultBridge       = "eth0" // Rocks' Xen containers bridge the private network as eth0
	DefaultPublicBridge = "eth1"
	DefaultBoot         = agentapi.BootHVM // network boot first: the guest kickstarts
)

// Options tune a Controller; zero values take the defaults.
type Options struct {
	Concurrency  int           // containers worked on at once
	CallTimeout  time.Duration // bound of each agent call
	Bridge       string        // bridge of a guest's private NIC
	PublicBridge string        // bridge of a virtual frontend's public NIC
	Boot         string        // agentapi.BootHVM or BootPV
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
	if opt.Boot == "" {
		opt.Boot = DefaultBoot
	}
	return &Controller{db: d, opt: opt, clients: map[string]*agentclient.Client{}, keys: map[string]*auth.Key{},
		pools: map[string]*x509.CertPool{}}
}

// DB is the controller's database.
func (c *Controller) DB() *sql.DB { return c.db }

// Client returns the (cached) agent client of a container, signing with
// its site's key; an https agent's certificate is checked against its
// site's CA file (or the system's roots).
func (c *Controller) Client(ct *Container) (*agentclient.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := ct.Agent + "\x00" + ct.KeyFile + "\x00" + ct.CAFile
	if cl := c.clients[id]; cl != nil {
		return cl, nil
	}
	var key *auth.Key
	if ct.KeyFile != "" {
		if key = c.keys[ct.KeyFile]; key == nil {
			k, err := auth.LoadKey(ct.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("site %s key: %v", ct.Site, err)
			}
			c.keys[ct.KeyFile], key = k, k
		}
	}
	u, err := AgentURL(ct.Agent)
	if err != nil {
		return nil, err
	}
	opts := []agentclient.Option{agentclient.WithTimeout(c.opt.CallTimeout)}
	if strings.HasPrefix(u, "https://") {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if ct.CAFile != "" {
			pool := c.pools[ct.CAFile]
			if pool == nil {
				if pool, err = LoadCAFile(ct.CAFile); err != nil {
					return nil, fmt.Errorf("site %s CA file: %v", ct.Site, err)
				}
				c.pools[ct.CAFile] = pool
			}
			cfg.RootCAs = pool
		}
		opts = append(opts, agentclient.WithTLSConfig(cfg))
	}
	cl, err := agentclient.New(u, key, opts...)
	if err != nil {
		return nil, err
	}
	c.clients[id] = cl
	return cl, nil
}

// AgentURL is the XML-RPC URL of an agent address as vc_containers.Agent
// holds it: host:port means http; http:// and https:// are kept.
func AgentURL(agent string) (string, error) {
	u := agent
	if !strings.Contains(agent, "://") {
		u = "http://" + agent
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.Path != "" && p.Path != "/" && p.Path != "/RPC2" {
		return "", fmt.Errorf("agent address %q: want HOST:PORT or https://HOST:PORT", agent)
	}
	return p.Scheme + "://" + p.Host + "/RPC2", nil
}

// LoadCAFile reads PEM certificates to trust for https agents.
func LoadCAFile(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no PEM certificate in it", path)
	}
	return pool, nil
}

// ContainerResult is what happened at one container.
type ContainerResult struct {
	Container                                       string
	Err                                             error // unreachable, or the first failed call
	Relevant                                        bool  // holds a desired guest or a recorded copy in scope
	Defined, Started, Stopped, Destroyed, Undefined int
}

// Changes is the number of state-changing calls made there.
func (r ContainerResult) Changes() int {
	return r.Defined + r.Started + r.Stopped + r.Destroyed + r.Undefined
}

// Report is the outcome of one Reconcile.
type Report struct {
	Containers []ContainerResult // by name
	Blocked    []string          // "guest: why it is not running where it should"
	Guests     int               // guests in scope that should run
	Running    int               // of those, running where they should after this pass
	Calls      int               // state-changing agent calls made
	Revived    []int64           // Filter.Revive containers whose stale copies are all gone
}

// Converged reports whether everything in scope is as the database says.
func (r *Report) Converged() bool {
	if len(r.Blocked) > 0 {
		return false
	}
	for _, c := range r.Containers {
		if c.Err != nil && c.Relevant {
			return false
		}
	}
	return true
}

// Failures are the containers that failed (relevant or not).
func (r *Report) Failures() []ContainerResult {
	var out []ContainerResult
	for _, c := range r.Containers {
		if c.Err != nil {
			out = append(out, c)
		}
	}
	return out
}

// active mirrors libvirt: a guest that holds resources.
func active(state string) bool {
	switch state {
	case agentapi.StateShutoff, agentapi.StateCrashed, agentapi.StateNoState, "":
		return false
	}
	return true
}

// work is one container's part of a pass.
type work struct {
	ct     *Container
	cl     *agentclient.Client
	status agentapi.HostStatus
	guests map[string]agentapi.GuestInfo
	res    ContainerResult
	revive bool
	listed bool
	// cleared: guests whose copy here is confirmed gone this pass.
	cleared map[string]bool
	failed  bool // a cleanup call failed
}

// Reconcile makes one pass: read the desired state, ask every live
// container (and the revived ones) what it runs, destroy stale copies,
// then define and start what is missing. The caller holds the Lock.
func (c *Controller) Reconcile(ctx context.Context, f Filter) (*Report, error) {
	st, err := Load(ctx, c.db)
	if err != nil {
		return nil, err
	}
	return c.reconcile(ctx, st, f)
}

func (c *Controller) reconcile(ctx context.Context, st *State, f Filter) (*Report, error) {
	revive := map[int64]bool{}
	for _, id := range f.Revive {
		revive[id] = true
	}
	// Scope: which containers hold something this pass is about.
	relevant := map[int64]bool{}
	for _, g := range st.Guests {
		if g.Container != 0 && f.match(g.Name, g.Cluster) {
			relevant[g.Container] = true
		}
	}
	for name, cs := range st.Copies {
		if f.match(name, st.CopyOwner[name]) {
			for _, id := range cs {
				relevant[id] = true
			}
		}
	}
	var ws []*work
	byID := map[int64]*work{}
	for _, ct := range st.Containers {
		if ct.Dead && !revive[ct.ID] {
			continue
		}
		w := &work{ct: ct, revive: revive[ct.ID], cleared: map[string]bool{},
			res: ContainerResult{Container: ct.Name(), Relevant: relevant[ct.ID] || revive[ct.ID]}}
		ws = append(ws, w)
		byID[ct.ID] = w
	}
	sort.Slice(ws, func(i, j int) bool { return ws[i].res.Container < ws[j].res.Container })

	// 1. What runs where (host.status also gives the load report).
	c.each(ctx, ws, func(ctx context.Context, w *work) {
		cl, err := c.Client(w.ct)
		if err != nil {
			w.res.Err = err
			return
		}
		w.cl = cl
		cctx, cancel := context.WithTimeout(ctx, c.opt.CallTimeout)
		w.status, err = cl.Status(cctx)
		cancel()
		if err != nil {
			w.res.Err = unreachable(err)
			return
		}
		w.listed = true
		w.guests = make(map[string]agentapi.GuestInfo, len(w.status.Guests))
		for _, g := range w.status.Guests {
			w.guests[g.Name] = g
		}
	})
	now := time.Now().UTC().Truncate(time.Second)
	reports := map[int64]agentapi.HostStatus{}
	for _, w := range ws {
		if w.listed {
			reports[w.ct.ID] = w.status
		}
	}
	if err := StoreStatus(ctx, c.db, now, reports); err != nil {
		return nil, err
	}

	// 2. Stale copies first: destroyed and undefined wherever they are
	// reachable, so nothing is started while an old copy may run.
	c.each(ctx, ws, func(ctx context.Context, w *work) {
		if !w.listed {
			return
		}
		names := make([]string, 0, len(w.guests))
		for n := range w.guests {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, name := range names {
			gi := w.guests[name]
			cl := st.clusterOf(name)
			if cl == "" || !w.revive && !f.match(name, cl) {
				continue // not ours (or not this pass's): never touched
			}
			g := st.Guests[name]
			if g != nil && g.Container == w.ct.ID {
				if !g.On && active(gi.State) && !w.revive {
					if c.call(ctx, w, &w.res.Stopped, func(ctx context.Context) error { return w.cl.Shutdown(ctx, name) }) != nil {
						return
					}
				}
				continue
			}
			if active(gi.State) {
				if c.call(ctx, w, &w.res.Destroyed, func(ctx context.Context) error { return w.cl.Destroy(ctx, name) }) != nil {
					w.failed = true
					return
				}
			}
			if c.call(ctx, w, &w.res.Undefined, func(ctx context.Context) error { return w.cl.Undefine(ctx, name) }) != nil {
				w.failed = true
				return
			}
			delete(w.guests, name)
			w.cleared[name] = true
		}
	})
	// Recorded copies confirmed gone are forgotten.
	var gone []copyAt
	for name, cs := range st.Copies {
		match := f.match(name, st.CopyOwner[name])
		for _, id := range cs {
			w := byID[id]
			if w == nil || !w.listed || !match && !w.revive {
				continue
			}
			if _, there := w.guests[name]; !there {
				w.cleared[name] = true
				if g := st.Guests[name]; g == nil || g.Container != id {
					gone = append(gone, copyAt{name, id})
				}
			}
		}
	}
	if err := deleteCopies(ctx, c.db, gone); err != nil {
		return nil, err
	}
	rep := &Report{}
	for _, id := range f.Revive {
		if w := byID[id]; w != nil && w.listed && !w.failed && w.res.Err == nil {
			rep.Revived = append(rep.Revived, id)
		}
	}

	// 3. Define and start what should run, once every other copy is
	// confirmed gone or its container confirmed dead.
	type job struct {
		g      *Guest
		define bool
		start  bool
	}
	jobs := map[*work][]job{}
	var newCopies []*Guest
	names := make([]string, 0, len(st.Guests))
	for n, g := range st.Guests {
		if g.On && g.Container != 0 && f.match(n, g.Cluster) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		g := st.Guests[name]
		rep.Guests++
		ct := st.Containers[g.Container]
		w := byID[g.Container]
		switch {
		case ct == nil:
			rep.Blocked = append(rep.Blocked, name+": its container is not registered")
			continue
		case ct.Dead:
			rep.Blocked = append(rep.Blocked, fmt.Sprintf("%s: container %s is dead; vclusterd relocates its guests", name, ct.Name()))
			continue
		case w == nil || !w.listed:
			rep.Blocked = append(rep.Blocked, fmt.Sprintf("%s: container %s unreachable", name, ct.Name()))
			continue
		}
		if why := fenced(st, byID, name, g.Container); why != "" {
			rep.Blocked = append(rep.Blocked, name+": "+why)
			continue
		}
		gi, there := w.guests[name]
		switch {
		case !there:
			jobs[w] = append(jobs[w], job{g: g, define: true, start: true})
			if !contains(st.Copies[name], g.Container) {
				newCopies = append(newCopies, g)
			}
		case !active(gi.State) || gi.State == agentapi.StatePaused:
			jobs[w] = append(jobs[w], job{g: g, start: true})
		default:
			rep.Running++
		}
	}
	// The copy is recorded before it is defined: a crash in between
	// leaves a record of a copy that may not exist, never the reverse.
	if err := insertCopies(ctx, c.db, newCopies, now); err != nil {
		return nil, err
	}
	if c.opt.Begin != nil {
		c.opt.Begin(len(ws))
	}
	var running atomic.Int64
	c.each(ctx, ws, func(ctx context.Context, w *work) {
		defer func() {
			if c.opt.Progress != nil {
				c.opt.Progress(w.res)
			}
		}()
		for _, j := range jobs[w] {
			if j.define {
				spec := c.spec(j.g)
				if c.call(ctx, w, &w.res.Defined, func(ctx context.Context) error { return w.cl.Define(ctx, spec) }) != nil {
					return
				}
			}
			if j.start {
				name := j.g.Name
				if c.call(ctx, w, &w.res.Started, func(ctx context.Context) error { return w.cl.Start(ctx, name) }) != nil {
					return
				}
			}
			running.Add(1)
		}
	})
	rep.Running += int(running.Load())
	for _, w := range ws {
		rep.Containers = append(rep.Containers, w.res)
		rep.Calls += w.res.Changes()
	}
	if rep.Running < rep.Guests && len(rep.Blocked) == 0 {
		rep.Blocked = append(rep.Blocked, fmt.Sprintf("%d of %d guests not running (see the failed containers)", rep.Guests-rep.Running, rep.Guests))
	}
	return rep, nil
}

// fenced says why guest name may not start on container target yet, or "".
func fenced(st *State, byID map[int64]*work, name string, target int64) string {
	for _, id := range st.Copies[name] {
		if id == target {
			continue
		}
		ct := st.Containers[id]
		if ct == nil || ct.Dead {
			continue // confirmed dead: fenced by vclusterd
		}
		if w := byID[id]; w == nil || !w.cleared[name] {
			return fmt.Sprintf("an old copy on %s is not confirmed destroyed (container unreachable); not started elsewhere", ct.Name())
		}
	}
	// Copies nobody recorded (found by name) on other live containers.
	for id, w := range byID {
		if id == target || !w.listed || w.ct.Dead {
			continue
		}
		if _, there := w.guests[name]; there {
			return fmt.Sprintf("a copy on %s could not be destroyed", w.ct.Name())
		}
	}
	return ""
}

func contains(xs []int64, x int64) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// spec is the agent's definition of a guest.
func (c *Controller) spec(g *Guest) agentapi.GuestSpec {
	s := agentapi.GuestSpec{Name: g.Name, CPUs: g.CPUs, MemMB: g.Mem, DiskGB: g.Disk,
		MACs: append([]string(nil), g.MACs...), Bridge: c.opt.Bridge, Boot: c.opt.Boot}
	if len(g.MACs) > 1 {
		s.PublicBridge = c.opt.PublicBridge
	}
	return s
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
		return fmt.Errorf("unreachable: no answer in time (%v)", err)
	}
	return fmt.Errorf("unreachable: %v", err)
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
