#!/bin/bash
# make demo: vcluster end to end on this machine (docs/demo.md).
# The Makefile has built build/bin (VCLUSTER_BIN) and installed the Debian
# packages; this builds the test tools (src/tools/*) into build/tools and
# runs vcluster-demo, which cleans up after itself, also on Ctrl-C. The
# report goes to build/results/, out of the checkout: a run's report is
# committed (under tests/results/) only when someone chooses to keep it.
# Every guest is a QEMU VM (-guests vm; TCG here, so few compounds: the
# whole run stays within 10 minutes).
# Extra flags: make demo DEMO_ARGS="-compounds 40 -delays 0,100 -keep"
#              make demo DEMO_ARGS="-guests ns -compounds 20 -delays 0,50"
set -euo pipefail
# shellcheck source=tests/tools.sh
. "$(dirname "$0")/tools.sh"
# shellcheck disable=SC2086 # DEMO_ARGS is a list of flags
exec env VCLUSTER_BIN="$bin" VCLUSTER_ROOT="$root" "$tools/vcluster-demo" \
	-guests vm -compounds 4 -delays 0 -report "$root/build/results/demo-report.txt" ${DEMO_ARGS:-}
