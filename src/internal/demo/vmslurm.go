package demo

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rocksclusters/vcluster/src/internal/workload"
)

// startSlurmVM runs slurmctld (and its munged) on the virtual frontend at
// its overlay address, as in namespace mode; each VM's hook starts its
// own munged and slurmd from the host's /usr once the demo has put the
// key and the guests' slurm.conf on the share (slurm/ready).
func (c *Cluster) startSlurmVM() (*workload.Slurm, error) {
	fe := c.Frontend()
	if fe == nil {
		return nil, fmt.Errorf("no virtual frontend to run slurmctld")
	}
	var nodes []workload.Node
	for _, g := range c.Computes() {
		nodes = append(nodes, workload.Node{Name: g.Name, Addr: g.Overlay, CPUs: 1})
	}
	dir := filepath.Join(c.Dir, "slurm-vm")
	_ = os.RemoveAll(dir)
	for _, f := range []string{"ready", "slurm.conf", "munge.key"} {
		_ = os.Remove(filepath.Join(c.Export, "slurm", f))
	}
	c.Step("slurm (overlay): slurmctld on %s at %s; munged and slurmd inside each of %d VMs (started by the hook)", fe.Name, fe.Overlay, len(nodes))
	s, err := workload.StartSlurm(workload.SlurmConfig{Dir: dir, Controller: fe.Host, ControllerAddr: fe.Overlay, Nodes: nodes,
		Remote: c.shareSlurm})
	if err != nil {
		return nil, fmt.Errorf("%v\nthe hooks said: %s", err, c.hookSaid())
	}
	return s, nil
}

// hookSaid is the last line each VM's hook printed on its console.
func (c *Cluster) hookSaid() string {
	var out []string
	for _, g := range c.VMs() {
		data, _ := os.ReadFile(g.Console)
		last := "(nothing)"
		for _, l := range strings.Split(string(data), "\n") {
			if i := strings.Index(l, "vcluster-guest: up: "); i >= 0 {
				last = strings.TrimSpace(l[i+len("vcluster-guest: up: "):])
			}
		}
		out = append(out, g.Name+": "+last)
	}
	return strings.Join(out, "; ")
}

// shareSlurm puts the guests' slurm.conf and the munge key on the share,
// then slurm/ready. The key there is the QEMU user's alone (0400): the
// guests copy it into their own memory for munged.
func (c *Cluster) shareSlurm(conf, key string) error {
	text, err := os.ReadFile(conf)
	if err != nil {
		return err
	}
	k, err := os.ReadFile(key)
	if err != nil {
		return err
	}
	d := filepath.Join(c.Export, "slurm")
	if err := c.writeShared(filepath.Join(d, "slurm.conf"), []byte(guestConf(string(text), filepath.Join(c.Export, "slurm-logs"))), 0o440); err != nil {
		return err
	}
	if err := c.writeShared(filepath.Join(d, "munge.key"), k, 0o400); err != nil {
		return err
	}
	return c.writeShared(filepath.Join(d, "ready"), nil, 0o440)
}

// guestConf is the controller's slurm.conf as a VM guest's slurmd needs
// it: munged's socket, slurmd's spool and PID file in the guest's own
// memory (a unix socket cannot live on 9p), its log on the share.
func guestConf(conf, logDir string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(conf, "\n") {
		k, v, _ := strings.Cut(strings.TrimRight(l, "\n"), "=")
		switch k {
		case "AuthInfo":
			var opts []string
			for _, o := range strings.Split(v, ",") {
				if !strings.HasPrefix(o, "socket=") {
					opts = append(opts, o)
				}
			}
			l = "AuthInfo=" + strings.Join(append([]string{"socket=/run/munge/munge.sock"}, opts...), ",") + "\n"
		case "SlurmdSpoolDir":
			l = "SlurmdSpoolDir=/var/spool/slurmd/%n\n"
		case "SlurmdPidFile":
			l = "SlurmdPidFile=/run/slurmd-%n.pid\n"
		case "SlurmdLogFile":
			l = "SlurmdLogFile=" + filepath.Join(logDir, "slurmd-%n.log") + "\n"
		}
		b.WriteString(l)
	}
	return b.String()
}

// shareSet copies the prepared compounds and receptor onto the share, so
// that Vina in the guests reads them at the same paths as the demo.
func (c *Cluster) shareSet(set *workload.Set) (*workload.Set, error) {
	d := filepath.Join(c.Export, "workload")
	if err := os.MkdirAll(filepath.Join(d, "ligands"), 0o755); err != nil {
		return nil, err
	}
	out := *set
	out.Dir = d
	var err error
	if out.Receptor, err = copyInto(set.Receptor, d); err != nil {
		return nil, err
	}
	out.Compounds = append([]workload.Compound(nil), set.Compounds...)
	for i := range out.Compounds {
		if out.Compounds[i].Ligand, err = copyInto(set.Compounds[i].Ligand, filepath.Join(d, "ligands")); err != nil {
			return nil, err
		}
	}
	return &out, nil
}

func copyInto(file, dir string) (string, error) {
	p := filepath.Join(dir, filepath.Base(file))
	return p, copyFile(file, p)
}

// runsDir holds each batch's folder: on the share with VM guests.
func (c *Cluster) runsDir() string {
	if c.VM() {
		return filepath.Join(c.Export, "runs")
	}
	return filepath.Join(c.Dir, "runs")
}
