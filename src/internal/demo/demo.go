package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
	"github.com/rocksclusters/vcluster/src/internal/workload"
)

// Config is one demo run.
type Config struct {
	Compounds int             // docking tasks per batch (default 20)
	Delays    []time.Duration // one batch per one-way inter-site delay (default 0)
	Nodes     int             // compute guests (default 13: one per container)
	Dir       string          // work folder (default temporary)
	Keep      bool            // keep the work folder
	Cache     string          // prepared compounds (default build/workload)
	Progress  io.Writer       // default os.Stdout
	Guests    string          // GuestsNS (default) or GuestsVM
	// NoRelocate skips the VM guests' last step: a container dies and its
	// guest must come back as a new VM elsewhere.
	NoRelocate bool
	// Hold, when set, is called with the running cluster after the report
	// and before clean-up (the program's -keep waits there for Ctrl-C).
	Hold func(*Cluster)
}

// Report is what the demo found.
type Report struct {
	Sites    int
	Guests   int
	VMs      int // guests that are real VMs
	Boot     BootStats
	Idle     *VMCost
	Relocate *Relocation
	Reach    *Reach
	Batches  []Batch
	TasksOK  int
	TasksAll int
	Elapsed  time.Duration
	Errors   []string // every step that failed
}

// Batch is one docking batch at one delay.
type Batch struct {
	Delay   time.Duration
	OK, All int
	Seconds float64
	PerNode int    // guests that ran at least one task
	Dir     string // the batch's work folder (results.tsv: one line per task)
	Err     string
}

// OK reports whether everything worked: every pair reachable, every task
// checked, no failed step.
func (r *Report) OK() bool {
	return len(r.Errors) == 0 && r.Reach != nil && r.Reach.Pairs > 0 && r.Reach.OK == r.Reach.Pairs &&
		r.TasksAll > 0 && r.TasksOK == r.TasksAll
}

// Last is the report's last line, exactly as issue 7 asks.
func (r *Report) Last() string {
	ok, pairs := 0, 0
	if r.Reach != nil {
		ok, pairs = r.Reach.OK, r.Reach.Pairs
	}
	return fmt.Sprintf("demo: sites=%d guests=%d vms=%d reachable=%d/%d tasks=%d/%d", r.Sites, r.Guests, r.VMs, ok, pairs, r.TasksOK, r.TasksAll)
}

// String is the short report; its last line is Last.
func (r *Report) String() string {
	var b strings.Builder
	b.WriteString("---- vcluster demo report ----\n")
	fmt.Fprintf(&b, "sites:        %d\n", r.Sites)
	if r.VMs > 0 {
		fmt.Fprintf(&b, "guests:       %d, %d of them QEMU VMs booted by the agents (DHCP, kickstart over HTTP, edge); the virtual frontend's VM on site A's frontend\n", r.Guests, r.VMs)
		fmt.Fprintf(&b, "boot:         %s\n", r.Boot)
		fmt.Fprintf(&b, "boot each:    %s\n", r.Boot.PerGuest())
		if r.Idle != nil {
			fmt.Fprintf(&b, "idle cost:    %s\n", r.Idle)
		}
	} else {
		fmt.Fprintf(&b, "guests:       %d (virtual frontend + compute guests, one namespace each, kickstarted, edge running)\n", r.Guests)
	}
	if r.Reach != nil {
		fmt.Fprintf(&b, "overlay:      %s\n", r.Reach)
	}
	if r.Relocate != nil {
		fmt.Fprintf(&b, "relocation:   %s\n", r.Relocate)
	}
	for _, x := range r.Batches {
		fmt.Fprintf(&b, "batch:        delay %v one-way: tasks %d/%d checked, %.1f s, %d guests ran tasks", x.Delay, x.OK, x.All, x.Seconds, x.PerNode)
		if x.Err != "" {
			fmt.Fprintf(&b, "; error: %s", x.Err)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "elapsed:      %.0f s\n", r.Elapsed.Seconds())
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "FAILED:       %s\n", e)
	}
	b.WriteString(r.Last() + "\n")
	return b.String()
}

// Run is `make demo`: it builds everything, proves reachability, runs the
// batch once per delay, cleans up and returns the report (also when a
// step failed; the error then says which).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Compounds <= 0 {
		cfg.Compounds = 20
	}
	if len(cfg.Delays) == 0 {
		cfg.Delays = []time.Duration{0}
	}
	rep := &Report{}
	fail := func(err error) {
		if err != nil {
			rep.Errors = append(rep.Errors, err.Error())
		}
	}
	start := time.Now()
	defer func() { rep.Elapsed = time.Since(start) }()

	// Compounds are prepared (or found in the cache) while the bed comes up.
	type prepared struct {
		set *workload.Set
		err error
	}
	prep := make(chan prepared, 1)
	go func() {
		set, err := prepare(cfg.Cache, cfg.Compounds)
		prep <- prepared{set, err}
	}()

	c, err := Open(ctx, Options{Dir: cfg.Dir, Keep: cfg.Keep, Progress: cfg.Progress, Guests: cfg.Guests})
	if err != nil {
		<-prep
		fail(err)
		return rep, err
	}
	defer c.Close()
	rep.Sites = len(c.Bed.Sites)
	nodes := cfg.Nodes
	if nodes <= 0 {
		nodes = len(c.Conts)
	}
	if err := c.Create(ctx, nodes); err != nil {
		<-prep
		fail(err)
		return rep, err
	}
	if c.VM() {
		err = c.upVMs(ctx, rep)
	} else {
		err = c.upNamespaces(ctx, rep)
	}
	if err != nil {
		<-prep
		fail(err)
		return rep, err
	}

	p := <-prep
	if p.err != nil {
		fail(p.err)
		return rep, p.err
	}
	set := p.set
	if c.VM() && ctx.Err() == nil {
		if set, err = c.shareSet(set); err != nil {
			fail(err)
			return rep, err
		}
	}
	if ctx.Err() == nil {
		batches, err := c.Batches(ctx, set, "overlay", cfg.Delays)
		rep.Batches = batches
		fail(err)
	}
	if c.VM() && !cfg.NoRelocate && ctx.Err() == nil {
		r, err := c.RelocateVM(ctx, nil, 5*time.Minute)
		rep.Relocate = r
		fail(err)
	}
	for _, x := range rep.Batches {
		rep.TasksOK += x.OK
		rep.TasksAll += x.All
	}
	rep.Elapsed = time.Since(start)
	if cfg.Hold != nil && ctx.Err() == nil {
		cfg.Hold(c)
	}
	c.Step("cleaning up: stopping every process the demo started (by PID) and removing its namespaces")
	if !rep.OK() {
		if len(rep.Errors) > 0 {
			return rep, errors.New(rep.Errors[0])
		}
		return rep, errors.New("not every pair reachable or not every task ok")
	}
	return rep, nil
}

// upNamespaces: sync, then every guest a namespace that runs its
// kickstart, then all-pairs ping from the namespaces.
func (c *Cluster) upNamespaces(ctx context.Context, rep *Report) error {
	// A failed sync is reported; the guests still come up from the
	// database's placement, so the rest of the demo shows what works.
	if err := c.Sync(ctx); err != nil {
		rep.Errors = append(rep.Errors, err.Error())
	}
	hosts, err := c.Hosts(ctx)
	if err == nil {
		err = c.Boot(ctx, hosts)
	}
	if err != nil {
		return err
	}
	rep.Guests = len(c.Guests)
	reach, err := c.Reachability(ctx, 60*time.Second, 8)
	rep.Reach = reach
	if reach != nil {
		c.Step("%s", reach)
	}
	if err != nil {
		rep.Errors = append(rep.Errors, err.Error())
	}
	return nil
}

// upVMs: the sync boots every compute guest as a VM; each must say READY
// on its console; all pairs are pinged from inside the VMs; then the
// booted guests' idle CPU and memory are measured.
func (c *Cluster) upVMs(ctx context.Context, rep *Report) error {
	hosts, err := c.Hosts(ctx)
	if err != nil {
		return err
	}
	err = c.BootVMs(ctx, hosts, 6*time.Minute)
	rep.Guests, rep.VMs, rep.Boot = len(c.Guests), len(c.VMs()), Boots(c.Guests)
	if err != nil {
		return err
	}
	c.Step("%s", rep.Boot)
	reach, err := c.ReachabilityVMs(ctx, 3*time.Minute)
	rep.Reach = reach
	if reach != nil {
		c.Step("%s", reach)
	}
	if err != nil {
		rep.Errors = append(rep.Errors, err.Error())
	}
	if idle, err := c.MeasureIdle(ctx, 10*time.Second); err == nil {
		rep.Idle = &idle
		c.Step("idle: %s", idle)
	} else {
		rep.Errors = append(rep.Errors, "idle measurement: "+err.Error())
	}
	return nil
}

// Batches starts a private Slurm on the guests — slurmctld on the virtual
// frontend, a slurmd per compute guest, all on their overlay addresses
// (mode "overlay") or their underlay ones ("underlay") — and runs the
// batch once per delay.
func (c *Cluster) Batches(ctx context.Context, set *workload.Set, mode string, delays []time.Duration) ([]Batch, error) {
	s, err := c.StartSlurm(mode)
	if err != nil {
		return nil, err
	}
	defer s.Stop()
	var out []Batch
	for _, d := range delays {
		b, err := c.Batch(ctx, s, set, mode, d)
		out = append(out, b)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// StartSlurm starts Slurm over the guests' overlay or underlay addresses.
func (c *Cluster) StartSlurm(mode string) (*workload.Slurm, error) {
	if c.VM() {
		if mode != "overlay" {
			return nil, fmt.Errorf("slurm %s: VM guests run Slurm over the overlay only", mode)
		}
		return c.startSlurmVM()
	}
	fe := c.Frontend()
	if fe == nil {
		return nil, errors.New("no virtual frontend to run slurmctld")
	}
	ctlAddr := fe.Overlay
	if mode == "underlay" {
		ctlAddr = fe.Host.Addr
	}
	var nodes []workload.Node
	for _, g := range c.Computes() {
		a := g.Overlay
		if mode == "underlay" {
			a = g.Host.Addr
		}
		nodes = append(nodes, workload.Node{Name: g.Name, Host: g.Host, Addr: a, CPUs: 1})
	}
	dir := filepath.Join(c.Dir, "slurm-"+mode)
	_ = os.RemoveAll(dir)
	c.Step("slurm (%s): slurmctld on %s at %s, slurmd on %d compute guests", mode, fe.Name, ctlAddr, len(nodes))
	return workload.StartSlurm(workload.SlurmConfig{Dir: dir, Controller: fe.Host, ControllerAddr: ctlAddr, Nodes: nodes})
}

// Batch sets the delay and runs the set once, checking every result.
func (c *Cluster) Batch(ctx context.Context, s *workload.Slurm, set *workload.Set, mode string, d time.Duration) (Batch, error) {
	b := Batch{Delay: d, All: len(set.Compounds)}
	if err := c.Bed.SetDelay(d, 0); err != nil {
		b.Err = err.Error()
		return b, err
	}
	c.Step("batch (%s): %d compounds, one-way delay %v between sites", mode, len(set.Compounds), d)
	dir := filepath.Join(c.runsDir(), fmt.Sprintf("%s-%dms", mode, d.Milliseconds()))
	_ = os.RemoveAll(dir)
	b.Dir = dir
	if c.VM() {
		// The guests' tasks write there as the QEMU user.
		if err := c.mkShared(dir); err != nil {
			b.Err = err.Error()
			return b, err
		}
	}
	r, err := workload.Run(ctx, s, set, dir, c.progressLines(len(set.Compounds)))
	if r != nil {
		b.OK, b.Seconds, b.PerNode = r.OK, r.Wall.Seconds(), len(r.PerNode)
		_ = r.WriteResults(filepath.Join(dir, "results.tsv"))
		for _, t := range r.Tasks {
			if t.Err != "" && b.Err == "" {
				b.Err = t.Compound + ": " + t.Err
			}
		}
	}
	if err != nil {
		b.Err = err.Error()
		return b, fmt.Errorf("batch %s at %v: %v", mode, d, err)
	}
	c.Step("batch (%s) at %v: %s", mode, d, r.Summary())
	if b.OK != b.All {
		return b, fmt.Errorf("batch %s at %v: tasks %d/%d", mode, d, b.OK, b.All)
	}
	return b, nil
}

// prepare returns the compound set from the cache (build/workload by
// default), preparing it on first use.
func prepare(cache string, n int) (*workload.Set, error) {
	if cache == "" {
		root, err := repoRoot()
		if err != nil {
			return nil, err
		}
		cache = filepath.Join(root, "build", "workload")
	}
	st := workload.DefaultSettings()
	st.Count = n
	return workload.Prepare(cache, st)
}

func repoRoot() (string, error) { return binaries.RepoRoot() }
