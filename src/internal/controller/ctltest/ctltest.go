// Package ctltest is the controller's and monitor's test bed: a migrated
// private MariaDB database with sites and VM containers, each container a
// real vcluster-agent process on loopback over a private libvirtd (test
// driver). Killing a container kills its agent process only: libvirtd
// keeps the guests, as a Xen host that lost its agent would.
package ctltest

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
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
	"github.com/rocksclusters/vcluster/src/internal/testenv/proc"
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
	extra   string // more agent config lines (Options.AgentConfig)
	place   func(a *Agent) (ns, addr string)
	CAFile  string // Options.TLS: the CA that signed the agents' certificate
	tls     bool
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
	ns     string // Options.Place: the network namespace it runs in
}

// Options shape a Bed.
type Options struct {
	// FreeMemMB is the free memory every container reports (default
	// 65536).
	FreeMemMB int
	// AgentConfig is appended to every agent's TOML configuration.
	AgentConfig string
	// TLS: agents serve HTTPS with a certificate of the bed's own CA
	// (Bed.CAFile, recorded as every site's CAFile), and containers are
	// registered as https://ADDR.
	TLS bool
	// Place, when set, runs agent a inside network namespace ns,
	// listening on addr (tests that cut a container's link).
	Place func(a *Agent) (ns, addr string)
}

// New makes a Bed: a fresh migrated database and the given sites
// (the first is home) with n containers each, agents started.
func New(t testing.TB, sites []string, perSite int, opt Options) *Bed {
	t.Helper()
	binaries.RequireRoot(t)
	binaries.Require(t, libvirtd.Program)
	b := &Bed{t: t, DSN: mariadb.NewDatabase(t), Dir: t.TempDir(), bin: binaries.Path(t, "vcluster-agent"),
		keys: map[string]string{}, siteIDs: map[string]int64{}, extra: opt.AgentConfig, tls: opt.TLS, place: opt.Place}
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
	if opt.TLS {
		cert, key, err := b.makeCA()
		if err != nil {
			t.Fatal(err)
		}
		b.extra += fmt.Sprintf("tls_cert = %q\ntls_key = %q\n", cert, key)
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
		r, err := b.DB.Exec("INSERT INTO vc_sites (Name, Frontend, KeyFile, CAFile, Home) VALUES (?, ?, ?, ?, ?)",
			s, fmt.Sprintf("198.18.%d.1", i), kf, b.CAFile, home)
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
			b.siteIDs[a.Site], a.Host, a.URL())
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
	if listen == "" && a.bed.place != nil {
		a.ns, listen = a.bed.place(a)
	}
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	if a.cfg == "" {
		a.cfg = filepath.Join(a.bed.Dir, a.Site+"-"+a.Host+".toml")
		if err := a.writeLoad(0); err != nil {
			return err
		}
		text := fmt.Sprintf("libvirt_socket = %q\nlibvirt_uri = %q\nhostname = %q\ndisk_dir = %q\ncreate_disks = false\ntrusted_keys = [%q]\nloadavg_path = %q\nlease_file = %q\n",
			a.daemon.Socket, a.uri, a.Host, a.bed.Dir, a.bed.keys[a.Site], a.loadPath(), a.loadPath()+".lease")
		text += a.bed.extra
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
	if a.ns != "" { // ip netns exec execs the agent: the PID stays its own
		cmd = exec.Command("ip", "netns", "exec", a.ns, a.bed.bin, "-config", a.cfg, "-listen", listen)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	done, err := proc.Start(cmd)
	if err != nil {
		return err
	}
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

// URL is the agent's address as vc_containers.Agent holds it.
func (a *Agent) URL() string {
	if a.bed.tls {
		return "https://" + a.Addr
	}
	return a.Addr
}

// makeCA writes a CA (Bed.CAFile) and a certificate it signed for
// 127.0.0.1, which every agent of the bed serves.
func (b *Bed) makeCA() (certFile, keyFile string, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vcluster test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return "", "", err
	}
	ca, _ = x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "vm-container"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		return "", "", err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", "", err
	}
	b.CAFile = filepath.Join(b.Dir, "ca.pem")
	certFile, keyFile = filepath.Join(b.Dir, "agent.crt"), filepath.Join(b.Dir, "agent.key")
	for _, f := range []struct {
		path, typ string
		der       []byte
		mode      os.FileMode
	}{{b.CAFile, "CERTIFICATE", caDER, 0o644}, {certFile, "CERTIFICATE", der, 0o644}, {keyFile, "EC PRIVATE KEY", keyDER, 0o600}} {
		if err := os.WriteFile(f.path, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), f.mode); err != nil {
			return "", "", err
		}
	}
	return certFile, keyFile, nil
}

// loadPath is the agent's loadavg_path: every container of the bed
// reports the load its test sets (idle at first), not this busy machine's.
func (a *Agent) loadPath() string {
	return filepath.Join(a.bed.Dir, a.Site+"-"+a.Host+".loadavg")
}

func (a *Agent) writeLoad(l1 float64) error {
	text := fmt.Sprintf("%.2f %.2f %.2f 1/100 4242\n", l1, l1, l1)
	tmp := a.loadPath() + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, a.loadPath()) // the agent never reads half a file
}

// SetLoad makes the container report load l1 (and the same 5 and 15
// minute averages) from its next host.status on.
func (a *Agent) SetLoad(t testing.TB, l1 float64) {
	t.Helper()
	if err := a.writeLoad(l1); err != nil {
		t.Fatal(err)
	}
}

// Start restarts a killed agent on its old address.
func (a *Agent) Start(t testing.TB) {
	t.Helper()
	if err := a.start(); err != nil {
		t.Fatal(err)
	}
}

// Signal sends sig to the agent process (by its PID): SIGSTOP freezes
// it while its libvirtd and guests run on.
func (a *Agent) Signal(sig syscall.Signal) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cmd == nil {
		return fmt.Errorf("agent %s not running", a.Host)
	}
	return a.cmd.Process.Signal(sig)
}

// ConfigFile is the agent's TOML configuration (a watchdog reads it too).
func (a *Agent) ConfigFile() string { return a.cfg }

// Socket is the agent's libvirtd socket.
func (a *Agent) Socket() string { return a.daemon.Socket }

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

// DomainXML is the guest's domain XML on the container's libvirtd, read
// through the test's own connection.
func (a *Agent) DomainXML(t testing.TB, name string) string {
	t.Helper()
	d, err := a.hold.DomainLookupByName(name)
	if err != nil {
		t.Fatalf("%s on %s: %v", name, a.Host, err)
	}
	x, err := a.hold.DomainGetXMLDesc(d, 0)
	if err != nil {
		t.Fatal(err)
	}
	return x
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
	vms := &db.Batch{Exec: b.DB, Head: "INSERT INTO vc_vms (Node, Cluster, Name, Role, Idx, Site, Container, MAC, IP, CPUs, Mem, Disk, State, Created) VALUES ",
		Tuple: "(?,?,?,'compute',?,?,?,?,?,?,?,4,'on',?)", Max: max(n, 1)}
	ctx := context.Background()
	for i := 0; i < n; i++ {
		a := b.Agents[i%len(b.Agents)]
		node := nodeBase + int64(i) + 1
		if err := vms.Add(ctx, node, cid, fmt.Sprintf("vm-%s-%d", name, i), i, b.siteIDs[a.Site], a.ID,
			fmt.Sprintf("02:5c:%02x:%02x:%02x:%02x", byte(cid), byte(node>>16), byte(node>>8), byte(node)),
			fmt.Sprintf("100.64.%d.%d", i/250, i%250+1), cpus, mem, now); err != nil {
			b.t.Fatal(err)
		}
	}
	if err := vms.Flush(ctx); err != nil {
		b.t.Fatal(err)
	}
}

// RSS is the resident memory (KiB) of the bed's agent processes and of
// its libvirtd daemons, and how many of each.
func (b *Bed) RSS() (agentsKiB, daemonsKiB, agents, daemons int) {
	b.eachPID(func(pid int) { agentsKiB += rss(pid); agents++ },
		func(pid int) { daemonsKiB += rss(pid); daemons++ })
	return
}

// eachPID calls agent with the PID of every running agent and daemon with
// that of every libvirtd daemon.
func (b *Bed) eachPID(agent, daemon func(pid int)) {
	for _, a := range b.Agents {
		a.mu.Lock()
		if a.cmd != nil {
			agent(a.cmd.Process.Pid)
		}
		a.mu.Unlock()
	}
	for _, d := range b.daemons {
		pid, err := os.ReadFile(filepath.Join(d.Dir, "libvirtd.pid"))
		if err == nil {
			var p int
			fmt.Sscan(strings.TrimSpace(string(pid)), &p)
			daemon(p)
		}
	}
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

// CPU is the processor time (user + system) used so far by the bed's
// agent processes and by its libvirtd daemons: the benchmarks report the
// difference across one sync, to show which side of the 2 cores a sync
// spends.
func (b *Bed) CPU() (agents, daemons time.Duration) {
	b.eachPID(func(pid int) { agents += cpuTime(pid) }, func(pid int) { daemons += cpuTime(pid) })
	return
}

// cpuTime is utime + stime of a process (Linux clock ticks are 1/100 s).
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command name; utime and stime are
	// fields 14 and 15 of the whole line.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	var ut, st int64
	fmt.Sscan(f[11], &ut)
	fmt.Sscan(f[12], &st)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// Questions is the database server's count of statements received so far
// (its global Questions status): the difference across a sync is the
// sync's SQL round trips (plus this query).
func (b *Bed) Questions() int64 {
	var name string
	var n int64
	if err := b.DB.QueryRow("SHOW GLOBAL STATUS LIKE 'Questions'").Scan(&name, &n); err != nil {
		b.t.Fatal(err)
	}
	return n
}
