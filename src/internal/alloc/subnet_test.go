package alloc

import (
	"net/netip"
	"strings"
	"testing"
)

func TestFreeSubnet(t *testing.T) {
	pp := func(ss ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, s := range ss {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}
	for _, c := range []struct {
		taken []netip.Prefix
		hosts int
		want  string
	}{
		{nil, 10, "100.64.0.0/24"},
		{nil, 254, "100.64.0.0/24"},
		{nil, 255, "100.64.0.0/23"},
		{nil, 1001, "100.64.0.0/22"},
		{pp("100.64.0.0/24"), 10, "100.64.1.0/24"},
		{pp("100.64.0.0/24", "100.64.1.128/25"), 10, "100.64.2.0/24"},
		// A /23 must start on a /23 boundary past everything it overlaps.
		{pp("100.64.0.0/24", "100.64.2.0/24"), 300, "100.64.4.0/23"},
		// A user's larger subnet blocks every /24 inside it.
		{pp("100.64.0.0/16"), 10, "100.65.0.0/24"},
	} {
		got, err := FreeSubnet(c.taken, c.hosts)
		if err != nil || got.String() != c.want {
			t.Errorf("FreeSubnet(%v, %d) = %v, %v; want %s", c.taken, c.hosts, got, err, c.want)
		}
	}
	if _, err := FreeSubnet(pp("100.64.0.0/10"), 10); err == nil || !strings.Contains(err.Error(), "give subnet=") {
		t.Errorf("full space: err = %v", err)
	}
	if got, hit := Overlapping(netip.MustParsePrefix("100.64.1.0/24"), pp("10.0.0.0/8", "100.64.0.0/23")); !hit || got.String() != "100.64.0.0/23" {
		t.Errorf("Overlapping = %v, %v", got, hit)
	}
}

func TestValidClusterName(t *testing.T) {
	for _, ok := range []string{"vc1", "nope", "o", "offline", "node"} {
		if err := ValidClusterName(ok); err != nil {
			t.Errorf("%q rejected: %v", ok, err)
		}
	}
	// Rocks' graph conditions read these as false: a guest whose
	// vcluster_name is one of them would lose its node.
	for _, bad := range []string{"off", "no", "n", "false", "0", "OFF", "No", "False"} {
		err := ValidClusterName(bad)
		if err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: err = %v; want one error line", bad, err)
		}
	}
	if err := ValidClusterName("Bad!"); err == nil || !strings.Contains(err.Error(), "is not valid") {
		t.Errorf("Bad!: %v", err)
	}
}
