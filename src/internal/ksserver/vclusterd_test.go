package ksserver_test

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/auth"
	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
)

// vclusterd -kickstart-only serves the kickstarts of its [kickstart]
// section, and says what it served when it stops; without listen it
// refuses to start with one line.
func TestVclusterdKickstartOnly(t *testing.T) {
	b := newBed(t)
	bin := binaries.Path(t, "vclusterd")
	dir := t.TempDir()
	conf := func(text string) string {
		p := filepath.Join(dir, "vclusterd.toml")
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	out, err := exec.Command(bin, "-config", conf(fmt.Sprintf("dsn = %q\n", b.dsn)), "-kickstart-only").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || strings.Count(string(out), "\n") != 1 || !strings.Contains(string(out), "[kickstart] listen") {
		t.Fatalf("without listen: %v %q", err, out)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "-config", conf(fmt.Sprintf("dsn = %q\n[kickstart]\nlisten = %q\nnodefile = %q\ndist_dir = %q\n",
		b.dsn, addr, b.nodeFile, b.dist)), "-kickstart-only")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			cmd.Process.Kill()
			<-exited
		}
	}()

	url := "http://" + addr + "/vcluster/kickstart/vm-vc1-1?t=" + auth.KickstartToken(b.key, "vm-vc1-1")
	var resp *http.Response
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err = http.Get(url); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("vclusterd never answered: %v\n%s", err, logs.String())
		}
	}
	body := new(bytes.Buffer)
	body.ReadFrom(resp.Body)
	resp.Body.Close()
	want := b.rocks("report", "vcluster", "kickstart", "vm-vc1-1", "nodefile="+b.nodeFile)
	if resp.StatusCode != http.StatusOK || tmpNames.ReplaceAllString(body.String(), "T") != tmpNames.ReplaceAllString(want, "T") {
		t.Fatalf("%d:\n%s\nwant:\n%s", resp.StatusCode, body.String(), want)
	}
	if resp, err := http.Get("http://" + addr + "/vcluster/kickstart/vm-vc1-0?t=" + auth.KickstartToken(b.key, "vm-vc1-1")); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("another guest's token: %v %v", resp, err)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Fatalf("vclusterd: %v\n%s", err, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("vclusterd did not stop on SIGTERM")
	}
	if !strings.Contains(logs.String(), "Kickstarts:1 Forbidden:1") {
		t.Fatalf("log lacks the counts:\n%s", logs.String())
	}
}
