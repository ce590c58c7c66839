package fencetest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/agentclient"
	"github.com/rocksclusters/vcluster/src/internal/controller"
	"github.com/rocksclusters/vcluster/src/internal/controller/ctltest"
	"github.com/rocksclusters/vcluster/src/internal/monitor"
	"github.com/rocksclusters/vcluster/src/internal/testenv/mariadb"
	"github.com/rocksclusters/vcluster/src/internal/testenv/netns"
)

func TestMain(m *testing.M) { os.Exit(mariadb.RunMain(m)) }

const (
	guests = 6                      // cluster vc1 over 3 containers, 2 each
	every  = 100 * time.Millisecond // sampling period
)

// world is one scenario: 3 containers in their own namespaces, linked to
// this (root) namespace, vclusterd running with the defaults.
type world struct {
	t       *testing.T
	b       *ctltest.Bed
	cfg     monitor.Config
	logs    *netns.SyncBuffer
	mu      sync.Mutex
	ns      map[string]string // agent host -> its namespace
	samples []sample
	overlap []string // what the samples saw running twice
}

// sample is one look at every container's libvirt: guest -> the
// containers where it runs.
type sample struct {
	at    time.Time
	where map[string][]string
}

func newWorld(t *testing.T, tune func(*monitor.Config)) *world {
	w := &world{t: t, ns: map[string]string{}, logs: &netns.SyncBuffer{}}
	var next int
	w.b = ctltest.New(t, []string{"A"}, 3, ctltest.Options{Place: func(a *ctltest.Agent) (string, string) {
		w.mu.Lock()
		i := next
		next++
		w.mu.Unlock()
		n := netns.New(t, "vf")
		host := netns.Unique("vf")
		run(t, "ip", "link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", n.Name)
		t.Cleanup(func() { exec.Command("ip", "link", "del", host).Run() })
		run(t, "ip", "addr", "add", fmt.Sprintf("198.19.200.%d/30", 4*i+1), "dev", host)
		run(t, "ip", "link", "set", host, "up")
		n.MustRun("ip", "addr", "add", fmt.Sprintf("198.19.200.%d/30", 4*i+2), "dev", "eth0")
		n.MustRun("ip", "link", "set", "eth0", "up")
		w.mu.Lock()
		w.ns[a.Host] = n.Name
		w.mu.Unlock()
		return n.Name, fmt.Sprintf("198.19.200.%d:8678", 4*i+2)
	}})
	w.b.AddCluster("vc1", guests, 1, 128)
	ctx, cancel := context.WithCancel(context.Background())
	l, err := controller.Acquire(ctx, w.b.DB, time.Second)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if rep, err := controller.New(w.b.DB, controller.Options{}).Reconcile(ctx, controller.Filter{}); err != nil || !rep.Converged() {
		cancel()
		t.Fatalf("first sync: %v %v", rep, err)
	}
	l.Release()
	w.cfg = monitor.Defaults()
	if tune != nil {
		tune(&w.cfg)
	}
	mon := monitor.New(w.cfg, w.b.DB, slog.New(slog.NewTextHandler(w.logs, nil)))
	done := make(chan error, 1)
	go func() { done <- mon.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("vclusterd log:\n%s", w.logs.String())
		}
	})
	// Every agent holds a lease before the scenario starts.
	w.watch(20*time.Second, "every agent holding a lease", func(sample) bool {
		for _, a := range w.b.Agents {
			if st, err := w.status(a); err != nil || st.Lease.State != agentapi.LeaseValid {
				return false
			}
		}
		return true
	})
	return w
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v: %s", name, args, err, out)
	}
}

// cut takes the container's end of its only link down: the frontend's
// packets to it are dropped; its agent and libvirtd run on.
func (w *world) cut(a *ctltest.Agent, up bool) {
	state := "down"
	if up {
		state = "up"
	}
	run(w.t, "ip", "netns", "exec", w.ns[a.Host], "ip", "link", "set", "eth0", state)
}

func (w *world) status(a *ctltest.Agent) (agentapi.HostStatus, error) {
	c, err := agentclient.New("http://"+a.Addr+"/RPC2", nil, agentclient.WithTimeout(time.Second))
	if err != nil {
		return agentapi.HostStatus{}, err
	}
	return c.Status(context.Background())
}

// look samples every container's libvirt through the test's own local
// connection (never through an agent or the network).
func (w *world) look() sample {
	s := sample{at: time.Now(), where: map[string][]string{}}
	for _, a := range w.b.Agents {
		for name, running := range a.Domains(w.t) {
			if running && name != "test" {
				s.where[name] = append(s.where[name], a.Host)
			}
		}
	}
	for g, cs := range s.where {
		sort.Strings(cs)
		if len(cs) > 1 {
			w.overlap = append(w.overlap, fmt.Sprintf("%s on %v at %s", g, cs, s.at.Format("15:04:05.000")))
		}
	}
	return s
}

// watch samples every 100 ms until done holds (nil: for d), failing at
// once if a sample sees a guest running twice, or when d passes first.
func (w *world) watch(d time.Duration, what string, done func(sample) bool) sample {
	w.t.Helper()
	deadline := time.Now().Add(d)
	for {
		s := w.look()
		w.samples = append(w.samples, s)
		if len(w.overlap) > 0 {
			w.t.Fatalf("a guest ran on two containers: %v", w.overlap)
		}
		if done != nil && done(s) {
			return s
		}
		if time.Now().After(deadline) {
			if done != nil {
				w.t.Fatalf("timed out after %s waiting for %s; last sample %v", d, what, s.where)
			}
			return s
		}
		time.Sleep(time.Until(s.at.Add(every)))
	}
}

// everywhereOnce: every guest runs on exactly one container, none on a.
func everywhereOnce(a *ctltest.Agent) func(sample) bool {
	return func(s sample) bool {
		if len(s.where) != guests {
			return false
		}
		for _, cs := range s.where {
			if len(cs) != 1 || a != nil && cs[0] == a.Host {
				return false
			}
		}
		return true
	}
}

// figures: the longest time any guest ran nowhere, the longest gap
// between two samples, and the samples taken.
func (w *world) figures() (nowhere, gap time.Duration) {
	last := map[string]time.Time{}
	for i, s := range w.samples {
		if i > 0 {
			gap = max(gap, s.at.Sub(w.samples[i-1].at))
		}
		for g := range s.where {
			if t, ok := last[g]; ok {
				nowhere = max(nowhere, s.at.Sub(t)-every)
			}
			last[g] = s.at
		}
	}
	return max(nowhere, 0), gap
}

// on lists the guests the database places on a.
func (w *world) on(a *ctltest.Agent) []string {
	rows, err := w.b.DB.Query("SELECT Name FROM vc_vms WHERE Container = ? ORDER BY Name", a.ID)
	if err != nil {
		w.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		out = append(out, n)
	}
	return out
}

func (w *world) count(q string, args ...any) int {
	var n int
	if err := w.b.DB.QueryRow(q, args...).Scan(&n); err != nil {
		w.t.Fatal(err)
	}
	return n
}

// fail samples a quiet baseline, breaks container a (how), and samples
// until its guests run elsewhere; it returns how long that took.
func (w *world) fail(a *ctltest.Agent, how func()) time.Duration {
	w.t.Helper()
	w.watch(2*time.Second, "", nil)
	start := time.Now()
	how()
	w.watch(60*time.Second, "relocation", everywhereOnce(a))
	return time.Since(start)
}

// back mends container a (how), samples until vclusterd has it alive and
// for three more intervals, and checks that nothing else changed: every
// guest still runs once, elsewhere, and there were no more than moves.
func (w *world) back(a *ctltest.Agent, moves int, how func()) {
	w.t.Helper()
	how()
	w.watch(30*time.Second, a.Host+" alive again", func(sample) bool {
		return w.count("SELECT COUNT(*) FROM vc_health WHERE Container = ? AND Status = 'alive'", a.ID) == 1
	})
	last := w.watch(3*w.cfg.Interval.Duration, "", nil)
	if n := w.count("SELECT COUNT(*) FROM vc_moves"); !everywhereOnce(a)(last) || n != moves {
		w.t.Fatalf("after %s came back: running %v, %d moves, want %d", a.Host, last.where, n, moves)
	}
}

func (w *world) signal(a *ctltest.Agent, sig syscall.Signal) {
	if err := a.Signal(sig); err != nil {
		w.t.Fatal(err)
	}
}

// report logs one scenario's figures in the form docs/controller.md quotes.
func (w *world) report(name string, relocated time.Duration) {
	nowhere, gap := w.figures()
	if gap > 2*every {
		w.t.Errorf("samples %s apart: the sampler fell behind its 200 ms bound", gap)
	}
	w.t.Logf("FIGURE %s: cut->running elsewhere %s, longest running nowhere %s, overlap 0 (%d samples, largest gap %s; lease %s, margin %s, interval %s)",
		name, relocated.Round(10*time.Millisecond), nowhere.Round(10*time.Millisecond), len(w.samples), gap.Round(time.Millisecond),
		w.cfg.Lease.Duration, w.cfg.LeaseMargin.Duration, w.cfg.Interval.Duration)
}

func logHas(t *testing.T, path, what string) bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(string(b), what)
}
