package config

import (
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
