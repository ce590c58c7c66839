package monitor

import (
	"bytes"
	"context"
	"encoding/xml"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/auth"
	"github.com/rocksclusters/vcluster/src/internal/commands"
	"github.com/rocksclusters/vcluster/src/internal/controller/ctltest"
	"github.com/rocksclusters/vcluster/src/internal/guestboot"
	"github.com/rocksclusters/vcluster/src/internal/rockscmd"
	"github.com/rocksclusters/vcluster/src/internal/testenv/netns"
)

// bootOf is the boot part of a domain's XML as the agent defined it.
type bootOf struct {
	Type    string `xml:"os>type"`
	Kernel  string `xml:"os>kernel"`
	Initrd  string `xml:"os>initrd"`
	Cmdline string `xml:"os>cmdline"`
}

func domainBoot(t *testing.T, a *ctltest.Agent, name string) bootOf {
	t.Helper()
	var b bootOf
	if err := xml.Unmarshal([]byte(a.DomainXML(t, name)), &b); err != nil {
		t.Fatal(err)
	}
	return b
}

// The boot settings are Rocks attributes that `rocks sync vcluster` and
// vclusterd read alike: a guest that sync defines on one container and
// vclusterd moves to another boots the same kernel with the same command
// line, which carries its kickstart URL and token (contracts A1, A2).
func TestSyncAndVclusterdBootAlike(t *testing.T) {
	b := ctltest.New(t, []string{"A", "B"}, 1, ctltest.Options{})
	for k, v := range map[string]string{guestboot.AttrBoot: "kernel", guestboot.AttrKernel: "/var/lib/vcluster/vmlinuz",
		guestboot.AttrInitrd: "/var/lib/vcluster/initrd.img"} {
		if _, err := b.DB.Exec(`INSERT INTO attributes (Attr, Value, Category, Catindex) SELECT ?, ?, c.ID, ci.ID
			FROM categories c JOIN catindex ci ON ci.Category = c.ID WHERE c.Name = 'global' AND ci.Name = 'global'`, k, v); err != nil {
			t.Fatal(err)
		}
	}
	b.AddCluster("vc1", 2, 1, 128) // vm-vc1-0 on A, vm-vc1-1 on B
	ctx := context.Background()
	home, err := guestboot.LoadHome(ctx, b.DB)
	if err != nil {
		t.Fatal(err)
	}
	key, err := home.Key()
	if err != nil {
		t.Fatal(err)
	}

	var out, errb bytes.Buffer
	if rc := rockscmd.Main(ctx, []string{"-dsn", b.DSN, "sync", "vcluster"}, &out, &errb, commands.Open); rc != 0 {
		t.Fatalf("sync: %s", errb.String())
	}
	bySync := domainBoot(t, b.Agents[0], "vm-vc1-0")
	want := "console=ttyS0 quiet no_timer_check panic=10 vcluster.name=vm-vc1-0 vcluster.ks=http://" + home.Frontend + ":8679/vcluster/kickstart/vm-vc1-0?t=" +
		auth.KickstartToken(key, "vm-vc1-0")
	if bySync.Kernel != "/var/lib/vcluster/vmlinuz" || bySync.Initrd != "/var/lib/vcluster/initrd.img" || bySync.Cmdline != want {
		t.Fatalf("sync defined %+v\nwant cmdline %s", bySync, want)
	}
	if other := domainBoot(t, b.Agents[1], "vm-vc1-1"); !strings.Contains(other.Cmdline, "?t="+auth.KickstartToken(key, "vm-vc1-1")) {
		t.Fatalf("vm-vc1-1: %+v", other)
	}

	// vclusterd moves vm-vc1-0 off an overloaded A and defines it on B.
	cfg := Defaults()
	cfg.Interval, cfg.CallTimeout = Duration{Duration: 200 * time.Millisecond}, Duration{Duration: time.Second}
	cfg.OverloadLoad, cfg.OverloadFor = 2.0, Duration{Duration: 600 * time.Millisecond}
	b.Agents[0].SetLoad(t, 50)
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	logs := &netns.SyncBuffer{}
	go func() { done <- New(cfg, b.DB, slog.New(slog.NewTextHandler(logs, nil))).Run(mctx) }()
	defer func() { cancel(); <-done }()
	for deadline := time.Now().Add(20 * time.Second); !b.Agents[1].Domains(t)["vm-vc1-0"]; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("vclusterd did not define vm-vc1-0 on B in 20s; its log:\n%s", logs.String())
		}
	}
	if byVclusterd := domainBoot(t, b.Agents[1], "vm-vc1-0"); byVclusterd != bySync {
		t.Fatalf("vclusterd defined %+v, sync %+v\n%s", byVclusterd, bySync, logs.String())
	}
}
