package agentapi

import (
	"errors"
	"strings"
	"testing"
)

func good() GuestSpec {
	return GuestSpec{Name: "vm-demo-0-1", CPUs: 1, MemMB: 1024, DiskGB: 10,
		MACs: []string{"02:5C:00:00:00:01"}, Bridge: "eth0", Boot: BootPV}
}

func TestNormalize(t *testing.T) {
	s := good()
	if err := s.Normalize(); err != nil {
		t.Fatal(err)
	}
	if s.MACs[0] != "02:5c:00:00:00:01" {
		t.Fatalf("MAC not canonical: %s", s.MACs[0])
	}
	bad := map[string]func(*GuestSpec){
		"name":            func(s *GuestSpec) { s.Name = "../etc" },
		"empty name":      func(s *GuestSpec) { s.Name = "" },
		"long name":       func(s *GuestSpec) { s.Name = strings.Repeat("a", 65) },
		"negative memory": func(s *GuestSpec) { s.MemMB = -512 },
		"tiny memory":     func(s *GuestSpec) { s.MemMB = 1 },
		"zero cpus":       func(s *GuestSpec) { s.CPUs = 0 },
		"zero disk":       func(s *GuestSpec) { s.DiskGB = 0 },
		"no MAC":          func(s *GuestSpec) { s.MACs = nil },
		"short MAC":       func(s *GuestSpec) { s.MACs = []string{"02:5c:00:00:00"} },
		"multicast MAC":   func(s *GuestSpec) { s.MACs = []string{"01:00:5e:00:00:01"} },
		"duplicate MAC":   func(s *GuestSpec) { s.MACs = []string{"02:5c:00:00:00:01", "02:5C:00:00:00:01"} },
		"EUI-64":          func(s *GuestSpec) { s.MACs = []string{"02:00:00:00:00:00:00:01"} },
		"bridge":          func(s *GuestSpec) { s.Bridge = "br'0" },
		"long bridge":     func(s *GuestSpec) { s.Bridge = "abcdefghijklmnop" },
		"boot":            func(s *GuestSpec) { s.Boot = "pxe" },
		"relative kernel": func(s *GuestSpec) { s.Kernel = "vmlinuz" },
		"args no kernel":  func(s *GuestSpec) { s.Args = "ks=x" },
		"two-line args":   func(s *GuestSpec) { s.Kernel, s.Args = "/k", "a\nb" },
		"hvm kernel":      func(s *GuestSpec) { s.Boot, s.Kernel = BootHVM, "/k" },
	}
	for name, mutate := range bad {
		s := good()
		mutate(&s)
		err := s.Normalize()
		if err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: multi-line error", name)
		}
	}
}

func TestFaultCode(t *testing.T) {
	var err error = Faultf(FaultNoSuchGuest, "no guest %q", "x")
	if !IsNoSuchGuest(err) {
		t.Fatal("IsNoSuchGuest")
	}
	if _, ok := FaultCode(errors.New("connection refused")); ok {
		t.Fatal("plain error taken for a fault")
	}
	if ReadOnly(MethodGuestStart) || !ReadOnly(MethodHostStatus) {
		t.Fatal("ReadOnly")
	}
}
