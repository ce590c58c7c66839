// Package agent is vcluster-agent's server: configuration, HTTP with
// limits, XML-RPC decoding, signature checks, dispatch to the hypervisor
// and counters. Wire contract: package agentapi and docs/agent-protocol.md.
package agent

import (
	"errors"
	"fmt"
	"os/user"
	"strconv"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/hypervisor"
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

	Hypervisor      string   `toml:"hypervisor"`  // "", "xen" or "kvm"
	DomainType      string   `toml:"domain_type"` // KVM: "auto", "kvm" or "qemu"
	NIC             string   `toml:"nic"`         // "bridge" or "tap"
	TapUser         string   `toml:"tap_user"`
	Shares          []string `toml:"shares"` // KVM: "path" or "path:rw", over virtio-9p
	ConsoleDir      string   `toml:"console_dir"`
	ConsoleMaxBytes int64    `toml:"console_max_bytes"`

	MaxBodyBytes    int64    `toml:"max_body_bytes"`
	MaxConcurrent   int      `toml:"max_concurrent"`
	ReadTimeout     Duration `toml:"read_timeout"`
	WriteTimeout    Duration `toml:"write_timeout"`
	ReplayWindow    Duration `toml:"replay_window"`
	MaxNonces       int      `toml:"max_nonces"`
	ShutdownTimeout Duration `toml:"shutdown_timeout"`

	LeaseConfig // lease_action, lease_file, lease_max, fence_poll (lease_file.go)
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
		DomainType:      hypervisor.DomainAuto,
		NIC:             hypervisor.NICBridge,
		ConsoleMaxBytes: 1 << 20,
		MaxBodyBytes:    1 << 20,
		MaxConcurrent:   16,
		ReadTimeout:     Duration{Duration: 10 * time.Second},
		WriteTimeout:    Duration{Duration: 120 * time.Second},
		ReplayWindow:    Duration{Duration: 5 * time.Minute},
		MaxNonces:       100000,
		ShutdownTimeout: Duration{Duration: 30 * time.Second},
		LeaseConfig:     leaseDefaults(),
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
	case c.ConsoleMaxBytes < minConsoleBytes:
		return fmt.Errorf("console_max_bytes must be at least %d", minConsoleBytes)
	}
	if _, err := c.hypervisorOptions(); err != nil {
		return err
	}
	return c.LeaseConfig.validate()
}

// minConsoleBytes keeps room for guest.console's 1000 lines.
const minConsoleBytes = 64 << 10

// hypervisorOptions turns the configuration into what the hypervisor
// package writes into domain XML: the one place the KVM keys are checked.
func (c Config) hypervisorOptions() (hypervisor.Options, error) {
	o := hypervisor.Options{DiskDir: c.DiskDir, Bootloader: c.Bootloader, HVMLoader: c.HVMLoader, Emulator: c.Emulator,
		Family: c.Hypervisor, DomainType: c.DomainType, NIC: c.NIC, ConsoleDir: c.ConsoleDir}
	switch {
	case c.Hypervisor != hypervisor.FamilyAuto && c.Hypervisor != hypervisor.FamilyXen && c.Hypervisor != hypervisor.FamilyKVM:
		return o, fmt.Errorf("hypervisor %q: want \"xen\", \"kvm\" or \"\" (from libvirt)", c.Hypervisor)
	case c.DomainType != hypervisor.DomainAuto && c.DomainType != hypervisor.TypeKVM && c.DomainType != hypervisor.TypeQEMU:
		return o, fmt.Errorf("domain_type %q: want \"auto\", \"kvm\" or \"qemu\"", c.DomainType)
	case c.NIC != hypervisor.NICBridge && c.NIC != hypervisor.NICTap:
		return o, fmt.Errorf("nic %q: want \"bridge\" or \"tap\"", c.NIC)
	case c.NIC == hypervisor.NICTap && c.Hypervisor == hypervisor.FamilyXen:
		return o, errors.New("nic = \"tap\" needs KVM; Xen guests use bridges")
	case c.TapUser != "" && c.NIC != hypervisor.NICTap:
		return o, errors.New("tap_user needs nic = \"tap\"")
	}
	if c.TapUser != "" {
		owner, err := lookupOwner(c.TapUser)
		if err != nil {
			return o, fmt.Errorf("tap_user: %v", err)
		}
		o.TapOwner = owner
	}
	tags := map[string]bool{}
	for _, s := range c.Shares {
		sh, err := hypervisor.ParseShare(s)
		if err != nil {
			return o, fmt.Errorf("shares: %v", err)
		}
		if tags[sh.Tag] {
			return o, fmt.Errorf("shares: %s given twice", sh.Path)
		}
		tags[sh.Tag] = true
		o.Shares = append(o.Shares, sh)
	}
	return o, nil
}

func lookupOwner(name string) (*hypervisor.Owner, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("%s: uid %q, gid %q", name, u.Uid, u.Gid)
	}
	return &hypervisor.Owner{UID: uid, GID: gid}, nil
}
