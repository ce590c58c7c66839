package demo

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/workload"
)

// EvalConfig is one (part of an) evaluation run.
type EvalConfig struct {
	Compounds int             // default 400
	Delays    []time.Duration // default 0, 10, 25, 50, 100, 200 ms
	// Modes: "overlay" (the virtual cluster: Slurm on overlay addresses),
	// "underlay" (the same guests and Slurm on their plain addresses: the
	// baseline), "failover" (overlay at the first delay while a VM
	// container dies mid-batch). Default all three.
	Modes    []string
	CSV      string // default build/results/eval.csv (a run's results stay out of the checkout)
	Resume   bool   // skip rows the CSV holds complete for this batch size
	Dir      string
	Keep     bool
	Cache    string
	Progress io.Writer
	// Guests: GuestsNS (default: the evaluation's CPU goes to the
	// workload, docs/evaluation.md) or GuestsVM (overlay and failover
	// only: VM guests have no Slurm over the plain LAN).
	Guests string
}

// Eval modes.
const (
	ModeOverlay  = "overlay"
	ModeUnderlay = "underlay"
	ModeFailover = "failover"
)

// Eval runs the evaluation on one bed and virtual cluster, merging each
// row into the CSV as soon as it is measured (so an interrupted run loses
// at most the row in progress, and -resume continues), then draws the plot.
func Eval(ctx context.Context, cfg EvalConfig) ([]workload.EvalRow, error) {
	if cfg.Compounds <= 0 {
		cfg.Compounds = 400
	}
	if len(cfg.Delays) == 0 {
		for _, ms := range []int{0, 10, 25, 50, 100, 200} {
			cfg.Delays = append(cfg.Delays, time.Duration(ms)*time.Millisecond)
		}
	}
	if len(cfg.Modes) == 0 {
		cfg.Modes = []string{ModeOverlay, ModeUnderlay, ModeFailover}
	}
	for _, m := range cfg.Modes {
		if m != ModeOverlay && m != ModeUnderlay && m != ModeFailover {
			return nil, fmt.Errorf("unknown mode %q (overlay, underlay, failover)", m)
		}
		if m == ModeUnderlay && cfg.Guests == GuestsVM {
			return nil, fmt.Errorf("mode underlay needs namespace guests (-guests ns)")
		}
	}
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	if cfg.CSV == "" {
		cfg.CSV = filepath.Join(root, "build", "results", "eval.csv")
	}
	done, err := completeRows(cfg.CSV, cfg.Compounds)
	if err != nil {
		return nil, err
	}
	// Delay by delay, the modes side by side (overlay, then underlay at
	// the same delay): a drift in the machine's background load then
	// hits the two modes alike. The failover run comes last.
	var todo []evalJob
	add := func(m string, d time.Duration) {
		if !cfg.Resume || !done[rowKey(m, int(d.Milliseconds()))] {
			todo = append(todo, evalJob{m, d})
		}
	}
	for _, d := range cfg.Delays {
		for _, m := range cfg.Modes {
			if m != ModeFailover {
				add(m, d)
			}
		}
	}
	for _, m := range cfg.Modes {
		if m == ModeFailover {
			add(m, cfg.Delays[0])
		}
	}
	if len(todo) == 0 {
		fmt.Fprintf(out(cfg.Progress), "eval: every requested row is already in %s (-resume)\n", cfg.CSV)
		return nil, plot(root, cfg.CSV)
	}

	set, err := prepare(cfg.Cache, cfg.Compounds)
	if err != nil {
		return nil, err
	}
	c, err := Open(ctx, Options{Dir: cfg.Dir, Keep: cfg.Keep, Progress: cfg.Progress, Guests: cfg.Guests})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.Create(ctx, len(c.Conts)); err != nil {
		return nil, err
	}
	if c.VM() {
		rep := &Report{}
		if err := c.upVMs(ctx, rep); err != nil {
			return nil, err
		}
		if len(rep.Errors) > 0 {
			return nil, errors.New(rep.Errors[0])
		}
		if set, err = c.shareSet(set); err != nil {
			return nil, err
		}
		return c.evalRows(ctx, cfg, root, set, todo)
	} else if err := c.Sync(ctx); err != nil {
		// The measurement does not depend on the controller: say so loudly
		// and bring the guests up from the database's placement.
		c.Step("WARNING: %v; guests come up from the database's placement", err)
	}
	hosts, err := c.Hosts(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.Boot(ctx, hosts); err != nil {
		return nil, err
	}
	reach, err := c.Reachability(ctx, 60*time.Second, 8)
	if err != nil {
		return nil, err
	}
	c.Step("%s", reach)
	if reach.OK != reach.Pairs {
		return nil, fmt.Errorf("overlay: %d of %d pairs unreachable", reach.Pairs-reach.OK, reach.Pairs)
	}
	return c.evalRows(ctx, cfg, root, set, todo)
}

// evalRows measures each row of todo on the running cluster.
func (c *Cluster) evalRows(ctx context.Context, cfg EvalConfig, root string, set *workload.Set, todo []evalJob) ([]workload.EvalRow, error) {
	tasksDir := filepath.Join(filepath.Dir(cfg.CSV), "tasks")
	if err := writeNodes(tasksDir, c.Computes()); err != nil {
		return nil, err
	}
	var err error

	var rows []workload.EvalRow
	var slurm *workload.Slurm
	slurmMode := ""
	defer func() {
		if slurm != nil {
			slurm.Stop()
		}
	}()
	for _, j := range todo {
		if err := ctx.Err(); err != nil {
			return rows, err
		}
		var b Batch
		if j.mode == ModeFailover {
			if slurm != nil {
				slurm.Stop()
				slurm, slurmMode = nil, ""
			}
			b, err = c.Failover(ctx, set, j.delay)
		} else {
			if slurmMode != j.mode {
				if slurm != nil {
					slurm.Stop()
				}
				if slurm, err = c.StartSlurm(j.mode); err != nil {
					return rows, err
				}
				slurmMode = j.mode
			}
			b, err = c.Batch(ctx, slurm, set, j.mode, j.delay)
		}
		if err != nil && b.OK == 0 && ctx.Err() != nil {
			return rows, err
		}
		row := workload.EvalRow{DelayMS: int(j.delay.Milliseconds()), Mode: j.mode, Seconds: b.Seconds, TasksOK: b.OK, TasksAll: b.All}
		rows = append(rows, row)
		if merr := workload.MergeCSV(cfg.CSV, []workload.EvalRow{row}); merr != nil {
			return rows, merr
		}
		c.Step("eval: row %s %d ms: %.1f s, tasks %d/%d -> %s", row.Mode, row.DelayMS, row.Seconds, row.TasksOK, row.TasksAll, cfg.CSV)
		if b.Dir != "" {
			// Each task's node and clock readings, for the dispatch-gap
			// analysis (tests/workload/gaps.py); the work folder goes.
			if cerr := copyFile(filepath.Join(b.Dir, "results.tsv"),
				filepath.Join(tasksDir, fmt.Sprintf("%s-%dms.tsv", row.Mode, row.DelayMS))); cerr != nil {
				c.Step("WARNING: per-task table not kept: %v", cerr)
			}
		}
		if err != nil {
			return rows, err
		}
	}
	return rows, plot(root, cfg.CSV)
}

// evalJob is one row to measure.
type evalJob struct {
	mode  string
	delay time.Duration
}

// writeNodes records which site each compute guest started at.
func writeNodes(dir string, gs []*Guest) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("node\tsite\n")
	for _, g := range gs {
		fmt.Fprintf(&b, "%s\t%s\n", g.Name, g.Site)
	}
	return os.WriteFile(filepath.Join(dir, "nodes.tsv"), []byte(b.String()), 0o644)
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o644)
}

func rowKey(mode string, ms int) string { return mode + "/" + strconv.Itoa(ms) }

// completeRows are the CSV's rows where every task of a batch of n
// compounds succeeded.
func completeRows(path string, n int) (map[string]bool, error) {
	done := map[string]bool{}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return done, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	for i, r := range recs {
		if i == 0 || len(r) != len(workload.EvalHeader) {
			continue
		}
		ms, e1 := strconv.Atoi(r[0])
		ok, e2 := strconv.Atoi(r[3])
		all, e3 := strconv.Atoi(r[4])
		if e1 == nil && e2 == nil && e3 == nil && all == n && ok == all {
			done[rowKey(r[1], ms)] = true
		}
	}
	return done, nil
}

// plot draws eval.png and eval.svg next to the CSV.
func plot(root, csvPath string) error {
	cmd := exec.Command(workload.DebianPython, filepath.Join(root, "tests", "workload", "plot.py"), csvPath)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("plot.py: %v: %s", err, lastLines(string(b), 3))
	}
	return nil
}

func out(w io.Writer) io.Writer {
	if w == nil {
		return os.Stdout
	}
	return w
}
