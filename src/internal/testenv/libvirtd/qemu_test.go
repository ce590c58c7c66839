package libvirtd

import (
	"strings"
	"testing"
	"time"
)

// The qemu-driver daemon offers TCG only (nobody has no /dev/kvm), runs a
// guest as a QEMU process, and Stop ends that process with the daemon.
func TestQEMUDaemonStopEndsGuests(t *testing.T) {
	d := StartQEMU(t)
	l, err := d.Connect()
	if err != nil {
		t.Fatal(err)
	}
	caps, err := l.ConnectGetCapabilities()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(caps, "<domain type='qemu'") || strings.Contains(caps, "<domain type='kvm'") {
		t.Fatalf("capabilities: want qemu and no kvm domains:\n%s", caps)
	}
	// No disk, no kernel: the firmware finds nothing to boot and waits,
	// which is enough of a guest to see its process.
	dom, err := l.DomainCreateXML(`<domain type='qemu'><name>vm-idle</name><memory unit='MiB'>64</memory>
		<os><type arch='x86_64'>hvm</type></os><devices></devices></domain>`, 0)
	if err != nil {
		t.Fatal(err)
	}
	pid := d.GuestPID(dom.Name)
	if !IsQEMU(pid) {
		t.Fatalf("no QEMU process (pid %d) for a running guest", pid)
	}
	l.Disconnect()
	start := time.Now()
	d.Stop()
	t.Logf("stop took %v", time.Since(start))
	for deadline := time.Now().Add(10 * time.Second); IsQEMU(pid); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("QEMU pid %d outlived its daemon", pid)
		}
	}
	if IsQEMU(0) || IsQEMU(1) {
		t.Fatal("IsQEMU accepts a process that is no QEMU")
	}
}
