package demo

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// dialIn opens a TCP connection from inside network namespace ns (a name
// under /run/netns): the socket is made on an OS thread switched into ns
// and keeps working after the thread switches back.
func dialIn(ctx context.Context, ns, network, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, err}
			return
		}
		defer orig.Close()
		target, err := os.Open("/run/netns/" + ns)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, err}
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, fmt.Errorf("setns %s: %v", ns, err)}
			return
		}
		d := net.Dialer{Timeout: 5 * time.Second}
		c, err := d.DialContext(ctx, network, addr)
		// A thread that cannot go back stays locked, so the runtime
		// retires it instead of reusing it in the wrong namespace.
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
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
