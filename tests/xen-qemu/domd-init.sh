#!/bin/sh
# /init of the display domain's initramfs (busybox): a PV driver domain
# (xl.cfg driver_domain=1) that owns a display (vkms) and runs vdispld as
# the backend of other guests' vdispl and vkb devices.
#
# What a driver domain needs, in order (docs/driver-domain.md): the Xen
# device modules (xen-evtchn, xen-gntdev; xen-privcmd and xenfs for xl devd,
# as upstream's xendriverdomain service mounts /proc/xen), /dev/xen/xenbus
# (built into the kernel's xenbus: no xenstored here), the display (vkms,
# with debugfs for its CRC), xl devd, then vdispld.
#
# Prints DOMD-* lines on its console (Dom0 reads xenconsoled's log of it),
# then runs the commands Dom0 writes to its console, one per line:
#   ref TAG FRAMES   xenfront-client draws FRAMES frames on vkms and holds
#                    the last: DOMD-REF TAG crc=... (before vdispld takes it)
#   vdispld ARGS...  start vdispld --hypervisor xen ARGS: DOMD-VDISPLD pid=...
#   crc TAG          vkms' CRC of what crtc-0 scans out now: DOMD-CRC TAG crc=...
#   vdstop           SIGTERM to vdispld: DOMD-VDSTOP rc=... when it has exited
#   vdlog            vdispld's log between DOMD-LOG-BEGIN and DOMD-LOG-END
#   xs PATH          xenstore-ls -f -p PATH between DOMD-XS-BEGIN/-END
/bin/busybox --install -s /bin
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/xen-4.17/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
mkdir -p /sys/kernel/debug /run/xen /var/lib/xen /var/log/xen /var/lock
mount -t debugfs debugfs /sys/kernel/debug
stty -echo 2>/dev/null
up() { cut -d' ' -f1 /proc/uptime; }
echo "DOMD-INIT uptime=$(up)"

for m in xen-evtchn xen-gntdev xen-privcmd xenfs vkms; do
    modprobe $m || echo "DOMD-ERROR modprobe $m"
done
mount -t xenfs xenfs /proc/xen || echo "DOMD-ERROR mount xenfs"
i=0; while [ ! -e /dev/dri/card0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
MODS=$(lsmod | awk 'NR > 1 {print $1}' | grep -E '^(xen_|xenfs|vkms)' | sort | tr '\n' ',')
NODES=$(ls /dev/xen/evtchn /dev/xen/gntdev /dev/xen/xenbus /dev/xen/privcmd /dev/dri/card0 2>/dev/null | tr '\n' ',')
DOMID=$(xenstore-read domid 2>/dev/null)
echo "DOMD-MODULES domid=$DOMID modules=$MODS nodes=$NODES caps=$(cat /proc/xen/capabilities 2>/dev/null) uptime=$(up)"
CRCD=/sys/kernel/debug/dri/0/crtc-0/crc

# xl devd, as upstream's xendriverdomain service starts it: it finishes the
# toolstack's part of each device on this side (hotplug scripts, none for
# vdispl and vkb) and removes a device's backend directory once it is
# Closed and offline, which Dom0's libxl waits for on xl destroy.
# "vdtest_nodevd" on the command line: none (to see what libxl does then)
if grep -q vdtest_nodevd /proc/cmdline; then
    echo "DOMD-DEVD none"
elif xl devd --pidfile=/run/xldevd.pid >/run/xldevd.log 2>&1; then
    echo "DOMD-DEVD pid=$(cat /run/xldevd.pid 2>/dev/null) uptime=$(up)"
else
    echo "DOMD-ERROR xl devd: $(tail -n 3 /run/xldevd.log | tr '\n' '|')"
fi

# crc: vkms' CRC of what crtc-0 shows now (the last of 4 vblanks; each
# read() of crc/data returns one "0xFRAME 0xCRC" record, NUL included)
crc_now() {
    echo auto >"$CRCD/control" 2>/dev/null || { echo none; return; }
    dd if="$CRCD/data" bs=64 count=4 2>/dev/null | tr '\0' '\n' | grep . | tail -n 1 |
        awk '{print $2}'
}
crc() { echo "DOMD-CRC $1 crc=$(crc_now) uptime=$(up)"; }

# ref TAG FRAMES: the reference picture, drawn here on vkms by the same
# client the guest runs
ref() {
    rl=/run/ref.$1.log
    xenfront-client --device /dev/dri/card0 --frames "$2" --hold 30 --wait 5 >"$rl" 2>&1 &
    rp=$!
    i=0; while ! grep -q CLIENT-RESULT "$rl" && [ $i -lt 150 ]; do sleep 0.2; i=$((i + 1)); done
    sleep 0.5
    c=$(crc_now)
    kill "$rp" 2>/dev/null; wait "$rp" 2>/dev/null
    echo "DOMD-REF $1 crc=$c $(grep CLIENT-RESULT "$rl" | tr -d '\r')"
}

VPID=
vdispld() {
    /usr/sbin/vdispld --hypervisor xen "$@" >/run/vdispld.log 2>&1 &
    VPID=$!
    echo "DOMD-VDISPLD pid=$VPID uptime=$(up)"
}
vdstop() {
    kill -TERM "$VPID" 2>/dev/null
    wait "$VPID"
    echo "DOMD-VDSTOP rc=$? uptime=$(up)"
}
vdlog() {
    echo "DOMD-LOG-BEGIN"
    cat /run/vdispld.log
    echo "DOMD-LOG-END"
}
xs() {
    echo "DOMD-XS-BEGIN $1"
    xenstore-ls -f -p "$1" 2>&1
    echo "DOMD-XS-END $1"
}

echo "DOMD-READY uptime=$(up)"
while read -r line; do
    eval "$line"
done
echo "DOMD-CONSOLE-EOF"
exec sleep 100000
