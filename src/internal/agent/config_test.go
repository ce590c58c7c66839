package agent

import (
	"context"
	"io"
	"log/slog"
	"math"
	"os"
	"os/user"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/rocksclusters/vcluster/src/internal/hypervisor"
	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
	"github.com/rocksclusters/vcluster/src/internal/testenv/libvirtd"
)

// The example config shipped in the roll documents exactly the defaults.
func TestExampleConfigIsTheDefaults(t *testing.T) {
	root, err := binaries.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(filepath.Join(root, "roll/etc/agent.toml"))
	if err != nil {
		t.Fatal(err)
	}
	want := Defaults()
	if len(c.TrustedKeys) == 0 {
		c.TrustedKeys = nil // [] in the file, nil in Defaults
	}
	if len(c.Shares) == 0 {
		c.Shares = nil
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("roll/etc/agent.toml\n got %+v\nwant %+v", c, want)
	}
}

func TestConfigRejects(t *testing.T) {
	dir := t.TempDir()
	for text, want := range map[string]string{
		"listn = \":1\"\n":                                "unknown key(s): listn",
		"[limits]\nmax_body_bytes = 1\n":                  "unknown key(s): limits",
		"max_body_bytes = 10\n":                           "max_body_bytes",
		"replay_window = \"1ms\"\n":                       "replay_window",
		"listen = 5\n":                                    "listen",
		"hypervisor = \"lxc\"\n":                          "hypervisor",
		"domain_type = \"tcg\"\n":                         "domain_type",
		"nic = \"macvtap\"\n":                             "nic",
		"hypervisor = \"xen\"\nnic = \"tap\"\n":           "needs KVM",
		"tap_user = \"nobody\"\n":                         "tap_user needs nic",
		"nic = \"tap\"\ntap_user = \"no-such-user-vc\"\n": "tap_user",
		"shares = [\"/opt/x.y\"]\n":                       "shares",
		"shares = [\"usr\"]\n":                            "shares",
		"shares = [\"/usr\", \"/usr:rw\"]\n":              "given twice",
		"console_max_bytes = 100\n":                       "console_max_bytes",
	} {
		p := filepath.Join(dir, "c.toml")
		os.WriteFile(p, []byte(text), 0o644)
		_, err := LoadConfig(p)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v, want one line mentioning %q", text, err, want)
		}
	}
}

// loadavg_path: host.status reports what the file says, follows its
// changes, and an unreadable file stops the agent at start (an idle-looking
// container would attract guests).
func TestLoadavgPath(t *testing.T) {
	d := libvirtd.Start(t)
	p := filepath.Join(t.TempDir(), "loadavg")
	if err := os.WriteFile(p, []byte("7.50 3.25 1.00 2/300 4242\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, d.Socket, d.URI, func(c *Config) { c.LoadavgPath = p })
	ro := client(t, a, nil)
	st, err := ro.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Load1 != 7.5 || st.Load5 != 3.25 || st.Load15 != 1 {
		t.Fatalf("loads %v %v %v, want 7.5 3.25 1", st.Load1, st.Load5, st.Load15)
	}
	os.WriteFile(p, []byte("0.10 0.20 0.30 1/1 1\n"), 0o644)
	if st, err = ro.Status(context.Background()); err != nil || st.Load1 != 0.1 {
		t.Fatalf("after change: load1 %v, %v", st.Load1, err)
	}
	// Unreadable at run time: zeros and one warning, still serving.
	os.WriteFile(p, []byte("garbage\n"), 0o644)
	if st, err = ro.Status(context.Background()); err != nil || st.Load1 != 0 {
		t.Fatalf("garbage: load1 %v, %v", st.Load1, err)
	}
	ro.Status(context.Background())
	if n := strings.Count(a.logs.String(), "cannot read the load"); n != 1 {
		t.Fatalf("%d warnings, want 1:\n%s", n, a.logs.String())
	}

	for _, bad := range []string{filepath.Join(t.TempDir(), "missing"), p} {
		cfg := Defaults()
		cfg.LoadavgPath = bad
		_, err := New(cfg, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err == nil || !strings.Contains(err.Error(), "loadavg_path") {
			t.Fatalf("New with loadavg_path %s: %v", bad, err)
		}
	}
}

// FuzzParseLoadAvg: never panics; what it accepts is three finite,
// non-negative numbers (a NaN would make a container look idle).
func FuzzParseLoadAvg(f *testing.F) {
	for _, s := range []string{"0.52 0.58 0.59 1/467 12345\n", "7.50 3.25 1.00", "NaN 1 1", "1 2", "-1 0 0", "+Inf 0 0", "1e308 1e308 1e308 x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l1, l5, l15, err := parseLoadAvg(b)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
			return
		}
		for _, v := range []float64{l1, l5, l15} {
			if !(v >= 0) || math.IsInf(v, 0) {
				t.Fatalf("accepted %v from %q", v, b)
			}
		}
	})
}

// The KVM keys of a bed container (CONTRACTS A6) become the hypervisor's
// options: the tap user by number, shares with their 9p tags.
func TestKVMConfig(t *testing.T) {
	p := filepath.Join(t.TempDir(), "agent.toml")
	text := `libvirt_uri = "qemu:///session"
hypervisor = "kvm"
domain_type = "qemu"
nic = "tap"
tap_user = "nobody"
shares = ["/usr", "/export/home:rw"]
console_dir = "/var/log/vc"
`
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	o, err := c.hypervisorOptions()
	if err != nil {
		t.Fatal(err)
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody")
	}
	if o.TapOwner == nil || strconv.Itoa(o.TapOwner.UID) != u.Uid || strconv.Itoa(o.TapOwner.GID) != u.Gid {
		t.Errorf("tap owner %+v, want nobody %s:%s", o.TapOwner, u.Uid, u.Gid)
	}
	want := []hypervisor.Share{{Path: "/usr", Tag: "usr"}, {Path: "/export/home", Tag: "export.home", RW: true}}
	if !reflect.DeepEqual(o.Shares, want) || o.Family != "kvm" || o.DomainType != "qemu" || o.NIC != "tap" ||
		o.ConsolePath("g") != "/var/log/vc/g.console" {
		t.Errorf("options %+v", o)
	}
}
