# dom0-lib.sh -- sourced by the x86 Dom0 scenarios (dom0-scenario.sh and
# dom0-domd-scenario.sh; build-images.sh puts it in Dom0's initramfs as
# /lib/dom0-lib.sh): the lines for run.py, and guests driven through their
# consoles. The scenario sets R (the results directory) and CON
# (xenconsoled's log directory) and defines mkcfg NAME [ARG], which writes
# /etc/xen/NAME.cfg for create. FAILED counts the failed checks; RC,
# CREATE_S and RES are results for the scenario.
# shellcheck disable=SC2034
#
# Lines for run.py on the host:
#   VDTEST-STEP NAME budget=SECONDS   a step starts; run.py's hard timeout
#   VDTEST-CHECK ID PASS|FAIL DETAIL  one check
FAILED=0

up() { cut -d' ' -f1 /proc/uptime; }
dt() { echo "$1 $2" | awk '{printf "%.1f", $1 - $2}'; }
step() { echo "VDTEST-STEP $1 budget=$2 uptime=$(up)"; }
check() {
    echo "VDTEST-CHECK $1 $2 $3"
    [ "$2" = PASS ] || FAILED=$((FAILED + 1))
}
# field NAME LINE: the value of NAME=... in LINE
field() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }

glog() { echo "$CON/guest-$1.log"; }

# create NAME [ARG]: mkcfg NAME ARG, xl create (RC, CREATE_S: its status and
# seconds), then the guest's console shown on ours, prefixed
create() {
    mkcfg "$1" "$2"
    T0=$(up)
    xl -v create "/etc/xen/$1.cfg" >"$R/xl-create-$1.log" 2>&1
    RC=$?
    CREATE_S=$(dt "$(up)" "$T0")
    if [ $RC = 0 ]; then
        i=0; while [ ! -f "$(glog "$1")" ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
        # a log dumped between *-LOG-BEGIN and *-LOG-END stays in the file
        (tail -F "$(glog "$1")" 2>/dev/null |
            awk -v p="[$1] " '/-LOG-BEGIN/ { q = 1 } !q { print p $0; fflush() } /-LOG-END/ { q = 0 }') &
    else
        grep -vE '^(xc|domainbuilder): detail' "$R/xl-create-$1.log" | tail -n 30
    fi
    return $RC
}

# gwait NAME PATTERN SECONDS: until the guest's console log has PATTERN
gwait() {
    end=$(($(cut -d. -f1 /proc/uptime) + $3))
    while ! grep -q "$2" "$(glog "$1")" 2>/dev/null; do
        [ "$(cut -d. -f1 /proc/uptime)" -ge $end ] && return 1
        sleep 0.5
    done
    return 0
}
# gline NAME PATTERN: the last line of the guest's log with PATTERN
gline() { grep "$2" "$(glog "$1")" 2>/dev/null | tail -n 1 | tr -d '\r'; }

# gsend NAME COMMAND: a command line to the guest's console
gsend() {
    d=$(xl domid "$1" 2>/dev/null)
    tty=$(xenstore-read "/local/domain/$d/console/tty" 2>/dev/null)
    if [ -z "$tty" ]; then
        echo "VDTEST-INFO no console tty for $1"
        return 1
    fi
    echo "$2" >"$tty"
}

# client_run NAME TAG SECONDS ARGS...: one client run in the guest; sets RES
client_run() {
    n=$1; tag=$2; secs=$3; shift 3
    gsend "$n" "run $tag $*"
    if ! gwait "$n" "GUEST-RUN-END $tag " "$secs"; then
        RES=""
        return 1
    fi
    RES=$(sed -n "/GUEST-RUN-BEGIN $tag /,/GUEST-RUN-END $tag /p" "$(glog "$n")" |
          grep CLIENT-RESULT | tail -n 1 | tr -d '\r')
    return 0
}

# flips_ok RESULT MIN: frames >= MIN and no errors
flips_ok() {
    f=$(field frames "$1"); e=$(field errors "$1")
    [ -n "$f" ] && [ "$f" -ge "$2" ] && [ "$e" = 0 ]
}

