// Command vclusterd is the vcluster monitor on the home frontend: it polls
// every VM container's agent, stores load reports for placement, fences
// containers that miss heartbeats and relocates their guests, and moves
// guests off containers that stay overloaded (docs/controller.md).
//
//	vclusterd [-config /etc/vcluster/vclusterd.toml] [-once]
package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/rocksclusters/vcluster/src/internal/daemon"
	"github.com/rocksclusters/vcluster/src/internal/db"
	"github.com/rocksclusters/vcluster/src/internal/monitor"
	"github.com/rocksclusters/vcluster/src/internal/version"
)

const defaultConfig = "/etc/vcluster/vclusterd.toml"

func main() { daemon.Main("vclusterd", run) }

func run() error {
	fs := flag.NewFlagSet("vclusterd", flag.ContinueOnError)
	configPath := fs.String("config", defaultConfig, "TOML configuration `file` (missing default file: built-in defaults)")
	once := fs.Bool("once", false, "poll once, act on it, and exit")
	if done, err := daemon.Parse(fs, os.Args[1:]); done || err != nil {
		return err
	}
	cfg, err := daemon.Config(fs, *configPath, monitor.Defaults(), monitor.LoadConfig)
	if err != nil {
		return err
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
