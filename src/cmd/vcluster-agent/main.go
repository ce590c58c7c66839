// Command vcluster-agent runs on every VM container: an XML-RPC server
// through which the frontend (Go or Rocks' Python tools) reads the
// container's load and defines, starts and stops Xen guests via libvirt.
//
//	vcluster-agent [-config /etc/vcluster/agent.toml] [-listen ADDR]
//	               [-libvirt-socket PATH] [-libvirt-uri URI] [-trust FILE]...
//	vcluster-agent -fence [-config FILE] [-libvirt-socket PATH] [-libvirt-uri URI]
//
// -fence runs the watchdog instead of the agent: a separate process that
// stops every vcluster guest when the agent's lease file says its lease
// ran out (the agent frozen or dead while the hypervisor runs on).
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/rocksclusters/vcluster/src/internal/agent"
	"github.com/rocksclusters/vcluster/src/internal/auth"
	"github.com/rocksclusters/vcluster/src/internal/daemon"
	"github.com/rocksclusters/vcluster/src/internal/version"
)

const defaultConfig = "/etc/vcluster/agent.toml"

type fileList []string

func (f *fileList) String() string     { return strings.Join(*f, ",") }
func (f *fileList) Set(v string) error { *f = append(*f, v); return nil }

func main() { daemon.Main("vcluster-agent", run) }

func run() error {
	fs := flag.NewFlagSet("vcluster-agent", flag.ContinueOnError)
	configPath := fs.String("config", defaultConfig, "TOML configuration `file` (missing default file: built-in defaults)")
	listen := fs.String("listen", "", "listen `address`, overrides listen")
	socket := fs.String("libvirt-socket", "", "libvirtd unix socket `path`, overrides libvirt_socket")
	uri := fs.String("libvirt-uri", "", "libvirt `URI` (xen:///system, test:///default), overrides libvirt_uri")
	var trust fileList
	fs.Var(&trust, "trust", "trust the site key in `FILE` (repeatable; added to trusted_keys)")
	fence := fs.Bool("fence", false, "run the lease watchdog (stops the guests when the agent stops renewing) instead of the agent")
	if done, err := daemon.Parse(fs, os.Args[1:]); done || err != nil {
		return err
	}

	cfg, err := daemon.Config(fs, *configPath, agent.Defaults(), agent.LoadConfig)
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	if *socket != "" {
		cfg.LibvirtSocket = *socket
	}
	if *uri != "" {
		cfg.LibvirtURI = *uri
	}
	cfg.TrustedKeys = append(cfg.TrustedKeys, trust...)

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if *fence {
		return runWatchdog(cfg, log)
	}
	var keys []*auth.Key
	var keyFiles, missing []string
	for _, p := range cfg.TrustedKeys {
		k, err := auth.LoadKey(p)
		if errors.Is(err, os.ErrNotExist) {
			// A container installed before its site key exists still
			// reports status; it just refuses changes until restarted.
			missing = append(missing, p)
			continue
		}
		if err != nil {
			return err
		}
		keys = append(keys, k)
		keyFiles = append(keyFiles, p)
	}
	srv, err := agent.New(cfg, keys, log)
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	// Logged only now, so that bad input fails with its one error line.
	for _, p := range missing {
		log.Warn("trusted key file missing; not trusted", "file", p)
	}
	for i, k := range keys {
		log.Info("trusting site key", "id", k.ID(), "file", keyFiles[i])
	}
	if len(keys) == 0 {
		log.Warn("no trusted keys: every state-changing call will be refused")
	}
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	// Tests start the agent on port 0 and read the address from this line.
	log.Info("vcluster-agent listening", "addr", ln.Addr().String(), "scheme", scheme,
		"libvirt", cfg.LibvirtURI, "socket", cfg.LibvirtSocket, "version", version.String())

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	err = srv.Serve(ctx, ln)
	log.Info("vcluster-agent stopped; guests left as they are")
	return err
}

// runWatchdog is -fence: the lease watchdog until SIGTERM or SIGINT.
func runWatchdog(cfg agent.Config, log *slog.Logger) error {
	w, err := agent.NewWatchdog(cfg, log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return w.Run(ctx)
}
