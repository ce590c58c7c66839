#!/bin/bash
# Overlay benchmark (`make bench-overlay`): iperf3 TCP throughput, ping
# RTT and 64-byte TCP request-response transactions per second
# (src/tools/vcluster-pingpong) between two network namespaces joined by a
# veth pair, for
#   (a) the raw veth link, (b) Debian's n2n v1 (edge + supernode),
#   (c) vcluster-edge in v1-compatible mode, (d) vcluster-edge native,
#   (e) wireguard-go (userspace TUN, configured with Debian's wg),
#   (f) Debian's nebula (static host map, no lighthouse).
# The supernode runs next to the first edge. The LAST line is
#   overlay: native/n2n_v1=<r> compat/n2n_v1=<r> native/wggo=<r> native/veth=<r> rtt_native_us=<m> rtt_n2n_v1_us=<m> rtt_veth_us=<m>
# A peer that cannot be built or installed is reported on one line and
# counted as NA, never as a number.
# Needs root, iproute2, iperf3, Debian's n2n; VCLUSTER_BIN = built binaries.
# Optional peers: wireguard-go (built here through the Go module proxy into
# build/tools) with wg (wireguard-tools), nebula and nebula-cert (nebula).
set -euo pipefail
BIN=${VCLUSTER_BIN:?set VCLUSTER_BIN to the folder of built binaries}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WGGO_VERSION=${WGGO_VERSION:-v0.0.0-20260522210424-ecfc5a8d5446} # newest on the proxy, 2026-12-03
WGGO=$ROOT/build/tools/wireguard
SECS=${BENCH_SECS:-5}
PP_SECS=${BENCH_PINGPONG_SECS:-3}
PP=$ROOT/build/tools/vcluster-pingpong
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

if ! (cd "$ROOT" && go build -o "$PP" ./src/tools/vcluster-pingpong) >"$tmp/pp-build.log" 2>&1; then
	echo "bench-overlay: cannot build src/tools/vcluster-pingpong: $(tail -n1 "$tmp/pp-build.log")" >&2; exit 1
fi

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
measure() { # measure NAME SERVER_ADDR -> prints "gbps rtt_us tps"
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
	# Small messages: 64-byte TCP ping-pong, one connection, transactions/s.
	bg "$B" "$tmp/pp-s-$name.log" "$PP" -s -l "$addr:5301"
	sleep 0.3
	local pp tps
	pp=$(ip netns exec "$A" "$PP" -c "$addr:5301" -t "${PP_SECS}s" -size 64) || pp="failed"
	echo "$name: $pp" >&2
	tps=$(sed -n 's/.* tps=\([0-9]*\).*/\1/p' <<<"$pp")
	# CPU the two edges spent per MB carried: a figure less sensitive than
	# throughput to other load on the machine (0 for the raw veth).
	cpu_per_mb[$name]=$(python3 -c "import sys; c,g,s=map(float,sys.argv[1:]); print('%.1f' % (c/(g*1000/8*s)) if g > 0 else 0)" "$((cpu1 - cpu0))" "$gbps" "$SECS")
	if [ "$name" = compat ] || [ "$name" = native ]; then # our edges: show drops
		kill -USR1 "${edge_pids[@]}" 2>/dev/null || true
		sleep 0.3
		grep -h '^drop_.* [1-9]' "$tmp"/edge-"$mode"-*.log >&2 || true
	fi
	echo "$name: ${gbps} Gbit/s, ${retr} TCP retransmits, median RTT ${rtt} us, ${tps} transactions/s, edges' CPU ${cpu_per_mb[$name]} ms/MB" >&2
	stop_all
	echo "$gbps $rtt ${tps:-NA}"
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
measure veth 198.18.0.2 > "$tmp/r-veth"; read -r veth veth_rtt veth_tps < "$tmp/r-veth"

bg "$A" "$tmp/sn-deb.log" supernode -l 7700
bg "$A" "$tmp/edge-deb-a.log" env N2N_KEY="$KEY" edge -d n2nA -a 100.64.1.1 -s 255.255.255.0 -c bench -l 198.18.0.1:7700 -m 02:5c:00:00:11:01
bg "$B" "$tmp/edge-deb-b.log" env N2N_KEY="$KEY" edge -d n2nB -a 100.64.1.2 -s 255.255.255.0 -c bench -l 198.18.0.1:7700 -m 02:5c:00:00:11:02
measure n2n_v1 100.64.1.2 > "$tmp/r-n2n"; read -r n2n n2n_rtt n2n_tps < "$tmp/r-n2n"

for mode in v1 native; do
	net=2; [ "$mode" = native ] && net=3
	edge_conf "$tmp/a-$mode.toml" "100.64.$net.1" "02:5c:00:00:$net$net:01" "$mode" "vc${mode:0:1}A"
	edge_conf "$tmp/b-$mode.toml" "100.64.$net.2" "02:5c:00:00:$net$net:02" "$mode" "vc${mode:0:1}B"
	bg "$A" "$tmp/sn-$mode.log" "$BIN/vcluster-supernode" -l 7654
	bg "$A" "$tmp/edge-$mode-a.log" "$BIN/vcluster-edge" -config "$tmp/a-$mode.toml"
	bg "$B" "$tmp/edge-$mode-b.log" "$BIN/vcluster-edge" -config "$tmp/b-$mode.toml"
	if [ "$mode" = v1 ]; then
		measure compat "100.64.$net.2" > "$tmp/r-compat"; read -r compat compat_rtt compat_tps < "$tmp/r-compat"
	else
		measure native "100.64.$net.2" > "$tmp/r-native"; read -r native native_rtt native_tps < "$tmp/r-native"
	fi
done

# wireguard-go: one userspace daemon per namespace, keys made by wg genkey
# in the private temp dir (never printed), configured over its UAPI socket.
wggo=NA wggo_rtt=NA wggo_tps=NA
if ! command -v wg >/dev/null; then
	echo "wireguard-go: not measured: wg not installed (wireguard-tools; make deps)" >&2
elif [ ! -x "$WGGO" ] && ! GOBIN=$ROOT/build/tools go install "golang.zx2c4.com/wireguard@$WGGO_VERSION" >"$tmp/wggo-build.log" 2>&1; then
	echo "wireguard-go: not measured: go install golang.zx2c4.com/wireguard@$WGGO_VERSION failed: $(tail -n1 "$tmp/wggo-build.log")" >&2
else
	(umask 077; for s in a b; do wg genkey > "$tmp/wg-$s.key"; wg pubkey < "$tmp/wg-$s.key" > "$tmp/wg-$s.pub"; done)
	wg_up() { # wg_up NS DEV SIDE OTHER ADDR PEER_ADDR PEER_UNDERLAY
		bg "$1" "$tmp/edge-wggo-$3.log" "$WGGO" -f "$2"
		for _ in $(seq 1 50); do [ -S "/var/run/wireguard/$2.sock" ] && break; sleep 0.1; done
		ip netns exec "$1" wg set "$2" listen-port 51820 private-key "$tmp/wg-$3.key" \
			peer "$(cat "$tmp/wg-$4.pub")" endpoint "$7:51820" allowed-ips "$6/32"
		ip -n "$1" addr add "$5/24" dev "$2"
		ip -n "$1" link set "$2" up
	}
	wg_up "$A" "wgA$id" a b 100.64.4.1 100.64.4.2 198.18.0.2
	wg_up "$B" "wgB$id" b a 100.64.4.2 100.64.4.1 198.18.0.1
	measure wggo 100.64.4.2 > "$tmp/r-wggo"; read -r wggo wggo_rtt wggo_tps < "$tmp/r-wggo"
fi

# nebula: a CA and two host certs made here; each host knows the other's
# underlay address from static_host_map, so no lighthouse is needed.
nebula=NA nebula_rtt=NA nebula_tps=NA
if ! command -v nebula >/dev/null || ! command -v nebula-cert >/dev/null; then
	echo "nebula: not measured: nebula not installed (make deps)" >&2
else
	(umask 077; cd "$tmp"
		nebula-cert ca -name bench -out-crt neb-ca.crt -out-key neb-ca.key
		nebula-cert sign -ca-crt neb-ca.crt -ca-key neb-ca.key -name a -ip 100.64.5.1/24 -out-crt neb-a.crt -out-key neb-a.key
		nebula-cert sign -ca-crt neb-ca.crt -ca-key neb-ca.key -name b -ip 100.64.5.2/24 -out-crt neb-b.crt -out-key neb-b.key)
	neb_conf() { # neb_conf SIDE DEV LISTEN PEER_OVERLAY PEER_UNDERLAY
		cat > "$tmp/neb-$1.yml" <<EOC
pki: {ca: "$tmp/neb-ca.crt", cert: "$tmp/neb-$1.crt", key: "$tmp/neb-$1.key"}
static_host_map: {"$4": ["$5:4242"]}
lighthouse: {am_lighthouse: false, hosts: []}
listen: {host: "$3", port: 4242}
punchy: {punch: false}
tun: {dev: "$2", mtu: 1300}
logging: {level: info}
firewall:
  outbound: [{port: any, proto: any, host: any}]
  inbound: [{port: any, proto: any, host: any}]
EOC
	}
	neb_conf a "nbA$id" 198.18.0.1 100.64.5.2 198.18.0.2
	neb_conf b "nbB$id" 198.18.0.2 100.64.5.1 198.18.0.1
	bg "$A" "$tmp/edge-nebula-a.log" nebula -config "$tmp/neb-a.yml"
	bg "$B" "$tmp/edge-nebula-b.log" nebula -config "$tmp/neb-b.yml"
	measure nebula 100.64.5.2 > "$tmp/r-nebula"; read -r nebula nebula_rtt nebula_tps < "$tmp/r-nebula"
fi

ok=1
ratio() { # ratio A B: A/B, or NA when either is not a measured number
	case "$1$2" in *NA*) echo NA; return ;; esac
	python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print('%.2f' % (a/b if b > 0 else 0))" "$1" "$2"
}
echo "throughput Gbit/s: veth=$veth n2n_v1=$n2n compat=$compat native=$native wggo=$wggo nebula=$nebula; median RTT us: veth=$veth_rtt n2n_v1=$n2n_rtt compat=$compat_rtt native=$native_rtt wggo=$wggo_rtt nebula=$nebula_rtt"
echo "edges' CPU ms per MB carried: n2n_v1=${cpu_per_mb[n2n_v1]} compat=${cpu_per_mb[compat]} native=${cpu_per_mb[native]} wggo=${cpu_per_mb[wggo]:-NA} nebula=${cpu_per_mb[nebula]:-NA}"
echo "64-byte TCP request-response, transactions/s: veth=$veth_tps n2n_v1=$n2n_tps compat=$compat_tps native=$native_tps wggo=$wggo_tps nebula=$nebula_tps"
echo "wireguard-go: ${wggo} Gbit/s, median RTT ${wggo_rtt} us"
echo "nebula: ${nebula} Gbit/s, median RTT ${nebula_rtt} us"
echo "overlay: native/n2n_v1=$(ratio "$native" "$n2n") compat/n2n_v1=$(ratio "$compat" "$n2n") native/wggo=$(ratio "$native" "$wggo") native/veth=$(ratio "$native" "$veth") rtt_native_us=$native_rtt rtt_n2n_v1_us=$n2n_rtt rtt_veth_us=$veth_rtt"
