#!/bin/sh
# /root/scenario.sh -- the Xen-in-QEMU test, run by Dom0's init by itself.
#
# vdispld (the build under test) serves the vdispl devices of real PV guests
# whose kernel runs Linux's drm_xen_front; xenfront-client draws in the
# guests. Dom0 drives the guests through their consoles (a command per line
# written to the console pty, answers read from xenconsoled's log).
#
# Lines for run.py on the host:
#   VDTEST-STEP NAME budget=SECONDS   a step starts; run.py's hard timeout
#   VDTEST-CHECK ID PASS|FAIL DETAIL  one check
#   VDTEST-CAPTURE TAG FILE RESULT    a capture PNG in the results dir and the
#                                     client's CLIENT-RESULT line it must match
#   VDTEST-FILE-BEGIN NAME / -END     base64 of a file (when 9p is missing)
#   VDTEST-SCREENDUMP TAG FILE RESULT the host takes a QEMU screendump into
#                                     FILE now (the KMS case), then writes
#                                     FILE.done; RESULT: the client's line
# Files in /results (the host's directory over virtio-9p): vdispld logs, guest
# console logs, xl logs, captures.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/xen-4.17/bin
R=/results
grep -q ' /results 9p ' /proc/mounts && SHARED=1 || SHARED=0
CAP=/run/capture
CON=/var/log/xen/console
mkdir -p "$CAP" "$R"
VPID=
VRUN=0
KRUN=
VD_OUTPUT="--output headless --capture-dir $CAP"
VD_INPUT=
# up, dt, step, check, field; glog, create (with mkcfg below), gwait, gline,
# gsend, client_run, flips_ok
. /lib/dom0-lib.sh

# "vdtest_only=domd" on Dom0's command line (run.py --only-domd): the
# display domain case alone, a scenario of its own
grep -q 'vdtest_only=domd' /proc/cmdline && exec sh /root/domd-scenario.sh

# emit FILE: to the host (a shared dir needs nothing; else base64 on the console)
emit() {
    [ -f "$1" ] || return 0
    [ "$SHARED" = 1 ] && return 0
    echo "VDTEST-FILE-BEGIN $(basename "$1")"
    base64 "$1"
    echo "VDTEST-FILE-END"
}

# ---- vdispld ----
vd_log() { echo "$R/vdispld.$VRUN.log"; }
# A warning or worse in its log (stderr to a file: "HH:MM:SS.mmm vdispld: LEVEL: ...")
VD_WARN_RE=' vdispld: (emerg|alert|crit|error|warning): '

start_vdispld() {
    VRUN=$((VRUN + 1))
    # shellcheck disable=SC2086
    /usr/sbin/vdispld --hypervisor xen $VD_OUTPUT $VD_INPUT --status-interval 1 -v -v >"$(vd_log)" 2>&1 &
    VPID=$!
    i=0
    while ! grep -q 'running: hypervisor' "$(vd_log)" && [ $i -lt 100 ]; do
        kill -0 $VPID 2>/dev/null || break
        sleep 0.2; i=$((i + 1))
    done
    if grep -q 'running: hypervisor' "$(vd_log)"; then
        echo "VDTEST-INFO vdispld run $VRUN pid $VPID up uptime=$(up)"
        return 0
    fi
    echo "VDTEST-INFO vdispld run $VRUN did not start:"
    cat "$(vd_log)"
    return 1
}
vd_alive() { kill -0 "$VPID" 2>/dev/null; }

# ---- guests ----
# mkcfg NAME [CONNECTOR-SIZE]; VKB=1: a vkb served by vdispld too, with
# VKBOPTS (xl's vkb options, comma-separated) after its backend-type;
# CONNECTORS: xl's whole connectors= list instead of one Virtual-1
mkcfg() {
    VKBLINE=
    [ "${VKB:-0}" = 1 ] && VKBLINE="vkb = [ 'backend-type=linux${VKBOPTS:+,$VKBOPTS}' ]"
    cat >"/etc/xen/$1.cfg" <<EOF
name = "$1"
type = "pv"
kernel = "/root/domu/vmlinuz"
ramdisk = "/root/domu/domu.cpio.gz"
extra = "console=hvc0 loglevel=6"
memory = 256
vcpus = 1
on_crash = "preserve"
vdispl = [ 'backend=0,be-alloc=0,connectors=${CONNECTORS:-Virtual-1:${2:-640x480}}' ]
$VKBLINE
EOF
}

# capture TAG GUEST RESULT [CONNECTOR]: keep what vdispld captured for the
# host's check (connector 0 unless given)
capture() {
    src="$CAP/$2_${4:-0}.png"
    if [ -f "$src" ]; then
        cp "$src" "$R/capture-$1.png"
        echo "VDTEST-CAPTURE $1 capture-$1.png $3"
        emit "$R/capture-$1.png"
    else
        echo "VDTEST-CAPTURE $1 missing $3"
    fi
}

finish() {
    step finish 60
    [ -n "$VPID" ] && vd_alive && kill -TERM "$VPID"
    i=0; while [ -n "$VPID" ] && vd_alive && [ $i -lt 25 ]; do sleep 0.2; i=$((i + 1)); done
    # (h) vdispld logged no warning or error in any run, and the last one
    # shut down cleanly on SIGTERM
    # The KMS run may log notices that the flip watchdog (KMS_WATCHDOG_US,
    # 100 ms) fired when Dom0 got no CPU in time for the page-flip event (one
    # TCG vCPU shared by Dom0 and the flipping guest); vdispld completes the
    # flips anyway (i_kms_flips, i_kms_guest_dmesg). Their count is reported.
    if [ "$VRUN" -gt 0 ]; then
        KW=0
        [ -n "$KRUN" ] && KW=$(grep -cE " vdispld: notice: kms: [^:]*: no page-flip event" "$R/vdispld.$KRUN.log")
        W=$(cat "$R"/vdispld.*.log | grep -cE "$VD_WARN_RE")
        S=$(grep '^summary:' "$(vd_log)" | tail -n 1)
        if [ "$W" = 0 ] && [ -n "$S" ] && ! vd_alive; then
            check h_vdispld_log PASS "runs=$VRUN kms_late_flip_events=$KW last: $S"
        else
            check h_vdispld_log FAIL "warnings/errors=$W summary=\"$S\" alive=$(vd_alive && echo yes || echo no)"
            cat "$R"/vdispld.*.log | grep -E "$VD_WARN_RE" | head -n 20
        fi
    fi
    xl list >"$R/xl-list.log" 2>&1
    xl dmesg >"$R/xen-dmesg.log" 2>&1
    dmesg >"$R/dom0-dmesg.log" 2>&1
    cp "$CON"/guest-*.log "$R/" 2>/dev/null
    for f in "$R"/vdispld.*.log; do
        echo "---- $(basename "$f") (tail) ----"
        tail -n 25 "$f"
    done
    echo "VDTEST-SCENARIO-DONE failed=$FAILED"
    exit 0
}

# (i) vdispld with --output kms on QEMU's virtual GPU (-vga std: bochs-drm in
# Dom0): a fresh guest flips, and after its last frame the host takes a QEMU
# screendump that must show that frame at 0,0 (one guest alone, its 640x480
# connector gets the display's 640x480 mode). The vdispld before it stops on
# SIGTERM; this run is the last one, checked by (h) with the others.
kms_case() {
    step kms-gpu 60
    modprobe bochs >"$R/modprobe-bochs.log" 2>&1 || echo "VDTEST-INFO modprobe bochs failed"
    i=0; while [ ! -e /dev/dri/card0 ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
    if [ ! -e /dev/dri/card0 ]; then
        check i_kms_flips FAIL "no /dev/dri/card0 in Dom0: $(dmesg | grep -iE 'bochs|drm' | tail -n 3 | tr '\n' '|')"
        return
    fi
    echo "VDTEST-INFO dom0 gpu: $(dmesg | grep -iE 'bochs|\[drm\]' | tail -n 3 | tr '\n' '|')"
    if [ -n "$VPID" ] && vd_alive; then
        kill -TERM "$VPID"
        i=0; while vd_alive && [ $i -lt 25 ]; do sleep 0.2; i=$((i + 1)); done
    fi
    step kms-vdispld 30
    # Display only: this Dom0 has no udev for libinput (--input auto would
    # take it with --output kms).
    VD_OUTPUT="--output kms --drm-device /dev/dri/card0 --input none"
    KRUN=$((VRUN + 1))
    if ! start_vdispld; then
        check i_kms_flips FAIL "vdispld --output kms did not start"
        return
    fi
    step kms-create-g3 200
    if ! { create g3 640x480 && gwait g3 GUEST-READY 140 &&
           gline g3 GUEST-CARD | grep -q /dev/dri/card; }; then
        check i_kms_flips FAIL "create_rc=$RC card=\"$(gline g3 GUEST-CARD)\""
        return
    fi
    # the client keeps its last frame on screen while the host takes the dump
    step kms-flips 240
    gsend g3 "bg K --frames 300 --hold 90"
    gwait g3 "CLIENT-RESULT" 230
    RES=$(gline g3 CLIENT-RESULT)
    if flips_ok "$RES" 300; then
        check i_kms_flips PASS "$RES"
    else
        check i_kms_flips FAIL "${RES:-no result}"
    fi
    step kms-screendump 60
    sleep 1
    rm -f "$R/screen-K.ppm.done"
    echo "VDTEST-SCREENDUMP K screen-K.ppm $RES"
    if [ "$SHARED" = 1 ]; then
        i=0; while [ ! -e "$R/screen-K.ppm.done" ] && [ $i -lt 200 ]; do sleep 0.2; i=$((i + 1)); done
    else
        sleep 10
    fi
    step kms-dmesg-g3 60
    gsend g3 kmsg
    if gwait g3 GUEST-DMESG-END 50; then
        L=$(gline g3 GUEST-DMESG-END)
        if [ "$(field frame_done_timeouts "$L")" = 0 ] && [ "$(field request_timeouts "$L")" = 0 ] &&
           [ "$(field grants_deferred "$L")" = 0 ]; then
            check i_kms_guest_dmesg PASS "$L"
        else
            check i_kms_guest_dmesg FAIL "$L"
        fi
    else
        check i_kms_guest_dmesg FAIL "no answer"
    fi
    xl destroy g3 >"$R/xl-destroy-g3.log" 2>&1
}

# ============================================================================
# "vdtest_only=kms" on Dom0's command line (run.py --only-kms): the KMS case alone
if grep -q 'vdtest_only=kms' /proc/cmdline; then
    kms_case
    finish
fi

# (j) the input case: Dom0 has uinput, evdev and systemd-udevd (libinput
# needs udev's ID_INPUT_* properties); the first vdispld runs with --input
# libinput and g1 gets a vkb besides its vdispl
INPUT=0
if [ -x /bin/uinput_inject ]; then
    step input-dom0 60
    T0=$(up)
    modprobe uinput && modprobe evdev &&
        /lib/systemd/systemd-udevd --daemon >"$R/udevd.log" 2>&1 &&
        udevadm trigger --action=add && udevadm settle --timeout=30 && INPUT=1
    echo "VDTEST-INFO dom0 udev up=$INPUT seconds=$(dt "$(up)" "$T0")"
    [ $INPUT = 1 ] && VD_INPUT="--input libinput"
fi

step vdispld 30
if ! start_vdispld; then
    check a_xl_create FAIL "vdispld did not start"
    finish
fi
# the later runs (restart, KMS) serve no vkb: no input source
VD_INPUT=

# (a) xl create: vdispld must put the device in InitWait within libxl's 10 s
step create-g1 90
if VKB=$INPUT create g1; then
    check a_xl_create PASS "seconds=$CREATE_S"
else
    check a_xl_create FAIL "rc=$RC seconds=$CREATE_S"
    finish
fi

# (b) the guest's xen-front connects: /dev/dri/card0
step connect-g1 150
if gwait g1 GUEST-READY 140 && gline g1 GUEST-CARD | grep -q /dev/dri/card; then
    check b_card PASS "$(gline g1 GUEST-CARD)"
else
    check b_card FAIL "$(gline g1 GUEST-CARD)"
    xenstore-ls -f /local/domain/0/backend/vdispl
    finish
fi

# vkb_reader GUEST COUNT LOG: wait until vdispld has GUEST's vkb connected,
# start xenfront-evread in GUEST for COUNT events; CONN: vdispld's line,
# DEVS: the guest's evdev nodes; what libxl and xen-kbdfront wrote to
# xenstore goes to $R/LOG (for docs/real-frontend.md)
vkb_reader() {
    D=$(xl domid "$1" 2>/dev/null)
    i=0
    while ! grep -q "(dom$D) vkb 0 connected" "$(vd_log)" && [ $i -lt 50 ]; do
        sleep 0.2; i=$((i + 1))
    done
    CONN=$(grep "(dom$D) vkb 0 connected" "$(vd_log)" | tail -n 1 | sed 's/.*vdispld: //')
    gsend "$1" "evr --count $2 --idle 4 --timeout 40"
    gwait "$1" EVREAD-READY 20
    DEVS=$(grep '^EVREAD-DEV' "$(glog "$1")" | tr -d '\r' | awk '{print $3}' | tr '\n' ' ')
    { xenstore-ls -f /local/domain/0/backend/vinput; xenstore-ls -f "/local/domain/$D/device/vkbd"; } \
        >"$R/$3" 2>&1
}

# vkb_inject GUEST SCRIPT LOG: play SCRIPT with uinput_inject (output to
# $R/LOG), then collect what GUEST's xenfront-evread read; IRC: the
# injector's status, END: the reader's last line, EVS: its "EV dev ..." lines
vkb_inject() {
    uinput_inject "$2" >"$R/$3" 2>&1
    IRC=$?
    gwait "$1" EVREAD-END 30
    END=$(gline "$1" EVREAD-END)
    EVS=$(sed -n '/EVREAD-READY/,/EVREAD-END/p' "$(glog "$1")" | tr -d '\r' | grep '^EV ')
}
# evs_of DEV: the events of device DEV in EVS, "TYPE CODE VALUE," each
evs_of() { echo "$EVS" | grep "^EV $1 " | cut -d' ' -f3- | tr '\n' ','; }

# (j) keys and pointer events injected in Dom0 through uinput reach g1's
# xen-kbdfront: libinput (udev seat) -> router (g1 has the focus: the only
# guest with a vkb; headless has no layout, so relative motion stays
# relative) -> kbdif ring -> the guest's evdev nodes, read by xenfront-evread
input_case() {
    step input-g1 60
    T0=$(up)
    vkb_reader g1 13 xenstore-vkb.log
    if [ -n "$CONN" ] && echo "$DEVS" | grep -q kbd && echo "$DEVS" | grep -q ptr; then
        check j_vkb_connect PASS "$CONN; guest evdev: $DEVS"
    else
        check j_vkb_connect FAIL "backend: '$CONN'; guest evdev: '$DEVS'"
        return
    fi
    # device 0: keyboard, 1: mouse (relative); the sleeps as in the VM input
    # test: two devices' events in one dispatch could come in either order,
    # and libinput holds a button release that quickly follows its press
    cat >/run/input.script <<EOF
create 0 kbd vdtest keyboard
create 1 mouse vdtest mouse
wait $(vd_log) 2 input: device added: vdtest
sleep 500
key 0 30 1
key 0 30 0
key 0 42 1
key 0 48 1
key 0 48 0
key 0 42 0
sleep 300
rel 1 5 -3
rel 1 10 20
key 1 272 1
key 1 272 0
sleep 300
wheel 1 1
sleep 300
EOF
    vkb_inject g1 /run/input.script uinput-inject.log
    KBD=$(evs_of kbd)
    PTR=$(evs_of ptr)
    OTHER=$(echo "$EVS" | grep -vE '^EV (kbd|ptr) ' | grep -c .)
    echo "VDTEST-INFO input: inject rc=$IRC; guest $END; seconds=$(dt "$(up)" "$T0")"
    # a, then shift+b
    if [ "$KBD" = "KEY 30 1,KEY 30 0,KEY 42 1,KEY 48 1,KEY 48 0,KEY 42 0," ] && [ "$OTHER" = 0 ]; then
        check j_vkb_keys PASS "kbd: $KBD"
    else
        check j_vkb_keys FAIL "inject_rc=$IRC kbd: '$KBD' other devices: $OTHER ($END)"
    fi
    # REL_X=0, REL_Y=1, BTN_LEFT=272, REL_WHEEL=8
    if [ "$PTR" = "REL 0 5,REL 1 -3,REL 0 10,REL 1 20,KEY 272 1,KEY 272 0,REL 8 1," ]; then
        check j_vkb_pointer PASS "ptr: $PTR"
    else
        check j_vkb_pointer FAIL "inject_rc=$IRC ptr: '$PTR' ($END)"
    fi
}
[ $INPUT = 1 ] && input_case

# (j) absolute pointer and multi-touch, on g2 (created later with the same
# vdispld, g1 destroyed by then: g2 gets the focus). Its vkb offers an
# absolute pointer of 2048x1536 and 2 contacts on 1024x512
# (feature-abs-pointer, width/height, multi-touch-*: xl writes them in
# backend/vinput, xen-kbdfront reads them at probe and requests both). Dom0
# gets a uinput tablet (an absolute mouse, 0..4095 on both axes) and touch
# screen (4 slots, 0..4095). Headless has no layout: the focus takes each
# position over its whole area. libinput scales a position to
# v * 65536 / 4096 (its range is max - min + 1) = 16 v, the router passes
# it on with the range 65536, kbdback scales it to the device:
# 16 v * 2048 / 65536 = v / 2 for the pointer's x, 16 v * 1536 / 65536 =
# 3 v / 8 for its y, v / 4 and v / 8 for touch (truncated: 4095 -> 2047,
# 1535). The values below divide exactly but at the edge.
G2_VKB="feature-abs-pointer=1,width=2048,height=1536"
G2_VKB="$G2_VKB,multi-touch-width=1024,multi-touch-height=512,multi-touch-num-contacts=2"
input_abs_touch() {
    step input-g2 60
    T0=$(up)
    vkb_reader g2 30 xenstore-vkb-g2.log
    # device 2: tablet, 3: touch screen. A click and a detent on the tablet
    # too: in abs mode the wheel rides on a POS event at the last position
    # (which the guest's evdev drops as unchanged)
    cat >/run/input-g2.script <<EOF
create 2 tablet vdtest tablet
create 3 touch vdtest touchscreen
wait $(vd_log) 2 input: device added: vdtest t
sleep 500
abs 2 1000 800
key 2 272 1
key 2 272 0
sleep 300
wheel 2 1
sleep 300
abs 2 3000 2000
abs 2 4095 4095
sleep 300
down 3 0 1000 800
down 3 1 2000 1600
move 3 0 1200 1000
up 3 0
up 3 1
sleep 300
EOF
    vkb_inject g2 /run/input-g2.script uinput-inject-g2.log
    PTR=$(evs_of ptr)
    MT=$(evs_of mt)
    OTHER=$(echo "$EVS" | grep -vE '^EV (ptr|mt) ' | grep -c .)
    echo "VDTEST-INFO input g2: inject rc=$IRC; guest $END; seconds=$(dt "$(up)" "$T0")"
    # ABS_X=0, ABS_Y=1, BTN_LEFT=272, REL_WHEEL=8: (1000,800) -> (500,300),
    # click, detent, (3000,2000) -> (1500,750), (4095,4095) -> (2047,1535)
    WANT="ABS 0 500,ABS 1 300,KEY 272 1,KEY 272 0,REL 8 1,ABS 0 1500,ABS 1 750,ABS 0 2047,ABS 1 1535,"
    if echo "$CONN" | grep -q 'pointer abs 2048x1536' && echo "$DEVS" | grep -q ptr &&
       [ "$PTR" = "$WANT" ] && [ "$OTHER" = 0 ]; then
        check j_vkb_abs PASS "$CONN; ptr: $PTR"
    else
        check j_vkb_abs FAIL "backend: '$CONN'; guest evdev: '$DEVS'; inject_rc=$IRC ptr: '$PTR' other devices: $OTHER ($END)"
    fi
    # ABS_MT_SLOT=47, ABS_MT_TRACKING_ID=57, ABS_MT_POSITION_X/Y=53/54,
    # BTN_TOUCH=330; xen-kbdfront: input_mt_slot per contact id (the
    # router's SYN carries contact 0), tracking ids from 0, and the
    # INPUT_MT_DIRECT pointer emulation at each SYN (BTN_TOUCH, ABS_X/Y of
    # the oldest contact); the input core sends only what changed and
    # ABS_MT_SLOT only before a value of another slot.
    #   down 0 (1000,800)->(250,100); down 1 (2000,1600)->(500,200);
    #   move 0 (1200,1000)->(300,125); up 0; up 1
    WANT="ABS 57 0,ABS 53 250,ABS 54 100,KEY 330 1,ABS 0 250,ABS 1 100,"
    WANT="${WANT}ABS 47 1,ABS 57 1,ABS 53 500,ABS 54 200,"
    WANT="${WANT}ABS 47 0,ABS 53 300,ABS 54 125,ABS 0 300,ABS 1 125,"
    WANT="${WANT}ABS 57 -1,ABS 0 500,ABS 1 200,"
    WANT="${WANT}ABS 47 1,ABS 57 -1,KEY 330 0,"
    if echo "$CONN" | grep -q ', multi-touch' && echo "$DEVS" | grep -q mt &&
       [ "$MT" = "$WANT" ] && [ "$OTHER" = 0 ]; then
        check j_vkb_touch PASS "mt: $MT"
    else
        check j_vkb_touch FAIL "backend: '$CONN'; guest evdev: '$DEVS'; inject_rc=$IRC mt: '$MT' other devices: $OTHER ($END)"
    fi
}

# (c) 300 flips, no errors
step flips-A 300
if client_run g1 A 290 --frames 300 --hold 2 && flips_ok "$RES" 300; then
    check c_flips PASS "$RES"
else
    check c_flips FAIL "${RES:-no result}"
fi
# (c) the automatic fallback: this Dom0 cannot export grants as dma-bufs
# (Debian's gntdev has no dma-buf ioctls, and an x86 PV backend domain is
# refused the export anyway), so vdispld maps the guest's grants instead,
# says why once for the guest, and counts it grant-mapped in its status
D1=$(xl domid g1 2>/dev/null)
FB=$(grep -c "dom$D1: zero-copy unavailable, mapping grants instead: dma-buf export refused" "$(vd_log)")
WHY=$(grep "dom$D1: zero-copy unavailable" "$(vd_log)" | head -n 1 | sed 's/.*instead: //')
ST=$(grep 'status: .* 1 connected (0 zero-copy, 1 grant-mapped)' "$(vd_log)" | tail -n 1 | sed 's/.*status: //')
if [ "$FB" = 1 ] && [ -n "$ST" ] &&
   echo "$WHY" | grep -qE 'x86 PV backend domain cannot export|without CONFIG_XEN_GNTDEV_DMABUF'; then
    check c_fallback PASS "logged once: $WHY; status: $ST"
else
    check c_fallback FAIL "fallback lines for dom$D1: $FB ($WHY); status: '$ST'"
fi
# (d) the capture of the last frame, checked on the host
capture A g1 "$RES"

# (f) the client exits and starts again; an uncommon workload this time:
# RGB565, 16 buffers, dumb buffers 643 pixels wide (pitch 1286) under a
# 640-wide fb
step flips-B 300
if client_run g1 B 290 --frames 300 --format RG16 --buffers 16 --dbuf-width 643 --hold 2 &&
   flips_ok "$RES" 300; then
    check f_client_restart PASS "$RES"
else
    check f_client_restart FAIL "${RES:-no result}"
fi
capture B g1 "$RES"

# (e) the guest kernel log: no frame-done or request timeouts, and no grant
# the frontend could not take back (the backend must unmap a buffer before it
# answers DBUF_DESTROY)
step dmesg-g1 60
gsend g1 kmsg
if gwait g1 GUEST-DMESG-END 50; then
    L=$(gline g1 GUEST-DMESG-END)
    if [ "$(field frame_done_timeouts "$L")" = 0 ] && [ "$(field request_timeouts "$L")" = 0 ] &&
       [ "$(field grants_deferred "$L")" = 0 ]; then
        check e_guest_dmesg PASS "$L"
    else
        check e_guest_dmesg FAIL "$L"
    fi
else
    check e_guest_dmesg FAIL "no answer"
fi

# (f) xl destroy in the middle of flipping: vdispld releases the device and
# keeps running
step destroy-g1 90
gsend g1 "bg C --frames 1000000 --hold 0"
gwait g1 "GUEST-RUN-BEGIN C " 30
gwait g1 "CLIENT-START" 30
sleep 3
D1=$(xl domid g1)
T0=$(up)
xl destroy g1 >"$R/xl-destroy-g1.log" 2>&1
RC=$?
i=0
while ! grep -q "dom$D1) vdispl 0: .*released" "$(vd_log)" && [ $i -lt 60 ]; do
    sleep 0.5; i=$((i + 1))
done
REL=$(grep "dom$D1) vdispl 0: .*released" "$(vd_log)" | tail -n 1)
if [ $RC = 0 ] && [ -n "$REL" ] && vd_alive; then
    check f_destroy PASS "xl_destroy_s=$(dt "$(up)" "$T0") log=\"${REL#*vdispld: }\""
else
    check f_destroy FAIL "xl_rc=$RC released=\"$REL\" vdispld_alive=$(vd_alive && echo yes || echo no)"
fi

# (k) one framebuffer across g2's two connectors of different sizes, as
# multi-head programs drive KMS (modetest -s A -s B, X11's modesetting):
# the client's --span sets each CRTC on one 960x480 fb, Virtual-1 (640x480)
# at x 0 and Virtual-2 (320x240) at x 640, then flips both every frame.
# vdispld's debug line per SET_CONFIG records what Linux sent
# (docs/real-frontend.md); no request may fail, the guest's kernel may not
# log "Failed to enable display", and each connector's capture must be its
# window of the last frame, pixel for pixel (run.py).
span_case() {
    step span-g2 240
    D2=$(xl domid g2 2>/dev/null)
    if client_run g2 S 200 --span --frames 60 --hold 3 && flips_ok "$RES" 60 &&
       [ "$(field heads "$RES")" = 2 ]; then
        check k_span_flips PASS "$RES"
    else
        check k_span_flips FAIL "${RES:-no result}"
    fi
    SC0=$(grep "dom$D2 conn 0: SET_CONFIG" "$(vd_log)" | tail -n 1 | sed 's/.*SET_CONFIG //')
    SC1=$(grep "dom$D2 conn 1: SET_CONFIG" "$(vd_log)" | tail -n 1 | sed 's/.*SET_CONFIG //')
    ERRS=$(grep -cE "dom$D2 conn [0-9]+: op 0x[0-9a-f]+ id [0-9]+: status -" "$(vd_log)")
    gsend g2 kmsg
    gwait g2 GUEST-DMESG-END 30
    L=$(gline g2 GUEST-DMESG-END)
    if echo "$SC0" | grep -q ' at 0,0, request 960x480 bpp 32' &&
       echo "$SC1" | grep -q ' at 640,0, request 960x480 bpp 32' && [ "$ERRS" = 0 ] &&
       [ "$(field enable_failures "$L")" = 0 ] && [ "$(field request_timeouts "$L")" = 0 ] &&
       [ "$(field frame_done_timeouts "$L")" = 0 ]; then
        check k_span_set_config PASS "conn 0: $SC0; conn 1: $SC1; error statuses: 0; guest: $L"
    else
        check k_span_set_config FAIL "conn 0: '$SC0'; conn 1: '$SC1'; error statuses: $ERRS; guest: $L"
        grep -E "dom$D2 conn" "$(vd_log)" | tail -n 12
    fi
    capture S0 g2 "$RES win=$(field win0 "$RES")" 0
    capture S1 g2 "$RES win=$(field win1 "$RES")" 1
}

# (f) a second guest, same vdispld (with the input case: its vkb, (j) above);
# two connectors of different sizes, for (k)
step create-g2 200
G2=0
CONNECTORS='Virtual-1:640x480;Virtual-2:320x240' VKB=$INPUT VKBOPTS=$G2_VKB create g2 &&
    gwait g2 GUEST-READY 140 && gline g2 GUEST-CARD | grep -q /dev/dri/card && G2=1
[ $G2 = 1 ] && [ $INPUT = 1 ] && input_abs_touch
step flips-D 150
if [ $G2 = 1 ] && client_run g2 D 120 --frames 60 --hold 2 && flips_ok "$RES" 60; then
    check f_second_guest PASS "$RES"
else
    check f_second_guest FAIL "create_rc=$RC card=\"$(gline g2 GUEST-CARD)\" result=\"$RES\""
    finish
fi
span_case

# (g) vdispld killed (-9) and restarted while the guest flips: the guest
# reconnects and the client can draw again
step restart-vdispld 240
gsend g2 "bg E --frames 1000000 --hold 0 --flip-timeout 4 --max-errors 1"
gwait g2 "GUEST-RUN-BEGIN E " 30
gwait g2 "CLIENT-START.*" 30
sleep 3
kill -9 "$VPID"
wait "$VPID" 2>/dev/null
echo "VDTEST-INFO vdispld killed uptime=$(up)"
xenstore-ls -f /local/domain/0/backend/vdispl
sleep 1
if start_vdispld; then
    gwait g2 "GUEST-RUN-END E " 60
    client_run g2 F 200 --frames 100 --hold 2 --wait 60
    # the run goes through "retry" when the first try lands on the old card
    if ! flips_ok "$RES" 100; then
        gsend g2 "retry G 5 --frames 100 --hold 2"
        gwait g2 "GUEST-RUN-END G " 200
        RES=$(sed -n "/GUEST-RETRY G /,/GUEST-RUN-END G /p" "$(glog g2)" |
              grep CLIENT-RESULT | tail -n 1 | tr -d '\r')
        TAG=G
    else
        TAG=F
    fi
    if flips_ok "$RES" 100; then
        check g_vdispld_restart PASS "$RES"
        capture "$TAG" g2 "$RES"
    else
        check g_vdispld_restart FAIL "${RES:-no result}"
        xenstore-ls -f /local/domain/0/backend/vdispl
        xenstore-ls -f "/local/domain/$(xl domid g2)/device/vdispl"
    fi
else
    check g_vdispld_restart FAIL "vdispld did not restart"
fi
gsend g2 kmsg
gwait g2 GUEST-DMESG-END 30
xl destroy g2 >/dev/null 2>&1
# "vdtest_kms=off" (run.py --no-kms: no virtual GPU): no KMS case
grep -q 'vdtest_kms=off' /proc/cmdline || kms_case
finish
