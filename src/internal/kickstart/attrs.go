package kickstart

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// GuestAttrs are the host attributes the guest node file (vcluster-guest)
// reads; `rocks add vcluster` sets them on every guest it creates
// (docs/architecture.md); vcluster_key is the guest's secure attribute
// (KeyAttr), which the report adds.
var GuestAttrs = []string{
	"vcluster_name",
	"vcluster_community",
	"vcluster_key",
	"vcluster_supernode",
	"vcluster_protocol",
	"vcluster_ip",
	"vcluster_mac",
	"vcluster_mtu",
}

// GuestNode is the node file that configures a guest's edge.
const GuestNode = "vcluster-guest"

var (
	nameRe      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	communityRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,15}$`)
	keyRe       = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
	hostRe      = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$`)
)

// ValidateGuest checks the guest attributes before they are put into a
// kickstart file: the node file writes them into TOML and shell, so a
// stray quote or newline must never reach it. The error names the
// attribute but never echoes the key.
func ValidateGuest(attrs map[string]string) error {
	for _, a := range GuestAttrs {
		if _, ok := attrs[a]; !ok {
			return &MissingAttrError{Name: a}
		}
	}
	bad := func(a, why string) error {
		if a == "vcluster_key" {
			return fmt.Errorf("host attribute vcluster_key: %s", why)
		}
		return fmt.Errorf("host attribute %s=%q: %s", a, attrs[a], why)
	}
	if !nameRe.MatchString(attrs["vcluster_name"]) {
		return bad("vcluster_name", "want letters, digits, '.', '_' or '-'")
	}
	if !communityRe.MatchString(attrs["vcluster_community"]) {
		return bad("vcluster_community", "want 1 to 16 letters, digits, '.', '_' or '-' (N2N's limit)")
	}
	if !keyRe.MatchString(attrs["vcluster_key"]) {
		return bad("vcluster_key", "want 64 hexadecimal characters")
	}
	sns := strings.Split(attrs["vcluster_supernode"], ",")
	for _, sn := range sns {
		host, port, err := net.SplitHostPort(strings.TrimSpace(sn))
		if err != nil {
			return bad("vcluster_supernode", "want HOST:PORT[,HOST:PORT...]")
		}
		if _, err := netip.ParseAddr(host); err != nil && !hostRe.MatchString(host) {
			return bad("vcluster_supernode", "bad host "+strconv.Quote(host))
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return bad("vcluster_supernode", "bad port "+strconv.Quote(port))
		}
	}
	switch attrs["vcluster_protocol"] {
	case "native", "v1":
	default:
		return bad("vcluster_protocol", "want native or v1")
	}
	pfx, err := netip.ParsePrefix(attrs["vcluster_ip"])
	if err != nil || !pfx.Addr().Is4() || pfx.Bits() < 8 || pfx.Bits() > 30 {
		return bad("vcluster_ip", "want an IPv4 address with its prefix, e.g. 100.64.0.5/24")
	}
	mac, err := net.ParseMAC(attrs["vcluster_mac"])
	if err != nil || len(mac) != 6 || mac[0]&1 != 0 || attrs["vcluster_mac"] != mac.String() {
		return bad("vcluster_mac", "want a unicast MAC as aa:bb:cc:dd:ee:ff (lower case)")
	}
	if n, err := strconv.Atoi(attrs["vcluster_mtu"]); err != nil || n < 576 || n > 9000 {
		return bad("vcluster_mtu", "want 576 to 9000")
	}
	return nil
}
