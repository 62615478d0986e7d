#!/bin/bash
# build-images.sh -- build what QEMU boots for the Xen-in-QEMU test, from the
# packages fetch.sh unpacked and the binaries of this build:
#
#   OUT/xen.elf        the uncompressed Xen 4.17 (QEMU's -kernel loads it as
#                      multiboot1; it refuses the .gz)
#   OUT/vmlinuz        Debian's 6.1 kernel, for Dom0 and for the guests
#   OUT/domu.cpio.gz   guest initramfs: busybox, drm_xen_front and its module
#                      dependencies, the static xenfront-client, domu-init.sh
#   OUT/dom0.cpio.gz   Dom0 initramfs: busybox, xenstored, xl, xen-init-dom0,
#                      xenconsoled (+ their libraries), the Xen, 9p and
#                      bochs-drm (KMS case) modules, vdispld (+ the
#                      libraries ldd finds), the guest kernel and initramfs,
#                      dom0-init.sh (+ dom0-toolstack.sh) and dom0-scenario.sh
#                      (+ dom0-lib.sh)
#
# With EVREAD and INJECT (the input case): the guest gets the evdev module
# and xenfront-evread; Dom0 gets the uinput and evdev modules, systemd-udevd
# with udev's rules (fetch.sh: the udev package of the host's systemd, in
# $VD_XEN_CACHE/udev-VERSION; 80-drivers.rules left out so that udevd loads
# no module by itself), libinput's quirks and the uinput injector.
#
# With --domd VKMS (the display domain case, dom0-domd-scenario.sh): Dom0
# also gets the display domain's initramfs, OUT/domd.cpio.gz: busybox, the
# Xen device modules (evtchn, gntdev, privcmd, xenfs), VKMS (the vkms.ko
# tests/vm/build-vkms.sh built) with its DRM dependencies, vdispld, the
# client (the reference drawing), xl (for xl devd) and xenstore's tools,
# domd-init.sh as /init; and dom0-domd-scenario.sh as /root/domd-scenario.sh.
#
# Usage: build-images.sh [--domd VKMS] VDISPLD CLIENT OUT [EVREAD INJECT]
# Needs (tests/install-deps.sh): cpio, gzip, kmod (depmod), binutils.
set -euo pipefail

VKMS=
if [ "${1:-}" = --domd ]; then
    VKMS=$(readlink -f "$2")
    shift 2
fi
[ $# -eq 3 ] || [ $# -eq 5 ] || { echo "usage: $0 [--domd VKMS] VDISPLD CLIENT OUTDIR [EVREAD INJECT]" >&2; exit 2; }
VDISPLD=$(readlink -f "$1")
CLIENT=$(readlink -f "$2")
OUT=$3
EVREAD=${4:+$(readlink -f "$4")}
INJECT=${5:+$(readlink -f "$5")}
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${VD_XEN_CACHE:-/var/cache/vdispld-xen-qemu}
STAGE=$CACHE/stage
WORK=$OUT/rootfs
mkdir -p "$OUT" "$WORK"

say() { echo "build-images: $*"; }
# base_root, mkcpio, domu_finish, xen_tools, dom0_finish; XENBIN
. "$HERE/images-lib.sh"

[ -x "$STAGE/usr/lib/xen-4.17/bin/xl" ] || { say "run fetch.sh first ($STAGE)"; exit 1; }
KVER=$(basename "$(ls -d "$STAGE"/lib/modules/*/ | head -1)")
MODDIR=/lib/modules/$KVER
LIBDIR=/usr/lib/x86_64-linux-gnu

# Debian's package has no modules.dep (its postinst runs depmod): make one.
if [ ! -s "$STAGE$MODDIR/modules.dep" ]; then
    say "depmod $KVER"
    depmod -b "$STAGE" "$KVER"
fi

# Kernel and hypervisor: copied once per cache content.
if [ ! -s "$OUT/vmlinuz" ] || [ "$STAGE/boot/vmlinuz-$KVER" -nt "$OUT/vmlinuz" ]; then
    cp "$STAGE/boot/vmlinuz-$KVER" "$OUT/vmlinuz"
fi
if [ ! -s "$OUT/xen.elf" ] || [ "$STAGE/boot/xen-4.17-amd64.gz" -nt "$OUT/xen.elf" ]; then
    zcat "$STAGE/boot/xen-4.17-amd64.gz" >"$OUT/xen.elf.tmp"
    mv "$OUT/xen.elf.tmp" "$OUT/xen.elf"
fi

# copy_bin ROOT DEST SRC: SRC to ROOT/DEST plus every library ldd names.
# Staged (Xen) libraries win over the host's: they are the ones Dom0 runs.
copy_bin() {
    local root=$1 dest=$2 src=$3 lib dst
    mkdir -p "$root$(dirname "$dest")"
    cp -L "$src" "$root$dest"
    LD_LIBRARY_PATH=$STAGE$LIBDIR ldd "$src" |
        awk '/=> \//{print $3} /^\t\/lib64/{print $1}' |
        while read -r lib; do
            dst=$lib
            case $lib in "$STAGE"/*) dst=${lib#"$STAGE"} ;; esac
            if [ ! -e "$root$dst" ]; then
                mkdir -p "$root$(dirname "$dst")"
                cp -L "$lib" "$root$dst"
            fi
        done
}

# copy_mods ROOT MOD...: the modules and their dependencies (modules.dep),
# then depmod for ROOT so that busybox modprobe finds them.
copy_mods() {
    local root=$1 m f
    shift
    mkdir -p "$root$MODDIR"
    for m in "$@"; do
        for f in $(modprobe -d "$STAGE" -S "$KVER" --show-depends "$m" |
                   awk '/^insmod/{print $2}'); do
            mkdir -p "$root$(dirname "${f#"$STAGE"}")"
            cp "$f" "$root${f#"$STAGE"}"
        done
    done
    cp "$STAGE$MODDIR"/modules.order "$STAGE$MODDIR"/modules.builtin \
       "$STAGE$MODDIR"/modules.builtin.modinfo "$root$MODDIR"/
    depmod -b "$root" "$KVER"
}

# ---- the guest ----
say "guest initramfs"
G=$WORK/domu
base_root "$G" "$STAGE/bin/busybox"
if [ -n "$EVREAD" ]; then
    copy_mods "$G" drm_xen_front evdev
    cp "$EVREAD" "$G/bin/xenfront-evread"
else
    copy_mods "$G" drm_xen_front
fi
domu_finish "$G" "$CLIENT" "$OUT"

# ---- Dom0 ----
say "Dom0 initramfs"
D=$WORK/dom0
base_root "$D" "$STAGE/bin/busybox"
copy_mods "$D" xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs 9p 9pnet_virtio virtio_pci \
          bochs ${INJECT:+uinput evdev}
if [ -n "$INJECT" ]; then
    UDEV=$CACHE/udev-$(dpkg-query -W -f='${Version}' systemd)
    [ -x "$UDEV/bin/udevadm" ] || { say "no udev in $UDEV: run fetch.sh"; exit 1; }
    copy_bin "$D" /bin/udevadm "$UDEV/bin/udevadm"
    mkdir -p "$D/lib/systemd" "$D/lib/udev" "$D/etc/udev"
    ln -s /bin/udevadm "$D/lib/systemd/systemd-udevd"
    cp -r "$UDEV/lib/udev/rules.d" "$D/lib/udev/"
    rm -f "$D/lib/udev/rules.d/80-drivers.rules"
    if [ -d /usr/share/libinput ]; then   # device quirks, as installed with libinput
        mkdir -p "$D/usr/share"
        cp -r /usr/share/libinput "$D/usr/share/"
    fi
    cp "$INJECT" "$D/bin/uinput_inject"
fi
xen_tools "$D" "$STAGE"
# glibc dlopen()s libgcc_s.so.1 for pthread_cancel: xl aborts without it
cp -L /lib/x86_64-linux-gnu/libgcc_s.so.1 "$D/lib/x86_64-linux-gnu/"
copy_bin "$D" /usr/sbin/vdispld "$VDISPLD"
mkdir -p "$D/lib"
cp "$HERE/dom0-lib.sh" "$D/lib/dom0-lib.sh"

# ---- the display domain (--domd) ----
if [ -n "$VKMS" ]; then
    say "display domain initramfs"
    M=$WORK/domd
    base_root "$M" "$STAGE/bin/busybox"
    # vkms first: copy_mods' depmod then indexes it with the rest
    mkdir -p "$M$MODDIR/extra"
    cp "$VKMS" "$M$MODDIR/extra/vkms.ko"
    # shellcheck disable=SC2046
    copy_mods "$M" xen-evtchn xen-gntdev xen-privcmd xenfs $(modinfo -F depends "$VKMS" | tr , ' ')
    copy_bin "$M" "$XENBIN/xl" "$STAGE$XENBIN/xl"
    copy_bin "$M" /usr/bin/xenstore "$STAGE/usr/bin/xenstore"
    for t in ls read write list rm exists watch chmod; do ln -sf xenstore "$M/usr/bin/xenstore-$t"; done
    cp -L /lib/x86_64-linux-gnu/libgcc_s.so.1 "$M/lib/x86_64-linux-gnu/"
    mkdir -p "$M/etc/xen" "$M/var/lib/xen"
    cp "$STAGE/etc/xen/xl.conf" "$M/etc/xen/"
    copy_bin "$M" /usr/sbin/vdispld "$VDISPLD"
    cp "$CLIENT" "$M/bin/xenfront-client"
    cp "$HERE/domd-init.sh" "$M/init"
    chmod 755 "$M/init"
    mkcpio "$M" "$OUT/domd.cpio.gz"
    mkdir -p "$D/root/domd"
    cp "$OUT/domd.cpio.gz" "$D/root/domd/"
    cp "$HERE/dom0-domd-scenario.sh" "$D/root/domd-scenario.sh"
    chmod 755 "$D/root/domd-scenario.sh"
fi
dom0_finish "$D" "$STAGE" "$OUT" vmlinuz "$HERE"

say "done: $(cd "$OUT" && ls -s --block-size=K xen.elf vmlinuz dom0.cpio.gz domu.cpio.gz | tr '\n' ' ')"
