package demo

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// HookName is the program a VM guest runs from the top of a share once it
// is READY (contract A4), as `<hook> <guest> <overlay address>`.
const HookName = ".vcluster-guest-up"

// hookScript stands in for the services a Rocks node starts after its
// install. It runs for the guest's life, polling the share once a second:
//   - once the demo has written `peers` (every guest's name and overlay
//     address), it pings each peer and writes reach/<guest>;
//   - once the demo has written slurm/ready, it starts munged and, on the
//     guest named in slurm/controller (the virtual frontend), slurmctld,
//     elsewhere slurmd, from the host's /usr (the guest's /usr over 9p)
//     with the key and slurm.conf from the share;
//   - whenever the demo asks (ask/<guest>: "<seq> <address>"), it pings
//     the address once and answers (ask/<guest>.ans: "<seq> ok|fail"):
//     the demo's probes of the overlay from inside a VM.
//
// Its output goes to the guest's console.
const hookScript = `#!/bin/sh
# vcluster test bed: run by each VM guest after READY (see src/internal/demo/hook.go).
set -u
name=$1 self=$2
share=$(cd "$(dirname "$0")" && pwd)

# reach PEER ADDR: up to five rounds of 3 pings, one peer at a time (the
# first packets to a peer may go while the edges still learn each other
# through the supernode; TCG guests on a busy machine answer slowly).
reach() {
	for round in 1 2 3 4 5; do
		pinged=$(ping -c 3 -i 0.2 -W 3 "$2" 2>&1) && {
			avg=$(echo "$pinged" | sed -n 's#.* = [0-9.]*/\([0-9.]*\)/.*#\1#p')
			echo "$1 ok ${avg:-0}"
			return
		}
		sleep 2
	done
	echo "$1 fail"
}

# reach_all pings every peer and writes reach/<name>.
reach_all() {
	out=$(mktemp)
	while read -r peer addr; do
		[ "$peer" = "$name" ] || reach "$peer" "$addr"
	done <"$share/peers" >"$out"
	cp "$out" "$share/reach/$name.tmp" && mv "$share/reach/$name.tmp" "$share/reach/$name"
	echo "reach: $(grep -c ' ok' "$out") of $(wc -l <"$out") peers answer"
	rm -f "$out"
}

# answer one probe the demo asked for, if any.
answer() {
	q=$share/ask/$name
	[ -e "$q" ] || return 0
	read -r seq addr <"$q" || return 0
	rm -f "$q"
	r=fail
	ping -c 1 -W 1 "$addr" >/dev/null 2>&1 && r=ok
	echo "$seq $r" >"$q.tmp" && mv "$q.tmp" "$q.ans"
}

# slurm starts munged, then slurmctld (the controller) or slurmd.
slurm() {
	grep -q '^root:' /etc/passwd 2>/dev/null || echo 'root:x:0:0:root:/root:/bin/sh' >>/etc/passwd
	grep -q '^root:' /etc/group 2>/dev/null || echo 'root:x:0:' >>/etc/group
	mkdir -p /etc/munge /run/munge /var/lib/munge /var/log /etc/alternatives
	# Debian's Slurm daemons (and the slurmstepd slurmd runs) are
	# /etc/alternatives links, and /etc is the guest's own.
	for d in slurmctld slurmd slurmstepd; do
		[ -e "/etc/alternatives/$d" ] || ln -s "/usr/sbin/$d-wlm" "/etc/alternatives/$d"
	done
	cp "$share/slurm/munge.key" /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
	munged --force --socket=/run/munge/munge.sock --key-file=/etc/munge/munge.key \
		--pid-file=/run/munge/munged.pid --log-file=/var/log/munged.log --seed-file=/var/lib/munge/seed ||
		{ echo "munged failed: $(tail -n 1 /var/log/munged.log)"; return; }
	if [ "$(cat "$share/slurm/controller" 2>/dev/null)" = "$name" ]; then
		mkdir -p /var/spool/slurmctld
		slurmctld -f "$share/slurm/slurm.conf" && echo "slurmctld started on $name" ||
			echo "slurmctld failed: $(tail -n 1 "$share/slurm-logs/slurmctld.log")"
		return
	fi
	cgroups
	mkdir -p "/var/spool/slurmd/$name"
	slurmd -N "$name" -f "$share/slurm/slurm.conf" && echo "slurmd started as node $name" ||
		echo "slurmd failed: $(tail -n 1 "$share/slurm-logs/slurmd-$name.log")"
}

# slurmd 22.05 refuses to start without cgroups; v1 hierarchies as on the
# host (its cgroup/v2 plugin would want systemd over D-Bus).
cgroups() {
	mountpoint -q /sys/fs/cgroup && return
	mkdir -p /sys/fs/cgroup
	mount -t tmpfs -o mode=0755 cgroup /sys/fs/cgroup
	for c in cpuset cpu cpuacct memory devices freezer pids none,name=systemd; do
		d=${c#none,name=}
		mkdir -p "/sys/fs/cgroup/$d" && mount -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$d"
	done
}

reached= started=
while :; do
	if [ -z "$reached" ] && [ -e "$share/peers" ]; then
		reach_all
		reached=1
	fi
	if [ -z "$started" ] && [ -e "$share/slurm/ready" ]; then
		slurm
		started=1
	fi
	answer
	sleep 1
done
`

// peerLines is the peers file: each guest and its overlay address.
func peerLines(gs []*Guest) []byte {
	var b strings.Builder
	for _, g := range gs {
		fmt.Fprintf(&b, "%s %s\n", g.Name, g.Overlay)
	}
	return []byte(b.String())
}

// PeerResult is one guest's ping of one peer, as the hook wrote it.
type PeerResult struct {
	Peer string
	OK   bool
	Avg  time.Duration
}

// parseReach reads a reach/<guest> file: "<peer> ok <avg ms>" or
// "<peer> fail" per line. Anything else is an error, so a broken hook
// never counts as reachability.
func parseReach(data string) ([]PeerResult, error) {
	var rs []PeerResult
	for i, l := range strings.Split(strings.TrimRight(data, "\n"), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) == 3 && f[1] == "ok":
			ms, err := strconv.ParseFloat(f[2], 64)
			if err != nil || ms < 0 || ms > 1e6 {
				return nil, fmt.Errorf("line %d: bad time %q", i+1, f[2])
			}
			rs = append(rs, PeerResult{Peer: f[0], OK: true, Avg: time.Duration(ms * float64(time.Millisecond))})
		case len(f) == 2 && f[1] == "fail":
			rs = append(rs, PeerResult{Peer: f[0]})
		case len(f) == 0 && len(rs) == 0 && i == 0:
			// empty file: no peer
		default:
			return nil, fmt.Errorf("line %d: %q", i+1, l)
		}
	}
	return rs, nil
}

// reachFromVMs counts every unordered pair of guests as reachable when
// every VM end of it reports the other answering: both directions for two
// VMs (make demo: every guest is one), the VM's ping for a VM and a
// guest that is not one; a pair with no VM end never counts. A VM whose
// results are missing fails all its pairs.
func reachFromVMs(gs []*Guest, results map[string][]PeerResult) *Reach {
	got := map[[2]string]PeerResult{}
	for from, rs := range results {
		for _, r := range rs {
			got[[2]string{from, r.Peer}] = r
		}
	}
	res := &Reach{}
	var rtts []time.Duration
	for i := range gs {
		for j := i + 1; j < len(gs); j++ {
			a, b := gs[i], gs[j]
			res.Pairs++
			ok, n := true, 0
			for _, d := range [][2]*Guest{{a, b}, {b, a}} {
				if !d[0].VM {
					continue
				}
				n++
				r, seen := got[[2]string{d[0].Name, d[1].Name}]
				if !seen || !r.OK {
					ok = false
				} else {
					rtts = append(rtts, r.Avg)
				}
			}
			if ok && n > 0 {
				res.OK++
			} else {
				res.Failed = append(res.Failed, a.Name+" -> "+b.Name)
			}
		}
	}
	if len(rtts) > 0 {
		sort.Slice(rtts, func(i, j int) bool { return rtts[i] < rtts[j] })
		res.Median = rtts[len(rtts)/2]
	}
	return res
}

// readReach reads every VM's reach file; missing ones are left out.
func (c *Cluster) readReach(gs []*Guest) (map[string][]PeerResult, error) {
	out := map[string][]PeerResult{}
	for _, g := range gs {
		if !g.VM {
			continue
		}
		data, err := os.ReadFile(filepath.Join(c.Export, "reach", g.Name))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		rs, err := parseReach(string(data))
		if err != nil {
			return nil, fmt.Errorf("reach/%s: %v", g.Name, err)
		}
		out[g.Name] = rs
	}
	return out, nil
}

// ConsoleState is what a guest's serial log says so far.
type ConsoleState struct {
	Ready   bool
	Overlay netip.Addr // from READY
	Uptime  float64    // seconds since the guest's kernel started, from READY
	LAN     string     // "<addr>/<len>" from the net line
	Failed  string     // the FAILED line, if any
	Panic   string     // the kernel's last panic message, if any (it then reboots)
}

// parseConsole reads the "vcluster-guest: " lines of a serial log
// (contract A4) and the kernel's panic line. The last READY or failure
// wins (a rebooted guest appends); a panic is kept, READY or not.
func parseConsole(log string) ConsoleState {
	var st ConsoleState
	for _, l := range strings.Split(log, "\n") {
		if j := strings.Index(l, "Kernel panic - "); j >= 0 {
			// panic=10: the guest reboots and boots again.
			st.Ready, st.Panic = false, strings.TrimSpace(l[j+len("Kernel panic - "):])
			continue
		}
		i := strings.Index(l, "vcluster-guest: ")
		if i < 0 {
			continue
		}
		f := strings.Fields(strings.TrimRight(l[i+len("vcluster-guest: "):], "\r"))
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "net":
			if len(f) >= 3 {
				st.LAN = f[2]
			}
		case "READY":
			kv := keyValues(f[1:])
			a, err := netip.ParseAddr(kv["overlay"])
			if err != nil {
				continue
			}
			up, _ := strconv.ParseFloat(kv["uptime"], 64)
			st = ConsoleState{Ready: true, Overlay: a, Uptime: up, LAN: st.LAN, Panic: st.Panic}
		case "FAILED":
			st.Ready, st.Failed = false, strings.Join(f, " ")
		}
	}
	return st
}

func keyValues(f []string) map[string]string {
	kv := map[string]string{}
	for _, w := range f {
		if k, v, ok := strings.Cut(w, "="); ok {
			kv[k] = v
		}
	}
	return kv
}
