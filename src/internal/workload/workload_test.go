package workload

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/testbed"
	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
)

func cacheDir(t testing.TB) string {
	root, err := binaries.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "build", "workload")
}

// compounds is the batch size: a handful in `go test`; VCLUSTER_WORKLOAD_N
// raises it (make eval runs 400 through its own driver).
func compounds(t testing.TB) int {
	if s := os.Getenv("VCLUSTER_WORKLOAD_N"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("VCLUSTER_WORKLOAD_N=%q", s)
		}
		return n
	}
	return 6
}

// TestBatchAcrossSites builds two sites with three guests, runs Slurm over
// their underlay addresses with 10 ms one-way delay between the sites, docks
// a handful of compounds one per task, and checks every result.
func TestBatchAcrossSites(t *testing.T) {
	binaries.RequireRoot(t)
	binaries.Require(t, "vina", "obabel", DebianPython, "munged", "slurmctld", "slurmd", "sbatch")
	st := DefaultSettings()
	st.Count = compounds(t)
	set, err := Prepare(cacheDir(t), st)
	if err != nil {
		t.Fatal(err)
	}

	bed := testbed.New(t, testbed.Layout{Sites: []testbed.SiteSpec{{Name: "A", Containers: 2}, {Name: "B", Containers: 1}}, Rate: "1gbit", Delay: 10 * time.Millisecond})
	var nodes []Node
	for i, c := range []*testbed.Host{bed.Sites[0].Containers[0], bed.Sites[0].Containers[1], bed.Sites[1].Containers[0]} {
		g, err := bed.AddGuest(c, "vm-wl-"+strconv.Itoa(i))
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, Node{Name: g.Name, Host: g, Addr: g.Addr, CPUs: 1})
	}
	fe := bed.Sites[0].Frontend
	if rtt, err := fe.Ping(nodes[2].Addr, 2, 50*time.Millisecond); err != nil || rtt.Min < 20*time.Millisecond {
		t.Fatalf("frontend → site B guest: RTT %v, %v (want ≥ 20 ms)", rtt, err)
	}
	dir := t.TempDir()
	s, err := StartSlurm(SlurmConfig{Dir: dir, Controller: fe, ControllerAddr: fe.Addr, Nodes: nodes})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	begun := time.Now()
	r, err := Run(ctx, s, set, dir, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, s.Logs())
	}
	t.Logf("%s per node %v", r.Summary(), r.PerNode)
	for _, task := range r.Tasks {
		if task.Err != "" {
			t.Errorf("%s on %s: %s", task.Compound, task.Node, task.Err)
		}
		if task.Affinity >= 0 || task.Affinity < -20 || task.Modes < 1 {
			t.Errorf("%s: implausible result %+v", task.Compound, task)
		}
		// The task's own clock readings: inside the batch, in order.
		if task.Start.Before(begun) || task.End.Before(task.Start) || task.End.After(time.Now()) {
			t.Errorf("%s: start %v end %v outside the batch (begun %v)", task.Compound, task.Start, task.End, begun)
		}
	}
	if r.OK != st.Count || r.Total != st.Count || len(r.Tasks) != st.Count {
		t.Fatalf("tasks %d/%d (of %d compounds)", r.OK, r.Total, st.Count)
	}
	if r.PerNode["vm-wl-2"] == 0 {
		t.Errorf("no task ran on the site B guest: %v", r.PerNode)
	}
	if err := r.WriteResults(filepath.Join(dir, "results.tsv")); err != nil {
		t.Fatal(err)
	}
}

// TestPrepareDeterministic checks that preparation is cached and
// reproducible and that every ligand has real 3D coordinates.
func TestPrepareDeterministic(t *testing.T) {
	binaries.Require(t, "obabel", DebianPython)
	st := DefaultSettings()
	st.Count = 3
	tmp := t.TempDir()
	a, err := Prepare(tmp, st)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Prepare(filepath.Join(tmp, "other"), st)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Compounds) != 3 || a.Compounds[0].Name != "NCI2" {
		t.Fatalf("compounds %+v", a.Compounds)
	}
	for i := range a.Compounds {
		x, _ := os.ReadFile(a.Compounds[i].Ligand)
		y, _ := os.ReadFile(b.Compounds[i].Ligand)
		if len(x) == 0 || string(x) != string(y) {
			t.Fatalf("%s differs between two preparations", a.Compounds[i].Name)
		}
		if err := CheckLigand(string(x)); err != nil {
			t.Fatal(err)
		}
	}
	if a.Box.Size != [3]float64{20, 20, 20} || a.Box.Center[0] < 23 || a.Box.Center[0] > 24 {
		t.Fatalf("box %+v", a.Box)
	}
	again, err := Prepare(tmp, st)
	if err != nil || again.Dir != a.Dir {
		t.Fatalf("second Prepare: %v, dir %s vs %s", err, again.Dir, a.Dir)
	}
}

// TestEvalUnderlay is the baseline half of `make eval` (VCLUSTER_EVAL=1):
// the research's layout (A: 5 containers, B and C: 4), one guest per
// container, Slurm on A's frontend over the plain underlay, the whole batch
// at each one-way delay. It merges its rows into build/results/eval.csv
// (or $VCLUSTER_EVAL_CSV) and draws the plot. Too heavy for `go test`.
func TestEvalUnderlay(t *testing.T) {
	if os.Getenv("VCLUSTER_EVAL") == "" {
		t.Skip("set VCLUSTER_EVAL=1 (make eval) to run the full evaluation")
	}
	binaries.RequireRoot(t)
	binaries.Require(t, "vina", "obabel", DebianPython, "munged", "slurmctld", "slurmd", "sbatch")
	st := DefaultSettings()
	if os.Getenv("VCLUSTER_WORKLOAD_N") != "" {
		st.Count = compounds(t)
	}
	delays := []time.Duration{0, 10, 25, 50, 100, 200}
	if s := os.Getenv("VCLUSTER_EVAL_DELAYS"); s != "" {
		delays = nil
		for _, f := range strings.Split(s, ",") {
			ms, err := strconv.Atoi(f)
			if err != nil || ms < 0 {
				t.Fatalf("VCLUSTER_EVAL_DELAYS=%q: want milliseconds, comma-separated", s)
			}
			delays = append(delays, time.Duration(ms))
		}
	}
	for i := range delays {
		delays[i] *= time.Millisecond
	}
	set, err := Prepare(cacheDir(t), st)
	if err != nil {
		t.Fatal(err)
	}
	bed := testbed.New(t, testbed.Research())
	var nodes []Node
	for _, s := range bed.Sites {
		for _, c := range s.Containers {
			g, err := bed.AddGuest(c, fmt.Sprintf("vm-eval-%d", len(nodes)))
			if err != nil {
				t.Fatal(err)
			}
			nodes = append(nodes, Node{Name: g.Name, Host: g, Addr: g.Addr, CPUs: 1})
		}
	}
	fe := bed.Sites[0].Frontend
	dir := t.TempDir()
	s, err := StartSlurm(SlurmConfig{Dir: dir, Controller: fe, ControllerAddr: fe.Addr, Nodes: nodes})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := Sweep(context.Background(), bed, s, set, dir, "underlay", delays, func(l string) { t.Log(l) })
	if err != nil {
		t.Fatalf("%v\n%s", err, s.Logs())
	}
	root, _ := binaries.RepoRoot()
	out := os.Getenv("VCLUSTER_EVAL_CSV")
	if out == "" {
		out = filepath.Join(root, "build", "results", "eval.csv")
	}
	if err := MergeCSV(out, rows); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.TasksOK != r.TasksAll {
			t.Errorf("delay %d ms: tasks %d/%d", r.DelayMS, r.TasksOK, r.TasksAll)
		}
	}
	plot := exec.Command(DebianPython, filepath.Join(root, "tests", "workload", "plot.py"), out)
	if b, err := plot.CombinedOutput(); err != nil {
		t.Fatalf("plot: %v: %s", err, b)
	}
}
