package ksserver_test

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/auth"
	"github.com/rocksclusters/vcluster/src/internal/ksserver"
	"github.com/rocksclusters/vcluster/src/internal/testenv/tlscert"
)

func TestTLS(t *testing.T) {
	b := newBed(t)
	certFile, keyFile, pool := tlscert.SelfSigned(t, "ks")
	cfg := ksserver.Config{Listen: "127.0.0.1:0", NodeFile: b.nodeFile, TLSCert: certFile, TLSKey: keyFile}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := cfg
	bad.TLSKey = filepath.Join(t.TempDir(), "missing.key")
	if _, err := ksserver.Listen(bad); err == nil || !strings.Contains(err.Error(), "tls_cert/tls_key") {
		t.Fatalf("missing key: %v", err)
	}
	ln, err := ksserver.Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := ksserver.New(cfg, b.db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()

	path := "/vcluster/kickstart/vm-vc1-0?t=" + auth.KickstartToken(b.key, "vm-vc1-0")
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + ln.Addr().String() + path)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "# vcluster post script of vm-vc1-0 ") {
		t.Fatalf("https: %d %q", resp.StatusCode, body)
	}
	plain := &http.Client{Timeout: 10 * time.Second}
	if resp, err := plain.Get("http://" + ln.Addr().String() + path); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), "edge.key") {
			t.Fatal("the script went out over plain HTTP")
		}
	}
	for _, c := range []ksserver.Config{
		{Listen: ":1", TLSCert: certFile},
		{Listen: ":1", TLSCert: "ks.crt", TLSKey: "ks.key"},
		{TLSCert: certFile, TLSKey: keyFile},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}
