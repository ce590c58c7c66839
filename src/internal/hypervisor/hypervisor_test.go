package hypervisor

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
	"github.com/rocksclusters/vcluster/src/internal/testenv/libvirtd"
)

func spec(name, boot string) agentapi.GuestSpec {
	s := agentapi.GuestSpec{Name: name, CPUs: 2, MemMB: 1024, DiskGB: 10,
		MACs: []string{"02:5C:00:00:00:01"}, Bridge: "eth0", Boot: boot}
	if err := s.Normalize(); err != nil {
		panic(err)
	}
	return s
}

func TestDomainXMLValidates(t *testing.T) {
	binaries.Require(t, "virt-xml-validate")
	pvKernel := spec("vm-demo-1", agentapi.BootPV)
	pvKernel.Kernel, pvKernel.Initrd, pvKernel.Args = "/boot/vmlinuz", "/boot/initrd.img", "ks=http://10.1.1.1/install/sbin/kickstart.cgi ksdevice=eth0 & <x>"
	front := spec("vm-demo-0", agentapi.BootHVM)
	front.MACs = []string{"02:5c:00:00:00:02", "02:5c:00:00:00:03"}
	front.PublicBridge = "eth1"
	cases := map[string]agentapi.GuestSpec{
		"pv-pygrub": spec("vm-demo-2", agentapi.BootPV),
		"pv-kernel": pvKernel,
		"hvm":       front,
	}
	opt := DefaultOptions
	opt.Emulator = "/usr/lib/xen/bin/qemu-dm"
	dir := t.TempDir()
	for name, s := range cases {
		b, err := DomainXML(s, opt)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		p := filepath.Join(dir, name+".xml")
		os.WriteFile(p, b, 0o644)
		out, err := exec.Command("virt-xml-validate", p, "domain").CombinedOutput()
		if err != nil {
			t.Errorf("%s: virt-xml-validate: %v\n%s\n%s", name, err, out, b)
		}
		x := string(b)
		for _, want := range []string{"<domain type=\"xen\">", "02:5c:00:00:00:0", `bridge="eth`, "<memory unit=\"MiB\">1024</memory>", "<vcpu>2</vcpu>"} {
			if !strings.Contains(x, want) {
				t.Errorf("%s: missing %s in\n%s", name, want, x)
			}
		}
	}
	hvm, _ := DomainXML(front, opt)
	if !strings.Contains(string(hvm), `<boot dev="network"></boot>`) || !strings.Contains(string(hvm), `bridge="eth1"`) {
		t.Errorf("hvm guest must network-boot first and put NIC 2 on the public bridge:\n%s", hvm)
	}
	pv, _ := DomainXML(cases["pv-pygrub"], opt)
	if !strings.Contains(string(pv), "<bootloader>/usr/bin/pygrub</bootloader>") {
		t.Errorf("pv guest without kernel must use pygrub:\n%s", pv)
	}
	if strings.Contains(string(pv), "<x>") {
		t.Error("args not escaped")
	}
}

func TestLifecycleOnRealLibvirtd(t *testing.T) {
	d := libvirtd.Start(t)
	opt := DefaultOptions
	opt.DiskDir = t.TempDir()
	h := New(d.Socket, d.URI, opt)
	defer h.Close()

	s := spec("vm-t-0", agentapi.BootPV)
	if err := h.Define(s, true); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(opt.DiskPath(s.Name)); err != nil || st.Size() != 10<<30 {
		t.Fatalf("disk image: %v", err)
	}
	if err := h.Define(s, true); err != nil {
		t.Fatalf("identical define must be a no-op: %v", err)
	}
	s2 := s
	s2.MemMB = 2048
	if err := h.Define(s2, true); !isCode(err, agentapi.FaultConflict) {
		t.Fatalf("different spec: %v", err)
	}
	if err := h.Define(spec("test", agentapi.BootPV), false); !isCode(err, agentapi.FaultConflict) {
		t.Fatalf("foreign guest: %v", err)
	}
	for _, step := range []struct {
		op    func(string) error
		state string
	}{
		{h.Start, agentapi.StateRunning},
		{h.Start, agentapi.StateRunning}, // idempotent
		{h.Shutdown, agentapi.StateShutoff},
		{h.Shutdown, agentapi.StateShutoff},
		{h.Start, agentapi.StateRunning},
		{h.Destroy, agentapi.StateShutoff},
		{h.Destroy, agentapi.StateShutoff},
	} {
		if err := step.op(s.Name); err != nil {
			t.Fatal(err)
		}
		if g := find(t, h, s.Name); g.State != step.state {
			t.Fatalf("state %s, want %s", g.State, step.state)
		}
	}
	g := find(t, h, s.Name)
	if g.CPUs != 2 || g.MemMB != 1024 || len(g.MACs) != 1 || g.MACs[0] != "02:5c:00:00:00:01" {
		t.Fatalf("guest info %+v", g)
	}
	// What Define cached is what libvirt says: a second connection (no
	// cache) lists the same, stopped and running.
	fresh := New(d.Socket, d.URI, opt)
	defer fresh.Close()
	for _, op := range []func(string) error{h.Destroy, h.Start} {
		op(s.Name)
		if a, b := find(t, h, s.Name), find(t, fresh, s.Name); !reflect.DeepEqual(a, b) {
			t.Fatalf("cached %+v, libvirt %+v", a, b)
		}
	}
	h.Destroy(s.Name)
	h.Start(s.Name)
	if err := h.Undefine(s.Name); !isCode(err, agentapi.FaultGuestActive) {
		t.Fatalf("undefine running guest: %v", err)
	}
	h.Destroy(s.Name)
	if err := h.Undefine(s.Name); err != nil {
		t.Fatal(err)
	}
	for _, op := range []func(string) error{h.Start, h.Shutdown, h.Destroy, h.Undefine} {
		if err := op(s.Name); !agentapi.IsNoSuchGuest(err) {
			t.Fatalf("unknown guest: %v", err)
		}
	}
	// Same name, new definition (new UUID, other MAC): List's cache of
	// domain descriptions must not show the old one.
	s3 := s
	s3.MACs = []string{"02:5c:00:00:00:09"}
	if err := h.Define(s3, true); err != nil {
		t.Fatal(err)
	}
	if g := find(t, h, s.Name); len(g.MACs) != 1 || g.MACs[0] != "02:5c:00:00:00:09" || g.State != agentapi.StateShutoff {
		t.Fatalf("redefined guest listed as %+v", g)
	}
	if err := h.Start(s.Name); err != nil {
		t.Fatal(err)
	}
	if g := find(t, h, s.Name); g.State != agentapi.StateRunning {
		t.Fatalf("state after start %s", g.State)
	}
	h.Destroy(s.Name)
	if err := h.Undefine(s.Name); err != nil {
		t.Fatal(err)
	}
	cpus, total, _, err := h.Host()
	if err != nil || cpus < 1 || total < 1 {
		t.Fatalf("host: %d %d %v", cpus, total, err)
	}

	// libvirtd restarts: the next call fails or reconnects, the one after
	// must work on the new daemon.
	d.Restart(t)
	h.List()
	if gs, err := h.List(); err != nil || len(gs) != 1 {
		t.Fatalf("after libvirtd restart: %v %+v", err, gs)
	}

	// libvirtd goes away: a clear fault on every call, never a hang or panic.
	d.Stop()
	if _, err := h.List(); !isCode(err, agentapi.FaultHypervisor) {
		t.Fatalf("libvirtd gone: %v", err)
	}
	if _, err := h.List(); !isCode(err, agentapi.FaultHypervisor) || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("libvirtd still gone: %v", err)
	}
}

func find(t *testing.T, h *Hypervisor, name string) agentapi.GuestInfo {
	t.Helper()
	gs, err := h.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		if g.Name == name {
			return g
		}
	}
	t.Fatalf("guest %s not listed in %+v", name, gs)
	return agentapi.GuestInfo{}
}

func isCode(err error, code int) bool {
	c, ok := agentapi.FaultCode(err)
	return ok && c == code
}
