#!/bin/bash
# fetch.sh -- download (once) and extract the Debian 12 arm64 packages the
# arm64 Xen-in-QEMU test needs. Nothing arm64 is installed on the host: the
# packages are fetched with `apt-get download PKG:arm64` (the arm64
# architecture must be known to dpkg: `dpkg --add-architecture arm64`, done
# here if missing) and unpacked with `dpkg -x` into the cache:
#
#   $CACHE/debs/           the .deb files (kept: later runs download nothing)
#   $CACHE/stage/root/     arm64 userspace: Xen tools + libraries, busybox,
#                          glibc, vdispld's runtime and -dev libraries (the
#                          sysroot vdispld is cross-built against)
#   $CACHE/stage/kernel/   the arm64 kernel (Image) and its modules
#   $CACHE/stage/xen/      the Xen 4.17 arm64 hypervisor
#   $CACHE/stage/kbuild/   linux-headers (arm64 + common), linux-kbuild (amd64
#                          host tools) and linux-source-6.1, for the
#                          out-of-tree modules (build-modules.sh)
#   $CACHE/stage/KVER      the kernel ABI name (6.1.0-NN-arm64)
# CACHE is $VD_XEN_CACHE/arm64 (VD_XEN_CACHE defaults to /var/cache/vdispld-xen-qemu).
set -euo pipefail

CACHE=${VD_XEN_CACHE:-/var/cache/vdispld-xen-qemu}/arm64
DEBS=$CACHE/debs
STAGE=$CACHE/stage
MANIFEST=$CACHE/manifest
mkdir -p "$DEBS" "$STAGE"
say() { echo "fetch-arm64: $*"; }

exec 9>"$CACHE/.lock"
flock 9

# Bumped whenever the package lists below change: an older cache is
# completed (only the missing packages are downloaded) and re-extracted.
STAMP=2
if [ -s "$MANIFEST" ] && [ -s "$STAGE/KVER" ] && [ "$(cat "$STAGE/.complete" 2>/dev/null)" = "$STAMP" ]; then
    say "cache $CACHE complete ($(wc -l <"$MANIFEST") packages), nothing to download"
    exit 0
fi

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    say "dpkg --add-architecture arm64"
    dpkg --add-architecture arm64
    apt-get update -qq
fi
kver() {
    apt-cache depends linux-image-arm64:arm64 2>/dev/null |
        sed -n 's/.*Depends: linux-image-\(6\.1\.[^:]*-arm64\).*/\1/p' | head -1
}
KVER=$(kver)
if [ -z "$KVER" ]; then apt-get update -qq; KVER=$(kver); fi
[ -n "$KVER" ] || { say "cannot find the bookworm arm64 kernel package"; exit 1; }
KABI=${KVER%-arm64}

# Xen at the host's libxen-dev version when the mirror has it.
XENVER=$(dpkg-query -W -f='${Version}' libxen-dev 2>/dev/null || true)
XEN_PKGS="xen-hypervisor-4.17-arm64 xen-utils-4.17 xen-utils-common xenstore-utils
          libxenmisc4.17 libxenstore4 libxencall1 libxenforeignmemory1
          libxendevicemodel1 libxenevtchn1 libxengnttab1 libxentoolcore1
          libxenhypfs1 libxentoollog1 libxen-dev"
# xl / xenstored / xenconsoled runtime, busybox
RUN_PKGS="busybox-static libc6 libgcc-s1 libyajl2 libncurses6 libtinfo6 zlib1g
          libnl-3-200 libnl-route-3-200 libuuid1 libzstd1 liblzma5 libbz2-1.0 liblzo2-2
          libfdt1 libext2fs2 libcom-err2 libblkid1"
# vdispld: runtime + development files (the cross-build sysroot)
VD_PKGS="libsystemd0 libsystemd-dev libcap2 libgcrypt20 libgpg-error0 liblz4-1
         libpng16-16 libpng-dev zlib1g-dev libinih1 libinih-dev libdrm2
         libdrm-dev libwayland-client0 libwayland-dev libffi8 libffi-dev
         libudev1 libudev-dev libinput10 libinput-dev libevdev2 libmtdev1 libwacom9
         libgudev-1.0-0 libglib2.0-0 libmount1 libpcre2-8-0 libselinux1"
KERNEL_PKGS="linux-image-$KVER linux-headers-$KVER"
ALL_PKGS="$XEN_PKGS $RUN_PKGS $VD_PKGS $KERNEL_PKGS"
# architecture-independent / host-architecture packages
INDEP_PKGS="linux-headers-$KABI-common linux-source-6.1 linux-kbuild-6.1:amd64 wayland-protocols"

download() {  # download SPEC NAME_GLOB
    local spec=$1 glob=$2
    # shellcheck disable=SC2086
    if ls "$DEBS"/$glob >/dev/null 2>&1; then return 0; fi
    say "downloading $spec"
    (cd "$DEBS" && apt-get download -q "$spec" 2>&1 | grep -v unsandboxed || true)
    # shellcheck disable=SC2086
    ls "$DEBS"/$glob >/dev/null 2>&1 || { say "cannot download $spec"; exit 1; }
}
for p in $XEN_PKGS; do
    if [ -n "$XENVER" ] && apt-get download --print-uris "$p:arm64=$XENVER" >/dev/null 2>&1; then
        download "$p:arm64=$XENVER" "${p}_${XENVER//:/%3a}_arm64.deb"
    else
        download "$p:arm64" "${p}_*_arm64.deb"
    fi
done
for p in $RUN_PKGS $VD_PKGS $KERNEL_PKGS; do download "$p:arm64" "${p}_*_arm64.deb"; done
for p in $INDEP_PKGS; do download "$p" "${p%%:*}_*.deb"; done

: >"$MANIFEST.new"
for p in $ALL_PKGS $INDEP_PKGS; do
    (cd "$DEBS" && ls -1 "${p%%:*}"_*.deb | sort -V | tail -1) >>"$MANIFEST.new"
done

rm -rf "$STAGE"
mkdir -p "$STAGE"/{root,kernel,xen,kbuild}
while read -r f; do
    case $f in
    linux-image-*) d=kernel ;;
    xen-hypervisor-*) d=xen ;;
    linux-headers-*|linux-kbuild-*|linux-source-*) d=kbuild ;;
    *) d=root ;;
    esac
    say "extracting $f"
    dpkg -x "$DEBS/$f" "$STAGE/$d"
done <"$MANIFEST.new"
# Debian's arm64 headers Makefile includes the -common one by absolute path
# (/usr/src/...): point it at the staged copy.
sed -i "s|^include /usr/src/|include $STAGE/kbuild/usr/src/|" \
    "$STAGE/kbuild/usr/src/linux-headers-$KVER/Makefile"
# the module sources build-modules.sh needs (the whole tarball is 140 MB)
say "unpacking the module sources from linux-source-6.1"
tar -C "$STAGE/kbuild/usr/src" -xJf "$STAGE"/kbuild/usr/src/linux-source-6.1.tar.xz \
    linux-source-6.1/drivers/xen linux-source-6.1/drivers/gpu/drm/xen \
    linux-source-6.1/drivers/gpu/drm/vkms
rm -f "$STAGE"/kbuild/usr/src/linux-source-6.1.tar.xz
# the package's postinst runs depmod; the host's depmod reads arm64 modules
depmod -b "$STAGE/kernel" "$KVER"
echo "$KVER" >"$STAGE/KVER"
mv "$MANIFEST.new" "$MANIFEST"
echo "$STAMP" >"$STAGE/.complete"
say "ready: $(wc -l <"$MANIFEST") packages in $CACHE ($KVER)"
