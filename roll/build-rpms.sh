#!/bin/bash
# Builds the vcluster roll's RPMs into build/rpms with rpmbuild (`make rpms`).
# Inputs: version.mk, rpms/*.spec, the binaries in $VCLUSTER_BIN (default
# build/bin, from `make build`), roll/, nodes/, graphs/, src/rocks-commands.
# Outputs go under $VCLUSTER_OUT (default build): rpms/, rpmbuild/.
# A missing input fails the build with one line naming it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

mk() { sed -n "s/^$1[[:space:]]*=[[:space:]]*//p" version.mk | head -1; }
ROLLNAME=$(mk ROLLNAME); VERSION=$(mk VERSION); RELEASE=$(mk RELEASE)
COLOR=$(mk COLOR); ARCH=$(mk ARCH)
[ -n "$ROLLNAME" ] && [ -n "$VERSION" ] && [ -n "$RELEASE" ] && [ -n "$ARCH" ] || {
	echo "build-rpms: version.mk lacks ROLLNAME, VERSION, RELEASE or ARCH" >&2; exit 1; }

command -v rpmbuild >/dev/null || { echo "build-rpms: rpmbuild not installed (Debian package rpm)" >&2; exit 1; }

BIN=${VCLUSTER_BIN:-$ROOT/build/bin}
BUILD=${VCLUSTER_OUT:-$ROOT/build}
OUT=$BUILD/rpms
TOP=$BUILD/rpmbuild
rm -rf "$TOP" "$OUT"
mkdir -p "$TOP"/{BUILD,BUILDROOT,SPECS,SOURCES,SRPMS,tmp} "$OUT"

# Everything the specs install, so that a missing piece is named here.
missing=0
need() { for f in "$@"; do [ -e "$f" ] || { echo "build-rpms: missing $f" >&2; missing=1; }; done; }
need "$BIN"/rocks-vcluster "$BIN"/vcluster-agent "$BIN"/vcluster-edge \
	"$BIN"/vcluster-supernode "$BIN"/vclusterd roll/etc/agent.toml roll/etc/vclusterd.toml \
	src/rocks-commands/rocks/commands graphs/default/vcluster.xml \
	nodes/vcluster-db.xml nodes/vcluster-server.xml nodes/vcluster-container.xml nodes/vcluster-guest.xml
for d in vcluster-agent vcluster-edge vcluster-supernode vclusterd; do
	need roll/init.d/$d roll/systemd/$d.service roll/sysconfig/$d
done
need roll/init.d/vcluster-agent-fence roll/systemd/vcluster-agent-fence.service
[ "$missing" -eq 0 ] || { echo "build-rpms: run \`make build\` first, or finish the parts named above" >&2; exit 1; }

# The roll XML, as Rocks' Rolls.mk writes it.
ROLLXML=$TOP/roll-$ROLLNAME.xml
sed -e "s|@ROLLNAME@|$ROLLNAME|g" -e "s|@VERSION@|$VERSION|g" -e "s|@RELEASE@|$RELEASE|g" \
	-e "s|@ARCH@|$ARCH|g" -e "s|@COLOR@|$COLOR|g" \
	-e "s|@TIME@|$(date +%H:%M:%S)|g" -e "s|@DATE@|$(date +%b/%d/%Y)|g" -e "s|@TZ@|$(date +%Z)|g" \
	-e "s|@USER@|${USER:-$(id -un)}|g" -e "s|@HOST@|$(hostname)|g" \
	roll/roll-$ROLLNAME.xml.in > "$ROLLXML"

# The command shims: every file under rocks/commands except __init__.py in
# directories Rocks' base owns (a directory is ours when it, or one of its
# parents below rocks/commands, is named vcluster*).
PYSITE=/opt/rocks/lib/python2.6/site-packages
SHIMS=$TOP/shims.files
: > "$SHIMS"
(
	cd src/rocks-commands
	find rocks/commands -type d | sort | while read -r d; do
		case "/${d#rocks/commands}/" in */vcluster*/*) echo "%dir $PYSITE/$d" ;; esac
	done
	find rocks/commands -type f \( -name '*.py' \) | sort | while read -r f; do
		d=$(dirname "$f")
		if [ "$(basename "$f")" = __init__.py ]; then
			case "/${d#rocks/commands}/" in */vcluster*/*) ;; *) continue ;; esac
		fi
		echo "$PYSITE/$f"
	done
) > "$SHIMS"
# Rocks sec_attr plugins (src/rocks-commands/sec_attr/*.py): root-only
# 0400 in /opt/rocks/var/plugins/sec_attr, as base installs its own; base
# owns the folder.
for f in src/rocks-commands/sec_attr/*.py; do
	if [ -e "$f" ]; then echo "%attr(0400,root,root) /opt/rocks/var/plugins/sec_attr/$(basename "$f")"; fi
done >> "$SHIMS"
grep -q '\.py$' "$SHIMS" || { echo "build-rpms: no command shims under src/rocks-commands/rocks/commands" >&2; exit 1; }

# gzip payloads and v4 headers: CentOS 6's rpm 4.8 reads neither zstd nor v6.
for spec in rpms/*.spec; do
	echo "rpmbuild $(basename "$spec" .spec)"
	rpmbuild -bb --quiet \
		--define "_topdir $TOP" \
		--define "_tmppath $TOP/tmp" \
		--define "_rpmdir $OUT" \
		--define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
		--define "_binary_payload w9.gzdio" \
		--define "_source_payload w9.gzdio" \
		--define "_buildhost $(hostname)" \
		--define "vcluster_version $VERSION" \
		--define "vcluster_release $RELEASE" \
		--define "vcluster_root $ROOT" \
		--define "vcluster_bin $BIN" \
		--define "vcluster_shims $SHIMS" \
		--define "vcluster_rollxml $ROLLXML" \
		"$spec" >"$TOP/tmp/$(basename "$spec").log" 2>&1 || {
		tail -25 "$TOP/tmp/$(basename "$spec").log" >&2
		echo "build-rpms: rpmbuild $spec failed" >&2; exit 1; }
done
ls -1 "$OUT"
