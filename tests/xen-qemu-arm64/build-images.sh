#!/bin/bash
# build-images.sh VDISPLD CLIENT MODULES OUT -- what QEMU boots for the arm64
# Xen-in-QEMU test, from the packages fetch.sh unpacked, the modules
# build-modules.sh made (MODULES dir) and this tree's arm64 cross build:
#
#   OUT/xen            the Xen 4.17 arm64 hypervisor (QEMU's -kernel)
#   OUT/Image          Debian's arm64 6.1 kernel (Dom0 and guests)
#   OUT/domu.cpio.gz   guest initramfs: busybox, drm_xen_front (out of tree)
#                      and its dependencies, the static xenfront-client,
#                      ../xen-qemu/domu-init.sh as /init
#   OUT/dom0.cpio.gz   Dom0 initramfs: busybox, xl, xenstored, xenconsoled,
#                      xen-init-dom0, xenstore (+ libraries), the Xen modules
#                      with the out-of-tree xen-gntdev (dma-buf + test-only
#                      vmap), vkms, 9p over virtio-mmio, vdispld (+ its
#                      libraries), xenfront-client (the Dom0 reference
#                      drawing), the guest kernel and initramfs, dom0-init.sh
#                      (+ ../xen-qemu/dom0-toolstack.sh) and dom0-scenario.sh
# Libraries are found by their ELF NEEDED entries in the arm64 tree.
# Needs: cpio, gzip, kmod (depmod), binutils (readelf).
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: $0 VDISPLD CLIENT MODULES OUT" >&2; exit 2; }
VDISPLD=$(readlink -f "$1")
CLIENT=$(readlink -f "$2")
MODS=$(readlink -f "$3")
OUT=$4
HERE=$(cd "$(dirname "$0")" && pwd)
STAGE=${VD_XEN_CACHE:-/var/cache/vdispld-xen-qemu}/arm64/stage
R=$STAGE/root
KVER=$(cat "$STAGE/KVER")
KM=$STAGE/kernel/lib/modules/$KVER
MODDIR=/lib/modules/$KVER
WORK=$OUT/rootfs
mkdir -p "$OUT" "$WORK"
say() { echo "build-images-arm64: $*"; }
# base_root, mkcpio, domu_finish, xen_tools, dom0_finish; XENBIN
. "$HERE/../xen-qemu/images-lib.sh"

cp "$STAGE/xen/boot/xen-4.17-arm64" "$OUT/xen"
cp "$STAGE/kernel/boot/vmlinuz-$KVER" "$OUT/Image"

LIBDIRS="/lib/aarch64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib/xen-4.17/lib/aarch64-linux-gnu"
# copy_lib ROOT NAME: the library NAME from the arm64 tree and what it needs
copy_lib() {
    local root=$1 name=$2 d
    for d in $LIBDIRS; do
        if [ -e "$R$d/$name" ]; then
            [ -e "$root$d/$name" ] && return 0
            mkdir -p "$root$d"
            cp -L "$R$d/$name" "$root$d/$name"
            copy_needed "$root" "$R$d/$name"
            return 0
        fi
    done
    say "warning: library $name not found in $R"
}
copy_needed() {
    local root=$1 f=$2 n
    for n in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
        copy_lib "$root" "$n"
    done
}
# copy_bin ROOT DEST SRC
copy_bin() {
    mkdir -p "$1$(dirname "$2")"
    cp -L "$3" "$1$2"
    copy_needed "$1" "$3"
}

# copy_mods ROOT MOD...: modules and their dependencies, the out-of-tree
# ones (MODS/NAME.ko) first, then depmod for ROOT
copy_mods() {
    local root=$1 m f dep
    shift
    mkdir -p "$root$MODDIR/extra"
    for m in "$@"; do
        if [ -f "$MODS/$m.ko" ]; then
            cp "$MODS/$m.ko" "$root$MODDIR/extra/"
            deps=$(modinfo -F depends "$MODS/$m.ko" | tr ',' ' ')
            # shellcheck disable=SC2086
            [ -n "$deps" ] && copy_mods "$root" $deps
            continue
        fi
        for f in $(modprobe -d "$STAGE/kernel" -S "$KVER" --show-depends "$m" |
                   awk '/^insmod/{print $2}'); do
            dep=${f#"$STAGE/kernel"}
            mkdir -p "$root$(dirname "$dep")"
            cp "$f" "$root$dep"
        done
    done
}
finish_mods() {
    cp "$KM"/modules.order "$KM"/modules.builtin "$KM"/modules.builtin.modinfo "$1$MODDIR"/
    depmod -b "$1" "$KVER"
}

say "guest initramfs"
G=$WORK/domu
base_root "$G" "$R/bin/busybox" lib
copy_mods "$G" drm_xen_front
finish_mods "$G"
domu_finish "$G" "$CLIENT" "$OUT"

say "Dom0 initramfs"
D=$WORK/dom0
base_root "$D" "$R/bin/busybox" lib
copy_mods "$D" xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs vkms \
          virtio_mmio 9p 9pnet_virtio
finish_mods "$D"
mkdir -p "$D/lib/aarch64-linux-gnu"
cp -L "$R/lib/ld-linux-aarch64.so.1" "$D/lib/"
xen_tools "$D" "$R"
# glibc dlopen()s libgcc_s.so.1 for pthread_cancel: xl aborts without it
copy_lib "$D" libgcc_s.so.1
copy_bin "$D" /usr/sbin/vdispld "$VDISPLD"
cp "$CLIENT" "$D/usr/bin/xenfront-client"
dom0_finish "$D" "$R" "$OUT" Image "$HERE"
say "done: $(cd "$OUT" && ls -s --block-size=K xen Image dom0.cpio.gz domu.cpio.gz | tr '\n' ' ')"
