#!/bin/sh
# /init of the arm64 Dom0 initramfs (busybox), as ../xen-qemu/dom0-init.sh. Brings up the Xen toolstack
# (xenfs, evtchn/gntdev/gntalloc/privcmd, xenstored, xen-init-dom0,
# xenconsoled), mounts the host's result directory (virtio-9p over virtio-mmio, tag "host")
# on /results, then, with "vdtest" on the kernel command line, runs
# /root/scenario.sh and prints VDTEST-END; otherwise gives a shell.
/bin/busybox --install -s /bin
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/xen-4.17/bin
export LD_LIBRARY_PATH=/usr/lib/xen-4.17/lib/aarch64-linux-gnu
export HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm && mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug
mkdir -p /run/xen /run/xenstored /var/log/xen/console /var/lib/xen /var/lib/xenstored /var/lock
up() { cut -d' ' -f1 /proc/uptime; }
echo "DOM0-INIT-START uptime=$(up)"

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
modprobe virtio_mmio; modprobe 9pnet_virtio; modprobe 9p
i=0; while [ -z "$(ls /sys/bus/virtio/devices 2>/dev/null)" ] && [ $i -lt 20 ]; do sleep 0.1; i=$((i+1)); done
if mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 host /results; then
    echo "DOM0-RESULTS 9p"
else
    echo "DOM0-RESULTS none"
fi
echo "DOM0-TOOLSTACK-UP uptime=$(up)"

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
