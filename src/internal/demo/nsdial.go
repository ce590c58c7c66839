package demo

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/testenv/netns"
)

// dialIn opens a TCP connection from inside network namespace ns (a name
// under /run/netns): the socket is made on an OS thread switched into ns
// (netns.Do) and keeps working after the thread switches back.
func dialIn(ctx context.Context, ns, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := netns.Do(ns, func() error {
		d := net.Dialer{Timeout: 5 * time.Second}
		var err error
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

var (
	httpMu  sync.Mutex
	httpFor = map[string]*http.Client{}
)

// httpIn is an HTTP client whose connections start in namespace ns.
func httpIn(ns string) *http.Client {
	httpMu.Lock()
	defer httpMu.Unlock()
	if h := httpFor[ns]; h != nil {
		return h
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dialIn(ctx, ns, network, addr)
		},
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     30 * time.Second,
	}
	h := &http.Client{Transport: tr}
	httpFor[ns] = h
	return h
}

// frontendHTTP is the home frontend's HTTP client.
func (c *Cluster) frontendHTTP() *http.Client {
	return httpIn(c.Bed.Site(c.Sites0()).Frontend.NS)
}
