// Package stats keeps the overlay's counters (lock-free on the packet path)
// and serves them as "name value" lines on a signal or a local Unix socket.
package stats

import (
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
)

// Set is an ordered set of named counters.
type Set struct {
	mu     sync.Mutex
	names  []string
	vals   []*atomic.Uint64
	gauges []func() uint64
	gnames []string
}

// Counter registers and returns a counter.
func (s *Set) Counter(name string) *atomic.Uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := new(atomic.Uint64)
	s.names = append(s.names, name)
	s.vals = append(s.vals, v)
	return v
}

// Gauge registers a value computed when the set is printed.
func (s *Set) Gauge(name string, f func() uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gnames = append(s.gnames, name)
	s.gauges = append(s.gauges, f)
}

// Get returns a counter's value by name (for tests), or false.
func (s *Set) Get(name string) (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, n := range s.names {
		if n == name {
			return s.vals[i].Load(), true
		}
	}
	for i, n := range s.gnames {
		if n == name {
			return s.gauges[i](), true
		}
	}
	return 0, false
}

// WriteTo prints every counter as "name value".
func (s *Set) WriteTo(w io.Writer) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for i, name := range s.gnames {
		k, err := fmt.Fprintf(w, "%s %d\n", name, s.gauges[i]())
		n += int64(k)
		if err != nil {
			return n, err
		}
	}
	for i, name := range s.names {
		k, err := fmt.Fprintf(w, "%s %d\n", name, s.vals[i].Load())
		n += int64(k)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Serve answers every connection to the Unix socket at path with the
// counters, then closes it. The socket is mode 0600. Close the listener to
// stop.
func Serve(path string, s *Set) (net.Listener, error) {
	_ = os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	_ = os.Chmod(path, 0o600)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = s.WriteTo(c)
			c.Close()
		}
	}()
	return l, nil
}
