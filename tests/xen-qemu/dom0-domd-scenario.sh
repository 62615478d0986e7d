#!/bin/sh
# /root/domd-scenario.sh -- the display domain case of the Xen-in-QEMU test
# (run.py --only-domd; dom0-scenario.sh hands over to it), run in Dom0.
#
# vdispld does not run in Dom0 here: a PV driver domain "domd"
# (driver_domain=1, its /init is domd-init.sh) owns the display (vkms) and
# runs vdispld as the backend of a guest's vdispl and vkb devices, the way
# automotive setups put the display backend in a driver domain. Dom0 only
# runs the toolstack: it creates domd, waits for vdispld's readiness node
# in domd's xenstore home (~/data/vdispld/state = running), then creates
# g1 with vdispl and vkb backend=domd. The guest's xen-front draws with
# xenfront-client; vkms' CRC in domd of what it scans out must equal that
# of domd's own drawing of the same frame (and differ from the next one's).
# domd and the guests are driven through their consoles.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/xen-4.17/bin
R=/results
CON=/var/log/xen/console
mkdir -p "$R"
FR=30                    # frames the guest's client flips; it then holds frame FR
# up, dt, step, check, field; glog, create, gwait, gline, gsend, client_run,
# flips_ok
. /lib/dom0-lib.sh
VD_WARN_RE=' vdispld: (emerg|alert|crit|error|warning): '

# "vdtest_domd_nodevd" on Dom0's command line (run.py --domd-no-devd): domd
# runs no xl devd, to show what libxl does without it
DEVD=1
grep -q vdtest_domd_nodevd /proc/cmdline && DEVD=0

# mkcfg NAME: domd, the display domain, or a guest with its display and
# keyboard served by domd. domd's kernel logs errors only: under TCG vkms'
# vblank timer overruns, and its error line each time floods the console.
mkcfg() {
    if [ "$1" = domd ]; then
        cat >/etc/xen/domd.cfg <<EOF
name = "domd"
type = "pv"
kernel = "/root/domu/vmlinuz"
ramdisk = "/root/domd/domd.cpio.gz"
extra = "console=hvc0 loglevel=3$([ $DEVD = 0 ] && echo ' vdtest_nodevd')"
memory = 320
vcpus = 1
driver_domain = 1
EOF
        return
    fi
    cat >"/etc/xen/$1.cfg" <<EOF
name = "$1"
type = "pv"
kernel = "/root/domu/vmlinuz"
ramdisk = "/root/domu/domu.cpio.gz"
extra = "console=hvc0 loglevel=6"
memory = 256
vcpus = 1
on_crash = "preserve"
vdispl = [ 'backend=domd,be-alloc=0,connectors=Virtual-1:1024x768' ]
vkb = [ 'backend=domd,backend-type=linux' ]
EOF
}

# dsend COMMAND: a command to domd's console; dline PATTERN: its last line
# with PATTERN
dsend() { gsend domd "$1"; }
dline() { gline domd "$1"; }
# ready_node: the value of vdispld's readiness node in domd's home;
# wait_ready SECONDS: until it says "running" (a toolstack would use a
# xenstore watch; polling is as good for a test)
ready_node() { xenstore-read "/local/domain/$DD/data/vdispld/state" 2>/dev/null; }
wait_ready() {
    end=$(($(cut -d. -f1 /proc/uptime) + $1))
    while [ "$(ready_node)" != running ]; do
        [ "$(cut -d. -f1 /proc/uptime)" -ge $end ] && return 1
        sleep 0.1
    done
}

# domd_log: vdispld's log in domd, through its console, to $R/vdispld-domd.log
domd_log() {
    n=$(grep -c DOMD-LOG-END "$(glog domd)")
    dsend vdlog
    i=0
    while [ "$(grep -c DOMD-LOG-END "$(glog domd)")" -le "$n" ] && [ $i -lt 100 ]; do
        sleep 0.2; i=$((i + 1))
    done
    tr -d '\r' <"$(glog domd)" |
        awk '/^DOMD-LOG-BEGIN/ { n++; buf = ""; next } /^DOMD-LOG-END/ { last = buf; next }
             { buf = buf $0 "\n" } END { printf "%s", last }' >"$R/vdispld-domd.log"
}

finish() {
    xenstore-ls -f -p "/local/domain/$DD" >"$R/xenstore-domd.log" 2>&1
    xl list >"$R/xl-list.log" 2>&1
    xl dmesg >"$R/xen-dmesg.log" 2>&1
    dmesg >"$R/dom0-dmesg.log" 2>&1
    cp "$CON"/guest-*.log "$R/" 2>/dev/null
    echo "---- vdispld-domd.log (tail) ----"
    tail -n 25 "$R/vdispld-domd.log" 2>/dev/null
    echo "VDTEST-SCENARIO-DONE failed=$FAILED"
    exit 0
}

# ---- the display domain ----
# (l) domd boots with what a display backend needs: the Xen device modules,
# /dev/xen/{evtchn,gntdev,xenbus}, vkms' card, xl devd; its domid as xl
# gave it
step domd-create 150
T0=$(up)
if ! create domd; then
    check l_domd_boot FAIL "xl create domd: rc=$RC"
    finish
fi
DD=$(xl domid domd)
if ! gwait domd DOMD-READY 120; then
    check l_domd_boot FAIL "domd did not come up: $(tail -n 3 "$(glog domd)" | tr '\n' '|')"
    finish
fi
BOOT_S=$(dt "$(up)" "$T0")
L=$(dline DOMD-MODULES)
MODS=$(field modules "$L"); NODES=$(field nodes "$L")
OK=1
for m in xen_evtchn xen_gntdev xen_privcmd xenfs vkms; do
    echo ",$MODS" | grep -q ",$m," || OK=0
done
for n in /dev/xen/evtchn /dev/xen/gntdev /dev/xen/xenbus /dev/dri/card0; do
    echo ",$NODES" | grep -q ",$n," || OK=0
done
[ "$(field domid "$L")" = "$DD" ] || OK=0
DEVDL=$(dline DOMD-DEVD)
if [ $DEVD = 1 ]; then
    echo "$DEVDL" | grep -q 'pid=[0-9]' || OK=0
fi
if [ $OK = 1 ]; then
    check l_domd_boot PASS "domid $DD up in ${BOOT_S} s (xl create ${CREATE_S} s); modules $MODS nodes $NODES; xl devd ${DEVDL#DOMD-DEVD }"
else
    check l_domd_boot FAIL "xl domid $DD; $L; devd '$DEVDL' $(dline DOMD-ERROR)"
fi

# (l) domd's own drawing of frames FR and FR+1 on vkms: the reference CRCs
step domd-reference 90
dsend "ref A $FR"
gwait domd "DOMD-REF A " 60
dsend "ref B $((FR + 1))"
gwait domd "DOMD-REF B " 60
REF_A=$(field crc "$(dline 'DOMD-REF A ')")
REF_B=$(field crc "$(dline 'DOMD-REF B ')")
if [ -n "$REF_A" ] && [ "$REF_A" != none ] && [ -n "$REF_B" ] && [ "$REF_A" != "$REF_B" ]; then
    check l_domd_reference PASS "domd's drawing on vkms: frame $FR crc $REF_A, frame $((FR + 1)) crc $REF_B (differ)"
else
    check l_domd_reference FAIL "frame $FR crc '$REF_A', frame $((FR + 1)) crc '$REF_B'"
fi

# (l) vdispld starts in domd (--output kms on vkms; no input source: the
# vkb is served all the same) and says it is ready in domd's xenstore home:
# Dom0 waits for that node before it creates a guest, as a toolstack would
step domd-vdispld 60
dsend "vdispld --output kms --drm-device /dev/dri/card0 --input none --status-interval 2 -v -v"
T0=$(up)
wait_ready 30
READY_S=$(dt "$(up)" "$T0")
NODE=$(ready_node)
PERMS=$(xenstore-ls -p "/local/domain/$DD/data/vdispld" 2>/dev/null | tr -s ' ' | tr '\n' ' ')
if [ "$NODE" = running ]; then
    check l_domd_ready PASS "/local/domain/$DD/data/vdispld/state = running ${READY_S} s after the start ($PERMS)"
else
    check l_domd_ready FAIL "/local/domain/$DD/data/vdispld/state = '$NODE' after ${READY_S} s"
fi

# (l) xl create in Dom0 with both devices' backend in domd: vdispld must put
# them in InitWait within libxl's 10 s
step domd-create-g1 120
if create g1; then
    check l_domd_xl_create PASS "seconds=$CREATE_S"
else
    check l_domd_xl_create FAIL "rc=$RC seconds=$CREATE_S"
    domd_log
    grep -E "$VD_WARN_RE|xen: " "$R/vdispld-domd.log" | head -n 10
    finish
fi
G1=$(xl domid g1)

# (l) the guest's xen-front connects to domd: its card appears
step domd-connect-g1 150
if gwait g1 GUEST-READY 140 && gline g1 GUEST-CARD | grep -q /dev/dri/card; then
    check l_domd_card PASS "$(gline g1 GUEST-CARD)"
else
    check l_domd_card FAIL "$(gline g1 GUEST-CARD)"
    xenstore-ls -f "/local/domain/$DD/backend"
    domd_log
    finish
fi

# (l) the vkb connects to domd too: both ends Connected, vdispld says so
i=0
while [ "$(xenstore-read "/local/domain/$G1/device/vkbd/0/state" 2>/dev/null)" != 4 ] && [ $i -lt 50 ]; do
    sleep 0.2; i=$((i + 1))
done
# what libxl wrote, with permissions (docs/driver-domain.md)
{ xenstore-ls -f -p "/local/domain/$DD/backend"; xenstore-ls -f -p "/local/domain/$G1/device"; } \
    >"$R/xenstore-g1.log" 2>&1
FE=$(xenstore-read "/local/domain/$G1/device/vkbd/0/state" 2>/dev/null)
BE=$(xenstore-read "/local/domain/$DD/backend/vinput/$G1/0/state" 2>/dev/null)
domd_log
CONN=$(grep "(dom$G1) vkb 0 connected" "$R/vdispld-domd.log" | tail -n 1 | sed 's/.*vdispld: //')
if [ "$FE" = 4 ] && [ "$BE" = 4 ] && [ -n "$CONN" ]; then
    check l_domd_vkb PASS "frontend and backend Connected; domd: $CONN"
else
    check l_domd_vkb FAIL "frontend state '$FE', backend state '$BE', domd: '$CONN'"
fi

# (l) the client flips and holds frame FR: what domd scans out is that frame
# (vkms' CRC equals domd's own drawing of it)
step domd-flips 200
gsend g1 "run A --frames $FR --hold 10"
gwait g1 CLIENT-RESULT 150
RES=$(gline g1 CLIENT-RESULT)
sleep 1
dsend "crc G"
gwait domd "DOMD-CRC G " 30
C=$(field crc "$(dline 'DOMD-CRC G ')")
domd_log
WHY=$(grep "dom$G1: zero-copy unavailable" "$R/vdispld-domd.log" | head -n 1 | sed 's/.*instead: //')
if flips_ok "$RES" "$FR" && [ "$(field last "$RES")" = "$FR" ]; then
    check l_domd_flips PASS "$RES; domd: ${WHY:-no fallback line}"
else
    check l_domd_flips FAIL "${RES:-no result}"
fi
if [ -n "$C" ] && [ "$C" = "$REF_A" ]; then
    check l_domd_crc PASS "guest's frame $FR scanned out by domd's vkms: crc $C = domd's drawing (frame $((FR + 1)): $REF_B)"
else
    check l_domd_crc FAIL "crc '$C', reference frame $FR $REF_A, frame $((FR + 1)) $REF_B; $RES"
fi
gwait g1 "GUEST-RUN-END A " 30

step domd-dmesg-g1 60
gsend g1 kmsg
if gwait g1 GUEST-DMESG-END 50; then
    L=$(gline g1 GUEST-DMESG-END)
    if [ "$(field frame_done_timeouts "$L")" = 0 ] && [ "$(field request_timeouts "$L")" = 0 ] &&
       [ "$(field grants_deferred "$L")" = 0 ]; then
        check l_domd_guest_dmesg PASS "$L"
    else
        check l_domd_guest_dmesg FAIL "$L"
    fi
else
    check l_domd_guest_dmesg FAIL "no answer"
fi

# (l) xl destroy in Dom0: libxl closes both backends in domd and waits for
# their directories to go (xl devd in domd removes them; without it libxl
# gives up after its 10 s and removes them itself); vdispld releases both
# devices and keeps running
step domd-destroy-g1 90
T0=$(up)
xl destroy g1 >"$R/xl-destroy-g1.log" 2>&1
RC=$?
DESTROY_S=$(dt "$(up)" "$T0")
sleep 1
LEFT=$(xenstore-ls "/local/domain/$DD/backend" 2>/dev/null | grep -cE "^ *$G1 = ")
domd_log
NREL=$(grep -cE "\(dom$G1\) (vdispl|vkb) 0: .*released" "$R/vdispld-domd.log")
TIMEDOUT=$(grep -c 'timed out while waiting for .* to be removed' "$R/xl-destroy-g1.log")
if [ $RC = 0 ] && [ "$LEFT" = 0 ] && [ "$NREL" = 2 ] && { [ $DEVD = 0 ] || [ "$TIMEDOUT" = 0 ]; }; then
    check l_domd_destroy PASS "xl_destroy_s=$DESTROY_S (xl devd in domd: $([ $DEVD = 1 ] && echo yes || echo no), libxl timeouts $TIMEDOUT); both backend directories gone; domd released vdispl and vkb"
else
    check l_domd_destroy FAIL "xl_rc=$RC xl_destroy_s=$DESTROY_S backend dirs left $LEFT released $NREL libxl timeouts $TIMEDOUT: $(grep -v '^xc\|detail' "$R/xl-destroy-g1.log" | tail -n 3 | tr '\n' '|')"
fi

# (l) vdispld stops on SIGTERM: its readiness node goes, its log has no
# warning or error
step domd-stop 60
dsend vdstop
gwait domd DOMD-VDSTOP 30
VRC=$(field rc "$(dline DOMD-VDSTOP)")
NODE=$(ready_node)
domd_log
W=$(grep -cE "$VD_WARN_RE" "$R/vdispld-domd.log")
S=$(grep '^summary:' "$R/vdispld-domd.log" | tail -n 1)
XEN=$(grep ' xen: ' "$R/vdispld-domd.log" | sed 's/.*vdispld: //' | tr '\n' ' ')
if [ "$VRC" = 0 ] && [ -z "$NODE" ] && [ "$W" = 0 ] && [ -n "$S" ]; then
    check l_domd_log PASS "exit 0, readiness node removed, no warning; $XEN; $S"
else
    check l_domd_log FAIL "exit '$VRC', readiness node '$NODE', warnings/errors $W, summary '$S'"
    grep -E "$VD_WARN_RE" "$R/vdispld-domd.log" | head -n 10
fi
finish
