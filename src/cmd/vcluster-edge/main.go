// Command vcluster-edge joins this machine to a vcluster overlay community
// (an N2N edge). It stays in the foreground.
//
//	vcluster-edge -config /etc/vcluster/edge.toml
//	vcluster-edge -d vc0 -a 100.64.0.5/24 -c vc-demo -k KEY -l 198.18.0.1:7654 [-m MAC] [-p PORT] [-protocol v1|native]
//
// SIGHUP re-reads the key file; SIGUSR1 prints the counters to stderr; the
// counters are also served on the status socket when one is configured.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/rocksclusters/vcluster/src/internal/daemon"
	"github.com/rocksclusters/vcluster/src/internal/overlay/config"
	"github.com/rocksclusters/vcluster/src/internal/overlay/edge"
	"github.com/rocksclusters/vcluster/src/internal/overlay/stats"
)

func main() { daemon.Main("vcluster-edge", run) }

func run() error {
	var (
		cfgFile string
		f       config.Flags
	)
	fs := flag.NewFlagSet("vcluster-edge", flag.ContinueOnError)
	fs.StringVar(&cfgFile, "config", "", "TOML configuration `file` (as the kickstart writes it)")
	fs.StringVar(&f.Device, "d", "", "TAP `device` name (default vc0)")
	fs.StringVar(&f.Address, "a", "", "overlay `IP[/bits]`")
	fs.StringVar(&f.Netmask, "s", "", "overlay `netmask` in dotted form (N2N v1 style, with -a IP)")
	fs.StringVar(&f.Community, "c", "", "`community` name")
	fs.StringVar(&f.Key, "k", "", "community `key` (visible in ps: prefer key_file or $N2N_KEY)")
	fs.Var(config.ListFlag{V: &f.Supernodes}, "l", "supernode `HOST:PORT` (repeat or comma-separate for failover)")
	fs.StringVar(&f.MAC, "m", "", "overlay `MAC` address")
	fs.IntVar(&f.LocalPort, "p", 0, "local UDP `port` (default any)")
	fs.IntVar(&f.MTU, "M", 0, "overlay `MTU` (default 1400)")
	fs.StringVar(&f.Protocol, "protocol", "", "wire protocol: native (default) or v1 (Debian n2n 1.3)")
	fs.StringVar(&f.Status, "status", "", "Unix `socket` that serves the counters")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to `file` until exit (for tuning)")
	if done, err := daemon.Parse(fs, os.Args[1:]); done || err != nil {
		return err
	}
	var c config.Edge
	if cfgFile != "" {
		if err := config.Load(cfgFile, &c); err != nil {
			return err
		}
	}
	if err := c.Apply(f, os.Getenv("N2N_KEY")); err != nil {
		return err
	}
	r, err := c.Resolve()
	if err != nil {
		return err
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	logger := log.New(os.Stderr, "vcluster-edge: ", log.LstdFlags)
	e, err := edge.New(r, c.Key, logger)
	if err != nil {
		return err
	}
	if r.Status != "" {
		l, err := stats.Serve(r.Status, e.Stats)
		if err != nil {
			e.Close()
			return fmt.Errorf("status socket: %w", err)
		}
		defer l.Close()
	}
	logger.Printf("%s up: %s mac %s community %s protocol %s mtu %d port %d supernodes %v",
		e.Device(), r.Prefix, e.MAC(), r.Community, r.Protocol, r.MTU, e.LocalPort(), r.Supernodes)

	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		for s := range sig {
			switch s {
			case syscall.SIGHUP:
				if c.KeyFile == "" {
					logger.Printf("SIGHUP: no key_file to reload")
					continue
				}
				k, err := config.ReadKey(c.KeyFile)
				if err == nil {
					err = e.SetKey(k)
				}
				if err != nil {
					logger.Printf("SIGHUP: key not reloaded: %v", err)
					continue
				}
				logger.Printf("SIGHUP: key reloaded from %s", c.KeyFile)
			case syscall.SIGUSR1:
				e.DumpStats(os.Stderr)
			default:
				logger.Printf("%v: leaving the community", s)
				e.Close()
				return
			}
		}
	}()
	return e.Run()
}
