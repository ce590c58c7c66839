package monitor

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/controller"
	"github.com/rocksclusters/vcluster/src/internal/controller/ctltest"
	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
	"github.com/rocksclusters/vcluster/src/internal/testenv/mariadb"
	"github.com/rocksclusters/vcluster/src/internal/testenv/netns"
)

func TestMain(m *testing.M) { os.Exit(mariadb.RunMain(m)) }

func TestTracker(t *testing.T) {
	c := Defaults()
	c.DeadAfter, c.OverloadLoad, c.OverloadFor = 3, 1.5, Duration{Duration: time.Minute}
	tr := newTracker(c)
	t0 := time.Unix(1e9, 0)
	idle := agentapi.HostStatus{CPUs: 4, Load1: 1}
	busy := agentapi.HostStatus{CPUs: 4, Load1: 8}
	steps := []struct {
		dead, ok bool
		st       agentapi.HostStatus
		at       time.Duration
		want     Verdict
	}{
		{false, true, idle, 0, Fine},
		{false, false, idle, 5 * time.Second, Missed},
		{false, false, idle, 10 * time.Second, Missed},
		{false, true, idle, 15 * time.Second, Fine}, // an answer resets the count
		{false, false, idle, 20 * time.Second, Missed},
		{false, false, idle, 25 * time.Second, Missed},
		{false, false, idle, 30 * time.Second, NewlyDead},
		{true, false, idle, 35 * time.Second, StillDead},
		{true, true, idle, 40 * time.Second, Revived},
		{false, true, busy, 45 * time.Second, Fine}, // overloaded since 45 s
		{false, true, busy, 90 * time.Second, Fine},
		{false, true, busy, 105 * time.Second, Overloaded},
		{false, true, busy, 110 * time.Second, Fine}, // one move per overload_for
		{false, true, idle, 120 * time.Second, Fine},
		{false, true, busy, 130 * time.Second, Fine}, // a dip restarts the clock
		{false, true, busy, 170 * time.Second, Fine},
		{false, true, busy, 190 * time.Second, Overloaded},
	}
	for i, s := range steps {
		if got := tr.observe(7, s.dead, s.ok, true, s.st, t0.Add(s.at)); got != s.want {
			t.Fatalf("step %d: verdict %d, want %d", i, got, s.want)
		}
	}
	// Enough missed heartbeats, but a lease may still hold: not dead yet.
	tr = newTracker(c)
	for i, want := range []Verdict{Missed, Missed, Missed, Missed, NewlyDead} {
		if got := tr.observe(8, false, false, i == 4, idle, t0); got != want {
			t.Fatalf("lease step %d: verdict %d, want %d", i, got, want)
		}
	}
	c.OverloadLoad = 0
	tr = newTracker(c)
	for i := 0; i < 3; i++ {
		if v := tr.observe(1, false, true, false, busy, t0.Add(time.Duration(i)*time.Hour)); v != Fine {
			t.Fatal("overload relocation not disabled by overload_load = 0")
		}
	}
}

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(text string) string {
		p := filepath.Join(dir, "c.toml")
		os.WriteFile(p, []byte(text), 0o600)
		return p
	}
	c, err := LoadConfig(write("interval = \"2s\"\ndead_after = 5\n"))
	if err != nil || c.Interval.Duration != 2*time.Second || c.DeadAfter != 5 || c.CallTimeout.Duration != 3*time.Second {
		t.Fatalf("%+v %v", c, err)
	}
	for text, want := range map[string]string{
		"intervall = \"2s\"\n":                             "unknown key(s): intervall",
		"interval = \"2 s\"\n":                             "c.toml",
		"dead_after = 0\n":                                 "dead_after",
		"boot = \"floppy\"\n":                              "boot",
		"boot = \"hvm\"\n":                                 "vcluster_boot",
		"[kickstart]\nlisten = \"8679\"\n":                 "listen",
		"[kickstart]\nlisten = \":1\"\ndist_dir = \"d\"\n": "dist_dir",
		"[kickstart]\nnodefile = \"/n.xml\"\n":             "without listen",
		"[kickstart]\nlistn = \":1\"\n":                    "kickstart.listn",
		"bridge = \"a/b\"\n":                               "bridge",
		"[extra]\nx = 1\n":                                 "unknown key(s): extra, extra.x",
		"overload_for = \"1s\"\n":                          "overload_for",
		"interval = \"10ms\"\n":                            "interval",
		"call_timeout = \"-1s\"\n":                         "call_timeout",
		"interval = [1,\n":                                 "c.toml",
		"concurrency = \"many\"\n":                         "c.toml",
		"overload_load = -1.0\n":                           "overload_load",
		"lock_wait = \"-5s\"\n":                            "lock_wait",
		"public_bridge = \"x y\"\n":                        "bridge",
		"dsn = 5\n":                                        "c.toml",
		"dead_after = 3\ndead_after = 4\n":                 "c.toml",
	} {
		_, err := LoadConfig(write(text))
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v, want one line with %q", text, err, want)
		}
	}
	// The shipped example is valid and says what the defaults are.
	c, err = LoadConfig(filepath.Join("..", "..", "..", "roll", "etc", "vclusterd.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if c != Defaults() {
		t.Fatalf("roll/etc/vclusterd.toml differs from the defaults:\n%+v\n%+v", c, Defaults())
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runMonitor is three sites of one container each holding cluster vc1 (6
// guests, synced) and the monitor running over them with the defaults as
// tune leaves them (cfg), until the test ends; logs is the monitor's log.
func runMonitor(t *testing.T, tune func(*Config)) (b *ctltest.Bed, ctx context.Context, cfg Config, logs *netns.SyncBuffer) {
	t.Helper()
	return runMonitorOn(t, nil, tune)
}

// runMonitorOn is runMonitor with prepare run on the bed (its cluster
// converged) before vclusterd starts.
func runMonitorOn(t *testing.T, prepare func(*ctltest.Bed), tune func(*Config)) (b *ctltest.Bed, ctx context.Context, cfg Config, logs *netns.SyncBuffer) {
	t.Helper()
	b = ctltest.New(t, []string{"A", "B", "C"}, 1, ctltest.Options{})
	b.AddCluster("vc1", 6, 1, 128)
	ctx, cancel := context.WithCancel(context.Background())
	l, err := controller.Acquire(ctx, b.DB, time.Second)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if rep, err := controller.New(b.DB, controller.Options{}).Reconcile(ctx, controller.Filter{}); err != nil || !rep.Converged() {
		cancel()
		t.Fatalf("%v %v", rep, err)
	}
	l.Release()
	if prepare != nil {
		prepare(b)
	}

	cfg = Defaults()
	tune(&cfg)
	logs = &netns.SyncBuffer{}
	mon := New(cfg, b.DB, slog.New(slog.NewTextHandler(logs, nil)))
	done := make(chan error, 1)
	go func() { done <- mon.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return b, ctx, cfg, logs
}

// Kill a container's agent: its guests move and start elsewhere and the
// database says so; restart it: its stale copies are destroyed first and
// no guest runs twice.
func TestDeadContainerRelocation(t *testing.T) {
	b, _, _, logs := runMonitor(t, func(cfg *Config) {
		cfg.Interval, cfg.CallTimeout, cfg.DeadAfter = Duration{Duration: 200 * time.Millisecond}, Duration{Duration: time.Second}, 2
		cfg.Lease, cfg.LeaseMargin = Duration{Duration: 2 * time.Second}, Duration{Duration: 500 * time.Millisecond}
	})

	a := b.Agents[0]
	onA := func() int {
		var n int
		b.DB.QueryRow("SELECT COUNT(*) FROM vc_vms WHERE Container = ?", a.ID).Scan(&n)
		return n
	}
	if onA() != 2 {
		t.Fatalf("%d guests on A, want 2", onA())
	}
	killed := time.Now()
	a.Kill()
	// Relocated: the database points elsewhere and every guest runs there.
	waitFor(t, 15*time.Second, "relocation", func() bool {
		if onA() != 0 {
			return false
		}
		run := b.Running(t)
		for _, n := range []string{"vm-vc1-0", "vm-vc1-3"} {
			if len(run[n]) != 2 { // the stale copy on A (its libvirtd lives on) and the new one
				return false
			}
		}
		return true
	})
	t.Logf("relocated %s after the agent died (interval 200ms, dead_after 2)", time.Since(killed).Round(10*time.Millisecond))
	var status string
	var moves int
	b.DB.QueryRow("SELECT Status FROM vc_health WHERE Container = ?", a.ID).Scan(&status)
	b.DB.QueryRow("SELECT COUNT(*) FROM vc_moves WHERE FromHost = 'A/vm-container-a-0' AND Reason LIKE '%dead%'").Scan(&moves)
	if status != "dead" || moves != 2 {
		t.Fatalf("health %q, %d moves logged", status, moves)
	}
	var phys int
	b.DB.QueryRow("SELECT COUNT(*) FROM vc_vms WHERE Name IN ('vm-vc1-0', 'vm-vc1-3') AND Site <> (SELECT Site FROM vc_containers WHERE ID = ?)", a.ID).Scan(&phys)
	if phys != 2 {
		t.Fatal("vc_vms.Site not updated with the move")
	}

	// The container comes back: stale copies go, it is alive again.
	a.Start(t)
	waitFor(t, 10*time.Second, "revival", func() bool {
		b.DB.QueryRow("SELECT Status FROM vc_health WHERE Container = ?", a.ID).Scan(&status)
		return status == "alive"
	})
	run := b.Running(t)
	if len(run) != 6 {
		t.Fatalf("running: %v", run)
	}
	for g, cs := range run {
		if len(cs) != 1 || cs[0] == "A/vm-container-a-0" {
			t.Errorf("%s runs on %v", g, cs)
		}
	}
	for _, n := range []string{"vm-vc1-0", "vm-vc1-3"} {
		if _, there := a.Domains(t)[n]; there {
			t.Errorf("stale %s still defined on A", n)
		}
	}
	// The restarted agent may have stopped the stale copies itself (its
	// lease ran out while it was dead) before the revival pass asked.
	if c := a.Calls(); c["guest.destroy"] > 2 || c["guest.undefine"] != 2 {
		t.Fatalf("A's agent logged %v", c)
	}
	if !strings.Contains(logs.String(), "container dead") || !strings.Contains(logs.String(), "container back") {
		t.Fatalf("monitor log:\n%s", logs.String())
	}
}

// The daemon binary: a bad configuration is one line and exit 1; -once
// polls and stores the load reports.
func TestVclusterdBinary(t *testing.T) {
	b := ctltest.New(t, []string{"A"}, 2, ctltest.Options{})
	bin := binaries.Path(t, "vclusterd")
	bad := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(bad, []byte("dead_afterr = 2\n"), 0o600)
	out, err := exec.Command(bin, "-config", bad).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || strings.Count(string(out), "\n") != 1 || !strings.Contains(string(out), "unknown key(s): dead_afterr") {
		t.Fatalf("bad config: %v %q", err, out)
	}
	good := filepath.Join(t.TempDir(), "good.toml")
	os.WriteFile(good, []byte("dsn = \""+b.DSN+"\"\ninterval = \"1s\"\n"), 0o600)
	if out, err := exec.Command(bin, "-config", good, "-once").CombinedOutput(); err != nil {
		t.Fatalf("-once: %v\n%s", err, out)
	}
	var n int
	b.DB.QueryRow("SELECT COUNT(*) FROM vc_load l JOIN vc_health h ON h.Container = l.Container WHERE h.LastSeen IS NOT NULL AND l.CPUs > 0").Scan(&n)
	if n != 2 {
		t.Fatalf("%d containers reported, want 2", n)
	}
}

// A container whose load stays above overload_load for overload_for
// loses one guest (the real agents report the load their loadavg_path
// says); the database and the agents agree afterwards, and nothing more
// moves once the load is back down.
func TestOverloadRelocation(t *testing.T) {
	b, ctx, cfg, _ := runMonitor(t, func(cfg *Config) {
		cfg.Interval, cfg.CallTimeout = Duration{Duration: 200 * time.Millisecond}, Duration{Duration: time.Second}
		cfg.OverloadLoad, cfg.OverloadFor = 2.0, Duration{Duration: 1500 * time.Millisecond}
	})

	a := b.Agents[0]
	on := func(id int64) int {
		var n int
		b.DB.QueryRow("SELECT COUNT(*) FROM vc_vms WHERE Container = ?", id).Scan(&n)
		return n
	}
	// Several polls at an idle load: nothing moves.
	time.Sleep(3 * cfg.Interval.Duration)
	if on(a.ID) != 2 {
		t.Fatalf("%d guests on A before any overload, want 2", on(a.ID))
	}
	seen := controller.New(b.DB, controller.Options{}).Survey(ctx, []*controller.Container{{ID: a.ID, Site: a.Site, Host: a.Host, Agent: a.Addr}})[a.ID]
	st := seen.Status
	if seen.Err != nil || st.CPUs < 1 || st.Load1 != 0 {
		t.Fatalf("status of A: %+v %v", st, seen.Err)
	}
	// Load per CPU 4 (threshold 2) from now on.
	a.SetLoad(t, float64(4*st.CPUs))
	loaded := time.Now()
	waitFor(t, 15*time.Second, "one guest moved off the overloaded container", func() bool { return on(a.ID) < 2 })
	took := time.Since(loaded)
	a.SetLoad(t, 0)
	if took < cfg.OverloadFor.Duration {
		t.Fatalf("moved after %s, before overload_for (%s)", took, cfg.OverloadFor.Duration)
	}
	t.Logf("one guest moved %s after the load went up (overload_for %s, interval %s)", took.Round(10*time.Millisecond), cfg.OverloadFor.Duration, cfg.Interval.Duration)

	var moved, from, to, reason string
	if err := b.DB.QueryRow("SELECT Name, FromHost, ToHost, Reason FROM vc_moves ORDER BY ID").Scan(&moved, &from, &to, &reason); err != nil {
		t.Fatal(err)
	}
	if from != "A/vm-container-a-0" || to == from || !strings.Contains(reason, "overloaded") {
		t.Fatalf("move %s %s -> %s (%s)", moved, from, to, reason)
	}
	// Database and agents agree: every guest runs exactly once, on the
	// container vc_vms names.
	waitFor(t, 10*time.Second, "the moved guest running on its new container", func() bool {
		return agree(t, b) == ""
	})
	// The load is down: after another overload_for nothing else moved.
	time.Sleep(cfg.OverloadFor.Duration + 3*cfg.Interval.Duration)
	var n int
	b.DB.QueryRow("SELECT COUNT(*) FROM vc_moves").Scan(&n)
	if n != 1 || on(a.ID) != 1 {
		t.Fatalf("%d moves, %d guests left on A; want 1 and 1", n, on(a.ID))
	}
	if why := agree(t, b); why != "" {
		t.Fatal(why)
	}
	if c := a.Calls(); c["guest.destroy"] != 1 || c["guest.undefine"] != 1 {
		t.Fatalf("A's agent logged %v, want one destroy and one undefine", c)
	}
}

// agree says how the agents differ from the database ("" when they do
// not): every guest runs once, on its vc_vms container, and no other
// container holds a copy.
func agree(t *testing.T, b *ctltest.Bed) string {
	t.Helper()
	want := map[string]int64{}
	rows, err := b.DB.Query("SELECT Name, Container FROM vc_vms WHERE Container IS NOT NULL")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		var c int64
		rows.Scan(&n, &c)
		want[n] = c
	}
	rows.Close()
	for _, a := range b.Agents {
		doms := a.Domains(t)
		for name, c := range want {
			run, there := doms[name]
			switch {
			case c == a.ID && !run:
				return name + " not running on " + a.Host
			case c != a.ID && there:
				return name + " still defined on " + a.Host
			}
		}
	}
	return ""
}
