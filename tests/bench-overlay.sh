#!/bin/bash
# Overlay benchmark (`make bench-overlay`): iperf3 TCP throughput and ping
# RTT between two network namespaces joined by a veth pair, for
#   (a) the raw veth link, (b) Debian's n2n v1 (edge + supernode),
#   (c) vcluster-edge in v1-compatible mode, (d) vcluster-edge native.
# The supernode runs next to the first edge. The LAST line is
#   overlay: native/n2n_v1=<ratio> compat/n2n_v1=<ratio> native/veth=<ratio> rtt_native_us=<median>
# Needs root, iproute2, iperf3, Debian's n2n; VCLUSTER_BIN = built binaries.
set -euo pipefail
BIN=${VCLUSTER_BIN:?set VCLUSTER_BIN to the folder of built binaries}
SECS=${BENCH_SECS:-5}
id=$$
A=vbA$id B=vbB$id VA=vbx$id VB=vby$id
tmp=$(mktemp -d)
pids=()

cleanup() {
	if [ "${ok:-0}" != 1 ]; then
		for f in "$tmp"/*.log; do echo "== $f"; tail -n 15 "$f"; done >&2
	fi
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	ip netns delete "$A" 2>/dev/null || true
	ip netns delete "$B" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

for p in ip iperf3 edge supernode ping python3; do
	command -v "$p" >/dev/null || { echo "bench-overlay: $p not installed (make deps)" >&2; exit 1; }
done

ip netns add "$A"; ip netns add "$B"
ip link add "$VA" netns "$A" type veth peer name "$VB" netns "$B"
ip -n "$A" link set lo up; ip -n "$B" link set lo up
ip -n "$A" addr add 198.18.0.1/24 dev "$VA"; ip -n "$B" addr add 198.18.0.2/24 dev "$VB"
ip -n "$A" link set "$VA" up; ip -n "$B" link set "$VB" up

KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$KEY" > "$tmp/key"; chmod 600 "$tmp/key"

edge_pids=()
bg() { # bg NS LOG CMD... : start in background, remember the PID
	local ns=$1 log=$2; shift 2
	ip netns exec "$ns" "$@" >"$log" 2>&1 &
	pids+=($!)
	case "$log" in *edge-*) edge_pids+=($!) ;; esac
}
edge_cpu_ms() { # CPU time used so far by the edges of this measurement
	local t=0 p
	for p in "${edge_pids[@]}"; do
		[ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print ($14+$15)*1000/'"$(getconf CLK_TCK)"'}' "/proc/$p/stat")))
	done
	echo "$t"
}
stop_all() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=() edge_pids=()
}
wait_ping() { # wait_ping NS ADDR
	for _ in $(seq 1 100); do
		ip netns exec "$1" ping -c1 -W1 "$2" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	echo "bench-overlay: $2 unreachable from $1" >&2; return 1
}
measure() { # measure NAME SERVER_ADDR -> prints "gbps rtt_us"
	local name=$1 addr=$2
	wait_ping "$A" "$addr"
	bg "$B" "$tmp/iperf-s-$name.log" iperf3 -s -p 5299 -B "$addr"
	sleep 0.5
	ip netns exec "$A" ping -c 5 -i 0.2 -q "$addr" >/dev/null 2>&1 || true # warm up the path
	local gbps retr rtt cpu0 cpu1
	cpu0=$(edge_cpu_ms)
	read -r gbps retr < <(ip netns exec "$A" iperf3 -c "$addr" -p 5299 -t "$SECS" -J | python3 -c '
import json,sys; d=json.load(sys.stdin); print("%.3f %s" % (d["end"]["sum_received"]["bits_per_second"]/1e9, d["end"]["sum_sent"].get("retransmits")))')
	rtt=$(ip netns exec "$A" ping -c 30 -i 0.05 "$addr" | python3 -c '
import re,sys,statistics; v=[float(m.group(1)) for m in re.finditer(r"time=([0-9.]+)", sys.stdin.read())]
print("%d" % round(statistics.median(v)*1000))')
	cpu1=$(edge_cpu_ms)
	# CPU the two edges spent per MB carried: a figure less sensitive than
	# throughput to other load on the machine (0 for the raw veth).
	cpu_per_mb[$name]=$(python3 -c "import sys; c,g,s=map(float,sys.argv[1:]); print('%.1f' % (c/(g*1000/8*s)) if g > 0 else 0)" "$((cpu1 - cpu0))" "$gbps" "$SECS")
	if [ "$name" = compat ] || [ "$name" = native ]; then # our edges: show drops
		kill -USR1 "${edge_pids[@]}" 2>/dev/null || true
		sleep 0.3
		grep -h '^drop_.* [1-9]' "$tmp"/edge-"$mode"-*.log >&2 || true
	fi
	echo "$name: ${gbps} Gbit/s, ${retr} TCP retransmits, median RTT ${rtt} us, edges' CPU ${cpu_per_mb[$name]} ms/MB" >&2
	stop_all
	echo "$gbps $rtt"
}

edge_conf() { # edge_conf FILE ADDR MAC PROTOCOL DEV
	cat > "$1" <<EOC
device     = "$5"
address    = "$2/24"
mac        = "$3"
community  = "bench"
key_file   = "$tmp/key"
supernodes = ["198.18.0.1:7654"]
protocol   = "$4"
mtu        = 1400
EOC
}

declare -A cpu_per_mb
measure veth 198.18.0.2 > "$tmp/r-veth"; read -r veth veth_rtt < "$tmp/r-veth"

bg "$A" "$tmp/sn-deb.log" supernode -l 7700
bg "$A" "$tmp/edge-deb-a.log" env N2N_KEY="$KEY" edge -d n2nA -a 100.64.1.1 -s 255.255.255.0 -c bench -l 198.18.0.1:7700 -m 02:5c:00:00:11:01
bg "$B" "$tmp/edge-deb-b.log" env N2N_KEY="$KEY" edge -d n2nB -a 100.64.1.2 -s 255.255.255.0 -c bench -l 198.18.0.1:7700 -m 02:5c:00:00:11:02
measure n2n_v1 100.64.1.2 > "$tmp/r-n2n"; read -r n2n n2n_rtt < "$tmp/r-n2n"

for mode in v1 native; do
	net=2; [ "$mode" = native ] && net=3
	edge_conf "$tmp/a-$mode.toml" "100.64.$net.1" "02:5c:00:00:$net$net:01" "$mode" "vc${mode:0:1}A"
	edge_conf "$tmp/b-$mode.toml" "100.64.$net.2" "02:5c:00:00:$net$net:02" "$mode" "vc${mode:0:1}B"
	bg "$A" "$tmp/sn-$mode.log" "$BIN/vcluster-supernode" -l 7654
	bg "$A" "$tmp/edge-$mode-a.log" "$BIN/vcluster-edge" -config "$tmp/a-$mode.toml"
	bg "$B" "$tmp/edge-$mode-b.log" "$BIN/vcluster-edge" -config "$tmp/b-$mode.toml"
	if [ "$mode" = v1 ]; then
		measure compat "100.64.$net.2" > "$tmp/r-compat"; read -r compat compat_rtt < "$tmp/r-compat"
	else
		measure native "100.64.$net.2" > "$tmp/r-native"; read -r native native_rtt < "$tmp/r-native"
	fi
done

ok=1
ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print('%.2f' % (a/b if b > 0 else 0))" "$1" "$2"; }
echo "throughput Gbit/s: veth=$veth n2n_v1=$n2n compat=$compat native=$native; median RTT us: veth=$veth_rtt n2n_v1=$n2n_rtt compat=$compat_rtt native=$native_rtt"
echo "edges' CPU ms per MB carried: n2n_v1=${cpu_per_mb[n2n_v1]} compat=${cpu_per_mb[compat]} native=${cpu_per_mb[native]}"
echo "overlay: native/n2n_v1=$(ratio "$native" "$n2n") compat/n2n_v1=$(ratio "$compat" "$n2n") native/veth=$(ratio "$native" "$veth") rtt_native_us=$native_rtt"
