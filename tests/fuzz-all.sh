#!/bin/bash
# Runs every `func FuzzXxx` in the repository for a while each (default 20s).
# `go test` already replays each target's committed seed corpus; this script
# searches for new crashers. Usage: tests/fuzz-all.sh [DURATION]
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-20s}
status=0
while IFS=: read -r file _ line; do
	fn=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/' <<< "$line")
	pkg=./$(dirname "$file")
	echo "fuzz $pkg $fn ($t)"
	go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$t" "$pkg" || status=1
done < <(grep -rn --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(' src)
exit $status
