// Package ctltest is the controller's and monitor's test bed: a migrated
// private MariaDB database with sites and VM containers, each container a
// real vcluster-agent process on loopback over a private libvirtd (test
// driver). Killing a container kills its agent process only: libvirtd
// keeps the guests, as a Xen host that lost its agent would.
package ctltest

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"

	"github.com/rocksclusters/vcluster/src/internal/auth"
	"github.com/rocksclusters/vcluster/src/internal/db"
	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
	"github.com/rocksclusters/vcluster/src/internal/testenv/libvirtd"
	"github.com/rocksclusters/vcluster/src/internal/testenv/mariadb"
)

// Bed is one test's world.
type Bed struct {
	t       testing.TB
	DSN     string
	DB      *sql.DB
	Dir     string
	Agents  []*Agent
	bin     string
	keys    map[string]string // site -> key file
	siteIDs map[string]int64
	daemons []*libvirtd.Daemon
}

// Agent is one VM container.
type Agent struct {
	bed    *Bed
	Site   string
	Host   string
	ID     int64 // vc_containers.ID
	Addr   string
	Log    string // the agent's log file (all its runs)
	daemon *libvirtd.Daemon
	uri    string
	cfg    string
	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	hold   *libvirt.Libvirt
}

// Options shape a Bed.
type Options struct {
	// FreeMemMB is the free memory every container reports (default
	// 65536).
	FreeMemMB int
}

// New makes a Bed: a fresh migrated database and the given sites
// (the first is home) with n containers each, agents started.
func New(t testing.TB, sites []string, perSite int, opt Options) *Bed {
	t.Helper()
	binaries.RequireRoot(t)
	binaries.Require(t, libvirtd.Program)
	b := &Bed{t: t, DSN: mariadb.NewDatabase(t), Dir: t.TempDir(), bin: binaries.Path(t, "vcluster-agent"),
		keys: map[string]string{}, siteIDs: map[string]int64{}}
	var err error
	if b.DB, err = db.Open(context.Background(), b.DSN); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.DB.Close() })
	if _, err := db.Migrate(context.Background(), b.DB); err != nil {
		t.Fatal(err)
	}
	// libvirt's test driver reports about 3 MiB of free memory, so no
	// guest would ever fit: the bed's containers report FreeMemMB instead
	// (a trigger on vc_load; everything else in the report is real).
	free := opt.FreeMemMB
	if free == 0 {
		free = 65536
	}
	for _, ev := range []string{"INSERT", "UPDATE"} {
		if _, err := b.DB.Exec(fmt.Sprintf("CREATE TRIGGER vc_load_test_%s BEFORE %s ON vc_load FOR EACH ROW SET NEW.FreeMem = %d",
			strings.ToLower(ev), ev, free)); err != nil {
			t.Fatal(err)
		}
	}
	for i, s := range sites {
		key, err := auth.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		kf := filepath.Join(b.Dir, s+".key")
		if err := auth.WriteKeyFile(kf, key); err != nil {
			t.Fatal(err)
		}
		home := "no"
		if i == 0 {
			home = "yes"
		}
		r, err := b.DB.Exec("INSERT INTO vc_sites (Name, Frontend, KeyFile, Home) VALUES (?, ?, ?, ?)",
			s, fmt.Sprintf("198.18.%d.1", i), kf, home)
		if err != nil {
			t.Fatal(err)
		}
		b.siteIDs[s], _ = r.LastInsertId()
		b.keys[s] = kf
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []string
	for _, s := range sites {
		for j := 0; j < perSite; j++ {
			a := &Agent{bed: b, Site: s, Host: fmt.Sprintf("vm-container-%s-%d", strings.ToLower(s), j)}
			a.Log = filepath.Join(b.Dir, a.Site+"-"+a.Host+".log")
			b.Agents = append(b.Agents, a)
		}
	}
	// One libvirtd per agent, so each container sees only its own guests
	// (test:///default is shared by all connections to one daemon, and
	// file-backed test URIs cannot report free memory). Daemons start
	// serially (each takes ~150 ms and a CPU), then agents in parallel.
	for _, a := range b.Agents {
		a.daemon = libvirtd.Start(t)
		b.daemons = append(b.daemons, a.daemon)
		a.uri = libvirtd.TestURI
		a.hold = hold(t, a.daemon)
	}
	sem := make(chan struct{}, 16)
	for _, a := range b.Agents {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := a.start(); err != nil {
				mu.Lock()
				errs = append(errs, err.Error())
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, a := range b.Agents {
			a.Kill()
		}
	})
	if len(errs) > 0 {
		t.Fatalf("agents: %s", strings.Join(errs, "; "))
	}
	for _, a := range b.Agents {
		r, err := b.DB.Exec("INSERT INTO vc_containers (Site, Host, Agent, CPUs, Mem) VALUES (?, ?, ?, 4, 65536)",
			b.siteIDs[a.Site], a.Host, a.Addr)
		if err != nil {
			t.Fatal(err)
		}
		a.ID, _ = r.LastInsertId()
	}
	return b
}

var listenRE = regexp.MustCompile(`vcluster-agent listening"? addr=(\S+)`)

func (a *Agent) start() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	listen := a.Addr
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	if a.cfg == "" {
		a.cfg = filepath.Join(a.bed.Dir, a.Site+"-"+a.Host+".toml")
		text := fmt.Sprintf("libvirt_socket = %q\nlibvirt_uri = %q\nhostname = %q\ndisk_dir = %q\ncreate_disks = false\ntrusted_keys = [%q]\n",
			a.daemon.Socket, a.uri, a.Host, a.bed.Dir, a.bed.keys[a.Site])
		if err := os.WriteFile(a.cfg, []byte(text), 0o600); err != nil {
			return err
		}
	}
	logf, err := os.OpenFile(a.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	off, _ := logf.Seek(0, 2)
	cmd := exec.Command(a.bed.bin, "-config", a.cfg, "-listen", listen)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	a.cmd, a.done = cmd, done
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := listenRE.FindSubmatch(readFrom(a.Log, off)); m != nil {
			a.Addr = string(m[1])
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("agent %s exited: %s", a.Host, readFrom(a.Log, off))
		case <-time.After(10 * time.Millisecond):
		}
	}
	return fmt.Errorf("agent %s: no listening line in 20s", a.Host)
}

func readFrom(path string, off int64) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	f.Seek(off, 0)
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := f.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return out
		}
	}
}

// hold keeps a connection to the test driver for the whole test (its
// state lives while one is open), retrying while libvirtd starts
// listening on its fresh socket.
func hold(t testing.TB, d *libvirtd.Daemon) *libvirt.Libvirt {
	t.Helper()
	var err error
	for i := 0; i < 100; i++ {
		var l *libvirt.Libvirt
		if l, err = d.Connect(); err == nil {
			t.Cleanup(func() { l.Disconnect() })
			return l
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("libvirtd: connect: %v", err)
	return nil
}

// Start restarts a killed agent on its old address.
func (a *Agent) Start(t testing.TB) {
	t.Helper()
	if err := a.start(); err != nil {
		t.Fatal(err)
	}
}

// Kill kills the agent process (SIGKILL, by its PID); guests stay.
func (a *Agent) Kill() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cmd == nil {
		return
	}
	select {
	case <-a.done:
	default:
		a.cmd.Process.Kill()
		<-a.done
	}
	a.cmd = nil
}

// Calls counts the agent's state-changing calls so far, by method (from
// its log: one "call" line per signed call), in all its runs.
func (a *Agent) Calls() map[string]int {
	out := map[string]int{}
	f, err := os.Open(a.Log)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, " msg=call ") {
			continue
		}
		for _, w := range strings.Fields(line) {
			if m, ok := strings.CutPrefix(w, "method="); ok {
				out[m]++
			}
		}
	}
	return out
}

// TotalCalls sums Calls over agents, by method.
func (b *Bed) TotalCalls() map[string]int {
	out := map[string]int{}
	for _, a := range b.Agents {
		for m, n := range a.Calls() {
			out[m] += n
		}
	}
	return out
}

// Domains is what the container's libvirtd holds, name -> running,
// read through the test's own connection (not the agent). Only for
// beds with one daemon per agent.
func (a *Agent) Domains(t testing.TB) map[string]bool {
	t.Helper()
	if a.hold == nil {
		t.Fatal("ctltest: Domains needs one libvirtd per agent")
	}
	doms, _, err := a.hold.ConnectListAllDomains(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, d := range doms {
		st, _, err := a.hold.DomainGetState(d, 0)
		if err != nil {
			continue
		}
		out[d.Name] = libvirt.DomainState(st) == libvirt.DomainRunning
	}
	return out
}

// Running maps each running domain (other than the test driver's own
// "test") to the containers where it runs.
func (b *Bed) Running(t testing.TB) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, a := range b.Agents {
		for n, run := range a.Domains(t) {
			if run && n != "test" {
				out[n] = append(out[n], a.Site+"/"+a.Host)
			}
		}
	}
	for _, v := range out {
		sort.Strings(v)
	}
	return out
}

// Agent returns the agent of container id.
func (b *Bed) Agent(id int64) *Agent {
	for _, a := range b.Agents {
		if a.ID == id {
			return a
		}
	}
	return nil
}

// AddCluster writes a virtual cluster of n compute guests straight into
// the database, guest i on container i mod len(Agents) (the commands'
// own tests go through rocks add vcluster instead).
func (b *Bed) AddCluster(name string, n, cpus, mem int) {
	b.t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	r, err := b.DB.Exec("INSERT INTO vc_clusters (Name, Site, Created) VALUES (?, (SELECT ID FROM vc_sites WHERE Home = 'yes'), ?)", name, now)
	if err != nil {
		b.t.Fatal(err)
	}
	cid, _ := r.LastInsertId()
	var nodeBase int64
	if err := b.DB.QueryRow("SELECT IFNULL(MAX(Node), 0) FROM vc_vms").Scan(&nodeBase); err != nil {
		b.t.Fatal(err)
	}
	var sb strings.Builder
	var args []any
	for i := 0; i < n; i++ {
		a := b.Agents[i%len(b.Agents)]
		if sb.Len() > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString("(?,?,?,'compute',?,?,?,?,?,?,?,4,'on',?)")
		node := nodeBase + int64(i) + 1
		args = append(args, node, cid, fmt.Sprintf("vm-%s-%d", name, i), i, b.siteIDs[a.Site], a.ID,
			fmt.Sprintf("02:5c:%02x:%02x:%02x:%02x", byte(cid), byte(node>>16), byte(node>>8), byte(node)),
			fmt.Sprintf("100.64.%d.%d", i/250, i%250+1), cpus, mem, now)
	}
	if _, err := b.DB.Exec("INSERT INTO vc_vms (Node, Cluster, Name, Role, Idx, Site, Container, MAC, IP, CPUs, Mem, Disk, State, Created) VALUES "+sb.String(), args...); err != nil {
		b.t.Fatal(err)
	}
}

// RSS is the resident memory (KiB) of the bed's agent processes and of
// its libvirtd daemons, and how many of each.
func (b *Bed) RSS() (agentsKiB, daemonsKiB, agents, daemons int) {
	for _, a := range b.Agents {
		a.mu.Lock()
		if a.cmd != nil {
			agentsKiB += rss(a.cmd.Process.Pid)
			agents++
		}
		a.mu.Unlock()
	}
	for _, d := range b.daemons {
		pid, err := os.ReadFile(filepath.Join(d.Dir, "libvirtd.pid"))
		if err == nil {
			var p int
			fmt.Sscan(strings.TrimSpace(string(pid)), &p)
			daemonsKiB += rss(p)
			daemons++
		}
	}
	return
}

func rss(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var n int
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &n)
			return n
		}
	}
	return 0
}
