// Command vclusterd is the vcluster monitor on the home frontend: it polls
// every VM container's agent, stores load reports for placement, fences
// containers that miss heartbeats and relocates their guests, and moves
// guests off containers that stay overloaded (docs/controller.md). With
// [kickstart] listen set it also serves the guests' kickstarts
// (package ksserver); -kickstart-only serves them without monitoring.
//
//	vclusterd [-config /etc/vcluster/vclusterd.toml] [-once | -kickstart-only]
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/rocksclusters/vcluster/src/internal/daemon"
	"github.com/rocksclusters/vcluster/src/internal/db"
	"github.com/rocksclusters/vcluster/src/internal/ksserver"
	"github.com/rocksclusters/vcluster/src/internal/monitor"
	"github.com/rocksclusters/vcluster/src/internal/version"
)

const defaultConfig = "/etc/vcluster/vclusterd.toml"

func main() { daemon.Main("vclusterd", run) }

func run() error {
	fs := flag.NewFlagSet("vclusterd", flag.ContinueOnError)
	configPath := fs.String("config", defaultConfig, "TOML configuration `file` (missing default file: built-in defaults)")
	once := fs.Bool("once", false, "poll once, act on it, and exit")
	ksOnly := fs.Bool("kickstart-only", false, "run only the kickstart server of [kickstart] (no monitoring)")
	if done, err := daemon.Parse(fs, os.Args[1:]); done || err != nil {
		return err
	}
	cfg, err := daemon.Config(fs, *configPath, monitor.Defaults(), monitor.LoadConfig)
	if err != nil {
		return err
	}
	if *ksOnly && (*once || cfg.Kickstart.Listen == "") {
		return errors.New("-kickstart-only needs [kickstart] listen in the configuration, and no -once")
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
	wait, err := startKickstart(ctx, cfg.Kickstart, d, log)
	if err != nil {
		return err
	}
	if *ksOnly {
		log.Info("vclusterd started: kickstart server only", "version", version.String())
		err = wait()
	} else {
		log.Info("vclusterd started", "interval", cfg.Interval.Duration, "dead_after", cfg.DeadAfter,
			"call_timeout", cfg.CallTimeout.Duration, "overload_load", cfg.OverloadLoad, "version", version.String())
		err = errors.Join(m.Run(ctx), wait())
	}
	log.Info("vclusterd stopped")
	return err
}

// startKickstart serves [kickstart] (when listen is set) until ctx ends;
// wait returns when it has stopped. The port is bound here: a port in use
// or a bad certificate is a start-up error, not a log line.
func startKickstart(ctx context.Context, cfg ksserver.Config, d *sql.DB, log *slog.Logger) (wait func() error, err error) {
	if cfg.Listen == "" {
		return func() error { return nil }, nil
	}
	ln, err := ksserver.Listen(cfg)
	if err != nil {
		return nil, fmt.Errorf("[kickstart] %w", err)
	}
	log.Info("kickstart server listening", "addr", ln.Addr().String(), "tls", cfg.TLSCert != "", "dist_dir", cfg.DistDir)
	ks := ksserver.New(cfg, d, log)
	done := make(chan error, 1)
	go func() { done <- ks.Serve(ctx, ln) }()
	return func() error {
		err := <-done
		log.Info("kickstart server stopped", "requests", fmt.Sprintf("%+v", ks.Stats()))
		return err
	}, nil
}
