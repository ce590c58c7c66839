#!/bin/bash
# Builds the vcluster guest image: build/guest/vmlinuz and build/guest/initrd.img
# (docs/demo.md, "Guest image"). Everything comes from Debian packages fetched
# with `apt-get download` into build/guest/debs and unpacked with dpkg-deb;
# nothing is installed on the host. The initramfs holds busybox, the few
# kernel modules a virtio guest needs and tests/guest (its /init); the rest of
# the guest's userland is the host's /usr over virtio-9p.
#
# Cached: build/guest/stamp records the inputs (package versions, the hash of
# this script and of tests/guest); when they match, a run is a quick no-op.
# Concurrent runs (make, guestimage.Paths in parallel tests) serialise on a
# lock and the second finds the image built.
#
#   tests/guest-image.sh [OUTDIR]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build/guest}
# linux-image-amd64, not -cloud-amd64: the cloud kernel is built without
# 9p (CONFIG_NET_9P is not set), and the guest's /usr comes over 9p.
kernel_meta=linux-image-amd64
# Loaded in this order with their dependencies first; built-in ones
# (af_packet, the 8250 serial console, devtmpfs...) need nothing.
modules="virtio_pci virtio_net virtio_blk virtio_console 9pnet_virtio 9p overlay tun button evdev"

say() { echo "guest-image: $*"; }
die() { echo "guest-image: $*" >&2; exit 1; }

mkdir -p "$out/debs"
exec 9> "$out/.lock"
flock 9

# candidate PACKAGE: the version apt would download.
candidate() { apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p'; }

kernel_pkg=$(apt-cache depends "$kernel_meta" 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n 1)
if [ -z "$kernel_pkg" ]; then
	say "apt-get update (no package lists)"
	apt-get update -qq
	kernel_pkg=$(apt-cache depends "$kernel_meta" | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n 1)
fi
[ -n "$kernel_pkg" ] || die "$kernel_meta names no kernel package"
kernel_ver=$(candidate "$kernel_pkg")
bb_ver=$(candidate busybox-static)
[ -n "$kernel_ver" ] && [ "$kernel_ver" != "(none)" ] || die "no candidate for $kernel_pkg"
[ -n "$bb_ver" ] && [ "$bb_ver" != "(none)" ] || die "no candidate for busybox-static"

stamp=$(
	echo "$kernel_pkg=$kernel_ver busybox-static=$bb_ver"
	echo "modules: $modules"
	sha256sum "$0" | cut -d ' ' -f 1
	(cd "$root/tests/guest" && find . -type f | LC_ALL=C sort | xargs sha256sum)
)
if [ -f "$out/stamp" ] && [ -f "$out/vmlinuz" ] && [ -f "$out/initrd.img" ] &&
	[ "$(cat "$out/stamp")" = "$stamp" ]; then
	say "up to date ($kernel_pkg $kernel_ver, busybox-static $bb_ver)"
	exit 0
fi
rm -f "$out/stamp"

# deb PACKAGE VERSION: the downloaded file, fetched unless cached.
deb() {
	local f
	f=$(ls "$out/debs/$1_"*.deb 2>/dev/null | grep -F "_$(echo "$2" | sed 's/:/%3a/')_" | head -n 1 || true)
	if [ -z "$f" ]; then
		say "apt-get download $1=$2" >&2
		(cd "$out/debs" && apt-get download -q -o APT::Sandbox::User=root "$1=$2" >/dev/null) ||
			die "apt-get download $1=$2 failed"
		f=$(ls "$out/debs/$1_"*.deb | grep -F "_$(echo "$2" | sed 's/:/%3a/')_" | head -n 1)
	fi
	echo "$f"
}
kdeb=$(deb "$kernel_pkg" "$kernel_ver")
bdeb=$(deb busybox-static "$bb_ver")
# Older versions of the packages are of no more use.
for f in "$out"/debs/*.deb; do
	[ "$f" = "$kdeb" ] || [ "$f" = "$bdeb" ] || rm -f "$f"
done

work=$(mktemp -d "$out/work.XXXXXX")
trap 'rm -rf "$work"' EXIT
say "unpack $(basename "$kdeb")"
mkdir -p "$work/k" "$work/bb" "$work/root"
dpkg-deb --fsys-tarfile "$kdeb" | tar -x -C "$work/k" --wildcards './boot/vmlinuz-*' './lib/modules/*'
dpkg-deb -x "$bdeb" "$work/bb"
kver=$(ls "$work/k/lib/modules")
kmods=$work/k/lib/modules/$kver

# The initramfs: busybox and the init under /guest (kept out of /bin and
# /lib, which become links into the overlay /usr as on Debian's merged /usr).
r=$work/root
mkdir -p "$r/guest/bin" "$r/guest/modules" "$r"/{dev,proc,sys,usr,etc,tmp,run,root,var/log,var/tmp}
ln -s ../run "$r/var/run"
for l in bin sbin lib lib64; do ln -s "usr/$l" "$r/$l"; done
cp "$work/bb/bin/busybox" "$r/guest/bin/busybox"
ln -s busybox "$r/guest/bin/sh"
cp -R "$root/tests/guest/." "$r/guest/"
mv "$r/guest/init" "$r/init"
printf 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' > "$r/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$r/etc/group"
chmod 0700 "$r/root"

# add MODULE: its dependencies (modinfo's depends=), then itself, into
# guest/modules (uncompressed: busybox insmod reads plain .ko) and its order.
declare -A added
add() {
	local m=$1 f d
	[ -n "${added[$m]:-}" ] && return 0
	added[$m]=1
	if grep -q "/${m//_/[-_]}\.ko" "$kmods/modules.builtin"; then return 0; fi
	f=$(find "$kmods/kernel" -name "$m.ko*" -o -name "${m//_/-}.ko*" | head -n 1)
	[ -n "$f" ] || die "module $m is not in $kernel_pkg"
	case "$f" in
	*.xz) xz -dc "$f" > "$work/$m.ko" ;;
	*.zst) zstd -qdc "$f" > "$work/$m.ko" ;;
	*) cp "$f" "$work/$m.ko" ;;
	esac
	for d in $(tr '\0' '\n' < "$work/$m.ko" | sed -n 's/^depends=//p' | tr ',' ' '); do
		add "${d//-/_}"
	done
	mv "$work/$m.ko" "$r/guest/modules/$m.ko"
	echo "$m" >> "$r/guest/modules/order"
}
for m in $modules; do add "$m"; done
say "modules: $(tr '\n' ' ' < "$r/guest/modules/order")"

say "cpio + gzip"
# Same inputs, same bytes: fixed times, owners and order, gzip without a name.
find "$r" -exec touch -h -d @0 {} +
(cd "$r" && find . -print0 | LC_ALL=C sort -z |
	cpio --quiet -o -0 -H newc -R 0:0 --reproducible | gzip -9n) > "$out/initrd.img.tmp"
cp "$work/k/boot/vmlinuz-$kver" "$out/vmlinuz.tmp"
mv "$out/vmlinuz.tmp" "$out/vmlinuz"
mv "$out/initrd.img.tmp" "$out/initrd.img"
echo "$stamp" > "$out/stamp"
say "built $out/vmlinuz ($kver, $(du -k "$out/vmlinuz" | cut -f 1) KiB) and initrd.img ($(du -k "$out/initrd.img" | cut -f 1) KiB)"
