#!/bin/bash
# build-vkms.sh -- build (once) vkms.ko for the x86 VM tests' kernel.
#
# Debian 12's amd64 kernel has CONFIG_DRM_VKMS unset, so there is no vkms.ko.
# This builds it out of tree from Debian's own linux-source-6.1 against
# linux-headers-KVER, both of the SAME Debian version as the kernel image
# that tests/xen-qemu/fetch.sh put into the cache (vermagic and symbol
# versions then match; the build uses the host's gcc-12, Debian's compiler
# for that kernel). The module is unsigned: the kernel only taints itself,
# CONFIG_MODULE_SIG_FORCE is not set and the QEMU boot is no Secure Boot.
#
# Nothing is installed on the host: the packages are fetched with
# `apt-get download` and unpacked with `dpkg -x` into the cache:
#   $CACHE/vkms/debs/            the .deb files (linux-source-6.1, the
#                                -common headers and linux-kbuild-6.1 are
#                                taken from the arm64 harness' cache,
#                                $CACHE/arm64/debs, when it has them at the
#                                same version)
#   $CACHE/vkms/KVER/kbuild/     the headers and kbuild tools, extracted
#   $CACHE/vkms/KVER/src/        drivers/gpu/drm/vkms only, from the tarball
#                                (both removed after a successful build)
#   $CACHE/vkms/KVER/vkms.ko     the result (debug info stripped)
#   $CACHE/vkms/KVER/stamp       "KVER DEBIAN-VERSION SCRIPT-HASH": built once
# CACHE is VD_XEN_CACHE (default /var/cache/vdispld-xen-qemu). Needs make,
# gcc (gcc-12), kmod (modinfo), xz-utils, libelf1 and libssl3 (the kbuild
# tools): tests/install-deps.sh.
#
# Usage: tests/vm/build-vkms.sh    (prints the module's path last; exit 0)
set -euo pipefail

CACHE=${VD_XEN_CACHE:-/var/cache/vdispld-xen-qemu}
say() { echo "build-vkms: $*" >&2; }

KIMG=$(ls "$CACHE"/debs/linux-image-6.1.*-amd64_*.deb 2>/dev/null | sort -V | tail -1 || true)
[ -n "$KIMG" ] || { say "no cached kernel image: run tests/xen-qemu/fetch.sh first"; exit 1; }
KVER=$(basename "$KIMG"); KVER=${KVER#linux-image-}; KVER=${KVER%%_*}   # 6.1.0-56-amd64
VER=$(dpkg-deb -f "$KIMG" Version)                                      # 6.1.192-2
ABI=${KVER%-amd64}                                                      # 6.1.0-56
KMM=$(echo "$KVER" | cut -d. -f1,2)                                     # 6.1
[ -e "$CACHE/stage/boot/vmlinuz-$KVER" ] || { say "stage has no vmlinuz-$KVER"; exit 1; }

D=$CACHE/vkms/debs
W=$CACHE/vkms/$KVER
OUT=$W/vkms.ko
mkdir -p "$D" "$W"
exec 9>"$CACHE/vkms/.lock"
flock 9

stamp="$KVER $VER $(md5sum "$0" | cut -c1-8)"
if [ -s "$OUT" ] && [ "$(cat "$W/stamp" 2>/dev/null)" = "$stamp" ]; then
    say "up to date ($OUT)"
    echo "$OUT"
    exit 0
fi

t0=$(date +%s)
# deb PKG ARCH: the path of PKG_VER_ARCH.deb, downloaded only if neither this
# cache nor the arm64 harness' has it
deb() {
    local f="$1_${VER}_$2.deb" tmp
    for dir in "$D" "$CACHE/arm64/debs"; do
        [ -s "$dir/$f" ] && { echo "$dir/$f"; return 0; }
    done
    say "downloading $1=$VER"
    tmp=$(mktemp -d)
    chmod 777 "$tmp"   # apt-get download writes as _apt
    if ! (cd "$tmp" && apt-get download -q "$1=$VER" >/dev/null 2>&1); then
        apt-get update -qq
        (cd "$tmp" && apt-get download -q "$1=$VER" >/dev/null) || {
            say "cannot download $1=$VER: the mirror no longer has the cached kernel's"
            say "version; remove $CACHE/debs/linux-image-* and run tests/xen-qemu/fetch.sh"
            rm -rf "$tmp"; exit 1; }
    fi
    mv "$tmp/$f" "$D/$f"
    rm -rf "$tmp"
    echo "$D/$f"
}
HDR=$(deb "linux-headers-$KVER" amd64)
COMMON=$(deb "linux-headers-$ABI-common" all)
KBUILD=$(deb "linux-kbuild-$KMM" amd64)
SRCDEB=$(deb "linux-source-$KMM" all)
for f in "$HDR" "$COMMON" "$KBUILD" "$SRCDEB"; do
    say "$(basename "$f"): $(du -k "$f" | cut -f1) KiB"
done

rm -rf "$W/kbuild" "$W/src" "$W/build"
mkdir -p "$W/kbuild" "$W/src" "$W/build"
for f in "$HDR" "$COMMON" "$KBUILD"; do dpkg -x "$f" "$W/kbuild"; done
KDIR=$W/kbuild/usr/src/linux-headers-$KVER
# the headers' top Makefile includes the -common tree by absolute path
sed -i "s|^include /usr/src/|include $W/kbuild/usr/src/|" "$KDIR/Makefile"
# the kbuild tools are reached through /usr/lib/linux-kbuild-6.1 symlinks
# in the headers tree (scripts, tools): point those at the staged copy
find "$KDIR" "$W/kbuild/usr/src/linux-headers-$ABI-common" -maxdepth 2 -type l |
while read -r l; do
    t=$(readlink "$l")
    case $t in /usr/*) ln -sfn "$W/kbuild$t" "$l" ;; esac
done
# only drivers/gpu/drm/vkms from the ~140 MB source tarball
say "extracting drivers/gpu/drm/vkms from linux-source-$KMM"
dpkg --fsys-tarfile "$SRCDEB" | tar -xO "./usr/src/linux-source-$KMM.tar.xz" |
    tar -xJ -C "$W/src" "linux-source-$KMM/drivers/gpu/drm/vkms"
cp "$W/src/linux-source-$KMM/drivers/gpu/drm/vkms/"* "$W/build/"
say "building vkms.ko against linux-headers-$KVER ($VER)"
nice -n 10 make -s -C "$KDIR" M="$W/build" CONFIG_DRM_VKMS=m -j2 modules \
    >"$W/build.log" 2>&1 || { tail -30 "$W/build.log" >&2; exit 1; }
strip --strip-debug -o "$W/vkms-new.ko" "$W/build/vkms.ko"
vm=$(modinfo -F vermagic "$W/vkms-new.ko")
case $vm in
"$KVER "*) ;;
*) say "vermagic '$vm' is not the kernel's $KVER"; exit 1 ;;
esac
mv "$W/vkms-new.ko" "$OUT"
echo "$stamp" >"$W/stamp"
# the extracted headers (~90 MB) serve a rebuild no better than the .debs
rm -rf "$W/kbuild" "$W/src" "$W/build"
say "built in $(($(date +%s) - t0)) s: vermagic $vm; depends $(modinfo -F depends "$OUT")"
echo "$OUT"
