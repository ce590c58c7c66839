package hypervisor

import (
	"fmt"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
)

// TCGCacheMiB bounds a TCG guest's translated-code cache. QEMU's default
// is 1 GiB per guest, which a guest running real code (Vina) fills: its
// QEMU grew to 1.5 GiB of RSS with 768 MiB of guest memory, and 14 such
// guests nearly exhausted a 24 GiB host.
const TCGCacheMiB = 256

// kvmDomain is a KVM or QEMU (TCG) guest with virtio disk and NICs and
// its serial port logged to a file. The three boot forms (CONTRACTS A1):
//   - pv with a kernel: direct kernel boot (kernel, initrd, command line);
//   - pv without one: boot from the disk (KVM has no pygrub);
//   - hvm: network boot first (PXE from the frontend, the Rocks way), then
//     the disk.
func kvmDomain(s agentapi.GuestSpec, typ string, o Options) (domainXML, error) {
	d := newDomain(s, typ)
	d.OS.Type = osTypeXML{Arch: "x86_64", Value: "hvm"}
	d.Features = &featuresXML{ACPI: &struct{}{}, APIC: &struct{}{}}
	if typ == TypeQEMU {
		d.Features.TCG = &tcgXML{TBCache: memoryXML{Unit: "MiB", Value: TCGCacheMiB}}
	}
	d.Devices.Emulator = o.Emulator
	switch {
	case s.Boot == agentapi.BootPV && s.Kernel != "":
		d.OS.Kernel, d.OS.Initrd, d.OS.Cmdline = s.Kernel, s.Initrd, s.Args
	case s.Boot == agentapi.BootPV:
		d.OS.Boot = []bootXML{{Dev: "hd"}}
	case s.Boot == agentapi.BootHVM:
		d.OS.Boot = []bootXML{{Dev: "network"}, {Dev: "hd"}}
		d.Devices.Graphics = vncLoopback()
	default:
		return d, fmt.Errorf("boot %q: want %q or %q", s.Boot, agentapi.BootPV, agentapi.BootHVM)
	}
	disk := diskXML{Type: "file", Device: "disk"}
	// raw: the agent makes sparse raw images; naming the format keeps
	// QEMU from probing it (a guest could write a qcow2 header).
	disk.Driver = &struct {
		Name string `xml:"name,attr"`
		Type string `xml:"type,attr"`
	}{"qemu", "raw"}
	disk.Source.File = o.DiskPath(s.Name)
	disk.Target.Dev, disk.Target.Bus = "vda", "virtio"
	d.Devices.Disks = []diskXML{disk}
	for _, sh := range o.Shares {
		d.Devices.Filesystems = append(d.Devices.Filesystems, share9p(sh))
	}
	for i, mac := range s.MACs {
		nic := interfaceXML{Model: &modelXML{Type: "virtio"}}
		nic.MAC.Address = mac
		if o.NIC == NICTap {
			// The agent made the TAP (tap.go): libvirt only attaches it.
			nic.Type, nic.Target = "ethernet", &targetDevXML{Dev: TapName(s.Name, i), Managed: "no"}
			d.Metadata.Spec.NICs = append(d.Metadata.Spec.NICs, nicMetaXML{Tap: nic.Target.Dev, Bridge: nicBridge(s, i)})
		} else {
			nic.Type, nic.Source = "bridge", &sourceBridgeXML{Bridge: nicBridge(s, i)}
		}
		d.Devices.Interfaces = append(d.Devices.Interfaces, nic)
	}
	// ttyS0 appends to a file the agent reads (guest.console) and trims;
	// libvirt adds the matching <console>.
	serial := serialXML{Type: "file"}
	serial.Source.Path, serial.Source.Append = o.ConsolePath(s.Name), "on"
	serial.Target.Port = "0"
	d.Devices.Serials = []serialXML{serial}
	return d, nil
}

// share9p is a virtio-9p share. accessmode squash: files are accessed as
// QEMU's user, and ownership changes a guest asks for that this user may
// not make are ignored rather than failed, which works for an
// unprivileged (session) libvirtd as for a system one.
func share9p(sh Share) filesystemXML {
	fs := filesystemXML{Type: "mount", AccessMode: "squash"}
	fs.Source.Dir, fs.Target.Dir = sh.Path, sh.Tag
	if !sh.RW {
		fs.ReadOnly = &struct{}{}
	}
	return fs
}
