package agent

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/agentclient"
	"github.com/rocksclusters/vcluster/src/internal/testenv/libvirtd"
	"github.com/rocksclusters/vcluster/src/internal/testenv/tlscert"
)

func TestTLS(t *testing.T) {
	d := libvirtd.Start(t)
	certFile, keyFile, pool := tlscert.SelfSigned(t, "vm-container-0-0")
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
