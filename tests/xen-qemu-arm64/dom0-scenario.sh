#!/bin/sh
# /root/scenario.sh -- the arm64 Xen-in-QEMU test (zero-copy on real Xen),
# run by Dom0's init. Dom0 is an auto-translated arm64 domain, so gntdev can
# export a guest's grants as a dma-buf; vkms is Dom0's display.
#
#   ref      the Dom0 reference: xenfront-client itself, run in Dom0 on vkms,
#            shows frame N (then N+1); vkms' CRC of each is read from
#            debugfs (crtc-0/crc). The two must differ (else the check
#            below could not fail).
#   fe       vdispld --output kms on vkms; guest g1 (PVH, drm_xen_front,
#            vdispl be-alloc=0) draws frames 0..N and holds N. vdispld must
#            report the guest zero-copy (gntdev dma-buf export imported into
#            vkms with PRIME), vkms' CRC must equal the reference's for N,
#            and vdispld's KMS summary must say 0 copies per flip.
#   be       the same with be-alloc=1: vdispld allocates vkms dumb buffers,
#            exports them as dma-bufs and grants them to the guest
#            (imp_to_refs); the guest's xen-front draws into them.
#            DBUF_DESTROY is answered after the release; nothing is left
#            awaiting release; the guest's log is clean.
#   novmap   the test-only vmap turned off (gntdev behaves as upstream's):
#            vkms refuses to scan the imported buffer out; vdispld must fall
#            back to copying that guest's frames, and the CRC still match.
#   overlay  a 640x480 guest placed on a rectangle of vkms' screen goes
#            onto an overlay plane (zero copy); vkms' CRC equals that of the
#            same scene composed by copying (--copy).
#   measure  DBUF_CREATE and DBUF_DESTROY(-to-release) times seen by
#            vdispld for 1080p buffers and for 4K-sized ones (33 MB; Linux
#            6.1's xen-front caps modes at 4095x2047, so a 1080p mode with
#            7680-pixel-wide dumb buffers), fe-alloc and be-alloc.
#
# vkms scans out by composing with the CPU: it needs a kernel mapping of the
# imported buffer, which upstream gntdev's dma-buf exporter does not offer.
# The xen-gntdev module here carries a TEST-ONLY vmap/mmap patch
# (gntdev-test-vmap.py) for that; a display controller scanning out by DMA
# needs no such patch.
#
# Lines for run.py: VDTEST-STEP NAME budget=S, VDTEST-CHECK ID PASS|FAIL
# DETAIL, VDTEST-MEASURE NAME VALUE... ; files in /results (virtio-9p).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/xen-4.17/bin
export LD_LIBRARY_PATH=/usr/lib/xen-4.17/lib/aarch64-linux-gnu
R=/results
CON=/var/log/xen/console
FR=60          # frames the client flips; it then holds frame FR
VPID=
VRUN=0
up() { cut -d' ' -f1 /proc/uptime; }
dt() { echo "$1 $2" | awk '{printf "%.1f", $1 - $2}'; }
step() { echo "VDTEST-STEP $1 budget=$2 uptime=$(up)"; }
check() { echo "VDTEST-CHECK $1 $2 $3"; }
field() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }
# A warning or worse in vdispld's log (stderr to a file: "HH:MM:SS.mmm vdispld: LEVEL: ...")
VD_WARN_RE=' vdispld: (emerg|alert|crit|error|warning): '


# ---- vkms ----
step vkms 60
modprobe vkms enable_overlay=1 || echo "VDTEST-INFO modprobe vkms failed"
i=0; while [ -z "$(ls /dev/dri/card* 2>/dev/null)" ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
CARD=$(ls /dev/dri/card* 2>/dev/null | head -n 1)
N=${CARD#/dev/dri/card}
CRCD=/sys/kernel/debug/dri/$N/crtc-0/crc
GNT=$(cat /sys/module/xen_gntdev/taint 2>/dev/null)
if [ -n "$CARD" ] && [ -e "$CRCD/data" ]; then
    check a_vkms PASS "vkms at $CARD, CRC at $CRCD; xen_gntdev taint=$GNT (O: the out-of-tree dma-buf build)"
else
    check a_vkms FAIL "no vkms card or no CRC in debugfs (card '$CARD')"
fi

# crc: vkms' CRC of what crtc-0 scans out now (the last of 4 vblanks;
# each read() of crc/data returns one "0xFRAME 0xCRC" record)
crc() {
    echo auto >"$CRCD/control" 2>/dev/null || { echo none; return; }
    dd if="$CRCD/data" bs=64 count=4 2>/dev/null | tr '\0' '\n' | grep . | tail -n 1 |
        awk '{print $2}'
}

# ref FRAMES: Dom0's own drawing of frame FRAMES on vkms; its CRC
ref() {
    xenfront-client --device "$CARD" --frames "$1" --hold 30 --wait 5 >/run/ref.$1.log 2>&1 &
    rp=$!
    i=0; while ! grep -q CLIENT-RESULT /run/ref.$1.log && [ $i -lt 150 ]; do sleep 0.2; i=$((i + 1)); done
    sleep 0.5
    REF=$(crc)
    kill $rp 2>/dev/null; wait $rp 2>/dev/null
    echo "VDTEST-INFO reference frame $1: crc $REF ($(grep CLIENT-RESULT /run/ref.$1.log))"
}

step reference 60
ref $FR; REF_A=$REF
ref $((FR + 1)); REF_B=$REF
if [ -n "$REF_A" ] && [ "$REF_A" != none ] && [ -n "$REF_B" ] && [ "$REF_A" != "$REF_B" ]; then
    check b_reference PASS "Dom0 drawing on vkms: frame $FR crc $REF_A, frame $((FR + 1)) crc $REF_B (differ)"
else
    check b_reference FAIL "frame $FR crc '$REF_A', frame $((FR + 1)) crc '$REF_B'"
fi

# ---- vdispld ----
vd_log() { echo "$R/vdispld.$VRUN.log"; }
start_vdispld() {
    VRUN=$((VRUN + 1))
    # Display only: no udev here for libinput (--input auto takes it with kms).
    /usr/sbin/vdispld --hypervisor xen --output kms --drm-device "$CARD" --input none --status-interval 1 \
        -v -v "$@" >"$(vd_log)" 2>&1 &
    VPID=$!
    i=0
    while ! grep -q 'running: hypervisor' "$(vd_log)" && [ $i -lt 100 ]; do
        kill -0 $VPID 2>/dev/null || break
        sleep 0.2; i=$((i + 1))
    done
    grep -q 'running: hypervisor' "$(vd_log)" && return 0
    echo "VDTEST-INFO vdispld run $VRUN did not start:"; cat "$(vd_log)"
    return 1
}
stop_vdispld() {
    kill -TERM "$VPID" 2>/dev/null
    i=0; while kill -0 "$VPID" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
    wait "$VPID" 2>/dev/null
}

# ---- guests (their /init: ../xen-qemu/domu-init.sh) ----
# mkcfg NAME BE-ALLOC SIZE MEMORY
mkcfg() {
    cat >"/etc/xen/$1.cfg" <<CFG
name = "$1"
type = "pvh"
kernel = "/root/domu/Image"
ramdisk = "/root/domu/domu.cpio.gz"
extra = "console=hvc0 loglevel=6"
memory = ${4:-256}
vcpus = 1
on_crash = "preserve"
vdispl = [ 'backend=0,be-alloc=$2,connectors=Virtual-1:$3' ]
CFG
}
glog() { echo "$CON/guest-$1.log"; }
create() {
    mkcfg "$@"
    T0=$(up)
    xl -v create "/etc/xen/$1.cfg" >"$R/xl-create-$1.log" 2>&1
    RC=$?
    CREATE_S=$(dt "$(up)" "$T0")
    [ $RC = 0 ] || grep -vE '^(xc|domainbuilder): detail' "$R/xl-create-$1.log" | tail -n 20
    return $RC
}
gwait() {
    end=$(($(cut -d. -f1 /proc/uptime) + $3))
    while ! grep -q "$2" "$(glog "$1")" 2>/dev/null; do
        [ "$(cut -d. -f1 /proc/uptime)" -ge $end ] && return 1
        sleep 0.3
    done
}
gline() { grep "$2" "$(glog "$1")" 2>/dev/null | tail -n 1 | tr -d '\r'; }
gsend() {
    d=$(xl domid "$1" 2>/dev/null)
    tty=$(xenstore-read "/local/domain/$d/console/tty" 2>/dev/null)
    [ -n "$tty" ] && echo "$2" >"$tty"
}
destroy() {
    xl destroy "$1" >/dev/null 2>&1
    cp "$(glog "$1")" "$R/guest-$1.log" 2>/dev/null
}
# kmsg_check NAME ID: the guest's kernel log has no timeouts nor deferred grants
kmsg_check() {
    gsend "$1" kmsg
    if gwait "$1" GUEST-DMESG-END 40; then
        L=$(gline "$1" GUEST-DMESG-END)
        if [ "$(field frame_done_timeouts "$L")" = 0 ] && [ "$(field request_timeouts "$L")" = 0 ] &&
           [ "$(field grants_deferred "$L")" = 0 ]; then
            check "$2" PASS "$L"
        else
            check "$2" FAIL "$L"
        fi
    else
        check "$2" FAIL "no answer"
    fi
}

# zc_case ID NAME BE-ALLOC: one guest on vdispld+vkms, its held frame's CRC
zc_case() {
    id=$1; g=$2; be=$3
    step "$g-create" 90
    start_vdispld || { check "${id}_crc" FAIL "vdispld did not start"; return; }
    if ! create "$g" "$be" 1024x768; then
        check "${id}_crc" FAIL "xl create failed"; stop_vdispld; return
    fi
    echo "VDTEST-MEASURE xl_create_s $g $CREATE_S"
    if ! gwait "$g" GUEST-READY 90; then
        check "${id}_crc" FAIL "guest not ready"; destroy "$g"; stop_vdispld; return
    fi
    echo "VDTEST-INFO $g: $(gline "$g" GUEST-CARD) $(gline "$g" GUEST-READY)"
    step "$g-flips" 120
    gsend "$g" "run A --frames $FR --hold 8"
    if ! gwait "$g" CLIENT-RESULT 100; then
        check "${id}_crc" FAIL "the client did not finish: $(gline "$g" client:)"
        destroy "$g"; stop_vdispld; return
    fi
    RES=$(gline "$g" CLIENT-RESULT)
    echo "VDTEST-INFO $g: $RES"
    sleep 1
    C=$(crc)
    if [ "$(field errors "$RES")" = 0 ] && [ "$(field last "$RES")" = $FR ] && [ "$C" = "$REF_A" ]; then
        check "${id}_crc" PASS "guest's frame $FR scanned out by vkms: crc $C = Dom0 reference (frame $((FR + 1)): $REF_B)"
    else
        check "${id}_crc" FAIL "crc '$C', reference frame $FR $REF_A, frame $((FR + 1)) $REF_B; $RES"
    fi
    gwait "$g" "GUEST-RUN-END A " 30
    sleep 1
    kmsg_check "$g" "${id}_guest_dmesg"
    step "$g-stop" 60
    destroy "$g"
    sleep 1
    stop_vdispld
    L=$(vd_log)
    ZC=$(grep -c 'buffers are shared zero-copy' "$L")
    ST=$(grep 'status: ' "$L" | grep ' 1 connected (1 zero-copy' | tail -n 1 | sed 's/.*status: //')
    CP=$(grep 'copies per flip=' "$L" | tail -n 1 | sed 's/.*copies per flip=//')
    REFUSED=$(grep -c 'guest buffers are copied' "$L")
    if [ "$ZC" -ge 1 ] && [ -n "$ST" ] && [ "$CP" = 0.00 ] && [ "$REFUSED" = 0 ]; then
        check "${id}_zero_copy" PASS "vdispld: zero-copy ($ST), copies per flip=$CP"
    else
        check "${id}_zero_copy" FAIL "zero-copy lines $ZC, status '$ST', copies per flip '$CP', imports refused $REFUSED"
    fi
    FPS=$(grep 'status: ' "$L" | grep -o '[0-9.]* flips/s' | sort -n | tail -n 1)
    echo "VDTEST-MEASURE flips_per_s $g ${FPS% flips/s} (vdispld status, best second); client $(field fps "$RES")"
}

# destroy_check ID BE-ALLOC: in the last vdispld run, every DBUF_DESTROY was
# answered after its buffer's release, none is left awaiting release, and
# vdispld did not exit with buffers still held
destroy_check() {
    L=$(vd_log)
    N_CR=$(grep -c "DBUF_CREATE .* be-alloc=$2 in .*: 0\$" "$L")
    N_REL=$(grep -c 'DBUF_DESTROY answered after the release' "$L")
    N_NOW=$(grep -c 'DBUF_DESTROY in .* (released at once)' "$L")
    LAST=$(grep 'status: ' "$L" | tail -n 1 | sed 's/.*status: //')
    WAITING=$(echo "$LAST" | sed -n 's/.* \([0-9]*\) buffer(s) awaiting release (\([0-9]*\) past.*/\1+\2/p')
    HELD=$(grep -c 'still held' "$L")
    if [ "$N_CR" -ge 2 ] && [ $((N_REL + N_NOW)) -ge "$N_CR" ] && [ "$WAITING" = 0+0 ] && [ "$HELD" = 0 ]; then
        check "$1_destroy" PASS "$N_CR DBUF_CREATE (be-alloc=$2), DBUF_DESTROY answered after the release: $N_REL after a wait, $N_NOW released at once; last status: $LAST"
    else
        check "$1_destroy" FAIL "$N_CR creates, $N_REL+$N_NOW destroys, awaiting release '$WAITING', still-held lines $HELD; last status: $LAST"
    fi
}

step vdispld-fe 10
zc_case c_fe g1 0
destroy_check c_fe 0
zc_case d_be g2 1
destroy_check d_be 1

# held_frame GUEST SIZE: with vdispld running, GUEST (fe-alloc, a SIZE
# connector) flips $FR frames and holds the last; HF_RES: the client's
# result, HF_CRC: vkms' CRC of the held frame. Then GUEST is destroyed and
# vdispld stopped.
held_frame() {
    HF_RES=; HF_CRC=
    if create "$1" 0 "$2" && gwait "$1" GUEST-READY 90; then
        gsend "$1" "run A --frames $FR --hold 8"
        gwait "$1" CLIENT-RESULT 100 && HF_RES=$(gline "$1" CLIENT-RESULT)
        sleep 1
        HF_CRC=$(crc)
        gwait "$1" "GUEST-RUN-END A " 30
    fi
    destroy "$1"
    sleep 1
    stop_vdispld
}

# ---- the same exporter as upstream's (no vmap): vkms takes the PRIME import
# and AddFB2 but refuses the commit that scans it out. vdispld copies that
# guest's frames instead (through its grant mapping), says so once, and the
# CRC still matches.
novmap_case() {
    g=g3
    step "$g-novmap" 150
    P=/sys/module/xen_gntdev/parameters/test_vmap
    if ! echo N >"$P"; then
        check f_novmap_fallback FAIL "cannot turn the test-only vmap off ($P)"; return
    fi
    start_vdispld || { check f_novmap_fallback FAIL "vdispld did not start"; echo Y >"$P"; return; }
    held_frame "$g" 1024x768
    RES=$HF_RES; C=$HF_CRC
    echo Y >"$P"
    L=$(vd_log)
    WHY=$(grep 'scan-out of the imported buffer refused' "$L" | head -n 1 | sed 's/.*kms: //')
    NWHY=$(grep -c 'scan-out of the imported buffer refused' "$L")
    CP=$(grep 'copies per flip=' "$L" | tail -n 1 | sed 's/.*copies per flip=//')
    FAILS=$(grep -c 'commit failed' "$L")
    if [ "$(field errors "$RES")" = 0 ] && [ "$C" = "$REF_A" ] && [ "$NWHY" = 1 ] &&
       [ "$FAILS" = 0 ] && [ "${CP:-0.00}" != 0.00 ]; then
        check f_novmap_fallback PASS "crc $C = reference; logged once: $WHY; copies per flip=$CP"
    else
        check f_novmap_fallback FAIL "crc '$C' (reference $REF_A), refusal lines $NWHY ($WHY), commit failures $FAILS, copies per flip '$CP'; $RES"
    fi
}
novmap_case

# ---- a guest on a rectangle of the screen: an overlay plane, zero-copy ----
# vkms has overlay planes (enable_overlay=1). Guest g4's 640x480 connector
# is placed at 200,100 of vkms' 1024x768 screen by its configuration
# (guests.d/g4.conf), so vdispld puts its imported buffer on an overlay
# plane above a black composition. The reference: the same guest and
# placement composed by copying (--copy): guest g5, a fresh one (its console
# log is its own) with the same configuration; vkms' CRC of the two screens
# must be equal (and not the full-screen frame's).
# overlay_run GUEST LABEL [VDISPLD-ARGS]: OV_CRC, OV_RES (the client's result), OV_LOG
overlay_run() {
    g=$1; label=$2; shift 2
    step "$g-$label" 150
    OV_CRC=; OV_RES=
    start_vdispld --config /etc/vdispld/vdispld.conf "$@" || { OV_LOG=$(vd_log); return; }
    held_frame "$g" 640x480
    OV_CRC=$HF_CRC; OV_RES=$HF_RES
    echo "VDTEST-INFO $g ($label): crc $OV_CRC; $OV_RES"
    OV_LOG=$(vd_log)
}
overlay_case() {
    mkdir -p /etc/vdispld/guests.d
    echo "# the overlay case: g4 on a rectangle" >/etc/vdispld/vdispld.conf
    echo "connector.0 = 200,100,640x480" >/etc/vdispld/guests.d/g4.conf
    cp /etc/vdispld/guests.d/g4.conf /etc/vdispld/guests.d/g5.conf
    overlay_run g4 overlay
    C1=$OV_CRC; R1=$OV_RES
    U1=$(grep -o 'plane use: .*' "$OV_LOG" | tail -n 1 | sed 's/plane use: //')
    CP1=$(grep 'copies per flip=' "$OV_LOG" | tail -n 1 | sed 's/.*copies per flip=//')
    LAT1=$(grep 'flip latency' "$OV_LOG" | tail -n 1 | sed 's/.*flip latency //')
    overlay_run g5 composed --copy
    C2=$OV_CRC; R2=$OV_RES
    U2=$(grep -o 'plane use: .*' "$OV_LOG" | tail -n 1 | sed 's/plane use: //')
    LAT2=$(grep 'flip latency' "$OV_LOG" | tail -n 1 | sed 's/.*flip latency //')
    echo "VDTEST-MEASURE overlay_latency overlay: $LAT1"
    echo "VDTEST-MEASURE overlay_latency composed: $LAT2"
    if [ "$(field errors "$R1")" = 0 ] && [ "$(field last "$R1")" = $FR ] &&
       [ "$(field errors "$R2")" = 0 ] && [ "$(field last "$R2")" = $FR ] &&
       [ -n "$C1" ] && [ "$C1" != none ] && [ "$C1" = "$C2" ] && [ "$C1" != "$REF_A" ] &&
       [ "${CP1:-x}" = 0.00 ] && [ "$(field overlay "$U1")" -gt 0 ] 2>/dev/null &&
       [ "$(field composed "$U1")" = 0 ] && [ "$(field overlay "$U2")" = 0 ] &&
       [ "$(field composed "$U2")" -gt 0 ] 2>/dev/null; then
        check g_overlay PASS "guest at 200,100 on an overlay plane: crc $C1 = composed by copy ($C2); plane use $U1, copies per flip=$CP1; with --copy: $U2"
    else
        check g_overlay FAIL "crc overlay '$C1' composed '$C2' (full-screen frame $REF_A); plane use '$U1' / '$U2'; copies per flip '$CP1'; $R1 / $R2"
    fi
}
overlay_case

# ---- measure: DBUF_CREATE / DESTROY for 1080p and 4K-sized buffers ----
# measure NAME BE-ALLOC DBUF-WIDTH MEMORY
measure() {
    g=$1
    step "measure-$g" 150
    start_vdispld || return
    create "$g" "$2" 1920x1080 "$4" || { stop_vdispld; return; }
    gwait "$g" GUEST-READY 90 && gsend "$g" "run M --frames 20 --buffers 2 --dbuf-width $3 --hold 0" &&
        gwait "$g" "GUEST-RUN-END M " 100
    echo "VDTEST-INFO $g: $(gline "$g" CLIENT-RESULT)"
    sleep 1
    destroy "$g"
    sleep 1
    stop_vdispld
    L=$(vd_log)
    CR=$(grep 'DBUF_CREATE' "$L" | sed -n 's/.* in \([0-9]*\)us: 0$/\1/p' | tr '\n' ' ')
    DE=$(grep 'DBUF_DESTROY' "$L" | sed -n 's/.* in \([0-9]*\)us.*/\1/p' | tr '\n' ' ')
    PG=$(grep 'DBUF_CREATE' "$L" | sed -n 's/.* \([0-9]*\) pages .*/\1/p' | head -n 1)
    echo "VDTEST-MEASURE dbuf $g be_alloc=$2 pages=$PG create_us=[${CR% }] destroy_us=[${DE% }]"
}
measure m1080fe 0 1920 256
measure m4kfe 0 7680 384
measure m1080be 1 1920 256
measure m4kbe 1 7680 256

step vdispld-logs 30
W=0
for f in "$R"/vdispld.*.log; do
    n=$(grep -cE "$VD_WARN_RE" "$f")
    [ "$n" = 0 ] || { W=$((W + n)); echo "VDTEST-INFO $f:"; grep -E "$VD_WARN_RE" "$f" | head -n 5; }
done
if [ $W = 0 ]; then
    check e_vdispld_log PASS "no warning or error in $VRUN vdispld runs"
else
    check e_vdispld_log FAIL "$W warning/error lines"
fi
dmesg >"$R/dom0-dmesg.log"
xl dmesg >"$R/xen-dmesg.log" 2>&1
echo "VDTEST-SCENARIO-DONE uptime=$(up)"
