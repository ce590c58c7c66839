package demo

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// VMCost is what the booted VM guests cost the machine while idle.
type VMCost struct {
	N       int
	CPU     float64 // all guests' QEMU processes together, in % of one core
	RSSMed  int     // MiB per guest, median
	RSSMax  int     // MiB per guest, max
	Sampled time.Duration
}

func (v VMCost) String() string {
	return fmt.Sprintf("%d idle VMs over %.0f s: CPU %.1f %% of one core together (%.2f %% each), RSS per guest median %d MiB, max %d MiB",
		v.N, v.Sampled.Seconds(), v.CPU, v.CPU/float64(max(v.N, 1)), v.RSSMed, v.RSSMax)
}

// qemuPIDs are the QEMU processes of the VM guests, from their daemons.
func (c *Cluster) qemuPIDs() map[string]int {
	pids := map[string]int{}
	for _, g := range c.VMs() {
		if ct := c.Container(g.Site, g.Container); ct != nil && ct.Libvirt != nil {
			if pid := ct.Libvirt.GuestPID(g.Name); pid > 0 {
				pids[g.Name] = pid
			}
		}
	}
	return pids
}

// MeasureIdle samples the VM guests' QEMU processes for d: CPU time used
// (utime+stime from /proc/PID/stat) and resident memory (VmRSS).
func (c *Cluster) MeasureIdle(ctx context.Context, d time.Duration) (VMCost, error) {
	pids := c.qemuPIDs()
	if len(pids) == 0 {
		return VMCost{}, fmt.Errorf("no QEMU process found")
	}
	before := map[string]float64{}
	for n, p := range pids {
		t, err := cpuSeconds(p)
		if err != nil {
			return VMCost{}, err
		}
		before[n] = t
	}
	start := time.Now()
	select {
	case <-ctx.Done():
		return VMCost{}, ctx.Err()
	case <-time.After(d):
	}
	el := time.Since(start)
	v := VMCost{N: len(pids), Sampled: el}
	var rss []int
	for n, p := range pids {
		t, err := cpuSeconds(p)
		if err != nil {
			return VMCost{}, err
		}
		v.CPU += 100 * (t - before[n]) / el.Seconds()
		kb, err := rssKiB(p)
		if err != nil {
			return VMCost{}, err
		}
		rss = append(rss, kb/1024)
	}
	sort.Ints(rss)
	v.RSSMed, v.RSSMax = rss[(len(rss)-1)/2], rss[len(rss)-1]
	return v, nil
}

// clockTick is USER_HZ, 100 on every Linux this runs on.
const clockTick = 100

// cpuSeconds is a process's user+system CPU time.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime and stime (fields 14 and 15) of a
// /proc/PID/stat line; the command name in parentheses may hold spaces.
func parseStatCPU(stat string) (float64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("bad stat line")
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state): utime is field 14, stime 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("short stat line")
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	s, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad stat times %q %q", f[11], f[12])
	}
	return float64(u+s) / clockTick, nil
}

// rssKiB is VmRSS from /proc/PID/status.
func rssKiB(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) >= 1 {
				return strconv.Atoi(f[0])
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS for %d", pid)
}
