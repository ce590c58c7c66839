#!/bin/sh
# test-fence-agent.sh SITE HOST: vclusterd's fence_command in the fencing
# tests (src/internal/fencetest), standing in for a real fence agent such as
# Debian's fence_ipmilan --action=off. It "powers off" the container: every
# running domain on the container's private libvirtd is destroyed (except
# the test driver's own "test" domain), and it exits 0 only when none runs.
#
# $VCLUSTER_FENCE_MAP/<HOST> holds the path of that libvirtd's socket. If
# $VCLUSTER_FENCE_MAP/fail-<HOST> exists, this call removes it and fails,
# as an unreachable BMC would. Every call is logged to $VCLUSTER_FENCE_MAP/log.
set -u
host=$2
map=${VCLUSTER_FENCE_MAP:?}
echo "$(date +%s.%N) $1 $host" >>"$map/log"
if [ -e "$map/fail-$host" ]; then
	rm -f "$map/fail-$host"
	echo "BMC of $host not answering" >&2
	exit 1
fi
sock=$(cat "$map/$host") || exit 1
uri="test+unix:///default?socket=$sock"
for d in $(virsh -q -c "$uri" list --name --state-running); do
	[ "$d" = test ] && continue
	virsh -q -c "$uri" destroy "$d" >/dev/null || exit 1
done
left=$(virsh -q -c "$uri" list --name --state-running | grep -vx test | grep -c .)
[ "$left" = 0 ] || { echo "$left domains still running on $host" >&2; exit 1; }
echo "$host: powered off"
