#!/bin/bash
# fetch.sh -- download (once) and extract the Debian 12 packages the
# Xen-in-QEMU test needs: the Xen hypervisor and toolstack, the libxen
# runtime libraries, Debian's 6.1 kernel (Dom0 and guest) and busybox.
#
# Nothing is installed on the host: every package is fetched with
# `apt-get download` and unpacked with `dpkg -x` into the cache:
#   $VD_XEN_CACHE/debs/    the .deb files (kept: later runs download nothing)
#   $VD_XEN_CACHE/stage/   all of them extracted into one tree
# VD_XEN_CACHE defaults to /var/cache/vdispld-xen-qemu.
#
# Usage: tests/xen-qemu/fetch.sh        (prints progress; exit 0 when ready)
set -euo pipefail

CACHE=${VD_XEN_CACHE:-/var/cache/vdispld-xen-qemu}
DEBS=$CACHE/debs
STAGE=$CACHE/stage
MANIFEST=$CACHE/manifest   # the .deb files of a complete fetch, one a line
mkdir -p "$DEBS" "$STAGE"

say() { echo "fetch: $*"; }

# One fetch at a time per cache.
exec 9>"$CACHE/.lock"
flock 9

# Everything there from an earlier run: nothing to ask the network.
complete() {
    [ -s "$MANIFEST" ] || return 1
    while read -r f; do
        [ -s "$DEBS/$f" ] && [ -e "$STAGE/.x.$f" ] || return 1
    done <"$MANIFEST"
}
# systemd-udevd and its rules for Dom0 (libinput needs udev's ID_INPUT_*),
# from the udev package of the host's systemd version (libsystemd-shared is
# the host's), into $CACHE/udev-VERSION: the same directory the VM input test
# (tests/vm/vm_input_test.py) fills, so either one fetches it once.
fetch_udev() {
    local ver dest tmp
    ver=$(dpkg-query -W -f='${Version}' systemd)
    dest=$CACHE/udev-$ver
    [ -x "$dest/bin/udevadm" ] && return 0
    say "downloading udev=$ver"
    tmp=$(mktemp -d)
    chmod 777 "$tmp"   # apt-get download writes as _apt
    (cd "$tmp" && apt-get download -q "udev=$ver" >/dev/null)
    rm -rf "$dest.part"
    dpkg-deb -x "$tmp"/udev_*.deb "$dest.part"
    mv "$dest.part" "$dest"
    rm -rf "$tmp"
}

if complete; then
    fetch_udev
    say "cache $CACHE complete ($(wc -l <"$MANIFEST") packages), nothing to download"
    exit 0
fi

updated=0
apt_update() {
    if [ $updated = 0 ]; then
        say "apt-get update"
        apt-get update -qq
        updated=1
    fi
}

# The kernel of the day: linux-image-amd64's dependency (needs package lists).
kernel_pkg() {
    apt-cache depends linux-image-amd64 2>/dev/null |
        awk '/Depends: linux-image-[0-9]/{print $2; exit}'
}
KPKG=$(ls "$DEBS"/linux-image-6.1.*-amd64_*.deb 2>/dev/null | head -1 || true)
if [ -n "$KPKG" ]; then
    KPKG=$(basename "$KPKG"); KPKG=${KPKG%%_*}
else
    KPKG=$(kernel_pkg || true)
    if [ -z "$KPKG" ]; then apt_update; KPKG=$(kernel_pkg); fi
fi
[ -n "$KPKG" ] || { say "cannot find the bookworm kernel package"; exit 1; }

# The Xen packages at the version of the host's libxen-dev (vdispld is built
# against it), if the mirror still has that version.
XENVER=$(dpkg-query -W -f='${Version}' libxen-dev 2>/dev/null || true)
XEN_PKGS="xen-hypervisor-4.17-amd64 xen-utils-4.17 xen-utils-common xenstore-utils
          libxenmisc4.17 libxenstore4 libxencall1 libxenforeignmemory1
          libxendevicemodel1 libxenevtchn1 libxengnttab1 libxentoolcore1
          libxenhypfs1 libxentoollog1"
# what xl / libxenlight need beyond the libxen* (checked with ldd)
OTHER_PKGS="$KPKG busybox-static libyajl2"

# download PKG [VERSION]: skip if a .deb of PKG (at VERSION) is there already
download() {
    local p=$1 v=${2:-} pat
    if [ -n "$v" ]; then pat="${p}_${v//:/%3a}_*.deb"; else pat="${p}_*.deb"; fi
    # shellcheck disable=SC2086
    if ls "$DEBS"/$pat >/dev/null 2>&1; then return 0; fi
    local spec=$p
    [ -n "$v" ] && spec="$p=$v"
    say "downloading $spec"
    if ! (cd "$DEBS" && apt-get download -q "$spec" >/dev/null 2>&1); then
        apt_update
        if ! (cd "$DEBS" && apt-get download -q "$spec" >/dev/null); then
            if [ -n "$v" ]; then
                say "$spec not on the mirror; taking the current $p"
                download "$p"
                return
            fi
            say "cannot download $p"; exit 1
        fi
    fi
}

for p in $XEN_PKGS; do download "$p" "$XENVER"; done
for p in $OTHER_PKGS; do download "$p"; done

# The manifest: the newest .deb of each package (by name; one version each).
: >"$MANIFEST.new"
for p in $XEN_PKGS $OTHER_PKGS; do
    f=$(cd "$DEBS" && ls -1 "${p}"_*.deb | sort -V | tail -1)
    echo "$f" >>"$MANIFEST.new"
done

for f in $(cat "$MANIFEST.new"); do
    if [ ! -e "$STAGE/.x.$f" ]; then
        say "extracting $f"
        dpkg -x "$DEBS/$f" "$STAGE"
        touch "$STAGE/.x.$f"
    fi
done
mv "$MANIFEST.new" "$MANIFEST"
fetch_udev

if [ -n "$XENVER" ] && ! grep -q "^libxenstore4_${XENVER//:/%3a}_" "$MANIFEST"; then
    say "warning: Xen packages differ from the host's libxen-dev $XENVER"
fi
say "ready: $(wc -l <"$MANIFEST") packages in $CACHE ($KPKG)"
