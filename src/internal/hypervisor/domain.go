// Package hypervisor drives one VM container's libvirtd through go-libvirt
// over its unix socket, and writes the domain XML for vcluster guests: Xen
// (PV or HVM, domain_xen.go) or KVM/QEMU (domain_kvm.go). The libvirt URI
// (xen:///system or qemu:///system in production, test:///default or
// qemu:///session in tests) is configuration; which XML is written comes
// from the configuration or the connection's capabilities (caps.go).
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

// Domain types the agent writes (libvirt's <domain type=...>).
const (
	TypeXen  = "xen"
	TypeKVM  = "kvm"  // QEMU with hardware virtualisation
	TypeQEMU = "qemu" // QEMU emulating the CPU (TCG): where KVM does not work
)

// Hypervisor families (agent.toml hypervisor) and KVM domain type
// choices (domain_type).
const (
	FamilyAuto = "" // from the capabilities
	FamilyXen  = "xen"
	FamilyKVM  = "kvm"
	DomainAuto = "auto"
)

// NIC modes (agent.toml nic).
const (
	NICBridge = "bridge" // <interface type='bridge'>: libvirt makes the TAP
	NICTap    = "tap"    // the agent makes a persistent TAP (tap.go)
)

// Share is a host directory given to KVM guests over virtio-9p.
type Share struct {
	Path string // absolute host path
	Tag  string // 9p mount tag (ShareTag)
	RW   bool   // writable; read-only otherwise
}

// Options are the container-specific choices and paths that go into
// domain XML.
type Options struct {
	DiskDir    string // guest disk images: DiskDir/<name>.img
	Bootloader string // Xen PV guests without a kernel: pygrub
	HVMLoader  string // Xen HVM firmware
	Emulator   string // device model; empty leaves libvirt's default

	Family     string // FamilyAuto, FamilyXen or FamilyKVM
	DomainType string // KVM: DomainAuto, TypeKVM or TypeQEMU

	NIC      string // NICBridge (default) or NICTap
	TapOwner *Owner // tap mode: owner of the TAPs and of new disk images; nil = root

	Shares     []Share // KVM: virtio-9p shares
	ConsoleDir string  // KVM: serial logs ConsoleDir/<name>.console; "" = DiskDir
}

// Owner is a user and group by number.
type Owner struct{ UID, GID int }

// DefaultOptions are the paths of a CentOS 6 Xen dom0 with Rocks' layout.
var DefaultOptions = Options{
	DiskDir:    "/state/partition1/xen/disks",
	Bootloader: "/usr/bin/pygrub",
	HVMLoader:  "/usr/lib/xen/boot/hvmloader",
	DomainType: DomainAuto,
	NIC:        NICBridge,
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
	Digest string       `xml:"digest,attr"`
	Boot   string       `xml:"boot,attr"`
	NICs   []nicMetaXML `xml:"nic"`
}

// nicMetaXML records a TAP the agent made and its bridge (tap mode), so
// start can make it again and undefine can remove it.
type nicMetaXML struct {
	Tap    string `xml:"tap,attr"`
	Bridge string `xml:"bridge,attr"`
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
	TCG  *tcgXML   `xml:"tcg"`
}

type tcgXML struct {
	TBCache memoryXML `xml:"tb-cache"`
}

type clockXML struct {
	Offset string `xml:"offset,attr"`
}

type devicesXML struct {
	Emulator    string          `xml:"emulator,omitempty"`
	Disks       []diskXML       `xml:"disk"`
	Filesystems []filesystemXML `xml:"filesystem"`
	Interfaces  []interfaceXML  `xml:"interface"`
	Serials     []serialXML     `xml:"serial"`
	Consoles    []consoleXML    `xml:"console"`
	Graphics    []graphicsXML   `xml:"graphics"`
}

type diskXML struct {
	Type   string `xml:"type,attr"`
	Device string `xml:"device,attr"`
	Driver *struct {
		Name string `xml:"name,attr"`
		Type string `xml:"type,attr"`
	} `xml:"driver,omitempty"`
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
	Source *sourceBridgeXML `xml:"source,omitempty"`
	Target *targetDevXML    `xml:"target,omitempty"`
	Model  *modelXML        `xml:"model,omitempty"`
}

type sourceBridgeXML struct {
	Bridge string `xml:"bridge,attr"`
}

type targetDevXML struct {
	Dev     string `xml:"dev,attr"`
	Managed string `xml:"managed,attr,omitempty"`
}

type modelXML struct {
	Type string `xml:"type,attr"`
}

type serialXML struct {
	Type   string `xml:"type,attr"`
	Source struct {
		Path   string `xml:"path,attr"`
		Append string `xml:"append,attr"`
	} `xml:"source"`
	Target struct {
		Port string `xml:"port,attr"`
	} `xml:"target"`
}

type filesystemXML struct {
	Type       string `xml:"type,attr"`
	AccessMode string `xml:"accessmode,attr"`
	Source     struct {
		Dir string `xml:"dir,attr"`
	} `xml:"source"`
	Target struct {
		Dir string `xml:"dir,attr"`
	} `xml:"target"`
	ReadOnly *struct{} `xml:"readonly"`
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

// ConsolePath is where a KVM guest's serial console is logged.
func (o Options) ConsolePath(name string) string {
	return filepath.Join(o.consoleDir(), name+".console")
}

func (o Options) consoleDir() string {
	if o.ConsoleDir == "" {
		return o.DiskDir
	}
	return o.ConsoleDir
}

// DomainXML renders the domain of type typ (TypeXen, TypeKVM or TypeQEMU)
// for a normalized spec (see agentapi.GuestSpec.Normalize).
func DomainXML(s agentapi.GuestSpec, typ string, o Options) ([]byte, error) {
	var d domainXML
	var err error
	switch typ {
	case TypeXen:
		d, err = xenDomain(s, o)
	case TypeKVM, TypeQEMU:
		d, err = kvmDomain(s, typ, o)
	default:
		err = fmt.Errorf("domain type %q: want %q, %q or %q", typ, TypeXen, TypeKVM, TypeQEMU)
	}
	if err != nil {
		return nil, err
	}
	return xml.MarshalIndent(d, "", "  ")
}

// newDomain is what every domain has: name, spec digest, size, clock and
// the power actions.
func newDomain(s agentapi.GuestSpec, typ string) domainXML {
	return domainXML{
		Type:       typ,
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
}

// nicBridge is the bridge of NIC i: a virtual frontend's NICs after the
// first go on the public bridge.
func nicBridge(s agentapi.GuestSpec, i int) string {
	if i > 0 && s.PublicBridge != "" {
		return s.PublicBridge
	}
	return s.Bridge
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
