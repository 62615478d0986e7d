#!/bin/sh
# /init of the guest initramfs (busybox). Loads Linux's display front
# (drm_xen_front), waits for /dev/dri/card0, prints GUEST-READY, then runs
# the commands Dom0 writes to this guest's console, one per line (Dom0 reads
# the answers from the console log xenconsoled keeps). Commands are the
# shell functions below, e.g. "run 1 --frames 300".
/bin/busybox --install -s /bin
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
stty -echo 2>/dev/null
# Grants the frontend cannot end because the backend still maps them are
# "deferred": pr_debug in drivers/xen/grant-table.c, made visible here.
mkdir -p /sys/kernel/debug
mount -t debugfs debugfs /sys/kernel/debug &&
    echo 'file drivers/xen/grant-table.c +p' >/sys/kernel/debug/dynamic_debug/control
echo "GUEST-DYNDBG grant-table sites on: $(grep -c 'grant-table.c.*=p' /sys/kernel/debug/dynamic_debug/control 2>/dev/null)"
up() { cut -d' ' -f1 /proc/uptime; }
echo "GUEST-INIT uptime=$(up)"

# The newest card: after a backend restart, the old one may linger while an
# old client still holds it.
card() { ls /dev/dri/card* 2>/dev/null | sort -t d -k 3 -n | tail -n 1; }

# wait_card SECONDS: until a card exists
wait_card() {
    i=0
    while [ -z "$(card)" ] && [ $i -lt $(($1 * 5)) ]; do sleep 0.2; i=$((i + 1)); done
    [ -n "$(card)" ]
}

# run TAG CLIENT-ARGS...: one client run; its output, then "GUEST-RUN-END TAG rc=N"
run() {
    tag=$1; shift
    c=$(card)
    echo "GUEST-RUN-BEGIN $tag device=$c uptime=$(up)"
    xenfront-client --device "${c:-/dev/dri/card0}" "$@" 2>&1
    echo "GUEST-RUN-END $tag rc=$? uptime=$(up)"
}

# bg TAG CLIENT-ARGS...: the same, in the background (for destroy / kill tests)
bg() { run "$@" & }

# retry TAG TRIES CLIENT-ARGS...: run until one run succeeds (after a backend
# restart the card goes away and comes back)
retry() {
    tag=$1; tries=$2; shift 2
    n=0
    while [ $n -lt "$tries" ]; do
        n=$((n + 1))
        wait_card 60
        c=$(card)
        echo "GUEST-RETRY $tag try=$n device=$c uptime=$(up)"
        if xenfront-client --device "${c:-/dev/dri/card0}" --wait 30 "$@" 2>&1; then
            echo "GUEST-RUN-END $tag rc=0 tries=$n uptime=$(up)"
            return 0
        fi
        sleep 2
    done
    echo "GUEST-RUN-END $tag rc=1 tries=$n uptime=$(up)"
}

# evr READER-ARGS...: the evdev reader in the background (the input case:
# xen-kbdfront is built into Debian's kernel; its devices' events as they
# arrive, EVREAD-READY once every /dev/input/event* is open)
evr() { xenfront-evread "$@" 2>&1 & }

# kmsg: the display-related kernel log and the counts of known timeouts
kmsg() {
    echo "GUEST-DMESG-BEGIN"
    dmesg | grep -iE 'xen|drm|vdispl' | tail -n 60
    # xen-front logs a request that timed out as "...: -110" (ETIMEDOUT);
    # grant-table.c: "deferring g.e.", "leaking g.e.", "g.e. ... still in use/pending"
    echo "GUEST-DMESG-END frame_done_timeouts=$(dmesg | grep -c 'Frame done timed-out') request_timeouts=$(dmesg | grep -cE ': -110$') grants_deferred=$(dmesg | grep -cE 'deferring g\.e\.|leaking g\.e\.|g\.e\. .* still') failures=$(dmesg | grep -iE 'xen|drm' | grep -ciE 'fail|error') enable_failures=$(dmesg | grep -c 'Failed to enable display')"
}

# Without udev, nothing loads the module for the "vdispl" device: do it.
# modprobe blocks until the device connects (xenbus waits up to 30 s).
# evdev (a module in Debian's kernel) gives xen-kbdfront's devices their
# /dev/input/event* nodes, for the input case
[ -x /bin/xenfront-evread ] && { modprobe evdev || echo "GUEST-MODPROBE evdev failed"; }
M0=$(up)
modprobe drm_xen_front && echo "GUEST-MODPROBE ok" || echo "GUEST-MODPROBE failed"
if wait_card 60; then
    echo "GUEST-CARD $(card) uptime=$(up) modprobe_started=$M0"
else
    echo "GUEST-CARD none uptime=$(up)"
fi
echo "GUEST-READY uptime=$(up)"
while read -r line; do
    eval "$line"
done
echo "GUEST-CONSOLE-EOF"
exec sleep 100000
