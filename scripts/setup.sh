#!/usr/bin/env bash
# scripts/setup.sh — install the OS packages netlab needs on Debian or Ubuntu. Idempotent: installs
# only what dpkg says is missing, and does not even run apt-get when nothing is.
#
#   scripts/setup.sh          runtime: iproute2 iptables ipset ipvsadm conntrack nftables tcpdump nfacct kmod
#   scripts/setup.sh --test   also what scripts/vmtest needs: qemu-system-x86, busybox-static and a
#                             distribution kernel to boot the guest with (Debian: linux-image-amd64,
#                             Ubuntu: linux-image-generic), and graphviz (the graph tests run dot)
#
# Exit status: 0 when everything is installed (now or already), 1 on failure (not root, not a
# Debian/Ubuntu system, apt-get failed).
set -euo pipefail

say() { echo "setup: $*"; }
die() { echo "setup: error: $*" >&2; exit 1; }

test_pkgs=0
for a in "$@"; do
	case $a in
	--test) test_pkgs=1 ;;
	-h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
	*) die "unknown argument $a (usage: scripts/setup.sh [--test])" ;;
	esac
done

ID='' ID_LIKE=''
# shellcheck disable=SC1091
[[ -r /etc/os-release ]] && . /etc/os-release
case " $ID $ID_LIKE " in
*" ubuntu "*) distro=ubuntu ;;
*" debian "*) distro=debian ;;
*) distro= ;;
esac

pkgs=(iproute2 iptables ipset ipvsadm conntrack nftables tcpdump nfacct kmod)
if ((test_pkgs)); then
	arch=$(dpkg --print-architecture 2>/dev/null || uname -m)
	[[ $arch == amd64 || $arch == x86_64 ]] || die "--test: scripts/vmtest boots an x86_64 guest; this machine is $arch"
	pkgs+=(qemu-system-x86 busybox-static graphviz)
	if [[ $distro == ubuntu ]]; then
		pkgs+=(linux-image-generic)
	else
		pkgs+=(linux-image-amd64)
	fi
fi

command -v dpkg-query >/dev/null || die "not a Debian/Ubuntu system (no dpkg-query); install by hand: ${pkgs[*]}"

missing=()
for p in "${pkgs[@]}"; do
	if [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null) != ii* ]]; then
		missing+=("$p")
	fi
done
if ((${#missing[@]} == 0)); then
	say "all installed: ${pkgs[*]}"
	exit 0
fi

say "missing: ${missing[*]}"
[[ $(id -u) -eq 0 ]] || die "must run as root to install ${missing[*]} (try: sudo $0 $*)"
command -v apt-get >/dev/null || die "no apt-get; install by hand: ${missing[*]}"
[[ -n $distro ]] || say "warning: /etc/os-release names neither Debian nor Ubuntu (ID=$ID); trying apt-get anyway"

export DEBIAN_FRONTEND=noninteractive
say "apt-get update"
apt-get update -q || die "apt-get update failed"
say "installing: ${missing[*]}"
apt-get install -y -q --no-install-recommends "${missing[@]}" || die "apt-get install ${missing[*]} failed"

still=()
for p in "${missing[@]}"; do
	[[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null) == ii* ]] || still+=("$p")
done
((${#still[@]} == 0)) || die "still not installed: ${still[*]}"
say "installed: ${missing[*]}"
