package controller

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/agentclient"
	"github.com/rocksclusters/vcluster/src/internal/auth"
)

// DefaultLease is vclusterd's default lease, and what a Reconcile's
// signed calls renew by in other processes (agents cap a renewal at the
// length vclusterd armed them with; docs/controller.md, Fencing).
const DefaultLease = 12 * time.Second

// Client returns the (cached) agent client of a container, signing with
// its site's key; an https agent's certificate is checked against its
// site's CA file (or the system's roots). Keys and CA files are read once.
//
// Its calls carry a lease only in vclusterd (Options.LeaseArm); other
// callers renew leases only inside Reconcile, under the controller lock
// (renewing), so that vclusterd, which marks containers dead under that
// lock, has seen every renewal in vc_health.LastSeen.
func (c *Controller) Client(ct *Container) (*agentclient.Client, error) {
	return c.client(ct, c.opt.LeaseArm)
}

func (c *Controller) client(ct *Container, renewing bool) (*agentclient.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// A frontend container's agent is never armed: its virtual frontends
	// never start elsewhere, so nothing needs them stopped when vclusterd
	// falls silent (a lease it already holds is still renewed).
	arm := c.opt.LeaseArm && !ct.Frontend
	id := fmt.Sprint(ct.Agent, "\x00", ct.KeyFile, "\x00", ct.CAFile, "\x00", renewing, arm)
	if cl := c.clients[id]; cl != nil {
		return cl, nil
	}
	var key *auth.Key
	if ct.KeyFile != "" {
		if key = c.keys[ct.KeyFile]; key == nil {
			k, err := auth.LoadKey(ct.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("site %s key: %w", ct.Site, err)
			}
			c.keys[ct.KeyFile], key = k, k
		}
	}
	u, err := AgentURL(ct.Agent)
	if err != nil {
		return nil, err
	}
	lease := c.opt.Lease
	if lease <= 0 {
		lease = DefaultLease
	}
	opts := []agentclient.Option{agentclient.WithTimeout(c.opt.CallTimeout)}
	if renewing || c.opt.LeaseArm {
		opts = append(opts, agentclient.WithLease(lease, arm))
	}
	if strings.HasPrefix(u, "https://") {
		cfg, err := c.tlsConfig(ct)
		if err != nil {
			return nil, err
		}
		opts = append(opts, agentclient.WithTLSConfig(cfg))
	}
	cl, err := agentclient.New(u, key, opts...)
	if err != nil {
		return nil, err
	}
	c.clients[id] = cl
	return cl, nil
}

// tlsConfig trusts the container's site CA file (cached), else the
// system's roots. The caller holds c.mu.
func (c *Controller) tlsConfig(ct *Container) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if ct.CAFile == "" {
		return cfg, nil
	}
	pool := c.pools[ct.CAFile]
	if pool == nil {
		var err error
		if pool, err = LoadCAFile(ct.CAFile); err != nil {
			return nil, fmt.Errorf("site %s CA file: %w", ct.Site, err)
		}
		c.pools[ct.CAFile] = pool
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// AgentURL is the XML-RPC URL of an agent address as vc_containers.Agent
// holds it: host:port means http; http:// and https:// are kept.
func AgentURL(agent string) (string, error) {
	u := agent
	if !strings.Contains(agent, "://") {
		u = "http://" + agent
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.Path != "" && p.Path != "/" && p.Path != "/RPC2" {
		return "", fmt.Errorf("agent address %q: want HOST:PORT or https://HOST:PORT", agent)
	}
	return p.Scheme + "://" + p.Host + "/RPC2", nil
}

// LoadCAFile reads PEM certificates to trust for https agents.
func LoadCAFile(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no PEM certificate in it", path)
	}
	return pool, nil
}
