package agentapi

import (
	"fmt"
	"net"
	"strings"
)

// Limits of a guest spec. Generous for HPC guests, tight enough to catch
// unit mistakes (GB passed as MB, bytes as MB).
const (
	MaxCPUs   = 256
	MinMemMB  = 64
	MaxMemMB  = 4 << 20 // 4 TiB
	MaxDiskGB = 64 << 10
	MaxNICs   = 4
	maxName   = 64
	maxPath   = 1024
	maxArgs   = 2048
)

// ValidName reports whether s is an acceptable guest name: Rocks host
// names (vm-demo-0-1) and nothing that could escape a path or XML.
func ValidName(s string) bool {
	if s == "" || len(s) > maxName {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '-' && c != '_' && c != '.') {
			return false
		}
	}
	return true
}

func validBridge(s string) bool {
	if s == "" || len(s) > 15 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '/' || c == ':' || c == '<' || c == '>' || c == '&' || c == '\'' || c == '"' {
			return false
		}
	}
	return true
}

func validPath(s string) bool {
	if !strings.HasPrefix(s, "/") || len(s) > maxPath {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// Normalize checks s and canonicalises its MACs to lower case. The error
// says which field is wrong and why, in one line.
func (s *GuestSpec) Normalize() error {
	if !ValidName(s.Name) {
		return fmt.Errorf("name %q: want 1-%d characters of letters, digits, '-', '_', '.', starting with a letter or digit", s.Name, maxName)
	}
	if s.CPUs < 1 || s.CPUs > MaxCPUs {
		return fmt.Errorf("cpus %d: want 1-%d", s.CPUs, MaxCPUs)
	}
	if s.MemMB < MinMemMB || s.MemMB > MaxMemMB {
		return fmt.Errorf("mem_mb %d: want %d-%d", s.MemMB, MinMemMB, MaxMemMB)
	}
	if s.DiskGB < 1 || s.DiskGB > MaxDiskGB {
		return fmt.Errorf("disk_gb %d: want 1-%d", s.DiskGB, MaxDiskGB)
	}
	if len(s.MACs) < 1 || len(s.MACs) > MaxNICs {
		return fmt.Errorf("macs: want 1-%d MAC addresses, got %d", MaxNICs, len(s.MACs))
	}
	seen := make(map[string]bool, len(s.MACs))
	for i, m := range s.MACs {
		hw, err := net.ParseMAC(m)
		if err != nil || len(hw) != 6 {
			return fmt.Errorf("macs[%d] %q: not a MAC address like 02:5c:00:00:00:01", i, m)
		}
		if hw[0]&1 != 0 {
			return fmt.Errorf("macs[%d] %q: multicast MAC cannot be a NIC address", i, m)
		}
		c := hw.String()
		if seen[c] {
			return fmt.Errorf("macs[%d] %q: duplicate", i, m)
		}
		seen[c] = true
		s.MACs[i] = c
	}
	if !validBridge(s.Bridge) {
		return fmt.Errorf("bridge %q: not a network interface name", s.Bridge)
	}
	if s.PublicBridge != "" && !validBridge(s.PublicBridge) {
		return fmt.Errorf("public_bridge %q: not a network interface name", s.PublicBridge)
	}
	switch s.Boot {
	case BootPV:
		if s.Kernel == "" && (s.Initrd != "" || s.Args != "") {
			return fmt.Errorf("initrd and args need kernel")
		}
		if s.Kernel != "" && !validPath(s.Kernel) {
			return fmt.Errorf("kernel %q: want an absolute path", s.Kernel)
		}
		if s.Initrd != "" && !validPath(s.Initrd) {
			return fmt.Errorf("initrd %q: want an absolute path", s.Initrd)
		}
		if len(s.Args) > maxArgs || strings.ContainsAny(s.Args, "\x00\n\r") {
			return fmt.Errorf("args: at most %d characters on one line", maxArgs)
		}
	case BootHVM:
		if s.Kernel != "" || s.Initrd != "" || s.Args != "" {
			return fmt.Errorf("kernel, initrd and args apply to boot \"pv\" only")
		}
	default:
		return fmt.Errorf("boot %q: want %q or %q", s.Boot, BootPV, BootHVM)
	}
	return nil
}
