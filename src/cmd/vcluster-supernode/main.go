// Command vcluster-supernode introduces vcluster (and N2N v1) edges to each
// other and relays their traffic when they cannot reach each other. It
// stays in the foreground; SIGUSR1 prints the counters to stderr.
//
//	vcluster-supernode [-l PORT] [-status SOCKET] [-max-peers N]
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/rocksclusters/vcluster/src/internal/daemon"
	"github.com/rocksclusters/vcluster/src/internal/overlay/config"
	"github.com/rocksclusters/vcluster/src/internal/overlay/stats"
	"github.com/rocksclusters/vcluster/src/internal/overlay/supernode"
)

func main() { daemon.Main("vcluster-supernode", run) }

func run() error {
	fs := flag.NewFlagSet("vcluster-supernode", flag.ContinueOnError)
	port := fs.Int("l", config.DefaultPort, "UDP `port` to listen on")
	status := fs.String("status", "", "Unix `socket` that serves the counters")
	maxPeers := fs.Int("max-peers", supernode.DefaultMaxPeers, "most edges registered at once")
	maxComm := fs.Int("max-per-community", supernode.DefaultMaxCommunity, "most edges per community")
	if done, err := daemon.Parse(fs, os.Args[1:]); done || err != nil {
		return err
	}
	if *port < 1 || *port > 65535 || *maxPeers < 1 || *maxComm < 1 {
		return fmt.Errorf("port and limits must be positive (port <= 65535)")
	}
	logger := log.New(os.Stderr, "vcluster-supernode: ", log.LstdFlags)
	s, err := supernode.New(*port, logger)
	if err != nil {
		return err
	}
	s.MaxPeers, s.MaxPerCommunity = *maxPeers, *maxComm
	if *status != "" {
		l, err := stats.Serve(*status, s.Stats)
		if err != nil {
			return fmt.Errorf("status socket: %v", err)
		}
		defer l.Close()
	}
	logger.Printf("listening on UDP port %d (native and N2N v1)", s.Port())
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGUSR1, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		for x := range sig {
			if x == syscall.SIGUSR1 {
				_, _ = s.Stats.WriteTo(os.Stderr)
				continue
			}
			s.Close()
			return
		}
	}()
	return s.Run()
}
