package guestboot

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/auth"
	"github.com/rocksclusters/vcluster/src/internal/db"
	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
	"github.com/rocksclusters/vcluster/src/internal/testenv/mariadb"
)

func TestMain(m *testing.M) { os.Exit(mariadb.RunMain(m)) }

// testDB is a migrated Rocks database with a home site whose key file
// is real.
func testDB(t *testing.T) (*sql.DB, *auth.Key) {
	binaries.Require(t, "mariadbd")
	d, err := db.Open(context.Background(), mariadb.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := db.Migrate(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	k, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	kf := filepath.Join(t.TempDir(), "A.key")
	if err := auth.WriteKeyFile(kf, k); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(`INSERT INTO vc_sites (Name, Frontend, KeyFile, Home) VALUES ('B', '198.18.1.1', '/nonexistent', 'no'), ('A', '198.18.0.1', ?, 'yes')`, kf); err != nil {
		t.Fatal(err)
	}
	return d, k
}

// setAttr is `rocks set attr NAME VALUE` at the global level.
func setAttr(t *testing.T, d *sql.DB, name, value string) {
	t.Helper()
	if _, err := d.Exec(`DELETE a FROM attributes a JOIN categories c ON c.ID = a.Category WHERE c.Name = 'global' AND a.Attr = ?`, name); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(`INSERT INTO attributes (Attr, Value, Category, Catindex) SELECT ?, ?, c.ID, ci.ID
		FROM categories c JOIN catindex ci ON ci.Category = c.ID WHERE c.Name = 'global' AND ci.Name = 'global'`, name, value); err != nil {
		t.Fatal(err)
	}
}

func spec(t *testing.T, s Settings, name string) agentapi.GuestSpec {
	t.Helper()
	g := agentapi.GuestSpec{Name: name, CPUs: 1, MemMB: 256, DiskGB: 4, MACs: []string{"02:5c:00:00:00:01"}, Bridge: "eth0"}
	s.Apply(&g)
	if err := g.Normalize(); err != nil {
		t.Fatalf("the agent would refuse %+v: %v", g, err)
	}
	return g
}

func TestDefaultsAndModes(t *testing.T) {
	d, key := testDB(t)
	ctx := context.Background()
	s, err := Load(ctx, d)
	if err != nil || s.Mode != ModeHVM {
		t.Fatalf("no attributes: %+v %v", s, err)
	}
	if g := spec(t, s, "vm-vc1-0"); g.Boot != agentapi.BootHVM || g.Kernel != "" || g.Args != "" {
		t.Fatalf("hvm spec %+v", g)
	}
	// The kernel attributes serve boot=kernel only.
	setAttr(t, d, AttrKernel, "/boot/vmlinuz")
	setAttr(t, d, AttrBoot, "pv")
	s, err = Load(ctx, d)
	if g := spec(t, s, "vm-vc1-0"); err != nil || g.Boot != agentapi.BootPV || g.Kernel != "" {
		t.Fatalf("pv spec %+v %v", g, err)
	}

	setAttr(t, d, AttrBoot, "kernel")
	setAttr(t, d, AttrInitrd, "/boot/initrd.img")
	s, err = Load(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	g := spec(t, s, "vm-vc1-3")
	want := "console=ttyS0 quiet no_timer_check panic=10 vcluster.name=vm-vc1-3 vcluster.ks=http://198.18.0.1:8679/vcluster/kickstart/vm-vc1-3?t=" +
		auth.KickstartToken(key, "vm-vc1-3")
	if g.Boot != agentapi.BootPV || g.Kernel != "/boot/vmlinuz" || g.Initrd != "/boot/initrd.img" || g.Args != want {
		t.Fatalf("kernel spec %+v\nwant args %s", g, want)
	}
	setAttr(t, d, AttrKickstartURL, "https://ks.example.org:9000/prefix/")
	s, err = Load(ctx, d)
	if g := spec(t, s, "vm-vc1-3"); err != nil || !strings.Contains(g.Args, " vcluster.ks=https://ks.example.org:9000/prefix/vcluster/kickstart/vm-vc1-3?t=") {
		t.Fatalf("kickstart url: %+v %v", g, err)
	}
}

func TestBadSettings(t *testing.T) {
	d, _ := testDB(t)
	ctx := context.Background()
	for _, c := range []struct {
		attrs map[string]string
		want  string
	}{
		{map[string]string{AttrBoot: "floppy"}, `vcluster_boot="floppy"`},
		{map[string]string{AttrBoot: "kernel"}, "needs attribute vcluster_guest_kernel"},
		{map[string]string{AttrBoot: "kernel", AttrKernel: "boot/vmlinuz"}, "vcluster_guest_kernel"},
		{map[string]string{AttrBoot: "kernel", AttrKernel: "/boot/vm linuz"}, "vcluster_guest_kernel"},
		{map[string]string{AttrBoot: "kernel", AttrKernel: "/k", AttrInitrd: "initrd"}, "vcluster_guest_initrd"},
		{map[string]string{AttrBoot: "kernel", AttrKernel: "/k", AttrKickstartURL: "ftp://x"}, "vcluster_kickstart_url"},
		{map[string]string{AttrBoot: "kernel", AttrKernel: "/k", AttrKickstartURL: "http://x/ init=/bin/sh"}, "vcluster_kickstart_url"},
		{map[string]string{AttrBoot: "kernel", AttrKernel: "/k", AttrKickstartURL: "http://x/?a=b"}, "vcluster_kickstart_url"},
		{map[string]string{AttrBoot: "kernel", AttrKernel: "/k", AttrKickstartURL: "http:///x"}, "vcluster_kickstart_url"},
	} {
		for _, a := range []string{AttrBoot, AttrKernel, AttrInitrd, AttrKickstartURL} {
			if _, err := d.Exec(`DELETE FROM attributes WHERE Attr = ?`, a); err != nil {
				t.Fatal(err)
			}
		}
		for k, v := range c.attrs {
			setAttr(t, d, k, v)
		}
		_, err := Load(ctx, d)
		if !errors.Is(err, ErrSetting) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: %v, want one line with %q", c.attrs, err, c.want)
		}
	}

	// boot=kernel needs the home site's key.
	setAttr(t, d, AttrBoot, "kernel")
	setAttr(t, d, AttrKernel, "/k")
	if _, err := d.Exec(`DELETE FROM attributes WHERE Attr = ?`, AttrKickstartURL); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(`UPDATE vc_sites SET Home = 'no'`); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(ctx, d); !errors.Is(err, ErrNoHome) {
		t.Fatalf("no home site: %v", err)
	}
	if _, err := d.Exec(`UPDATE vc_sites SET Home = 'yes' WHERE Name = 'B'`); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(ctx, d); err == nil || !strings.Contains(err.Error(), "home site B key") {
		t.Fatalf("missing key file: %v", err)
	}
}

// Rocks 6.0 and 6.1's `rocks set attr` writes global_attributes (Attr,
// Value; their DDL): where that table exists its value wins.
func TestRocks61GlobalAttributes(t *testing.T) {
	d, _ := testDB(t)
	setAttr(t, d, AttrBoot, "pv")
	if _, err := d.Exec("CREATE TABLE global_attributes (Attr varchar(128) default NULL, Value text)"); err != nil {
		t.Fatal(err)
	}
	if s, err := Load(context.Background(), d); err != nil || s.Mode != ModePV {
		t.Fatalf("empty global_attributes: %+v %v", s, err)
	}
	if _, err := d.Exec("INSERT INTO global_attributes VALUES ('vcluster_boot', 'kernel'), ('vcluster_guest_kernel', '/k'), ('Kickstart_PrivateKickstartHost', '10.1.1.1')"); err != nil {
		t.Fatal(err)
	}
	s, err := Load(context.Background(), d)
	if err != nil || s.Mode != ModeKernel || s.Kernel != "/k" {
		t.Fatalf("6.1 attributes: %+v %v", s, err)
	}
}
