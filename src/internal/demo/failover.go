package demo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/testbed"
	"github.com/rocksclusters/vcluster/src/internal/testenv/netns"
	"github.com/rocksclusters/vcluster/src/internal/workload"
)

// Failover runs the batch over the overlay at delay d while one VM
// container dies: once a quarter of the tasks are done, the container that
// runs a busy guest loses its agent and its link, and the guest's
// namespace goes down with every process in it (a powered-off VM). The
// monitor (vclusterd) must notice, relocate the guest in the database and
// start it on another container; the demo then boots the guest there as a
// namespace (kickstart, edge, slurmd under the same Slurm node name and
// overlay address). Slurm requeues the lost task (JobRequeue=1, Slurm's
// default, checked here), and the batch must complete with every result.
func (c *Cluster) Failover(ctx context.Context, set *workload.Set, d time.Duration) (Batch, error) {
	b := Batch{Delay: d, All: len(set.Compounds)}
	fail := func(err error) (Batch, error) {
		if b.Err == "" {
			b.Err = err.Error()
		}
		return b, err
	}
	mon := c.Monitor // VM guests: vclusterd runs from the start
	if mon == nil {
		var err error
		if mon, err = c.StartMonitor(); err != nil {
			return fail(err)
		}
		defer mon.Stop()
	}
	s, err := c.StartSlurm("overlay")
	if err != nil {
		return fail(err)
	}
	defer s.Stop()
	if conf, err := s.Client("scontrol", "show", "config"); err != nil || !requeueOn(conf) {
		return fail(fmt.Errorf("slurm does not requeue batch jobs on node failure (JobRequeue): %v", err))
	}
	if err := c.Bed.SetDelay(d, 0); err != nil {
		return fail(err)
	}
	dir := filepath.Join(c.runsDir(), fmt.Sprintf("failover-%dms", d.Milliseconds()))
	_ = os.RemoveAll(dir)
	b.Dir = dir
	if c.VM() {
		if err := c.mkShared(dir); err != nil {
			return fail(err)
		}
	}
	c.Step("batch (failover): %d compounds at %v; a VM container dies after a quarter of them", len(set.Compounds), d)

	done := make(chan failResult, 1)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	// A quarter of the tasks done: time for the failure.
	quarter := make(chan struct{})
	var once sync.Once
	lines := c.progressLines(len(set.Compounds))
	progress := func(n int) {
		lines(n)
		if n >= len(set.Compounds)/4 {
			once.Do(func() { close(quarter) })
		}
	}
	if len(set.Compounds)/4 == 0 {
		once.Do(func() { close(quarter) })
	}
	go func() {
		r, err := workload.Run(runCtx, s, set, dir, progress)
		done <- failResult{r, err}
	}()

	// Wait for a quarter of the tasks, then pick a guest with a task
	// running on it.
	select {
	case res := <-done:
		return fail(fmt.Errorf("batch ended before the failure was injected: %v", res.err))
	case <-ctx.Done():
		return fail(ctx.Err())
	case <-quarter:
	}
	victim, lost, err := c.busyGuest(s)
	if err != nil {
		return fail(err)
	}
	ct := c.Container(victim.Site, victim.Container)
	if c.VM() {
		// The container dies with its VM; vclusterd relocates the guest,
		// the new VM boots and its hook starts slurmd under the same name.
		killed := time.Now()
		r, err := c.RelocateVM(ctx, victim, 5*time.Minute)
		if err != nil {
			return fail(err)
		}
		return c.finishFailover(ctx, b, done, lost, killed, ct, r.Guest)
	}
	killed, err := c.relocateNamespace(ctx, s, mon, victim, ct)
	if err != nil {
		return fail(err)
	}
	return c.finishFailover(ctx, b, done, lost, killed, ct, victim.Name)
}

// relocateNamespace kills container ct as a machine dies (agent, link,
// and the guest's namespace with every process in it), waits for the
// monitor to move victim, and boots it there as a namespace with its
// slurmd. It returns when the container died.
func (c *Cluster) relocateNamespace(ctx context.Context, s *workload.Slurm, mon *testbed.Proc, victim *Guest, ct *Container) (time.Time, error) {
	c.Step("failure: container %s/%s dies (agent killed, link down); guest %s goes down with its task", ct.Site, ct.Host.Name, victim.Name)
	ct.Agent.Kill()
	if err := ct.Host.SetLink(false); err != nil {
		return time.Time{}, err
	}
	killIn(victim.Host.NS)
	_ = exec.Command("ip", "-n", victim.Host.NS, "link", "set", "eth0", "down").Run()
	killed := time.Now()
	// The monitor relocates the guest: the database names a new container
	// and that container's agent runs it.
	moved, err := c.waitMoved(ctx, mon, victim.Name, victim.Site+"/"+victim.Container, killed.Add(4*time.Minute))
	if err != nil {
		return killed, err
	}
	c.Step("relocated: %s now runs on %s/%s (%.0f s after the failure)", moved.Name, moved.Site, moved.Container, time.Since(killed).Seconds())
	return killed, c.bootMoved(ctx, s, victim, moved)
}

// bootMoved boots a relocated namespace guest on its new container: a
// fresh namespace on that LAN, the same kickstart (same overlay address
// and MAC), its edge and slurmd.
func (c *Cluster) bootMoved(ctx context.Context, s *workload.Slurm, victim, moved *Guest) error {
	if err := netns.Delete(victim.Host.NS); err != nil {
		return fmt.Errorf("removing %s's old namespace: %v", victim.Name, err)
	}
	if err := c.attach(moved); err != nil {
		return err
	}
	if err := c.install(ctx, moved); err != nil {
		return err
	}
	for i, g := range c.Guests {
		if g.Name == moved.Name {
			c.Guests[i] = moved
		}
	}
	if err := c.WaitPing(ctx, moved, c.Frontend().Overlay.String(), 60*time.Second); err != nil {
		return fmt.Errorf("relocated %s does not reach the virtual frontend over the overlay: %v", moved.Name, err)
	}
	if err := c.startSlurmd(s, moved); err != nil {
		return err
	}
	c.Step("%s is back on the overlay at %s with its slurmd; waiting for the batch (the lost task is requeued)", moved.Name, moved.Overlay)
	return nil
}

// finishFailover waits for the batch and checks that every task, the lost
// one too, came back.
func (c *Cluster) finishFailover(ctx context.Context, b Batch, done <-chan failResult, lost int, killed time.Time, ct *Container, guest string) (Batch, error) {
	fail := func(err error) (Batch, error) {
		if b.Err == "" {
			b.Err = err.Error()
		}
		return b, err
	}
	res := <-done
	if res.r != nil {
		b.OK, b.Seconds, b.PerNode = res.r.OK, res.r.Wall.Seconds(), len(res.r.PerNode)
		_ = res.r.WriteResults(filepath.Join(b.Dir, "results.tsv"))
	}
	if res.err != nil {
		return fail(fmt.Errorf("failover batch: %v", res.err))
	}
	c.Step("batch (failover): %s", res.r.Summary())
	if b.OK != b.All {
		return fail(fmt.Errorf("failover batch: tasks %d/%d", b.OK, b.All))
	}
	// The lost task's result comes from its second run; Slurm holds a
	// requeued task for the credential lifetime (cred_expire) first.
	if lost < len(res.r.Tasks) {
		if t := res.r.Tasks[lost]; t.Start.After(killed) {
			c.Step("the lost task (%s) ran again on %s %.0f s after the failure", t.Compound, t.Node, t.Start.Sub(killed).Seconds())
		} else {
			c.Step("the lost task (%s) had finished just before the failure", t.Compound)
		}
	}
	// The container comes back for later runs; the monitor sees it alive.
	_ = ct.Host.SetLink(true)
	return b, nil
}

// failResult is the failover batch's outcome.
type failResult struct {
	r   *workload.Report
	err error
}

// requeueOn reports whether `scontrol show config` says batch jobs are
// requeued after a node failure.
func requeueOn(conf string) bool {
	for _, l := range strings.Split(conf, "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == "JobRequeue" && f[1] == "=" {
			return f[2] == "1"
		}
	}
	return false
}

// busyGuest is a compute guest that is running a task now, and that
// task's array index (the compound it docks).
func (c *Cluster) busyGuest(s *workload.Slurm) (*Guest, int, error) {
	out, err := s.Client("squeue", "-h", "-t", "R", "-o", "%N %K")
	if err != nil {
		return nil, 0, err
	}
	busy := runningTasks(out)
	for _, g := range c.Computes() {
		if i, ok := busy[g.Name]; ok {
			return g, i, nil
		}
	}
	return nil, 0, errors.New("no compute guest is running a task")
}

// runningTasks reads `squeue -o "%N %K"` lines (node, array index) into
// node → index; lines of anything else (a job step, a job on several
// nodes) are skipped.
func runningTasks(out string) map[string]int {
	busy := map[string]int{}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) != 2 {
			continue
		}
		if i, err := strconv.Atoi(f[1]); err == nil && i >= 0 {
			busy[f[0]] = i
		}
	}
	return busy
}

// runs asks a container's agent whether it runs the guest.
func (c *Cluster) runs(ctx context.Context, ct *Container, name string) bool {
	list, err := c.GuestList(ctx, ct)
	if err != nil {
		return false
	}
	for _, g := range list {
		if g.Name == name && (g.State == "running" || g.State == "blocked") {
			return true
		}
	}
	return false
}

// startSlurmd starts a slurmd for the guest, as workload.StartSlurm does.
func (c *Cluster) startSlurmd(s *workload.Slurm, g *Guest) error {
	cmd := exec.Command("nsenter", "--net=/run/netns/"+g.Host.NS, "--", "slurmd", "-D", "-N", g.Name, "-f", s.Conf)
	cmd.Env = append(os.Environ(), "SLURM_CONF="+s.Conf)
	_, err := g.Host.StartCmd(cmd)
	return err
}
