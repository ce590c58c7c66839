package agent

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/agentclient"
	"github.com/rocksclusters/vcluster/src/internal/testenv/libvirtd"
)

// selfSigned writes a certificate for 127.0.0.1 and returns its paths and pool.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "vm-container-0-0"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	keyDER, _ := x509.MarshalECPrivateKey(priv)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "agent.crt"), filepath.Join(dir, "agent.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	return
}

func TestTLS(t *testing.T) {
	d := libvirtd.Start(t)
	certFile, keyFile, pool := selfSigned(t)
	a := startAgent(t, d.Socket, d.URI, func(c *Config) { c.TLSCert, c.TLSKey = certFile, keyFile })
	url := strings.Replace(a.url, "http://", "https://", 1)
	c, err := agentclient.New(url, a.key, agentclient.WithTLSConfig(&tls.Config{RootCAs: pool}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Status(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx, "test"); err != nil {
		t.Fatalf("signed call over TLS: %v", err)
	}
	// TLS does not replace the signature.
	ro, _ := agentclient.New(url, nil, agentclient.WithTLSConfig(&tls.Config{RootCAs: pool}))
	wantCode(t, "unsigned over TLS", ro.Destroy(ctx, "test"), agentapi.FaultUnauthenticated)
	// An unknown certificate is a transport error, not a fault.
	bad, _ := agentclient.New(url, a.key)
	if _, err := bad.Status(ctx); err == nil {
		t.Fatal("untrusted certificate accepted")
	} else if _, isFault := agentapi.FaultCode(err); isFault {
		t.Fatalf("certificate error reported as a fault: %v", err)
	}
}
