package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadKickstartFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "edge.toml")
	os.WriteFile(p, []byte(`device     = "vc0"
address    = "100.64.0.5/24"
mac        = "02:5c:00:00:00:05"
community  = "vc-demo"
key_file   = "/etc/vcluster/edge.key"
supernodes = ["198.18.0.1:7654", "198.18.1.1"]
protocol   = "native"
mtu        = 1400
`), 0o644)
	var e Edge
	if err := Load(p, &e); err != nil {
		t.Fatal(err)
	}
	e.Key = []byte("k")
	r, err := e.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if r.Prefix.String() != "100.64.0.5/24" || r.MAC.String() != "02:5c:00:00:00:05" || len(r.Supernodes) != 2 ||
		r.Supernodes[1].Port() != DefaultPort || r.MTU != 1400 {
		t.Fatalf("%+v", r)
	}
	os.WriteFile(p, []byte("device = \"x\"\nkey = \"secret\"\n"), 0o644)
	if err := Load(p, &e); err == nil || !strings.Contains(err.Error(), "unknown key") {
		t.Fatalf("unknown key not refused: %v", err)
	}
}

func TestResolveRefusesBadInput(t *testing.T) {
	good := Edge{Address: "100.64.0.1/24", Community: "c", Supernodes: []string{"198.18.0.1:7654"}, Key: []byte("k")}
	for name, mod := range map[string]func(*Edge){
		"protocol":  func(e *Edge) { e.Protocol = "v2" },
		"address":   func(e *Edge) { e.Address = "nope" },
		"mac":       func(e *Edge) { e.MAC = "01:00:00:00:00:01" },
		"mtu":       func(e *Edge) { e.MTU = 100 },
		"supernode": func(e *Edge) { e.Supernodes = []string{"198.18.0.1:0"} },
		"key":       func(e *Edge) { e.Key = nil },
		"v1 name":   func(e *Edge) { e.Protocol = V1; e.Community = "sixteen-bytes-xx" },
	} {
		e := good
		mod(&e)
		if _, err := e.Resolve(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := good.Resolve(); err != nil {
		t.Fatal(err)
	}
}

func TestReadKeyRefusesOpenFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "k")
	os.WriteFile(p, []byte("abc\n"), 0o644)
	if _, err := ReadKey(p); err == nil {
		t.Fatal("world-readable key accepted")
	}
	os.Chmod(p, 0o600)
	k, err := ReadKey(p)
	if err != nil || string(k) != "abc" {
		t.Fatalf("%q %v", k, err)
	}
}

// Flags that were given win over the file; the others leave it alone.
func TestApplyFlagsOverFile(t *testing.T) {
	file := Edge{Device: "vc0", Address: "100.64.0.5/24", Community: "vc-demo", Supernodes: []string{"198.18.0.1"},
		Protocol: V1, MTU: 1400, LocalPort: 7000, Status: "/run/s"}
	e := file
	if err := e.Apply(Flags{Device: "vc9", Supernodes: []string{"198.18.1.1", "198.18.2.1"}, MTU: 1300, Key: "k"}, ""); err != nil {
		t.Fatal(err)
	}
	want := file
	want.Device, want.Supernodes, want.MTU, want.Key = "vc9", []string{"198.18.1.1", "198.18.2.1"}, 1300, []byte("k")
	if fmt.Sprint(e) != fmt.Sprint(want) {
		t.Fatalf("got  %+v\nwant %+v", e, want)
	}
	e = file
	if err := e.Apply(Flags{Address: "100.64.0.9", Netmask: "255.255.0.0"}, ""); err != nil || e.Address != "100.64.0.9/16" {
		t.Fatalf("-a with -s: %q %v", e.Address, err)
	}
	e = file
	if err := e.Apply(Flags{Netmask: "255.255.0.0"}, ""); err == nil {
		t.Fatalf("-s with an address that has bits accepted: %q", e.Address)
	}
}

// The key: -k, else $N2N_KEY, else the key file.
func TestApplyKeyOrder(t *testing.T) {
	p := filepath.Join(t.TempDir(), "k")
	if err := os.WriteFile(p, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		flag, env, want string
	}{
		{"from-flag", "from-env", "from-flag"},
		{"", "from-env", "from-env"},
		{"", "", "from-file"},
	} {
		e := Edge{KeyFile: p}
		if err := e.Apply(Flags{Key: c.flag}, c.env); err != nil || string(e.Key) != c.want {
			t.Errorf("-k %q, $N2N_KEY %q: key %q (%v), want %q", c.flag, c.env, e.Key, err, c.want)
		}
	}
	e := Edge{KeyFile: filepath.Join(t.TempDir(), "missing")}
	if err := e.Apply(Flags{}, ""); err == nil {
		t.Fatal("missing key file accepted")
	}
}

func TestMaskBits(t *testing.T) {
	for mask, want := range map[string]int{"255.255.255.0": 24, "255.255.0.0": 16, "255.255.255.255": 32,
		"0.0.0.0": 0, "255.255.255.252": 30, "255.128.0.0": 9} {
		if got, err := MaskBits(mask); err != nil || got != want {
			t.Errorf("%s: %d %v, want %d", mask, got, err, want)
		}
	}
	for _, bad := range []string{"255.0.255.0", "255.255.255.1", "24", "ffff:ffff::", "", "255.255.255"} {
		if got, err := MaskBits(bad); err == nil {
			t.Errorf("%q accepted as /%d", bad, got)
		}
	}
}
