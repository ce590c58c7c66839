package hypervisor

import (
	"errors"
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

// validate runs virt-xml-validate on a rendered domain.
func validate(t *testing.T, name string, b []byte) {
	t.Helper()
	p := filepath.Join(t.TempDir(), name+".xml")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("virt-xml-validate", p, "domain").CombinedOutput()
	if err != nil {
		t.Errorf("%s: virt-xml-validate: %v\n%s\n%s", name, err, out, b)
	}
}

func render(t *testing.T, name string, s agentapi.GuestSpec, typ string, o Options) string {
	t.Helper()
	b, err := DomainXML(s, typ, o)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	validate(t, name, b)
	return string(b)
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
	for name, s := range cases {
		x := render(t, "xen-"+name, s, TypeXen, opt)
		for _, want := range []string{"<domain type=\"xen\">", "02:5c:00:00:00:0", `bridge="eth`, "<memory unit=\"MiB\">1024</memory>", "<vcpu>2</vcpu>"} {
			if !strings.Contains(x, want) {
				t.Errorf("%s: missing %s in\n%s", name, want, x)
			}
		}
	}
	hvm := render(t, "xen-hvm", front, TypeXen, opt)
	if !strings.Contains(hvm, `<boot dev="network"></boot>`) || !strings.Contains(hvm, `bridge="eth1"`) {
		t.Errorf("hvm guest must network-boot first and put NIC 2 on the public bridge:\n%s", hvm)
	}
	pv := render(t, "xen-pv", cases["pv-pygrub"], TypeXen, opt)
	if !strings.Contains(pv, "<bootloader>/usr/bin/pygrub</bootloader>") {
		t.Errorf("pv guest without kernel must use pygrub:\n%s", pv)
	}
	if strings.Contains(pv, "<x>") {
		t.Error("args not escaped")
	}
	tap := opt
	tap.NIC = NICTap
	if _, err := DomainXML(front, TypeXen, tap); err == nil {
		t.Error("Xen guest with nic tap: no error")
	}
}

// Every KVM form (direct kernel, disk, network-then-disk), each with
// bridge and tap NICs, KVM and TCG, validates and says what it should.
func TestKVMDomainXML(t *testing.T) {
	binaries.Require(t, "virt-xml-validate")
	pvKernel := spec("vm-k-1", agentapi.BootPV)
	pvKernel.Kernel, pvKernel.Initrd = "/boot/vmlinuz", "/boot/initrd.img"
	pvKernel.Args = "console=ttyS0 vcluster.name=vm-k-1 vcluster.ks=http://198.18.0.1:8679/vcluster/kickstart/vm-k-1?t=ab&x=<y>"
	front := spec("vm-k-0", agentapi.BootHVM)
	front.MACs = []string{"02:5c:00:00:00:02", "02:5c:00:00:00:03"}
	front.PublicBridge = "eth1"
	forms := map[string]agentapi.GuestSpec{"kernel": pvKernel, "disk": spec("vm-k-2", agentapi.BootPV), "network": front}
	for _, nic := range []string{NICBridge, NICTap} {
		for _, typ := range []string{TypeKVM, TypeQEMU} {
			for form, s := range forms {
				o := DefaultOptions
				o.DiskDir, o.ConsoleDir, o.NIC = "/d", "/c", nic
				o.Shares = []Share{{Path: "/usr", Tag: "usr"}, {Path: "/export/home", Tag: "export.home", RW: true}}
				name := nic + "-" + typ + "-" + form
				x := render(t, name, s, typ, o)
				wants := []string{
					`<domain type="` + typ + `">`, `<target dev="vda" bus="virtio">`, `<driver name="qemu" type="raw">`,
					`<source file="/d/` + s.Name + `.img">`, `<model type="virtio">`,
					`<serial type="file">`, `<source path="/c/` + s.Name + `.console" append="on">`,
					`<filesystem type="mount" accessmode="squash">`, `<source dir="/usr">`, `<target dir="usr">`, `<target dir="export.home">`,
				}
				switch form {
				case "kernel":
					wants = append(wants, "<kernel>/boot/vmlinuz</kernel>", "<initrd>/boot/initrd.img</initrd>", "?t=ab&amp;x=&lt;y&gt;</cmdline>")
				case "disk":
					wants = append(wants, `<boot dev="hd">`)
				case "network":
					wants = append(wants, `<boot dev="network"></boot>`+"\n    "+`<boot dev="hd">`)
				}
				if nic == NICTap {
					wants = append(wants, `<interface type="ethernet">`, `<target dev="`+TapName(s.Name, 0)+`" managed="no">`)
				} else {
					wants = append(wants, `<interface type="bridge">`, `<source bridge="eth0">`)
				}
				if form == "network" && nic == NICBridge {
					wants = append(wants, `<source bridge="eth1">`)
				}
				for _, w := range wants {
					if !strings.Contains(x, w) {
						t.Errorf("%s: missing %s in\n%s", name, w, x)
					}
				}
				if tb := `<tb-cache unit="MiB">256</tb-cache>`; strings.Contains(x, tb) != (typ == TypeQEMU) {
					t.Errorf("%s: a bounded TCG cache (%s) only with TCG:\n%s", name, tb, x)
				}
				if strings.Count(x, "<readonly>") != 1 {
					t.Errorf("%s: want /usr read-only and /export/home writable:\n%s", name, x)
				}
				if strings.Contains(x, "pygrub") || strings.Contains(x, "xvda") {
					t.Errorf("%s: Xen leftovers:\n%s", name, x)
				}
			}
		}
	}
	o := DefaultOptions
	o.ConsoleDir = ""
	if got := o.ConsolePath("g"); got != filepath.Join(o.DiskDir, "g.console") {
		t.Errorf("console_dir empty: %s, want disk_dir", got)
	}
	if _, err := DomainXML(pvKernel, "lxc", o); err == nil {
		t.Error("domain type lxc: no error")
	}
}

// TAP names: at most 15 characters (IFNAMSIZ-1), one per guest and NIC,
// the same every time.
func TestTapName(t *testing.T) {
	seen := map[string]bool{}
	for _, g := range []string{"a", "vm-demo-0-1", strings.Repeat("x", 64), "vm-demo-0-10"} {
		for i := 0; i < 4; i++ {
			n := TapName(g, i)
			if len(n) > 15 || seen[n] || n != TapName(g, i) {
				t.Fatalf("TapName(%q, %d) = %q: too long, repeated or unstable", g, i, n)
			}
			seen[n] = true
		}
	}
}

func TestChooseType(t *testing.T) {
	xen, kvm, tcg, test := []string{"xen"}, []string{"qemu", "kvm"}, []string{"qemu"}, []string{"test"}
	for _, c := range []struct {
		family, domain string
		offered        []string
		want           string
	}{
		{"", "auto", xen, TypeXen},
		{"", "auto", kvm, TypeKVM},
		{"", "auto", tcg, TypeQEMU},
		{"", "auto", test, TypeXen},
		{"", "qemu", kvm, TypeQEMU},
		{"", "kvm", tcg, TypeKVM}, // configured beats the capabilities
		{"xen", "auto", kvm, TypeXen},
		{"kvm", "auto", kvm, TypeKVM},
		{"kvm", "auto", test, TypeQEMU},
		{"kvm", "qemu", nil, TypeQEMU},
		{"kvm", "kvm", nil, TypeKVM},
		{"lxc", "auto", kvm, ""},
		{"kvm", "hvf", kvm, ""},
	} {
		got, err := chooseType(c.family, c.domain, c.offered)
		if got != c.want || (err != nil) != (c.want == "") {
			t.Errorf("chooseType(%q, %q, %v) = %q, %v; want %q", c.family, c.domain, c.offered, got, err, c.want)
		}
	}
}

func TestParseShare(t *testing.T) {
	for in, want := range map[string]Share{
		"/usr":              {Path: "/usr", Tag: "usr"},
		"/export/home:rw":   {Path: "/export/home", Tag: "export.home", RW: true},
		"/tmp/vc-demo_1:rw": {Path: "/tmp/vc-demo_1", Tag: "tmp.vc-demo_1", RW: true},
	} {
		if got, err := ParseShare(in); err != nil || got != want {
			t.Errorf("ParseShare(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "/", "usr", "/usr/", "/usr//lib", "/a/../b", "/usr:ro", "/usr:rw:rw", "/opt/x.y", "/a b",
		"/" + strings.Repeat("a", 32)} {
		if s, err := ParseShare(bad); !errors.Is(err, ErrBadShare) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseShare(%q) = %+v, %v; want one line wrapping ErrBadShare", bad, s, err)
		}
	}
}

// FuzzParseShare: an accepted share has a clean absolute path without
// '.', and its tag maps back to the path (one tag, one path).
func FuzzParseShare(f *testing.F) {
	for _, s := range []string{"/usr", "/export/home:rw", "/a.b", "/x:rw:rw", "//", "/\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sh, err := ParseShare(s)
		if err != nil {
			if !errors.Is(err, ErrBadShare) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q", err)
			}
			return
		}
		if sh.Path == "/" || filepath.Clean(sh.Path) != sh.Path || !filepath.IsAbs(sh.Path) || strings.ContainsAny(sh.Path, ".:") {
			t.Fatalf("accepted path %q", sh.Path)
		}
		if "/"+strings.ReplaceAll(sh.Tag, ".", "/") != sh.Path || len(sh.Tag) > 31 {
			t.Fatalf("tag %q of %q", sh.Tag, sh.Path)
		}
	})
}

// FuzzOfferedTypes: the capabilities parser never panics and lists each
// type once.
func FuzzOfferedTypes(f *testing.F) {
	f.Add(`<capabilities><guest><os_type>hvm</os_type><arch name="x86_64"><domain type="qemu"/><domain type="kvm"/></arch></guest><guest><arch><domain type="qemu"/></arch></guest></capabilities>`)
	f.Add("<capabilities>")
	f.Fuzz(func(t *testing.T, s string) {
		types, err := offeredTypes(s)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, x := range types {
			if seen[x] {
				t.Fatalf("%q twice in %v", x, types)
			}
			seen[x] = true
		}
	})
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
