#!/bin/bash
# Installs every Debian package that `make test`, `make demo` and `make eval`
# use, on a fresh Debian 12 machine as root (gcc and libc6-dev: cgo for the
# race detector). Quick no-op when all is present.
set -euo pipefail

# command-or-file  package
NEEDS='
/usr/sbin/mariadbd            mariadb-server
/usr/bin/mariadb              mariadb-client
/usr/sbin/libvirtd            libvirt-daemon
/usr/bin/virsh                libvirt-clients
/usr/bin/virt-xml-validate    libvirt-clients
/usr/bin/xmllint              libxml2-utils
/usr/sbin/edge                n2n
/usr/bin/supernode            n2n
/usr/bin/iperf3               iperf3
/usr/bin/wg                   wireguard-tools
/usr/bin/nebula               nebula
/usr/bin/nebula-cert          nebula
/usr/bin/rpmbuild             rpm
/usr/bin/xorriso              xorriso
/usr/sbin/ip                  iproute2
/usr/bin/ping                 iputils-ping
/usr/sbin/ethtool             ethtool
/usr/bin/pgrep                procps
/usr/bin/vina                 autodock-vina
/usr/bin/obabel               openbabel
/usr/lib/python3/dist-packages/rdkit python3-rdkit
/usr/share/RDKit/Data/NCI/first_5K.smi rdkit-data
/usr/sbin/slurmctld           slurmctld
/usr/sbin/slurmd              slurmd
/usr/bin/sbatch               slurm-client
/usr/sbin/munged              munge
/usr/lib/python3/dist-packages/matplotlib python3-matplotlib
/usr/share/autodock/Tests/1pgp_rec.pdbqt autodock-test
/usr/bin/python3              python3
/usr/bin/gcc                  gcc
/usr/bin/qemu-system-x86_64   qemu-system-x86
/usr/bin/busybox              busybox-static
/usr/bin/apt-get              apt
/usr/bin/dpkg-deb             dpkg
/usr/bin/cpio                 cpio
/usr/bin/curl                 curl
/usr/include/stdio.h          libc6-dev
'

missing=()
while read -r path pkg; do
	[ -z "$path" ] && continue
	[ -e "$path" ] || missing+=("$pkg")
done <<< "$NEEDS"

if [ "${#missing[@]}" -gt 0 ]; then
	# shellcheck disable=SC2207
	uniq=($(printf '%s\n' "${missing[@]}" | sort -u))
	echo "install-deps: apt-get install ${uniq[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${uniq[@]}" >/tmp/vcluster-apt.log 2>&1 || {
		tail -30 /tmp/vcluster-apt.log; echo "install-deps: apt-get failed" >&2; exit 1; }
fi

# Debian's libvirtd refuses to start until these exist.
getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
getent passwd libvirt-qemu >/dev/null || useradd -r -g libvirt-qemu -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu

# The TUN/TAP device node the overlay tests use, with Debian's mode 0666
# (udev's default; containers without udev leave 0600): a session
# libvirtd run as nobody opens it to attach its guests' TAPs.
if [ ! -c /dev/net/tun ]; then
	mkdir -p /dev/net && mknod /dev/net/tun c 10 200
fi
chmod 0666 /dev/net/tun
exit 0
