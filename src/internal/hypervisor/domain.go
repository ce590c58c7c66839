// Package hypervisor drives one VM container's libvirtd through go-libvirt
// over its unix socket, and writes the Xen domain XML for vcluster guests.
// The libvirt URI (xen:///system in production, test:///default in tests)
// is configuration: no code path depends on it.
package hypervisor

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"path/filepath"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
)

// MetadataNS marks guests this agent defined; the spec digest inside lets
// guest.define tell "same spec again" (no-op) from "different spec"
// (conflict) without comparing libvirt's rewritten XML.
const MetadataNS = "https://github.com/rocksclusters/vcluster/agent/1"

// Options are the container-specific paths that go into domain XML.
type Options struct {
	DiskDir    string // guest disk images: DiskDir/<name>.img
	Bootloader string // PV guests without a kernel: pygrub
	HVMLoader  string // HVM firmware
	Emulator   string // HVM device model; empty leaves libvirt's default
}

// DefaultOptions are the paths of a CentOS 6 Xen dom0 with Rocks' layout.
var DefaultOptions = Options{
	DiskDir:    "/state/partition1/xen/disks",
	Bootloader: "/usr/bin/pygrub",
	HVMLoader:  "/usr/lib/xen/boot/hvmloader",
}

type domainXML struct {
	XMLName    xml.Name     `xml:"domain"`
	Type       string       `xml:"type,attr"`
	Name       string       `xml:"name"`
	Metadata   *metadataXML `xml:"metadata,omitempty"`
	Memory     memoryXML    `xml:"memory"`
	VCPU       int          `xml:"vcpu"`
	Bootloader string       `xml:"bootloader,omitempty"`
	OS         osXML        `xml:"os"`
	Features   *featuresXML `xml:"features,omitempty"`
	Clock      clockXML     `xml:"clock"`
	OnPoweroff string       `xml:"on_poweroff"`
	OnReboot   string       `xml:"on_reboot"`
	OnCrash    string       `xml:"on_crash"`
	Devices    devicesXML   `xml:"devices"`
}

type metadataXML struct {
	Spec *specXML `xml:"https://github.com/rocksclusters/vcluster/agent/1 guest"`
}

type specXML struct {
	Digest string `xml:"digest,attr"`
	Boot   string `xml:"boot,attr"`
}

type memoryXML struct {
	Unit  string `xml:"unit,attr"`
	Value int    `xml:",chardata"`
}

type osTypeXML struct {
	Arch  string `xml:"arch,attr,omitempty"`
	Value string `xml:",chardata"`
}

type bootXML struct {
	Dev string `xml:"dev,attr"`
}

type osXML struct {
	Type    osTypeXML `xml:"type"`
	Loader  string    `xml:"loader,omitempty"`
	Kernel  string    `xml:"kernel,omitempty"`
	Initrd  string    `xml:"initrd,omitempty"`
	Cmdline string    `xml:"cmdline,omitempty"`
	Boot    []bootXML `xml:"boot"`
}

type featuresXML struct {
	ACPI *struct{} `xml:"acpi"`
	APIC *struct{} `xml:"apic"`
	PAE  *struct{} `xml:"pae"`
}

type clockXML struct {
	Offset string `xml:"offset,attr"`
}

type devicesXML struct {
	Emulator   string         `xml:"emulator,omitempty"`
	Disks      []diskXML      `xml:"disk"`
	Interfaces []interfaceXML `xml:"interface"`
	Consoles   []consoleXML   `xml:"console"`
	Graphics   []graphicsXML  `xml:"graphics"`
}

type diskXML struct {
	Type   string `xml:"type,attr"`
	Device string `xml:"device,attr"`
	Source struct {
		File string `xml:"file,attr"`
	} `xml:"source"`
	Target struct {
		Dev string `xml:"dev,attr"`
		Bus string `xml:"bus,attr"`
	} `xml:"target"`
}

type interfaceXML struct {
	Type string `xml:"type,attr"`
	MAC  struct {
		Address string `xml:"address,attr"`
	} `xml:"mac"`
	Source struct {
		Bridge string `xml:"bridge,attr"`
	} `xml:"source"`
}

type consoleXML struct {
	Type   string `xml:"type,attr"`
	Target *struct {
		Type string `xml:"type,attr"`
		Port string `xml:"port,attr"`
	} `xml:"target,omitempty"`
}

type graphicsXML struct {
	Type     string `xml:"type,attr"`
	Port     string `xml:"port,attr"`
	Autoport string `xml:"autoport,attr"`
	Listen   string `xml:"listen,attr"`
}

// SpecDigest identifies a normalized spec: equal specs, equal digests.
func SpecDigest(s agentapi.GuestSpec) string {
	h := sha256.New()
	fmt.Fprintf(h, "%q %d %d %d %q %q %q %q %q %q %q", s.Name, s.CPUs, s.MemMB, s.DiskGB,
		s.MACs, s.Bridge, s.PublicBridge, s.Boot, s.Kernel, s.Initrd, s.Args)
	return hex.EncodeToString(h.Sum(nil))
}

// DiskPath is where a guest's disk image lives.
func (o Options) DiskPath(name string) string {
	return filepath.Join(o.DiskDir, name+".img")
}

// DomainXML renders the Xen domain for a normalized spec (see
// agentapi.GuestSpec.Normalize): PV with pygrub (or an explicit kernel),
// or HVM that boots from the network first so the guest kickstarts from
// its frontend, then from disk.
func DomainXML(s agentapi.GuestSpec, o Options) ([]byte, error) {
	d := domainXML{
		Type:       "xen",
		Name:       s.Name,
		Metadata:   &metadataXML{Spec: &specXML{Digest: SpecDigest(s), Boot: s.Boot}},
		Memory:     memoryXML{Unit: "MiB", Value: s.MemMB},
		VCPU:       s.CPUs,
		Clock:      clockXML{Offset: "utc"},
		OnPoweroff: "destroy",
		OnReboot:   "restart",
		// A crashed guest stays down so the monitor sees it and decides.
		OnCrash: "destroy",
	}
	disk := diskXML{Type: "file", Device: "disk"}
	disk.Source.File = o.DiskPath(s.Name)
	switch s.Boot {
	case agentapi.BootPV:
		d.OS.Type = osTypeXML{Arch: "x86_64", Value: "linux"}
		if s.Kernel == "" {
			d.Bootloader = o.Bootloader
		} else {
			d.OS.Kernel, d.OS.Initrd, d.OS.Cmdline = s.Kernel, s.Initrd, s.Args
		}
		disk.Target.Dev, disk.Target.Bus = "xvda", "xen"
		c := consoleXML{Type: "pty"}
		c.Target = &struct {
			Type string `xml:"type,attr"`
			Port string `xml:"port,attr"`
		}{"xen", "0"}
		d.Devices.Consoles = []consoleXML{c}
	case agentapi.BootHVM:
		d.OS.Type = osTypeXML{Arch: "x86_64", Value: "hvm"}
		d.OS.Loader = o.HVMLoader
		d.OS.Boot = []bootXML{{Dev: "network"}, {Dev: "hd"}}
		d.Features = &featuresXML{ACPI: &struct{}{}, APIC: &struct{}{}, PAE: &struct{}{}}
		d.Devices.Emulator = o.Emulator
		disk.Target.Dev, disk.Target.Bus = "hda", "ide"
		// VNC on loopback only: an admin reaches an installing guest's
		// console through an ssh tunnel to the container.
		d.Devices.Graphics = []graphicsXML{{Type: "vnc", Port: "-1", Autoport: "yes", Listen: "127.0.0.1"}}
	default:
		return nil, fmt.Errorf("boot %q: want %q or %q", s.Boot, agentapi.BootPV, agentapi.BootHVM)
	}
	d.Devices.Disks = []diskXML{disk}
	for i, mac := range s.MACs {
		nic := interfaceXML{Type: "bridge"}
		nic.MAC.Address = mac
		nic.Source.Bridge = s.Bridge
		if i > 0 && s.PublicBridge != "" {
			nic.Source.Bridge = s.PublicBridge
		}
		d.Devices.Interfaces = append(d.Devices.Interfaces, nic)
	}
	return xml.MarshalIndent(d, "", "  ")
}

// parsedDomain is what List and Define read back from libvirt's XML.
type parsedDomain struct {
	Metadata struct {
		Spec *specXML `xml:"https://github.com/rocksclusters/vcluster/agent/1 guest"`
	} `xml:"metadata"`
	Devices struct {
		Interfaces []interfaceXML `xml:"interface"`
	} `xml:"devices"`
}

func parseDomain(text string) (parsedDomain, error) {
	var p parsedDomain
	err := xml.Unmarshal([]byte(text), &p)
	return p, err
}
