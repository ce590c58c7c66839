// Package agent is vcluster-agent's server: configuration, HTTP with
// limits, XML-RPC decoding, signature checks, dispatch to the hypervisor
// and counters. Wire contract: package agentapi and docs/agent-protocol.md.
package agent

import (
	"errors"
	"strconv"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/tomlconf"
)

// Config is /etc/vcluster/agent.toml; roll/etc/agent.toml documents every
// key with its default.
type Config struct {
	Listen        string   `toml:"listen"`
	LibvirtSocket string   `toml:"libvirt_socket"`
	LibvirtURI    string   `toml:"libvirt_uri"`
	TrustedKeys   []string `toml:"trusted_keys"`
	Hostname      string   `toml:"hostname"`
	PublicReads   bool     `toml:"public_reads"`
	TLSCert       string   `toml:"tls_cert"`
	TLSKey        string   `toml:"tls_key"`
	LoadavgPath   string   `toml:"loadavg_path"`

	DiskDir     string `toml:"disk_dir"`
	CreateDisks bool   `toml:"create_disks"`
	Bootloader  string `toml:"bootloader"`
	HVMLoader   string `toml:"hvm_loader"`
	Emulator    string `toml:"emulator"`

	MaxBodyBytes    int64    `toml:"max_body_bytes"`
	MaxConcurrent   int      `toml:"max_concurrent"`
	ReadTimeout     Duration `toml:"read_timeout"`
	WriteTimeout    Duration `toml:"write_timeout"`
	ReplayWindow    Duration `toml:"replay_window"`
	MaxNonces       int      `toml:"max_nonces"`
	ShutdownTimeout Duration `toml:"shutdown_timeout"`
}

// Duration reads "10s"-style TOML strings.
type Duration = tomlconf.Duration

// Defaults is the configuration with nothing set.
func Defaults() Config {
	return Config{
		Listen:          ":" + strconv.Itoa(agentapi.DefaultPort),
		LibvirtSocket:   "/var/run/libvirt/libvirt-sock",
		LibvirtURI:      "xen:///system",
		PublicReads:     true,
		LoadavgPath:     "/proc/loadavg",
		DiskDir:         "/state/partition1/xen/disks",
		CreateDisks:     true,
		Bootloader:      "/usr/bin/pygrub",
		HVMLoader:       "/usr/lib/xen/boot/hvmloader",
		MaxBodyBytes:    1 << 20,
		MaxConcurrent:   16,
		ReadTimeout:     Duration{Duration: 10 * time.Second},
		WriteTimeout:    Duration{Duration: 120 * time.Second},
		ReplayWindow:    Duration{Duration: 5 * time.Minute},
		MaxNonces:       100000,
		ShutdownTimeout: Duration{Duration: 30 * time.Second},
	}
}

// LoadConfig reads path over the defaults. Unknown keys are an error, so a
// misspelt limit never silently falls back to its default.
func LoadConfig(path string) (Config, error) {
	c := Defaults()
	if err := tomlconf.Decode(path, &c); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// Validate checks values that would otherwise fail late.
func (c Config) Validate() error {
	switch {
	case c.Listen == "":
		return errors.New("listen is empty")
	case c.LoadavgPath == "":
		return errors.New("loadavg_path is empty")
	case c.LibvirtSocket == "" || c.LibvirtURI == "":
		return errors.New("libvirt_socket and libvirt_uri must be set")
	case c.MaxBodyBytes < 1024:
		return errors.New("max_body_bytes must be at least 1024")
	case c.MaxConcurrent < 1:
		return errors.New("max_concurrent must be at least 1")
	case c.ReadTimeout.Duration <= 0 || c.WriteTimeout.Duration <= 0:
		return errors.New("read_timeout and write_timeout must be positive")
	case c.ReplayWindow.Duration < time.Second:
		return errors.New("replay_window must be at least 1s")
	case c.MaxNonces < 1:
		return errors.New("max_nonces must be at least 1")
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return errors.New("tls_cert and tls_key go together")
	case c.CreateDisks && c.DiskDir == "":
		return errors.New("create_disks needs disk_dir")
	}
	return nil
}
