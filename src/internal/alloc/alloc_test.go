package alloc

import (
	"net/netip"
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	for _, ok := range []string{"a", "vc1", "demo-cluster", "x0"} {
		if err := ValidName("cluster", ok); err != nil {
			t.Errorf("%q rejected: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "A", "1a", "a-", "a;drop table nodes", "a'b", "$(reboot)", "a b", "a_b", "a.b", strings.Repeat("a", 33)} {
		if ValidName("cluster", bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestMACPool(t *testing.T) {
	p, err := NewMACPool("72:77:6e:80:00:00", "ff:ff:ff:c0:00:00", []string{"72:77:6e:80:00:01", "72:77:6e:80:00:03", "junk"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := 0; i < 3; i++ {
		m, err := p.Next()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
	}
	if strings.Join(got, " ") != "72:77:6e:80:00:02 72:77:6e:80:00:04 72:77:6e:80:00:05" {
		t.Fatal(got)
	}
	small, _ := NewMACPool("02:00:00:00:00:00", "ff:ff:ff:ff:ff:fc", nil)
	for i := 0; i < 2; i++ {
		if _, err := small.Next(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := small.Next(); err == nil {
		t.Fatal("exhausted pool gave a MAC")
	}
	if _, err := NewMACPool("01:00:00:00:00:00", DefaultMACMask, nil); err == nil {
		t.Fatal("multicast base accepted")
	}
}

func TestIPPool(t *testing.T) {
	for _, bad := range []string{"100.64.0.0", "100.64.0.1/24", "fd00::/64", "100.64.0.0/31", "x/24", "100.64.0.0/24; rm -rf /"} {
		if _, err := ParseSubnet(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	p, err := ParseSubnet("100.64.0.0/29")
	if err != nil || Hosts(p) != 6 {
		t.Fatal(err, Hosts(p))
	}
	pool := NewIPPool(p, []string{"100.64.0.2"})
	var got []string
	for {
		a, err := pool.Next()
		if err != nil {
			break
		}
		got = append(got, a.String())
	}
	if strings.Join(got, " ") != "100.64.0.1 100.64.0.3 100.64.0.4 100.64.0.5 100.64.0.6" {
		t.Fatal(got)
	}
	_ = netip.Addr{}
}

func TestCommunity(t *testing.T) {
	if Community("demo") != "vc-demo" {
		t.Fatal(Community("demo"))
	}
	a, b := Community("a-very-long-cluster-name-1"), Community("a-very-long-cluster-name-2")
	if len(a) > 15 || a == b {
		t.Fatalf("%q %q", a, b)
	}
	k, _ := NewKey()
	k2, _ := NewKey()
	if len(k) != 64 || k == k2 {
		t.Fatal("key")
	}
}

func FuzzParseSubnet(f *testing.F) {
	f.Add("100.64.0.0/24")
	f.Add("10.0.0.0/8")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseSubnet(s)
		if err != nil {
			return
		}
		pool := NewIPPool(p, nil)
		for i := 0; i < 4; i++ {
			a, err := pool.Next()
			if err != nil {
				break
			}
			if !p.Contains(a) || a == p.Addr() {
				t.Fatalf("%s gave %s", p, a)
			}
		}
	})
}
