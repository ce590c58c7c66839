package demo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// askWait bounds one probe through a VM's hook: it polls once a second,
// but may be busy a while (its all-pairs round, starting Slurm).
const askWait = 30 * time.Second

// pingFrom pings addr once from inside guest g: a VM through its hook
// (ask/<guest> on the share), a namespace guest from its namespace.
func (c *Cluster) pingFrom(ctx context.Context, g *Guest, addr string) error {
	if !g.VM {
		out, err := g.Host.Run("ping", "-n", "-c", "1", "-W", "1", addr)
		if err != nil {
			return fmt.Errorf("%v: %s", err, lastLines(out, 2))
		}
		return nil
	}
	seq := c.askSeq.Add(1)
	q := filepath.Join(c.Export, "ask", g.Name)
	_ = os.Remove(q + ".ans")
	if err := c.writeShared(q, []byte(fmt.Sprintf("%d %s\n", seq, addr)), 0o440); err != nil {
		return err
	}
	deadline := time.Now().Add(askWait)
	for {
		if data, err := os.ReadFile(q + ".ans"); err == nil {
			if ok, ours := parseAnswer(string(data), seq); ours {
				if !ok {
					return fmt.Errorf("%s: no answer from %s", g.Name, addr)
				}
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s's hook did not answer the probe within %v", g.Name, askWait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// parseAnswer reads ask/<guest>.ans, "<seq> ok|fail": ours is false for
// another probe's answer or anything unreadable.
func parseAnswer(data string, seq int64) (ok, ours bool) {
	f := strings.Fields(data)
	if len(f) != 2 || (f[1] != "ok" && f[1] != "fail") {
		return false, false
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || n != seq {
		return false, false
	}
	return f[1] == "ok", true
}

// WaitPing repeats pingFrom until addr answers guest g or timeout passes.
func (c *Cluster) WaitPing(ctx context.Context, g *Guest, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := c.pingFrom(ctx, g, addr)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}
