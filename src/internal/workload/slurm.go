package workload

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/testbed"
)

// Node is one compute node of the batch system: a guest namespace and the
// address its slurmd is reached at (the overlay address in the demo, the
// underlay address in tests).
type Node struct {
	Name string
	Host *testbed.Host
	Addr netip.Addr
	CPUs int
}

// SlurmConfig places a private Slurm cluster on test-bed hosts.
type SlurmConfig struct {
	Dir            string        // state, spool, logs, slurm.conf, munge socket
	Controller     *testbed.Host // runs slurmctld (unless RemoteController), munged and the client commands
	ControllerAddr netip.Addr    // where the client commands (and the nodes) reach slurmctld
	// ControllerName is SlurmctldHost's name: slurmctld runs only on the
	// machine of that short host name (default: this machine's).
	ControllerName string
	// RemoteController: slurmctld runs elsewhere (a VM); Remote starts it
	// with the nodes, and Controller is a submit host.
	RemoteController bool
	Nodes            []Node
	// Remote, when set, means the nodes start their slurmd themselves
	// (real VMs): StartSlurm calls it with slurm.conf and the munge key
	// once slurmctld runs, instead of starting a slurmd per node, and
	// waits longer for the nodes to register.
	Remote func(conf, mungeKey string) error
}

// Slurm is a running private Slurm 22.05 cluster: one munged (its unix
// socket is shared by every namespace, the file system being common),
// slurmctld on the controller, a slurmd per node started with -N.
type Slurm struct {
	cfg  SlurmConfig
	Conf string
	env  []string
	ctld *testbed.Proc
	sd   []*testbed.Proc
}

// StartSlurm writes slurm.conf and a fresh munge key, starts the daemons
// and waits until every node is idle. The bed stops the daemons when it
// closes; Stop stops them earlier.
func StartSlurm(cfg SlurmConfig) (*Slurm, error) {
	if len(cfg.Nodes) == 0 {
		return nil, fmt.Errorf("slurm: no nodes")
	}
	for _, p := range []string{"munged", "slurmctld", "slurmd", "sbatch", "sinfo", "squeue"} {
		if _, err := exec.LookPath(p); err != nil {
			return nil, fmt.Errorf("slurm: %s not installed (tests/install-deps.sh installs it)", p)
		}
	}
	d := cfg.Dir
	for _, sub := range []string{"ctld", "spool", "log", "munge"} {
		if err := os.MkdirAll(filepath.Join(d, sub), 0o700); err != nil {
			return nil, err
		}
	}
	key := make([]byte, 1024)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	keyFile := filepath.Join(d, "munge", "munge.key")
	if err := os.WriteFile(keyFile, key, 0o400); err != nil {
		return nil, err
	}
	sock := filepath.Join(d, "munge", "munge.sock")
	s := &Slurm{cfg: cfg, Conf: filepath.Join(d, "slurm.conf")}
	s.env = append(os.Environ(), "SLURM_CONF="+s.Conf)
	if err := os.WriteFile(s.Conf, []byte(slurmConf(cfg, sock)), 0o644); err != nil {
		return nil, err
	}

	m := cfg.Controller.Command("munged", "--foreground", "--force", "--socket="+sock,
		"--key-file="+keyFile, "--pid-file="+filepath.Join(d, "munge", "munged.pid"),
		"--log-file="+filepath.Join(d, "log", "munged.log"), "--seed-file="+filepath.Join(d, "munge", "seed"))
	mp, err := cfg.Controller.StartCmd(m)
	if err != nil {
		return nil, err
	}
	if err := waitFile(sock, 10*time.Second, mp); err != nil {
		return nil, fmt.Errorf("munged: %v", err)
	}

	if cfg.RemoteController && cfg.Remote == nil {
		return nil, fmt.Errorf("slurm: a remote controller needs Remote to start it")
	}
	if !cfg.RemoteController {
		c := cfg.Controller.Command("slurmctld", "-D", "-i", "-f", s.Conf)
		c.Env = s.env
		if s.ctld, err = cfg.Controller.StartCmd(c); err != nil {
			return nil, err
		}
	}
	if cfg.Remote != nil {
		if err := cfg.Remote(s.Conf, keyFile); err != nil {
			return nil, err
		}
		return s, s.waitIdle(5 * time.Minute)
	}
	for _, n := range cfg.Nodes {
		// nsenter, not `ip netns exec`: the latter mounts a fresh /sys
		// without /sys/fs/cgroup, and slurmd's cgroup plugin refuses to
		// start without it (even with proctrack/linuxproc).
		cmd := exec.Command("nsenter", "--net=/run/netns/"+n.Host.NS, "--", "slurmd", "-D", "-N", n.Name, "-f", s.Conf)
		cmd.Env = s.env
		p, err := n.Host.StartCmd(cmd)
		if err != nil {
			return nil, err
		}
		s.sd = append(s.sd, p)
	}
	if err := s.waitIdle(60 * time.Second); err != nil {
		return nil, err
	}
	return s, nil
}

func slurmConf(cfg SlurmConfig, sock string) string {
	d := cfg.Dir
	// slurmctld only runs where SlurmctldHost names the machine's own
	// short host name; the address is what clients and slurmds dial.
	ctlName := cfg.ControllerName
	if ctlName == "" {
		ctlName, _ = os.Hostname()
		ctlName, _, _ = strings.Cut(ctlName, ".")
	}
	var b strings.Builder
	fmt.Fprintf(&b, `# Written by vcluster's workload package: a private Slurm for one batch.
ClusterName=vcluster
SlurmctldHost=%s(%s)
SlurmctldPort=6817
SlurmdPort=6818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# cred_expire: a requeued task (its node died) waits this long + 1 s
# before it runs again; Slurm's default is 120 s.
AuthInfo=socket=%s,cred_expire=30
CredType=cred/munge
StateSaveLocation=%s
SlurmdSpoolDir=%s/%%n
SlurmctldPidFile=%s/slurmctld.pid
SlurmdPidFile=%s/slurmd-%%n.pid
SlurmctldLogFile=%s/slurmctld.log
SlurmdLogFile=%s/slurmd-%%n.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
SlurmctldTimeout=60
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
MinJobAge=3600
MaxArraySize=10001
MaxJobCount=20000
`, ctlName, cfg.ControllerAddr, sock, filepath.Join(d, "ctld"), filepath.Join(d, "spool"),
		d, d, filepath.Join(d, "log"), filepath.Join(d, "log"))
	var names []string
	for _, n := range cfg.Nodes {
		cpus := max(n.CPUs, 1)
		fmt.Fprintf(&b, "NodeName=%s NodeAddr=%s NodeHostname=%s CPUs=%d State=UNKNOWN\n", n.Name, n.Addr, n.Name, cpus)
		names = append(names, n.Name)
	}
	fmt.Fprintf(&b, "PartitionName=docking Nodes=%s Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO\n", strings.Join(names, ","))
	return b.String()
}

// Client runs a Slurm client command (sbatch, squeue, sinfo, scontrol) on
// the controller.
func (s *Slurm) Client(name string, args ...string) (string, error) {
	cmd := s.cfg.Controller.Command(name, args...)
	cmd.Env = s.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

func (s *Slurm) waitIdle(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	for {
		out, err := s.Client("sinfo", "-h", "-N", "-o", "%N %t")
		if err == nil {
			idle := 0
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				if f := strings.Fields(l); len(f) == 2 && f[1] == "idle" {
					idle++
				}
			}
			if idle == len(s.cfg.Nodes) {
				return nil
			}
			last = out
		} else {
			last = err.Error()
		}
		if s.ctld != nil {
			if done, _ := s.ctld.Exited(); done {
				return fmt.Errorf("slurmctld exited: %s", s.Logs())
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("slurm: nodes not idle within %v: %s\n%s", timeout, strings.TrimSpace(last), s.Logs())
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// Logs is the tail of slurmctld's log and of each daemon's output, for
// error reports.
func (s *Slurm) Logs() string {
	var b strings.Builder
	if data, err := os.ReadFile(filepath.Join(s.cfg.Dir, "slurmctld.log")); err == nil {
		b.WriteString("slurmctld.log:\n" + tail(string(data), 15))
	}
	if s.ctld != nil && s.ctld.Out.String() != "" {
		b.WriteString("slurmctld:\n" + tail(s.ctld.Out.String(), 10))
	}
	for i, p := range s.sd {
		if o := p.Out.String(); o != "" {
			fmt.Fprintf(&b, "slurmd %s:\n%s", s.cfg.Nodes[i].Name, tail(o, 5))
		}
	}
	return b.String()
}

func tail(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n") + "\n"
}

// Stop ends the daemons (the bed would at Close).
func (s *Slurm) Stop() {
	for _, p := range s.sd {
		p.Stop()
	}
	if s.ctld != nil {
		s.ctld.Stop()
	}
}

func waitFile(path string, timeout time.Duration, p *testbed.Proc) error {
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		if done, _ := p.Exited(); done {
			return fmt.Errorf("exited: %s", strings.TrimSpace(p.Out.String()))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not created within %v", path, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
