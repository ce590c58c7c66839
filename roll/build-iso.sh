#!/bin/bash
# Assembles the vcluster roll ISO (`make roll`) from the RPMs that
# roll/build-rpms.sh built. As Rocks' `rocks create roll` does, it stages
# disk1/ and makes disk1/ the root of the ISO, the layout `rocks add roll`
# reads (<roll>/<version>/<arch> at the top of the disc):
#
#   disk1/.discinfo
#   disk1/<roll>/<version>/<arch>/roll-<roll>.xml
#   disk1/<roll>/<version>/<arch>/RedHat/RPMS/*.rpm
#
# Outputs under $VCLUSTER_OUT (default build): disk1/ and
# <roll>-<version>-<release>.<arch>.disk1.iso (made with xorriso).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

mk() { sed -n "s/^$1[[:space:]]*=[[:space:]]*//p" version.mk | head -1; }
ROLLNAME=$(mk ROLLNAME); VERSION=$(mk VERSION); RELEASE=$(mk RELEASE); ARCH=$(mk ARCH)

command -v xorriso >/dev/null || { echo "build-iso: xorriso not installed (Debian package xorriso)" >&2; exit 1; }

BUILD=${VCLUSTER_OUT:-$ROOT/build}
RPMS=$BUILD/rpms
ROLLXML=$BUILD/rpmbuild/roll-$ROLLNAME.xml
ISO=$BUILD/$ROLLNAME-$VERSION-$RELEASE.$ARCH.disk1.iso

want="rocks-command-vcluster roll-vcluster-kickstart vcluster-agent vcluster-edge vcluster-supernode vclusterd"
for p in $want; do
	ls "$RPMS"/$p-"$VERSION"-"$RELEASE".*.rpm >/dev/null 2>&1 || {
		echo "build-iso: missing RPM $p in $RPMS; run \`make rpms\`" >&2; exit 1; }
done
[ -f "$ROLLXML" ] || { echo "build-iso: missing $ROLLXML; run \`make rpms\`" >&2; exit 1; }

STAGE=$BUILD
rm -rf "$STAGE/disk1" "$ISO"
DIR=$STAGE/disk1/$ROLLNAME/$VERSION/$ARCH
mkdir -p "$DIR/RedHat/RPMS"
for p in $want; do cp "$RPMS"/$p-"$VERSION"-"$RELEASE".*.rpm "$DIR/RedHat/RPMS/"; done
cp "$ROLLXML" "$DIR/roll-$ROLLNAME.xml"
# .discinfo as Rocks stamps it: timestamp, roll name, arch, disk number.
printf '%s\n%s\n%s\n%s\n' "$(date +%s.%N)" "$ROLLNAME" "$ARCH" 1 > "$STAGE/disk1/.discinfo"

xorriso -as mkisofs -quiet -r -J -V "$ROLLNAME $VERSION" -o "$ISO" "$STAGE/disk1" 2>"$BUILD/xorriso.log" || {
	cat "$BUILD/xorriso.log" >&2; echo "build-iso: xorriso failed" >&2; exit 1; }
echo "$ISO"
