package ksserver_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/auth"
	"github.com/rocksclusters/vcluster/src/internal/ksserver"
)

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ks"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "ks.crt"), filepath.Join(dir, "ks.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// With tls_cert and tls_key the server speaks only HTTPS; a missing
// certificate fails Listen, before anything is served.
func TestTLS(t *testing.T) {
	b := newBed(t)
	certFile, keyFile, pool := selfSigned(t)
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
