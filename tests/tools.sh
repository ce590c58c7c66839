# Sourced by tests/demo.sh and tests/eval.sh: sets root (the repository),
# bin (our built commands, VCLUSTER_BIN) and tools, builds the test tools
# (src/tools/*) into build/tools and changes to the repository.
root=${VCLUSTER_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
bin=${VCLUSTER_BIN:-$root/build/bin}
tools=$root/build/tools
mkdir -p "$tools"
cd "$root"
for d in src/tools/*/; do
	n=$(basename "$d")
	echo "go build $n"
	CGO_ENABLED=0 ${GO:-go} build -trimpath -o "$tools/$n" "./src/tools/$n"
done
