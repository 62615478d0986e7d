# dom0-toolstack.sh -- sourced by Dom0's /init in both Xen-in-QEMU tests
# (dom0-init.sh here and in ../xen-qemu-arm64; build-images.sh puts it in the
# initramfs as /lib/dom0-toolstack.sh). Busybox sh; the /init calls, in order:
#
#   dom0_start           busybox applets, PATH, /proc /sys /dev /run, the
#                        Xen directories; DOM0-INIT-START
#   dom0_toolstack VIRTIO  the Xen toolstack (xenfs, evtchn/gntdev/gntalloc/
#                        privcmd, xenstored, xen-init-dom0, xenconsoled), then
#                        the host's result directory (virtio-9p, tag "host",
#                        over the transport module VIRTIO) on /results;
#                        DOM0-RESULTS 9p|none, DOM0-TOOLSTACK-UP
#   dom0_run             with "vdtest" on the kernel command line
#                        /root/scenario.sh, VDTEST-END and power off;
#                        otherwise a shell
up() { cut -d' ' -f1 /proc/uptime; }

dom0_start() {
    /bin/busybox --install -s /bin
    export PATH=/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/xen-4.17/bin
    export HOME=/root
    mount -t proc proc /proc
    mount -t sysfs sysfs /sys
    mount -t devtmpfs devtmpfs /dev
    mkdir -p /dev/pts /dev/shm && mount -t devpts devpts /dev/pts
    mount -t tmpfs tmpfs /run
    mkdir -p /run/xen /run/xenstored /var/log/xen/console /var/lib/xen /var/lib/xenstored /var/lock
    echo "DOM0-INIT-START uptime=$(up)"
}

dom0_toolstack() {
    for m in xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs; do
        modprobe $m || echo "DOM0-ERROR modprobe $m"
    done
    mount -t xenfs xenfs /proc/xen || echo "DOM0-ERROR mount xenfs"
    xenstored --pid-file /run/xenstored.pid || echo "DOM0-ERROR xenstored"
    i=0; while ! xenstore-read /local >/dev/null 2>&1 && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
    xen-init-dom0 >/dev/null || echo "DOM0-ERROR xen-init-dom0"
    # guest consoles logged to /var/log/xen/console/guest-NAME.log
    xenconsoled --pid-file=/run/xenconsoled.pid --log=guest --log-dir=/var/log/xen/console ||
        echo "DOM0-ERROR xenconsoled"

    # results shared with the host; a tmpfs directory if there is no share
    modprobe "$1"; modprobe 9pnet_virtio; modprobe 9p
    i=0; while [ -z "$(ls /sys/bus/virtio/devices 2>/dev/null)" ] && [ $i -lt 20 ]; do sleep 0.1; i=$((i+1)); done
    if mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 host /results; then
        echo "DOM0-RESULTS 9p"
    else
        echo "DOM0-RESULTS none"
    fi
    echo "DOM0-TOOLSTACK-UP uptime=$(up)"
}

dom0_run() {
    if grep -q vdtest /proc/cmdline; then
        sh /root/scenario.sh
        echo "VDTEST-END uptime=$(up)"
        sync
        poweroff -f
    fi
    echo "DOM0-SHELL-READY uptime=$(up)"
    cd /root
    export PS1="dom0# "
    exec setsid cttyhack /bin/sh -l
}
