#!/bin/bash
# build-modules.sh OUT -- cross-build, out of tree, against Debian's own
# linux-headers-<KVER>-arm64 (fetch.sh), the modules Debian's arm64 6.1
# kernel lacks, into OUT/*.ko:
#   xen-gntdev.ko     gntdev with CONFIG_XEN_GNTDEV_DMABUF (Debian: absent)
#                     and the TEST-ONLY vmap/mmap of its dma-bufs
#                     (gntdev-test-vmap.py says why); replaces the stock one
#   drm_xen_front.ko  the guest's display frontend (Debian arm64: not set)
#   vkms.ko           virtual KMS for Dom0, with a CRC of what it scans out
# Sources: linux-source-6.1 of the kernel's Debian version; vermagic and
# symbol versions come from the headers package, so the modules load into
# the stock kernel (unsigned: the kernel is tainted, signatures are not
# enforced). Rebuilt only when missing. Needs gcc-aarch64-linux-gnu.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 OUT" >&2; exit 2; }
OUT=$1
HERE=$(cd "$(dirname "$0")" && pwd)
STAGE=${VD_XEN_CACHE:-/var/cache/vdispld-xen-qemu}/arm64/stage
KVER=$(cat "$STAGE/KVER")
KB=$STAGE/kbuild/usr/src
KDIR=$KB/linux-headers-$KVER
SRC=$KB/linux-source-6.1
M=$OUT/src
say() { echo "build-modules: $*"; }

stamp="$KVER $(md5sum "$HERE/gntdev-test-vmap.py" "$0" | md5sum | cut -c1-8)"
if [ -s "$OUT/xen-gntdev.ko" ] && [ -s "$OUT/drm_xen_front.ko" ] && [ -s "$OUT/vkms.ko" ] &&
   [ "$(cat "$OUT/stamp" 2>/dev/null)" = "$stamp" ]; then
    say "up to date ($OUT)"
    exit 0
fi
rm -rf "$M"
mkdir -p "$M/gntdev" "$M/xenfront" "$M/vkms"
cp "$SRC"/drivers/xen/gntdev{.c,-dmabuf.c,-common.h,-dmabuf.h} "$M/gntdev/"
python3 "$HERE/gntdev-test-vmap.py" "$M/gntdev" --vmap
cat >"$M/gntdev/Kbuild" <<'K'
obj-m := xen-gntdev.o
xen-gntdev-y := gntdev.o gntdev-dmabuf.o
ccflags-y += -DCONFIG_XEN_GNTDEV_DMABUF=1
K
cp "$SRC"/drivers/gpu/drm/xen/*.[ch] "$M/xenfront/"
cat >"$M/xenfront/Kbuild" <<'K'
obj-m := drm_xen_front.o
drm_xen_front-y := xen_drm_front.o xen_drm_front_kms.o xen_drm_front_conn.o \
                   xen_drm_front_evtchnl.o xen_drm_front_cfg.o xen_drm_front_gem.o
K
cp "$SRC"/drivers/gpu/drm/vkms/*.[ch] "$M/vkms/"
cat >"$M/vkms/Kbuild" <<'K'
obj-m := vkms.o
vkms-y := vkms_drv.o vkms_plane.o vkms_output.o vkms_formats.o vkms_crtc.o \
          vkms_composer.o vkms_writeback.o
K
for d in gntdev xenfront vkms; do
    say "building $d"
    nice -n 10 make -s -C "$KDIR" M="$M/$d" ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- \
        -j2 modules >"$M/$d.log" 2>&1 || { tail -30 "$M/$d.log"; exit 1; }
done
cp "$M/gntdev/xen-gntdev.ko" "$M/xenfront/drm_xen_front.ko" "$M/vkms/vkms.ko" "$OUT/"
aarch64-linux-gnu-strip --strip-debug "$OUT"/*.ko
echo "$stamp" >"$OUT/stamp"
for f in "$OUT"/*.ko; do say "$(basename "$f"): $(modinfo -F vermagic "$f")"; done
