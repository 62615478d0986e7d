# images-lib.sh -- sourced (bash) by build-images.sh here and in
# ../xen-qemu-arm64: the parts of the two initramfs builds that do not
# depend on the architecture. The caller defines copy_bin ROOT DEST SRC
# (a binary and its libraries; each test finds them its own way) and say.
XENBIN=/usr/lib/xen-4.17/bin
XQ_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# base_root ROOT BUSYBOX [DIR...]: an empty root with busybox as /bin/sh,
# the usual directories (and DIRs) and root in passwd and group
base_root() {
    local root=$1 busybox=$2 d
    shift 2
    rm -rf "$root"
    mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,run,etc,root,usr/bin,usr/sbin,var/lib,var/log,var/lock}
    for d in "$@"; do mkdir -p "$root/$d"; done
    cp "$busybox" "$root/bin/busybox"
    ln -s busybox "$root/bin/sh"
    ln -s ../run "$root/var/run"
    echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
    echo "root:x:0:" >"$root/etc/group"
}

# mkcpio DIR OUT: DIR as a gzipped newc cpio
mkcpio() {
    (cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) | gzip -4 >"$2.tmp"
    mv "$2.tmp" "$2"
}

# domu_finish ROOT CLIENT OUT: the guest client and domu-init.sh as /init
# into ROOT (modules already there), then OUT/domu.cpio.gz
domu_finish() {
    cp "$2" "$1/bin/xenfront-client"
    cp "$XQ_DIR/domu-init.sh" "$1/init"
    chmod 755 "$1/init"
    mkcpio "$1" "$3/domu.cpio.gz"
}

# xen_tools ROOT SRC: xl, xenstored, xenconsoled, xenconsole, xen-init-dom0,
# libxl-save-helper and xenstore (with its xenstore-* names) from the
# unpacked packages in SRC
xen_tools() {
    local b t
    for b in xl xenstored xenconsoled xenconsole xen-init-dom0 libxl-save-helper; do
        copy_bin "$1" "$XENBIN/$b" "$2$XENBIN/$b"
    done
    copy_bin "$1" /usr/bin/xenstore "$2/usr/bin/xenstore"
    for t in ls read write list rm exists watch chmod; do ln -sf xenstore "$1/usr/bin/xenstore-$t"; done
}

# dom0_finish ROOT SRC OUT KERNEL HERE: Xen's directories and xl.conf (from
# SRC), the guest kernel (OUT/KERNEL) and initramfs, the test's
# dom0-init.sh (HERE) as /init with dom0-toolstack.sh, its dom0-scenario.sh
# as /root/scenario.sh; then OUT/dom0.cpio.gz
dom0_finish() {
    local root=$1 src=$2 out=$3 kernel=$4 here=$5
    mkdir -p "$root/etc/xen" "$root/var/lib/xen" "$root/var/lib/xenstored" "$root/var/log/xen/console" \
             "$root/root/domu" "$root/results" "$root/lib"
    cp "$src/etc/xen/xl.conf" "$root/etc/xen/"
    cp "$out/$kernel" "$root/root/domu/$kernel"
    cp "$out/domu.cpio.gz" "$root/root/domu/domu.cpio.gz"
    cp "$here/dom0-init.sh" "$root/init"
    cp "$XQ_DIR/dom0-toolstack.sh" "$root/lib/dom0-toolstack.sh"
    cp "$here/dom0-scenario.sh" "$root/root/scenario.sh"
    chmod 755 "$root/init" "$root/root/scenario.sh"
    mkcpio "$root" "$out/dom0.cpio.gz"
}
