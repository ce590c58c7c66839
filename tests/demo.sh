#!/bin/bash
# make demo: vcluster end to end on this machine (docs/demo.md).
# The Makefile has built build/bin (VCLUSTER_BIN) and installed the Debian
# packages; this builds the test tools (src/tools/*) into build/tools and
# runs vcluster-demo, which cleans up after itself, also on Ctrl-C.
# Extra flags: make demo DEMO_ARGS="-compounds 40 -delays 0,100 -keep"
set -euo pipefail
root=${VCLUSTER_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${VCLUSTER_BIN:-$root/build/bin}
tools=$root/build/tools
mkdir -p "$tools"
cd "$root"
for d in src/tools/*/; do
	n=$(basename "$d")
	echo "go build $n"
	CGO_ENABLED=0 ${GO:-go} build -trimpath -o "$tools/$n" "./src/tools/$n"
done
# shellcheck disable=SC2086 # DEMO_ARGS is a list of flags
exec env VCLUSTER_BIN="$bin" VCLUSTER_ROOT="$root" "$tools/vcluster-demo" \
	-compounds 20 -delays 0,50 -report "$root/tests/results/demo-report.txt" ${DEMO_ARGS:-}
