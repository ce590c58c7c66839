// Command vcluster-demo runs vcluster end to end on one machine (`make
// demo`) or the research's evaluation (`make eval`, with -eval).
//
//	vcluster-demo [-compounds 20] [-delays 0,50] [-nodes 13] [-keep] [-report FILE]
//	vcluster-demo -eval [-compounds 400] [-delays 0,10,25,50,100,200]
//	              [-modes overlay,underlay,failover] [-csv build/results/eval.csv] [-resume]
//
// Ctrl-C (SIGINT) or SIGTERM stops the run and cleans up everything it
// started. The demo's last line is
// `demo: sites=3 guests=<n> reachable=<ok>/<pairs> tasks=<ok>/<total>`;
// the exit status is non-zero when anything failed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/demo"
)

func main() {
	os.Exit(run())
}

func run() int {
	fs := flag.NewFlagSet("vcluster-demo", flag.ContinueOnError)
	compounds := fs.Int("compounds", 0, "compounds docked per batch (default 20; 400 with -eval)")
	delays := fs.String("delays", "", "one-way inter-site `ms` delays, comma-separated, one batch each (default 0; -eval: 0,10,25,50,100,200)")
	nodes := fs.Int("nodes", 0, "compute guests (default one per VM container: 13)")
	keep := fs.Bool("keep", false, "keep everything up after the report until Ctrl-C, and keep the work folder")
	dir := fs.String("dir", "", "work `folder` (default a fresh temporary one)")
	report := fs.String("report", "", "also write the report to `FILE`")
	eval := fs.Bool("eval", false, "run the evaluation instead of the demo")
	modes := fs.String("modes", "overlay,underlay,failover", "-eval: which runs: overlay (virtual cluster), underlay (plain sites, the baseline), failover (a container dies mid-batch)")
	csvPath := fs.String("csv", "", "-eval: results table; per-task tables and the plot go next to it (default build/results/eval.csv)")
	resume := fs.Bool("resume", false, "-eval: skip rows the table already holds complete for this batch size")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "vcluster-demo: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	ds, err := demo.ParseDelays(*delays)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vcluster-demo:", err)
		return 2
	}
	if *compounds < 0 || *compounds > 4000 || *nodes < 0 || *nodes > 1000 {
		fmt.Fprintln(os.Stderr, "vcluster-demo: -compounds must be 1..4000 and -nodes 1..1000")
		return 2
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		n := 0
		for s := range sig {
			n++
			if n == 1 {
				fmt.Fprintf(os.Stderr, "vcluster-demo: %v: stopping and cleaning up (this takes a few seconds)\n", s)
				cancel()
			} else {
				fmt.Fprintln(os.Stderr, "vcluster-demo: still cleaning up; please wait")
			}
		}
	}()

	if *eval {
		return runEval(ctx, *compounds, ds, *modes, *csvPath, *resume, *dir, *keep)
	}

	cfg := demo.Config{Compounds: *compounds, Delays: ds, Nodes: *nodes, Dir: *dir, Keep: *keep}
	if *keep {
		cfg.Hold = func(c *demo.Cluster) {
			c.Step("-keep: everything stays up (work folder %s; namespaces %s-*); Ctrl-C cleans up", c.Dir, c.Bed.ID)
			<-ctx.Done()
		}
	}
	rep, err := demo.Run(ctx, cfg)
	text := rep.String()
	fmt.Print(text)
	if *report != "" {
		if werr := os.MkdirAll(filepath.Dir(*report), 0o755); werr == nil {
			werr = os.WriteFile(*report, []byte(text), 0o644)
			if werr != nil {
				fmt.Fprintln(os.Stderr, "vcluster-demo:", werr)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vcluster-demo:", err)
		return 1
	}
	return 0
}

func runEval(ctx context.Context, compounds int, ds []time.Duration, modes, csvPath string, resume bool, dir string, keep bool) int {
	cfg := demo.EvalConfig{Compounds: compounds, Delays: ds, CSV: csvPath, Resume: resume, Dir: dir, Keep: keep}
	for _, m := range strings.Split(modes, ",") {
		if m = strings.TrimSpace(m); m != "" {
			cfg.Modes = append(cfg.Modes, m)
		}
	}
	rows, err := demo.Eval(ctx, cfg)
	for _, r := range rows {
		fmt.Printf("eval: %s delay=%dms seconds=%.1f tasks=%d/%d\n", r.Mode, r.DelayMS, r.Seconds, r.TasksOK, r.TasksAll)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vcluster-demo:", err)
		return 1
	}
	return 0
}
