// Package alloc hands out what makes a guest unique: Rocks-style names,
// MAC addresses from Rocks' vm_mac_base_addr/vm_mac_base_addr_mask, overlay
// IPv4 addresses inside the virtual cluster's subnet, the N2N community and
// its random key. It is pure; the caller holds the database lock and passes
// what is already taken.
package alloc

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strings"
)

// nameRE is a DNS label that Rocks accepts as a host name part: no SQL or
// shell metacharacters can pass it.
var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}[a-z0-9]$|^[a-z]$`)

// ValidName checks a cluster, site or container short name.
func ValidName(kind, s string) error {
	if !nameRE.MatchString(s) {
		return fmt.Errorf("%s name %q is not valid: use 1-32 lower-case letters, digits and '-', starting with a letter", kind, s)
	}
	return nil
}

// ValidClusterName checks a new virtual cluster's name: a ValidName that
// Rocks' graph conditions do not read as false. The guests carry it as
// their vcluster_name attribute, and a node file edge cond="vcluster_name"
// is off for "off", "no", "n", "false" and "0" (any case).
func ValidClusterName(s string) error {
	if err := ValidName("cluster", s); err != nil {
		return err
	}
	switch strings.ToLower(s) {
	case "off", "no", "n", "false", "0":
		return fmt.Errorf("cluster name %q is not allowed: Rocks reads it as false in its graph conditions (off, no, n, false, 0), which would switch the guests' node off", s)
	}
	return nil
}

var siteRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,31}$`)

// ValidSite checks a site name: letters (either case), digits and '-'.
func ValidSite(s string) error {
	if !siteRE.MatchString(s) {
		return fmt.Errorf("site name %q is not valid: use 1-32 letters, digits and '-', starting with a letter", s)
	}
	return nil
}

// hostRE accepts host names and IPv4/IPv6 literals (for container and
// frontend addresses).
var hostRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.:-]{0,252}[A-Za-z0-9])?$`)

// ValidHost checks a host name or address.
func ValidHost(kind, s string) error {
	if !hostRE.MatchString(s) {
		return fmt.Errorf("%s %q is not a host name or address", kind, s)
	}
	return nil
}

// ComputeName is Rocks' cluster naming for compute guest i.
func ComputeName(cluster string, i int) string { return fmt.Sprintf("vm-%s-%d", cluster, i) }

// Community is the N2N community of a virtual cluster. N2N v1 carries 16
// bytes including the terminating NUL, so long names are shortened with a
// hash suffix that keeps them distinct.
func Community(cluster string) string {
	c := "vc-" + cluster
	if len(c) <= 15 {
		return c
	}
	sum := sha256.Sum256([]byte(cluster))
	return c[:10] + "-" + hex.EncodeToString(sum[:2])
}

// NewKey returns 32 random bytes as 64 hex characters.
func NewKey() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// DefaultMACBase and DefaultMACMask apply when Rocks' vm_mac_base_addr
// attributes are not set: a locally administered prefix with 32 free bits.
const (
	DefaultMACBase = "02:5c:00:00:00:00"
	DefaultMACMask = "ff:ff:00:00:00:00"
)

// MACPool allocates MACs base|n for n in the bits the mask leaves free.
type MACPool struct {
	base, mask uint64
	next       uint64
	used       map[uint64]struct{}
}

func mac48(s string) (uint64, error) {
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return 0, fmt.Errorf("bad MAC %q", s)
	}
	var v uint64
	for _, b := range hw {
		v = v<<8 | uint64(b)
	}
	return v, nil
}

// FormatMAC prints a 48-bit value as aa:bb:cc:dd:ee:ff.
func FormatMAC(v uint64) string {
	const hx = "0123456789abcdef"
	var b [17]byte
	for i := 0; i < 6; i++ {
		x := byte(v >> (40 - 8*i))
		b[3*i], b[3*i+1] = hx[x>>4], hx[x&15]
		if i < 5 {
			b[3*i+2] = ':'
		}
	}
	return string(b[:])
}

// NewMACPool makes a pool; used holds MACs already in the database (any
// format net.ParseMAC reads; others are ignored).
func NewMACPool(base, mask string, used []string) (*MACPool, error) {
	b, err := mac48(base)
	if err != nil {
		return nil, fmt.Errorf("vm_mac_base_addr: %w", err)
	}
	m, err := mac48(mask)
	if err != nil {
		return nil, fmt.Errorf("vm_mac_base_addr_mask: %w", err)
	}
	if b&(1<<40) != 0 {
		return nil, fmt.Errorf("vm_mac_base_addr %s is a multicast address", base)
	}
	p := &MACPool{base: b & m, mask: m & 0xffffffffffff, next: 1, used: make(map[uint64]struct{}, len(used))}
	for _, s := range used {
		if v, err := mac48(s); err == nil {
			p.used[v] = struct{}{}
		}
	}
	return p, nil
}

// ErrExhausted means a pool has no free value left.
var ErrExhausted = errors.New("exhausted")

// Next returns the lowest free MAC above the base.
func (p *MACPool) Next() (string, error) {
	free := ^p.mask & 0xffffffffffff
	for ; p.next < free; p.next++ {
		v := p.base | p.next
		if _, ok := p.used[v]; !ok {
			p.used[v] = struct{}{}
			p.next++
			return FormatMAC(v), nil
		}
	}
	return "", fmt.Errorf("MAC pool %s/%s %w", FormatMAC(p.base), FormatMAC(p.mask), ErrExhausted)
}

// IPPool hands out host addresses of an IPv4 subnet, lowest first,
// skipping the network and broadcast addresses.
type IPPool struct {
	prefix netip.Prefix
	next   netip.Addr
	used   map[netip.Addr]struct{}
}

// ParseSubnet accepts an IPv4 CIDR such as 100.64.0.0/24 (host bits zero,
// /8 to /30).
func ParseSubnet(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("subnet=%q is not an IPv4 CIDR like 100.64.0.0/24", s)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("subnet=%q has host bits set (did you mean %s?)", s, p.Masked())
	}
	if p.Bits() < 8 || p.Bits() > 30 {
		return netip.Prefix{}, fmt.Errorf("subnet=%q: prefix length must be /8 to /30", s)
	}
	return p, nil
}

// Hosts is the number of usable host addresses of p.
func Hosts(p netip.Prefix) int { return 1<<(32-p.Bits()) - 2 }

// NewIPPool makes a pool over p; used are addresses already taken.
func NewIPPool(p netip.Prefix, used []string) *IPPool {
	ip := &IPPool{prefix: p, next: p.Addr().Next(), used: map[netip.Addr]struct{}{}}
	for _, s := range used {
		if a, err := netip.ParseAddr(s); err == nil {
			ip.used[a] = struct{}{}
		}
	}
	return ip
}

// Next returns the lowest free host address.
func (p *IPPool) Next() (netip.Addr, error) {
	for ; p.prefix.Contains(p.next); p.next = p.next.Next() {
		a := p.next
		if !p.prefix.Contains(a.Next()) { // broadcast
			break
		}
		if _, ok := p.used[a]; !ok {
			p.used[a] = struct{}{}
			p.next = a.Next()
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("subnet %s %w", p.prefix, ErrExhausted)
}
