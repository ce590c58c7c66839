package fencetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/monitor"
	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
	"github.com/rocksclusters/vcluster/src/internal/testenv/netns"
)

// A container's link is cut while its agent and libvirtd run on: its
// lease runs out, it stops its guests itself, and only then does
// vclusterd start them elsewhere. When the link comes back the container
// is alive again and nothing else changes.
func TestLinkCut(t *testing.T) {
	w := newWorld(t, nil)
	a := w.b.Agents[0]
	moved := w.on(a)
	relocated := w.fail(a, func() { w.cut(a, false) })
	if !logHas(t, a.Log, "lease expired") {
		t.Fatal("the cut-off agent never said its lease expired")
	}
	if n := w.count("SELECT COUNT(*) FROM vc_moves WHERE Reason LIKE '%dead%'"); n != len(moved) {
		t.Fatalf("%d moves, want %d", n, len(moved))
	}
	w.report("link cut", relocated)

	w.back(a, len(moved), func() { w.cut(a, true) })
	st, err := w.status(a)
	if err != nil || st.Lease.Expirations != 1 || st.Lease.Fenced != len(moved) || !sameSet(st.Lease.LastFenced, moved) {
		t.Fatalf("the agent reports %+v (%v), want one expiry that stopped %v", st.Lease, err, moved)
	}
	if !strings.Contains(w.logs.String(), "lease ran out") {
		t.Fatal("vclusterd did not log the container's self-fencing")
	}
}

// The agent is frozen (SIGSTOP) while libvirtd runs on: its watchdog
// (vcluster-agent -fence, a separate process) stops the guests when the
// lease file's deadline passes, before vclusterd starts them elsewhere.
func TestFrozenAgentWatchdog(t *testing.T) {
	w := newWorld(t, nil)
	bin := binaries.Path(t, "vcluster-agent")
	dogs := map[string]*netns.Proc{}
	for _, a := range w.b.Agents {
		dogs[a.Host] = netns.StartCmd(t, exec.Command(bin, "-fence", "-config", a.ConfigFile()))
	}
	a := w.b.Agents[0]
	moved := w.on(a)
	relocated := w.fail(a, func() { w.signal(a, syscall.SIGSTOP) })
	out := dogs[a.Host].Out.String()
	for _, g := range moved {
		if !strings.Contains(out, "stopped every vcluster guest") || !strings.Contains(out, g) {
			t.Fatalf("the watchdog did not stop %s:\n%s", g, out)
		}
	}
	for _, b := range w.b.Agents[1:] {
		if strings.Contains(dogs[b.Host].Out.String(), "ran out") {
			t.Fatalf("the watchdog of live %s fenced:\n%s", b.Host, dogs[b.Host].Out.String())
		}
	}
	w.report("agent frozen, watchdog", relocated)

	w.back(a, len(moved), func() { w.signal(a, syscall.SIGCONT) })
}

// The agent is frozen and there is no watchdog: vclusterd's fence_command
// (tests/fence/test-fence-agent.sh standing in for fence_ipmilan) powers
// the container's guests off, and the container counts as dead only once
// it succeeded; its first call fails (an unreachable BMC) and nothing
// moves until the retry succeeds.
func TestFrozenAgentFenceCommand(t *testing.T) {
	dir := t.TempDir()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(root, "tests", "fence", "test-fence-agent.sh")
	binaries.Require(t, "/usr/bin/virsh")
	t.Setenv("VCLUSTER_FENCE_MAP", dir)
	w := newWorld(t, func(c *monitor.Config) { c.FenceCommand = script })
	for _, a := range w.b.Agents {
		os.WriteFile(filepath.Join(dir, a.Host), []byte(a.Socket()), 0o600)
	}
	a := w.b.Agents[0]
	moved := w.on(a)
	os.WriteFile(filepath.Join(dir, "fail-"+a.Host), nil, 0o600)
	relocated := w.fail(a, func() { w.signal(a, syscall.SIGSTOP) })
	logs := w.logs.String()
	failed, fenced, dead := strings.Index(logs, "fencing failed"), strings.Index(logs, "fence_command succeeded"), strings.Index(logs, "container dead")
	if failed < 0 || fenced < failed || dead < fenced {
		t.Fatalf("want fencing failed, then fence_command succeeded, then container dead; vclusterd log:\n%s", logs)
	}
	calls, _ := os.ReadFile(filepath.Join(dir, "log"))
	if n := strings.Count(string(calls), " "+a.Host+"\n"); n < 2 || strings.Count(string(calls), "\n") != n {
		t.Fatalf("fence_command calls:\n%s", calls)
	}
	w.report("agent frozen, fence_command", relocated)
	w.back(a, len(moved), func() { w.signal(a, syscall.SIGCONT) })
}

// A loss of the link shorter than the lease changes nothing: no guest
// stops, none moves, no lease runs out.
func TestBriefLinkLoss(t *testing.T) {
	w := newWorld(t, nil)
	a := w.b.Agents[0]
	before := w.watch(0, "", nil).where
	w.cut(a, false)
	w.watch(3*time.Second, "", nil)
	w.cut(a, true)
	w.watch(w.cfg.Lease.Duration+w.cfg.LeaseMargin.Duration, "", nil)
	for _, s := range w.samples {
		if len(s.where) != guests {
			t.Fatalf("at %s only %d guests ran: %v", s.at.Format("15:04:05.000"), len(s.where), s.where)
		}
		for g, cs := range s.where {
			if !slices.Equal(cs, before[g]) {
				t.Fatalf("%s ran on %v, before on %v", g, cs, before[g])
			}
		}
	}
	if n := w.count("SELECT COUNT(*) FROM vc_moves"); n != 0 {
		t.Fatalf("%d moves", n)
	}
	if st, err := w.status(a); err != nil || st.Lease.Expirations != 0 || st.Lease.State != "valid" {
		t.Fatalf("lease after the loss: %+v %v", st.Lease, err)
	}
	t.Logf("FIGURE brief loss: link down 3s (lease %s): %d samples, every guest ran throughout where it was", w.cfg.Lease.Duration, len(w.samples))
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
