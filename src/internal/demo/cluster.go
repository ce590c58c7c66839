// Package demo assembles the whole of vcluster on one machine, as
// `make demo` and `make eval` run it: the research's three sites as
// network namespaces (src/internal/testbed), a private MariaDB holding the
// Rocks database, a private libvirtd and a vcluster-agent per VM container,
// the supernode on site A's frontend; then the real commands
// (rocks-vcluster migrate, add vcluster site/container, add vcluster, sync
// vcluster), guests that run their rendered kickstart in a throw-away root
// and start vcluster-edge from exactly the files it wrote, an all-pairs
// reachability check over the overlay, and the docking batch
// (src/internal/workload) with Slurm's daemons on the overlay addresses.
//
// Everything started is owned by a Cluster and ended by PID in Close.
package demo

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/agentclient"
	"github.com/rocksclusters/vcluster/src/internal/testbed"
	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
	"github.com/rocksclusters/vcluster/src/internal/testenv/guestroot"
	"github.com/rocksclusters/vcluster/src/internal/testenv/libvirtd"
	"github.com/rocksclusters/vcluster/src/internal/testenv/mariadb"
)

// ClusterName is the virtual cluster the demo creates.
const ClusterName = "demo"

// SupernodePort is the supernode's UDP port on A's frontend (the default
// that `rocks add vcluster` writes).
const SupernodePort = 7654

// Options shape a Cluster.
type Options struct {
	Layout   testbed.Layout // default testbed.Research()
	Nodes    int            // compute guests; default one per container
	Dir      string         // work folder; default a fresh temporary one
	Keep     bool           // keep Dir after Close
	Progress io.Writer      // a line per step; default os.Stdout
	Guests   string         // GuestsNS (default) or GuestsVM
}

// Guest is one guest of the virtual cluster as the demo runs it.
type Guest struct {
	Name      string
	Role      string // "frontend" or "compute"
	Site      string
	Container string // host name; "" for the virtual frontend
	MAC       string
	Overlay   netip.Addr // its overlay address
	Host      *testbed.Host
	Edge      *testbed.Proc
	root      *guestroot.Root
	rootDir   string

	// VM guests (GuestsVM): the serial log the demo follows, when its
	// QEMU started (the log appeared) and when it said READY.
	VM      bool
	Console string
	Started time.Time
	ReadyAt time.Time
	State   ConsoleState
	seenLog int // bytes of the log read before this boot (a restart appends)
}

// Container is one emulated VM container with its daemons.
type Container struct {
	Site    string
	Host    *testbed.Host
	Agent   *testbed.Proc
	Libvirt *libvirtd.Daemon
	URL     string
}

// Cluster is the running assembly.
type Cluster struct {
	opt   Options
	start time.Time
	out   io.Writer
	outMu sync.Mutex

	Dir   string
	Repo  string
	Bed   *testbed.Bed
	DB    *mariadb.Server
	DSN   string
	Bin   map[string]string
	Keys  map[string]string // site -> key file
	Sites []string
	Conts []*Container // the VM containers, which take compute guests
	// FEHost (VM guests only) is site A's physical frontend as the VM host
	// of the virtual frontend (rocks add vcluster container ... role=frontend).
	FEHost    *Container
	Supernode *testbed.Proc
	Subnet    string
	Guests    []*Guest // the virtual frontend first, then compute guests by index
	// VM mode: the share every guest gets read-write, the monitor (and
	// kickstart server) on the home frontend, the guest image.
	Export  string
	Monitor *testbed.Proc
	Kernel  string
	Initrd  string

	askSeq  atomic.Int64 // probes through the VMs' hooks (probe.go)
	closers []func()
}

// Open builds the bed and starts the database, agents and supernode, and
// registers the sites and containers. On error everything is closed.
func Open(ctx context.Context, opt Options) (c *Cluster, err error) {
	if opt, err = opt.withDefaults(); err != nil {
		return nil, err
	}
	c = &Cluster{opt: opt, start: time.Now(), out: opt.Progress, Bin: map[string]string{}, Keys: map[string]string{}}
	defer func() {
		if err != nil {
			c.Close()
			c = nil
		}
	}()
	steps := []func(context.Context) error{c.preflight, c.workFolder, c.openDatabase, c.openBed, c.registerSites}
	if opt.vm() {
		steps = append(steps, c.prepareVMs)
	}
	steps = append(steps, c.startAgents, c.registerContainers, c.startSupernode)
	for _, step := range steps {
		if err = step(ctx); err != nil {
			return nil, err
		}
		if err = ctx.Err(); err != nil {
			return nil, err
		}
	}
	if opt.vm() {
		if c.Monitor, err = c.startMonitor(true); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// withDefaults fills in the options' defaults and checks them.
func (o Options) withDefaults() (Options, error) {
	if len(o.Layout.Sites) == 0 {
		o.Layout = testbed.Research()
	}
	if o.Guests == "" {
		o.Guests = GuestsNS
	}
	if o.Guests != GuestsNS && o.Guests != GuestsVM {
		return o, fmt.Errorf("guests %q: want %s or %s", o.Guests, GuestsVM, GuestsNS)
	}
	// VM guests ask their site's frontend for a LAN address.
	o.Layout.DHCP = o.Layout.DHCP || o.vm()
	if o.Progress == nil {
		o.Progress = os.Stdout
	}
	return o, nil
}

// preflight checks root, the programs the bed runs and our binaries.
func (c *Cluster) preflight(context.Context) error {
	if os.Geteuid() != 0 {
		return errors.New("needs root (network namespaces, TAP devices, private daemons)")
	}
	for _, p := range []string{"ip", "tc", "ping", "unshare", "chroot", "nsenter", "mariadbd", "mariadb-install-db", libvirtd.Program} {
		if _, err := exec.LookPath(p); err != nil {
			return fmt.Errorf("%s not installed (tests/install-deps.sh installs it)", p)
		}
	}
	var err error
	if c.Repo, err = binaries.RepoRoot(); err != nil {
		return err
	}
	for _, b := range []string{"rocks-vcluster", "vcluster-agent", "vcluster-edge", "vcluster-supernode"} {
		if c.Bin[b], err = binaries.Lookup(b); err != nil {
			return err
		}
	}
	return nil
}

// workFolder makes the work folder (Options.Dir or a fresh temporary one),
// removed last on Close unless kept.
func (c *Cluster) workFolder(context.Context) error {
	var err error
	if c.Dir = c.opt.Dir; c.Dir == "" {
		if c.Dir, err = os.MkdirTemp("", "vcluster-demo-"); err != nil {
			return err
		}
	} else if err = os.MkdirAll(c.Dir, 0o755); err != nil {
		return err
	}
	c.defer_(func() {
		if !c.opt.Keep {
			_ = os.RemoveAll(c.Dir)
		}
	})
	// libvirtd runs as nobody and must reach its own folder; keys stay 0700.
	return os.Chmod(c.Dir, 0o755)
}

// openDatabase starts the private MariaDB with the database cluster.
func (c *Cluster) openDatabase(context.Context) error {
	c.Step("database: private MariaDB (Rocks base schema as database cluster)")
	var err error
	if c.DB, err = mariadb.Start(); err != nil {
		return err
	}
	c.defer_(c.DB.Stop)
	if err = c.DB.CreateDatabase("cluster"); err != nil {
		return err
	}
	c.DSN = c.DB.SocketDSN("cluster")
	return nil
}

// openBed builds the test bed's namespaces (and its WAN emulator).
func (c *Cluster) openBed(context.Context) error {
	l := c.opt.Layout
	c.Step("test bed: %s", describeLayout(l))
	if l.Dir == "" {
		l.Dir = filepath.Join(c.Dir, "bed")
		if err := os.MkdirAll(l.Dir, 0o755); err != nil {
			return err
		}
	}
	if l.Wanem == "" {
		// tests/demo.sh builds src/tools/* side by side.
		if exe, err := os.Executable(); err == nil {
			if p := filepath.Join(filepath.Dir(exe), "vcluster-wanem"); fileExists(p) {
				l.Wanem = p
			}
		}
	}
	var err error
	if c.Bed, err = testbed.Open(l); err != nil {
		return err
	}
	c.defer_(func() { _ = c.Bed.Close() })
	// Before the bed stops its own processes: what those started and
	// detached (slurmstepd and its vina, on Ctrl-C mid-batch) still lives
	// in the bed's namespaces; end it by PID.
	c.defer_(func() { killNamespaces(c.Bed) })
	return nil
}

// registerSites migrates the database and registers every site with a
// fresh key file.
func (c *Cluster) registerSites(ctx context.Context) error {
	c.Step("rocks-vcluster migrate")
	if _, err := c.Rocks(ctx, "migrate"); err != nil {
		return err
	}
	// A VM's memory is real: the agents' reports (the host's free
	// memory) are what placement sees. Only the test driver needs this.
	if !c.opt.vm() {
		if err := emulateMemory(ctx, c.DSN); err != nil {
			return err
		}
	}
	keyDir := filepath.Join(c.Dir, "keys")
	if err := os.MkdirAll(keyDir, 0o700); err != nil {
		return err
	}
	for _, s := range c.Bed.Sites {
		c.Keys[s.Name] = filepath.Join(keyDir, s.Name+".key")
		c.Sites = append(c.Sites, s.Name)
		c.Step("rocks add vcluster site %s frontend=%s", s.Name, s.Frontend.Addr)
		if _, err := c.Rocks(ctx, "add", "vcluster", "site", s.Name, "frontend="+s.Frontend.Addr.String(), "key="+c.Keys[s.Name]); err != nil {
			return err
		}
	}
	return nil
}

// startSupernode runs the supernode on A's frontend.
func (c *Cluster) startSupernode(context.Context) error {
	a := c.Bed.Site(c.Sites[0])
	c.Step("supernode: vcluster-supernode -l %d on site %s's frontend (%s)", SupernodePort, a.Name, a.Frontend.Addr)
	var err error
	c.Supernode, err = a.Frontend.Start(c.Bin["vcluster-supernode"], "-l", fmt.Sprint(SupernodePort))
	return err
}

// registerContainers runs `rocks add vcluster container` for each
// container and, with VM guests, for A's frontend as the virtual
// frontend's host (role=frontend).
func (c *Cluster) registerContainers(ctx context.Context) error {
	for _, ct := range c.containers() {
		// Declared capacity: what the test driver's host can give, 2 CPUs
		// and 4 GiB per container, until the agents' load reports land.
		args := []string{"add", "vcluster", "container", ct.Site, ct.Host.Name,
			"agent=" + ct.Host.Addr.String(), "cpus=2", fmt.Sprintf("mem=%d", ContainerMemMB)}
		if ct == c.FEHost {
			args = append(args, "role=frontend")
			c.Step("rocks %s", strings.Join(args, " "))
		}
		if _, err := c.Rocks(ctx, args...); err != nil {
			return err
		}
	}
	what := fmt.Sprintf("%d containers", len(c.Conts))
	if c.FEHost != nil {
		what += fmt.Sprintf(" and %s's frontend as the virtual frontend's host", c.FEHost.Site)
	}
	c.Step("registered %s; rocks list vcluster container:", what)
	if out, err := c.Rocks(ctx, "list", "vcluster", "container"); err == nil {
		c.Print(out)
	}
	return nil
}

// containers are every VM host of the demo: the containers, then FEHost.
func (c *Cluster) containers() []*Container {
	if c.FEHost == nil {
		return c.Conts
	}
	return append(append([]*Container(nil), c.Conts...), c.FEHost)
}

// startAgents starts a private libvirtd and a vcluster-agent per container
// (and on A's frontend with VM guests), each agent trusting its site's
// key, and waits until each answers.
func (c *Cluster) startAgents(ctx context.Context) error {
	for _, s := range c.Bed.Sites {
		for _, h := range s.Containers {
			c.Conts = append(c.Conts, &Container{Site: s.Name, Host: h})
		}
	}
	driver := "test:///default"
	if c.VM() {
		driver = libvirtd.QEMUURI + " in the container's namespace (TCG, TAP NICs, /usr and the share over 9p)"
		a := c.Bed.Site(c.Sites0())
		c.FEHost = &Container{Site: a.Name, Host: a.Frontend}
	}
	all := c.containers()
	c.Step("VM containers: a private libvirtd (%s) and vcluster-agent on each of %d", driver, len(all))
	if c.FEHost != nil {
		c.Step("and one on site %s's frontend (host %s): the virtual frontend's VM host", c.FEHost.Site, c.FEHost.Host.Name)
	}
	// libvirtd start-up is short; a few at a time keep the machine usable.
	err := parallel(ctx, len(all), 4, func(i int) error {
		ct := all[i]
		var d *libvirtd.Daemon
		var err error
		if c.VM() {
			d, err = openQEMU(ct.Host.NS)
		} else {
			d, err = libvirtd.StartDaemon()
		}
		if err != nil {
			return fmt.Errorf("%s/%s: libvirtd: %v", ct.Site, ct.Host.Name, err)
		}
		ct.Libvirt = d
		return nil
	})
	for _, ct := range all {
		if ct.Libvirt != nil {
			c.defer_(ct.Libvirt.Stop)
		}
	}
	if err != nil {
		return err
	}
	for _, ct := range all {
		if err := c.StartAgent(ct); err != nil {
			return err
		}
	}
	return parallel(ctx, len(all), 8, func(i int) error { return c.waitAgent(ctx, all[i], 20*time.Second) })
}

// StartAgent (re)starts the container's agent on its underlay address.
func (c *Cluster) StartAgent(ct *Container) error {
	dir := c.containerDir(ct)
	if err := os.MkdirAll(filepath.Join(dir, "disks"), 0o755); err != nil {
		return err
	}
	conf := filepath.Join(dir, "agent.toml")
	text := fmt.Sprintf("listen = %q\nlibvirt_socket = %q\nlibvirt_uri = %q\nhostname = %q\ndisk_dir = %q\ntrusted_keys = [%q]\nlease_file = %q\n",
		ct.Host.Addr.String()+":"+strconv.Itoa(agentapi.DefaultPort), ct.Libvirt.Socket, ct.Libvirt.URI, ct.Host.Name, filepath.Join(dir, "disks"), c.Keys[ct.Site],
		filepath.Join(dir, "agent.lease"))
	if c.VM() {
		// QEMU, run as nobody, writes the disks and consoles.
		for _, d := range []string{filepath.Join(dir, "disks"), consoleDir(dir)} {
			if err := c.mkShared(d); err != nil {
				return err
			}
		}
		text += c.agentVMConfig(dir)
	}
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return err
	}
	p, err := ct.Host.Start(c.Bin["vcluster-agent"], "-config", conf)
	if err != nil {
		return err
	}
	ct.Agent = p
	ct.URL = "http://" + ct.Host.Addr.String() + ":" + strconv.Itoa(agentapi.DefaultPort) + "/RPC2"
	return nil
}

// waitAgent polls host.status from the home frontend until it answers.
func (c *Cluster) waitAgent(ctx context.Context, ct *Container, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if _, err := c.GuestList(ctx, ct); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			return fmt.Errorf("agent on %s/%s does not answer: %v: %s", ct.Site, ct.Host.Name, err, lastLines(ct.Agent.Out.String(), 3))
		}
		if done, _ := ct.Agent.Exited(); done {
			return fmt.Errorf("agent on %s/%s exited: %s", ct.Site, ct.Host.Name, lastLines(ct.Agent.Out.String(), 3))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// GuestList asks a container's agent which guests it holds. The call goes
// out from A's frontend namespace, as the frontend's would, through a
// tiny helper: the demo process itself lives outside every namespace.
func (c *Cluster) GuestList(ctx context.Context, ct *Container) ([]agentapi.GuestInfo, error) {
	cl, err := agentclient.New(ct.URL, nil, agentclient.WithTimeout(5*time.Second), agentclient.WithHTTPClient(c.frontendHTTP()))
	if err != nil {
		return nil, err
	}
	return cl.List(ctx)
}

// Rocks runs `rocks-vcluster ARGS` on the home frontend (A's namespace)
// with the database in $VCLUSTER_DSN and returns its standard output.
func (c *Cluster) Rocks(ctx context.Context, args ...string) (string, error) {
	fe := c.Bed.Site(c.Sites0()).Frontend
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", fe.NS, c.Bin["rocks-vcluster"]}, args...)...)
	cmd.Env = append(os.Environ(), "VCLUSTER_DSN="+c.DSN)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = lastLines(stdout.String(), 3)
		}
		return stdout.String(), fmt.Errorf("rocks %s: %v: %s", strings.Join(args, " "), err, msg)
	}
	return stdout.String(), nil
}

// Sites0 is the home site's name.
func (c *Cluster) Sites0() string {
	if len(c.Sites) > 0 {
		return c.Sites[0]
	}
	return c.Bed.Sites[0].Name
}

// Container returns the VM host (container or FEHost) of site named
// host, or nil.
func (c *Cluster) Container(site, host string) *Container {
	for _, ct := range c.containers() {
		if ct.Site == site && ct.Host.Name == host {
			return ct
		}
	}
	return nil
}

// ParseTable reads a Rocks-style aligned table (upper-case header, columns
// left-aligned at the header's word positions) into rows keyed by the
// lower-case header words; the first column's trailing colon is dropped.
func ParseTable(out string) []map[string]string {
	sc := bufio.NewScanner(strings.NewReader(out))
	var starts []int
	var names []string
	var rows []map[string]string
	for sc.Scan() {
		line := sc.Text()
		if starts == nil {
			if strings.TrimSpace(line) == "" || strings.ToUpper(line) != line {
				continue
			}
			for i := 0; i < len(line); i++ {
				if line[i] != ' ' && (i == 0 || line[i-1] == ' ') {
					starts = append(starts, i)
					j := strings.IndexByte(line[i:], ' ')
					if j < 0 {
						j = len(line) - i
					}
					names = append(names, strings.ToLower(line[i:i+j]))
				}
			}
			continue
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		r := map[string]string{}
		for k, s := range starts {
			if s >= len(line) {
				break
			}
			e := len(line)
			if k+1 < len(starts) && starts[k+1] < e {
				e = starts[k+1]
			}
			v := strings.TrimSpace(line[s:e])
			if k == 0 {
				// Rocks ends the key column with a colon.
				v = strings.TrimSuffix(v, ":")
			}
			r[names[k]] = v
		}
		rows = append(rows, r)
	}
	return rows
}

// Step prints a progress line with the elapsed time.
func (c *Cluster) Step(format string, a ...any) {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	fmt.Fprintf(c.out, "[%6.1fs] %s\n", time.Since(c.start).Seconds(), fmt.Sprintf(format, a...))
}

// Print prints command output indented under the last step.
func (c *Cluster) Print(text string) {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		fmt.Fprintf(c.out, "           %s\n", l)
	}
}

// Elapsed is the time since Open started.
func (c *Cluster) Elapsed() time.Duration { return time.Since(c.start) }

func (c *Cluster) defer_(f func()) { c.closers = append(c.closers, f) }

// Close ends everything the cluster started, last started first: Slurm,
// edges, agents and supernode (the bed stops them by PID and deletes its
// namespaces), the libvirtds, MariaDB, then the work folder.
func (c *Cluster) Close() {
	for i := len(c.closers) - 1; i >= 0; i-- {
		c.closers[i]()
	}
	c.closers = nil
}

// killNamespaces ends, by PID, every process left in the guests'
// namespaces (the guests' own programs, as a powered-off VM loses them).
func killNamespaces(b *testbed.Bed) {
	for _, s := range b.Sites {
		for _, g := range s.Guests {
			killIn(g.NS)
		}
	}
}

// killIn sends SIGKILL to every process in namespace ns.
func killIn(ns string) {
	out, err := exec.Command("ip", "netns", "pids", ns).Output()
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

func describeLayout(l testbed.Layout) string {
	var parts []string
	for _, s := range l.Sites {
		parts = append(parts, fmt.Sprintf("site %s: frontend + %d VM containers", s.Name, s.Containers))
	}
	rate := l.Rate
	if rate == "" {
		rate = "unshaped"
	}
	return strings.Join(parts, "; ") + "; links " + rate
}

// parallel runs f(0..n-1) with at most width at once; the first error
// wins (the others still finish).
func parallel(ctx context.Context, n, width int, f func(int) error) error {
	sem := make(chan struct{}, width)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		if ctx.Err() != nil {
			errs[i] = ctx.Err()
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			errs[i] = f(i)
		}(i)
	}
	wg.Wait()
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// sortedKeys is for stable output.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
