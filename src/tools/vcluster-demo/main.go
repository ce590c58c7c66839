// Command vcluster-demo runs vcluster end to end on one machine (`make
// demo`) or the research's evaluation (`make eval`, with -eval).
//
//	vcluster-demo [-guests vm|ns] [-compounds 20] [-delays 0,50] [-nodes 13] [-keep] [-report FILE]
//	vcluster-demo -eval [-compounds 400] [-delays 0,10,25,50,100,200]
//	              [-modes overlay,underlay,failover] [-csv build/results/eval.csv] [-resume]
//
// Ctrl-C (SIGINT) or SIGTERM stops the run and cleans up everything it
// started. The demo's last line is
// `demo: sites=3 guests=<n> vms=<v> reachable=<ok>/<pairs> tasks=<ok>/<total>`;
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
	guests := fs.String("guests", "", "compute guests: vm (QEMU VMs booted by the agents; the demo's default) or ns (network namespaces; -eval's default)")
	noRelocate := fs.Bool("no-relocate", false, "-guests vm: skip the relocation step (a container dies, its guest boots elsewhere)")
	eval := fs.Bool("eval", false, "run the evaluation instead of the demo")
	modes := fs.String("modes", "overlay,underlay,failover", "-eval: which runs: overlay (virtual cluster), underlay (plain sites, the baseline; namespace guests only), failover (a container dies mid-batch)")
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

	if *guests == "" {
		*guests = demo.GuestsVM
		if *eval {
			*guests = demo.GuestsNS
		}
	}
	if *guests != demo.GuestsVM && *guests != demo.GuestsNS {
		fmt.Fprintf(os.Stderr, "vcluster-demo: -guests %q: want vm or ns\n", *guests)
		return 2
	}
	if *eval {
		return runEval(ctx, demo.EvalConfig{Compounds: *compounds, Delays: ds, CSV: *csvPath, Resume: *resume, Dir: *dir, Keep: *keep, Guests: *guests}, *modes)
	}

	cfg := demo.Config{Compounds: *compounds, Delays: ds, Nodes: *nodes, Dir: *dir, Keep: *keep, Guests: *guests, NoRelocate: *noRelocate}
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

func runEval(ctx context.Context, cfg demo.EvalConfig, modes string) int {
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
