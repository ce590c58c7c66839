package hypervisor

import (
	"fmt"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
)

// xenDomain is a Xen guest: PV with pygrub (or an explicit kernel), or HVM
// that boots from the network first so the guest kickstarts from its
// frontend, then from disk.
func xenDomain(s agentapi.GuestSpec, o Options) (domainXML, error) {
	d := newDomain(s, TypeXen)
	if o.NIC == NICTap {
		return d, fmt.Errorf("nic %q needs KVM; Xen guests use bridges", NICTap)
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
		d.Devices.Graphics = vncLoopback()
	default:
		return d, fmt.Errorf("boot %q: want %q or %q", s.Boot, agentapi.BootPV, agentapi.BootHVM)
	}
	d.Devices.Disks = []diskXML{disk}
	for i, mac := range s.MACs {
		nic := interfaceXML{Type: "bridge", Source: &sourceBridgeXML{Bridge: nicBridge(s, i)}}
		nic.MAC.Address = mac
		d.Devices.Interfaces = append(d.Devices.Interfaces, nic)
	}
	return d, nil
}

// vncLoopback is VNC on loopback only: an admin reaches an installing
// guest's console through an ssh tunnel to the container.
func vncLoopback() []graphicsXML {
	return []graphicsXML{{Type: "vnc", Port: "-1", Autoport: "yes", Listen: "127.0.0.1"}}
}
