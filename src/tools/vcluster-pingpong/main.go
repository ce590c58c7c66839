// Command vcluster-pingpong measures small-message request-response over
// TCP, the pattern of MPI and batch-system traffic: a client sends a
// message of -size bytes, the server sends it back, and the client sends
// the next one only when the whole answer arrived. One connection, Nagle
// off (Go's default), so every transaction crosses the path twice.
//
//	vcluster-pingpong -s -l 100.64.3.2:5301          (server; one client at a time)
//	vcluster-pingpong -c 100.64.3.2:5301 [-t 5s] [-size 64]
//
// The client prints one line:
//
//	pingpong: size=64 transactions=<n> seconds=<s> tps=<n/s> median_us=<m> p99_us=<m>
//
// It is a benchmark tool (tests/bench-overlay.sh): it lives under src/tools
// and is not shipped in RPMs.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "vcluster-pingpong:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("vcluster-pingpong", flag.ContinueOnError)
	server := fs.Bool("s", false, "serve: answer every message with itself")
	listen := fs.String("l", "", "server: listen `address` (host:port)")
	connect := fs.String("c", "", "client: server `address` (host:port)")
	dur := fs.Duration("t", 5*time.Second, "client: how long to measure")
	size := fs.Int("size", 64, "client: message `bytes`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *server && *listen != "":
		return serve(*listen)
	case !*server && *connect != "":
		if *size < 1 || *size > 1<<20 {
			return fmt.Errorf("-size %d: want 1 to 1048576", *size)
		}
		if *dur <= 0 {
			return fmt.Errorf("-t %v: want a positive duration", *dur)
		}
		return client(*connect, *size, *dur)
	}
	return errors.New("want -s -l ADDRESS or -c ADDRESS")
}

func serve(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	defer l.Close()
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		_, _ = io.Copy(c, c) // echo until the client closes
		c.Close()
	}
}

// client runs transactions for d after a short warm-up and prints the
// line.
func client(addr string, size int, d time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	msg, got := make([]byte, size), make([]byte, size)
	for i := range msg {
		msg[i] = byte(i)
	}
	once := func() error {
		if _, err := c.Write(msg); err != nil {
			return err
		}
		_, err := io.ReadFull(c, got)
		return err
	}
	for i := 0; i < 100; i++ { // warm-up: direct path, caches, the TCP window
		if err := once(); err != nil {
			return err
		}
	}
	lat := make([]time.Duration, 0, 1<<16)
	start := time.Now()
	for time.Since(start) < d {
		t0 := time.Now()
		if err := once(); err != nil {
			return err
		}
		lat = append(lat, time.Since(t0))
	}
	secs := time.Since(start).Seconds()
	slices.Sort(lat)
	fmt.Printf("pingpong: size=%d transactions=%d seconds=%.2f tps=%.0f median_us=%d p99_us=%d\n", size, len(lat), secs,
		float64(len(lat))/secs, lat[len(lat)/2].Microseconds(), lat[len(lat)*99/100].Microseconds())
	return nil
}
