package demo

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/rocksclusters/vcluster/src/internal/workload"
)

// startSlurmVM runs Slurm inside the VMs: slurmctld on the virtual
// frontend's VM at its overlay address, slurmd in each compute VM, each
// with its own munged, all started by their hooks once the demo has put
// the key and the guests' slurm.conf on the share (slurm/ready). Site A's
// physical frontend is the submit host: its munged holds the same key and
// its client commands reach slurmctld at the frontend VM's LAN address,
// as an administrator on the physical frontend reaches a virtual
// frontend.
func (c *Cluster) startSlurmVM() (*workload.Slurm, error) {
	fe := c.Frontend()
	if fe == nil || !fe.VM {
		return nil, fmt.Errorf("no virtual frontend VM to run slurmctld")
	}
	lan, err := netip.ParsePrefix(fe.State.LAN)
	if err != nil {
		return nil, fmt.Errorf("%s: no LAN address on its console (%q) for the submit host to reach slurmctld", fe.Name, fe.State.LAN)
	}
	var nodes []workload.Node
	for _, g := range c.Computes() {
		nodes = append(nodes, workload.Node{Name: g.Name, Addr: g.Overlay, CPUs: 1})
	}
	dir := filepath.Join(c.Dir, "slurm-vm")
	_ = os.RemoveAll(dir)
	for _, f := range []string{"ready", "slurm.conf", "munge.key", "controller"} {
		_ = os.Remove(filepath.Join(c.Export, "slurm", f))
	}
	submit := c.Bed.Site(c.Sites0()).Frontend
	c.Step("slurm (overlay): slurmctld in %s's VM at %s, slurmd in each of %d compute VMs (started by their hooks); submit host %s (site %s's frontend) reaches slurmctld at %s",
		fe.Name, fe.Overlay, len(nodes), submit.Name, submit.Site.Name, lan.Addr())
	s, err := workload.StartSlurm(workload.SlurmConfig{Dir: dir, Controller: submit, ControllerName: fe.Name, ControllerAddr: lan.Addr(),
		RemoteController: true, Nodes: nodes, Remote: func(conf, key string) error { return c.shareSlurm(fe, conf, key) }})
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

// shareSlurm puts the guests' slurm.conf, the munge key and the
// controller's name on the share, then slurm/ready. The key there is the
// QEMU user's alone (0400): the guests copy it into their own memory for
// munged.
func (c *Cluster) shareSlurm(fe *Guest, conf, key string) error {
	text, err := os.ReadFile(conf)
	if err != nil {
		return err
	}
	k, err := os.ReadFile(key)
	if err != nil {
		return err
	}
	d := filepath.Join(c.Export, "slurm")
	gc := guestConf(string(text), fe.Name+"("+fe.Overlay.String()+")", filepath.Join(c.Export, "slurm-logs"))
	if err := c.writeShared(filepath.Join(d, "slurm.conf"), []byte(gc), 0o440); err != nil {
		return err
	}
	if err := c.writeShared(filepath.Join(d, "controller"), []byte(fe.Name+"\n"), 0o440); err != nil {
		return err
	}
	if err := c.writeShared(filepath.Join(d, "munge.key"), k, 0o400); err != nil {
		return err
	}
	return c.writeShared(filepath.Join(d, "ready"), nil, 0o440)
}

// guestConf is the submit host's slurm.conf as the VMs' daemons need it:
// slurmctld at ctld ("name(overlay address)"), munged's socket, the
// daemons' state, spool and PID files in the guest's own memory (a unix
// socket cannot live on 9p), their logs on the share.
func guestConf(conf, ctld, logDir string) string {
	set := map[string]string{
		"SlurmctldHost":     ctld,
		"StateSaveLocation": "/var/spool/slurmctld",
		"SlurmctldPidFile":  "/run/slurmctld.pid",
		"SlurmctldLogFile":  filepath.Join(logDir, "slurmctld.log"),
		"SlurmdSpoolDir":    "/var/spool/slurmd/%n",
		"SlurmdPidFile":     "/run/slurmd-%n.pid",
		"SlurmdLogFile":     filepath.Join(logDir, "slurmd-%n.log"),
	}
	var b strings.Builder
	for _, l := range strings.SplitAfter(conf, "\n") {
		k, v, _ := strings.Cut(strings.TrimRight(l, "\n"), "=")
		if k == "AuthInfo" {
			opts := []string{"socket=/run/munge/munge.sock"}
			for _, o := range strings.Split(v, ",") {
				if !strings.HasPrefix(o, "socket=") {
					opts = append(opts, o)
				}
			}
			l = "AuthInfo=" + strings.Join(opts, ",") + "\n"
		} else if nv, ok := set[k]; ok {
			l = k + "=" + nv + "\n"
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
