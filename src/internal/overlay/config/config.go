// Package config holds the edge's settings: the TOML file the kickstart
// writes (/etc/vcluster/edge.toml, see docs/architecture.md), N2N-style
// command-line flags on top of it, and the community key file.
package config

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// DefaultPort is the supernode's UDP port.
const DefaultPort = 7654

// DefaultMTU is the overlay device's MTU: 1500 on the underlay minus IP,
// UDP and N2N v1's 84-byte header with its LZO and Twofish overhead.
const DefaultMTU = 1400

// Protocols.
const (
	Native = "native"
	V1     = "v1"
)

// Edge is everything an edge needs. Field names are the TOML keys.
type Edge struct {
	Device     string   `toml:"device"`
	Address    string   `toml:"address"` // IP/bits
	MAC        string   `toml:"mac"`
	Community  string   `toml:"community"`
	KeyFile    string   `toml:"key_file"`
	Supernodes []string `toml:"supernodes"`
	Protocol   string   `toml:"protocol"`
	MTU        int      `toml:"mtu"`
	LocalPort  int      `toml:"local_port"`
	Status     string   `toml:"status_socket"`

	// Key is the community key (from -k, $N2N_KEY or KeyFile); never in
	// the TOML file.
	Key []byte `toml:"-"`
}

// Load reads a TOML file; unknown keys are an error.
func Load(path string, e *Edge) error {
	md, err := toml.DecodeFile(path, e)
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	if u := md.Undecoded(); len(u) > 0 {
		return fmt.Errorf("%s: unknown key %q", path, u[0].String())
	}
	return nil
}

// ReadKey reads a key file: the key is the file's content without the
// final newline (64 hex characters as vcluster writes them, or any ASCII
// key as N2N takes). The file must not be readable by others.
func ReadKey(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("key file %s is readable by others (mode %v); chmod 600 it", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b = bytes.TrimRight(b, "\r\n")
	if len(b) == 0 {
		return nil, fmt.Errorf("key file %s is empty", path)
	}
	return b, nil
}

// Flags are the command-line settings (N2N's edge flags and ours); the
// ones given override the TOML file's.
type Flags struct {
	Device, Address, Community, MAC, Protocol, Status string
	// Netmask is N2N v1's -s: a dotted mask for an Address without bits.
	Netmask    string
	Key        string // -k: visible in ps, but N2N takes it so
	Supernodes []string
	LocalPort  int
	MTU        int
}

// Apply lays the flags that were given over e, turns Netmask into the
// address's bits, and picks the community key: -k, else envKey
// ($N2N_KEY), else the key file.
func (e *Edge) Apply(f Flags, envKey string) error {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&e.Device, f.Device)
	set(&e.Address, f.Address)
	set(&e.Community, f.Community)
	set(&e.MAC, f.MAC)
	set(&e.Protocol, f.Protocol)
	set(&e.Status, f.Status)
	if len(f.Supernodes) > 0 {
		e.Supernodes = f.Supernodes
	}
	if f.LocalPort != 0 {
		e.LocalPort = f.LocalPort
	}
	if f.MTU != 0 {
		e.MTU = f.MTU
	}
	if f.Netmask != "" && e.Address != "" {
		if strings.Contains(e.Address, "/") {
			return fmt.Errorf("netmask %q: address %q has its bits already", f.Netmask, e.Address)
		}
		bits, err := MaskBits(f.Netmask)
		if err != nil {
			return err
		}
		e.Address = fmt.Sprintf("%s/%d", e.Address, bits)
	}
	switch {
	case f.Key != "":
		e.Key = []byte(f.Key)
	case envKey != "":
		e.Key = []byte(envKey)
	case e.KeyFile != "":
		k, err := ReadKey(e.KeyFile)
		if err != nil {
			return err
		}
		e.Key = k
	}
	return nil
}

// MaskBits is the prefix length of a dotted IPv4 netmask (255.255.255.0
// is 24); the mask's ones must be contiguous.
func MaskBits(mask string) (int, error) {
	m, err := netip.ParseAddr(mask)
	if err != nil || !m.Is4() {
		return 0, fmt.Errorf("netmask %q: want dotted IPv4", mask)
	}
	b := m.As4()
	ones, bits := net.IPMask(b[:]).Size()
	if bits == 0 {
		return 0, fmt.Errorf("netmask %q: its ones are not contiguous", mask)
	}
	return ones, nil
}

// Resolved is a validated Edge in the forms the edge uses.
type Resolved struct {
	Device     string
	Prefix     netip.Prefix
	MAC        net.HardwareAddr
	Community  string
	Supernodes []netip.AddrPort
	Protocol   string
	MTU        int
	LocalPort  int
	Status     string
}

// Resolve checks every field and fills defaults.
func (e *Edge) Resolve() (*Resolved, error) {
	r := &Resolved{Device: e.Device, Community: e.Community, Protocol: e.Protocol, MTU: e.MTU,
		LocalPort: e.LocalPort, Status: e.Status}
	if r.Device == "" {
		r.Device = "vc0"
	}
	if len(r.Device) > 15 {
		return nil, fmt.Errorf("device name %q is longer than 15 bytes", r.Device)
	}
	if r.Protocol == "" {
		r.Protocol = Native
	}
	if r.Protocol != Native && r.Protocol != V1 {
		return nil, fmt.Errorf("protocol %q: want native or v1", r.Protocol)
	}
	if r.Community == "" {
		return nil, errors.New("no community (-c or community =)")
	}
	if r.Protocol == V1 && len(r.Community) > 15 {
		return nil, fmt.Errorf("community %q: N2N v1 allows at most 15 bytes", r.Community)
	}
	if len(r.Community) > 63 {
		return nil, fmt.Errorf("community %q is longer than 63 bytes", r.Community)
	}
	if e.Address == "" {
		return nil, errors.New("no overlay address (-a or address =)")
	}
	p, err := netip.ParsePrefix(e.Address)
	if err != nil {
		a, err2 := netip.ParseAddr(e.Address)
		if err2 != nil {
			return nil, fmt.Errorf("address %q: want IP/bits", e.Address)
		}
		p = netip.PrefixFrom(a, 24)
	}
	if !p.Addr().Is4() {
		return nil, fmt.Errorf("address %q: IPv4 only", e.Address)
	}
	r.Prefix = p
	if e.MAC != "" {
		m, err := net.ParseMAC(e.MAC)
		if err != nil || len(m) != 6 || m[0]&1 != 0 {
			return nil, fmt.Errorf("mac %q: want a unicast xx:xx:xx:xx:xx:xx", e.MAC)
		}
		r.MAC = m
	}
	if r.MTU == 0 {
		r.MTU = DefaultMTU
	}
	if r.MTU < 576 || r.MTU > 9000 {
		return nil, fmt.Errorf("mtu %d: want 576..9000", r.MTU)
	}
	if r.LocalPort < 0 || r.LocalPort > 65535 {
		return nil, fmt.Errorf("local port %d out of range", r.LocalPort)
	}
	if len(e.Supernodes) == 0 {
		return nil, errors.New("no supernode (-l HOST:PORT or supernodes = [...])")
	}
	for _, s := range e.Supernodes {
		ap, err := ParseSupernode(s)
		if err != nil {
			return nil, err
		}
		r.Supernodes = append(r.Supernodes, ap)
	}
	if len(e.Key) == 0 {
		return nil, errors.New("no community key (key_file =, -k KEY or $N2N_KEY)")
	}
	return r, nil
}

// ParseSupernode accepts HOST:PORT or HOST (default port), resolving names.
func ParseSupernode(s string) (netip.AddrPort, error) {
	host, port := s, strconv.Itoa(DefaultPort)
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
	}
	pn, err := strconv.ParseUint(port, 10, 16)
	if err != nil || pn == 0 {
		return netip.AddrPort{}, fmt.Errorf("supernode %q: bad port", s)
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		ips, lerr := net.LookupIP(host)
		if lerr != nil || len(ips) == 0 {
			return netip.AddrPort{}, fmt.Errorf("supernode %q: cannot resolve %s", s, host)
		}
		for _, ip := range ips {
			if ip4 := ip.To4(); ip4 != nil {
				a = netip.AddrFrom4([4]byte(ip4))
				break
			}
		}
		if !a.IsValid() {
			return netip.AddrPort{}, fmt.Errorf("supernode %q: no IPv4 address", s)
		}
	}
	if !a.Unmap().Is4() {
		return netip.AddrPort{}, fmt.Errorf("supernode %q: IPv4 underlay only", s)
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(pn)), nil
}

// ListFlag is a repeatable, comma-separable string flag (-l A -l B, -l A,B).
type ListFlag struct{ V *[]string }

func (l ListFlag) String() string {
	if l.V == nil {
		return ""
	}
	return strings.Join(*l.V, ",")
}

// Set appends values.
func (l ListFlag) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l.V = append(*l.V, p)
		}
	}
	return nil
}

// NativeKey turns the community key into key material for the native
// protocol: a 64-hex-character key is used as its 32 bytes; any other
// string as its bytes (the session keys are derived from it with HMAC).
func NativeKey(k []byte) []byte {
	if len(k) == 64 {
		if b, err := hex.DecodeString(string(k)); err == nil {
			return b
		}
	}
	return k
}
