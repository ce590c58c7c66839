// Command vclusterd is the vcluster monitor on the home frontend: it polls
// every VM container's agent, stores load reports for placement, fences
// containers that miss heartbeats and relocates their guests, and moves
// guests off containers that stay overloaded (docs/controller.md).
//
//	vclusterd [-config /etc/vcluster/vclusterd.toml] [-once]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/rocksclusters/vcluster/src/internal/db"
	"github.com/rocksclusters/vcluster/src/internal/monitor"
	"github.com/rocksclusters/vcluster/src/internal/version"
)

const defaultConfig = "/etc/vcluster/vclusterd.toml"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "vclusterd:", err)
		os.Exit(1)
	}
}

func run() error {
	fs := flag.NewFlagSet("vclusterd", flag.ContinueOnError)
	configPath := fs.String("config", defaultConfig, "TOML configuration `file` (missing default file: built-in defaults)")
	once := fs.Bool("once", false, "poll once, act on it, and exit")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errors.New("bad arguments (see -h)")
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *showVersion {
		fmt.Println(version.String())
		return nil
	}
	cfg := monitor.Defaults()
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "config" })
	if _, err := os.Stat(*configPath); err == nil || explicit {
		c, err := monitor.LoadConfig(*configPath)
		if err != nil {
			return err
		}
		cfg = c
	}
	dsn, err := db.ResolveDSN(cfg.DSN)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	d, err := db.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := db.CheckSchema(ctx, d); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	m := monitor.New(cfg, d, log)
	if *once {
		return m.Poll(ctx)
	}
	log.Info("vclusterd started", "interval", cfg.Interval.Duration, "dead_after", cfg.DeadAfter,
		"call_timeout", cfg.CallTimeout.Duration, "overload_load", cfg.OverloadLoad, "version", version.String())
	err = m.Run(ctx)
	log.Info("vclusterd stopped")
	return err
}
