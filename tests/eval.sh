#!/bin/bash
# make eval: the research's evaluation (docs/demo.md): 400 compounds at
# one-way inter-site delays 0, 10, 25, 50, 100 and 200 ms over the overlay,
# the same on the plain underlay (baseline), and a run where a VM container
# dies mid-batch. Each row lands in build/results/eval.csv as soon as it is
# measured (per-task tables and the plot next to it; results to keep go
# under tests/results/ with -csv, see docs/demo.md); -resume (on by default
# here) skips rows already complete for this batch size, so the evaluation
# can run in pieces:
#   make eval EVAL_ARGS="-modes overlay -delays 0,10"
#   make eval EVAL_ARGS="-compounds 40 -delays 0,100"      (reduced)
set -euo pipefail
# shellcheck source=tests/tools.sh
. "$(dirname "$0")/tools.sh"
# shellcheck disable=SC2086 # EVAL_ARGS is a list of flags
exec env VCLUSTER_BIN="$bin" VCLUSTER_ROOT="$root" "$tools/vcluster-demo" -eval -resume ${EVAL_ARGS:-}
