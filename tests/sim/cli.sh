#!/bin/bash
# The vdispld command line as a user runs it, over the simulated hypervisor:
# a timed run with capture, SIGTERM with guests connected, bad arguments,
# and the error on a host without Xen.
set -uo pipefail
VDISPLD=$(realpath "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" "$2"; }

# No run here needs a control socket: none at the default path (a test of its own may be
# listening there at the same time).
VDISPLD_NOCTL=("$VDISPLD" --control-socket "")
# 1. A timed run: two guests with two connectors each, flipping at 60 Hz.
"${VDISPLD_NOCTL[@]}" --hypervisor sim --sim-guests 2 --sim-connectors 2 --sim-resolution 320x240 \
  --run-for 3 --capture-dir "$work/cap" -q >"$work/out" 2>"$work/err" || fail "timed run exited $?"
grep -q '^summary: ' "$work/out" || fail "no summary line"
flips=$(field flips "$work/out"); events=$(field events "$work/out"); copies=$(field copies "$work/out")
echo "timed run: flips=$flips events=$events copies=$copies"
# 4 connectors x 60 Hz x ~3 s, minus connection time
[ "$flips" -ge 300 ] || fail "only $flips flips in 3 s (4 connectors at 60 Hz)"
[ $((flips - events)) -le 4 ] || fail "$flips flips but $events events"
[ "$copies" -eq 0 ] || fail "direct path made $copies copies"
for f in sim-guest-1_0 sim-guest-1_1 sim-guest-2_0 sim-guest-2_1; do
  head -c 8 "$work/cap/$f.png" | od -An -tx1 | grep -q '89 50 4e 47 0d 0a 1a 0a' ||
    fail "capture $f.png missing or not a PNG"
done
[ ! -s "$work/err" ] || fail "errors logged: $(cat "$work/err")"
# The exit writes each picture not captured yet, with no loop left to do it on:
# no warning (it once said "Stale file handle" at every exit and lost the picture).
"${VDISPLD_NOCTL[@]}" --config /dev/null --hypervisor sim --sim-guests 1 --sim-resolution 160x120 \
  --run-for 1 --capture-dir "$work/cap2" >/dev/null 2>"$work/err" || fail "capture run exited $?"
! grep -q 'warning\|error' "$work/err" || fail "capture at exit: $(grep 'warning\|error' "$work/err")"
[ -s "$work/cap2/sim-guest-1_0.png" ] || fail "no capture after a 1 s run"

# 2. --copy copies once per flip (and once per mode set).
"${VDISPLD_NOCTL[@]}" --hypervisor sim --sim-guests 1 --sim-resolution 320x240 --copy --run-for 2 -q \
  >"$work/out" 2>&1 || fail "copy run exited $?"
flips=$(field flips "$work/out"); copies=$(field copies "$work/out")
echo "copy run: flips=$flips copies=$copies"
[ "$copies" -ge "$flips" ] && [ "$copies" -le $((flips + 1)) ] || fail "copies=$copies for flips=$flips"

# 3. SIGTERM with guests connected: clean exit, summary printed.
"${VDISPLD_NOCTL[@]}" --hypervisor sim --sim-guests 3 --sim-resolution 160x120 >"$work/out" 2>"$work/err" &
pid=$!
sleep 1.5
kill -TERM "$pid"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && { kill -9 "$pid"; fail "still running 5 s after SIGTERM"; }
wait "$pid" || fail "SIGTERM exit status $?"
grep -q 'shutting down' "$work/err" || fail "no shutdown message"
grep -q '^summary: .*guests=3' "$work/out" || fail "summary after SIGTERM: $(cat "$work/out")"
echo "SIGTERM: clean"

# 4. Bad arguments: exit 2 with a message that names the problem, and where to look
# (not the whole usage). The file's settings are checked as the file's are.
# usage_error WHAT ARGS...: exit 2, stderr the message WHAT and "Try --help", nothing else.
usage_error() {
  local want=$1; shift
  "$VDISPLD" "$@" >/dev/null 2>"$work/err"; rc=$?
  [ $rc -eq 2 ] && grep -qF -- "$want" "$work/err" && grep -q "^Try 'vdispld --help'" "$work/err" &&
    [ "$(wc -l <"$work/err")" -le 2 ] || fail "$*: rc=$rc: $(head -n 5 "$work/err")"
}
usage_error '--hypervisor: expected xen, sim or simhost, got "foo"' --hypervisor foo
usage_error 'invalid resolution' --sim-resolution 10x
usage_error '--output: expected headless, kms or wayland, got "nowhere"' --output nowhere --hypervisor sim
usage_error '--input: expected auto, libinput, wayland or none, got "evdev"' --input evdev
usage_error "unrecognized option '--foo'" --foo
usage_error 'unexpected argument "extra"' --hypervisor sim extra
usage_error 'invalid number of connectors "0" (expected 1..4)' --sim-connectors 0
usage_error 'invalid number of connectors "5" (expected 1..4)' --sim-connectors 5
usage_error '--control-socket: expected an absolute path, got "ctl.sock"' --control-socket ctl.sock
usage_error '--refresh: expected a number 0..1000, got "fast"' --refresh fast
# A group that does not exist: said as the file says it, and no socket file left behind.
usage_error '--control-group: no group "no-such-group-vdispld" on this system' --hypervisor sim \
  --control-socket "$work/ctl.sock" --control-group no-such-group-vdispld --run-for 1
[ ! -e "$work/ctl.sock" ] || fail "--control-group of no group left the socket file"
# A relative --capture-dir is the current directory's (the quick start's "captures").
(cd "$work" && "${VDISPLD_NOCTL[@]}" --hypervisor sim --sim-guests 1 --sim-resolution 64x48 \
  --run-for 2 --capture-dir rel -q >/dev/null 2>&1) || fail "relative --capture-dir: exit $?"
[ -s "$work/rel/sim-guest-1_0.png" ] || fail "relative --capture-dir: no $work/rel/sim-guest-1_0.png"
# --check-config checks the command line over the file; simhost is a hypervisor in both.
printf 'hypervisor = simhost\noutput = kms\n' >"$work/good.conf"
"$VDISPLD" --config "$work/good.conf" --check-config >"$work/out" 2>"$work/err" ||
  fail "simhost in the file: $(cat "$work/err")"
usage_error '--output: expected headless, kms or wayland, got "kmss"' --config "$work/good.conf" \
  --check-config --output kmss
printf 'output = kmss\n' >"$work/bad.conf"
"$VDISPLD" --config "$work/bad.conf" --check-config --output headless >/dev/null 2>"$work/err"; rc=$?
[ $rc -eq 1 ] && grep -q 'bad.conf:1: output: expected headless, kms or wayland, got "kmss"' "$work/err" ||
  fail "output = kmss in the file: rc=$rc $(cat "$work/err")"
printf 'cycle-hotkey = ctrl+\n[default]\ninput = event3\n' >"$work/bad.conf"
"$VDISPLD" --config "$work/bad.conf" --check-config >/dev/null 2>"$work/err"; rc=$?
[ $rc -eq 1 ] && grep -q 'bad.conf:1: cycle-hotkey: ' "$work/err" &&
  grep -q 'bad.conf:3: input: expected a device path' "$work/err" || fail "input config: rc=$rc"

# 4b. Simulated guests with vkb devices: both take input, report what they got (nothing).
"$VDISPLD" --hypervisor sim --sim-guests 2 --sim-vkb --input none --run-for 2 \
  --control-socket "" >"$work/out" 2>"$work/err" || fail "sim-vkb run exited $?"
[ "$(grep -c '^sim-vkb dom[12]: events=0 crashes=0 violations=0:$' "$work/out")" -eq 2 ] ||
  fail "sim-vkb report: $(grep sim-vkb "$work/out")"
[ "$(grep -c 'takes input' "$work/err")" -eq 2 ] || fail "the guests did not take input"
echo "input options: checked"

# 4c. --sim-be-alloc: the guests' buffers are the backend's, shown with no copy.
"$VDISPLD" --hypervisor sim --sim-guests 2 --sim-be-alloc --run-for 2 --input none \
  --control-socket "" >"$work/out" 2>"$work/err" || fail "sim-be-alloc run exited $?"
[ "$(grep -c 'backend-allocated dma-bufs' "$work/err")" -eq 2 ] || fail "be-alloc: $(cat "$work/err")"
grep -Eq '^summary: flips=[1-9][0-9]* .* copies=0 .* errors=0 guests=2' "$work/out" ||
  fail "be-alloc summary: $(grep summary "$work/out")"
grep -Eq '^cpu: user=[0-9.]+s system=[0-9.]+s, [0-9.]+ us per flip \(the simulated guests'"'"' drawing included\)$' "$work/out" ||
  fail "no cpu line: $(tail -n 2 "$work/out")"
echo "be-alloc option and cpu line: checked"

# 5. No Xen on this host: a clear error, not a crash; where to look; and nothing
# after it (no summary of a run that never ran, no second "exiting" error).
# start_failure WANT ARGS...: exit 1, WANT on stderr, no more than 3 lines, nothing on stdout.
start_failure() {
  local want=$1; shift
  "$VDISPLD" "$@" --control-socket "" >"$work/out" 2>"$work/err"; rc=$?
  [ $rc -eq 1 ] && grep -qF -- "$want" "$work/err" && [ "$(wc -l <"$work/err")" -le 3 ] &&
    [ ! -s "$work/out" ] && ! grep -q 'exiting' "$work/err" ||
    fail "$*: rc=$rc: $(cat "$work/err" "$work/out")"
}
if [ ! -e /dev/xen/xenbus ] && [ ! -e /proc/xen/xenbus ]; then
  start_failure 'cannot open hypervisor "xen"' --hypervisor xen --run-for 1
  grep -q 'is this Dom0 or a driver domain' "$work/err" && grep -q 'is xenstored running?' "$work/err" &&
    grep -q -- '--hypervisor sim runs without Xen' "$work/err" || fail "no hint without Xen: $(cat "$work/err")"
fi
# A file that is no DRM device: said so; no statistics of a KMS output that never was.
start_failure 'kms: /dev/null: not a DRM device' --hypervisor sim --output kms --drm-device /dev/null

# 6. simhost with no vdispl-simhost at the socket: the same clear error.
start_failure 'cannot open hypervisor "simhost": No such file' --hypervisor simhost \
  --sim-socket "$work/none.sock" --run-for 1
grep -q 'is vdispl-simhost running on that socket?' "$work/err" || fail "no simhost hint: $(cat "$work/err")"
echo "start-up failures: checked"
# stderr is a file, not the journal: the time of day, no <N> prefix (JOURNAL_STREAM
# names another stream: systemd's, handed down to a shell that redirected it).
grep -Eq '^[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\.[0-9]{3} vdispld: error: cannot open hypervisor' "$work/err" &&
  ! grep -q '^<' "$work/err" || fail "log lines on a file: $(cat "$work/err")"
JOURNAL_STREAM=1:1 "$VDISPLD" --hypervisor simhost --sim-socket "$work/none.sock" >/dev/null 2>"$work/err"
grep -Eq '^[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\.[0-9]{3} vdispld: error: ' "$work/err" ||
  fail "log lines with a stale JOURNAL_STREAM: $(cat "$work/err")"

# 7. A guest's own log-level: sim-guest-1 is debugged (its frontend's states, its
# requests) while the daemon stays at info; sim-guest-2 only says warnings.
mkdir -p "$work/conf/guests.d"
: >"$work/conf/vdispld.conf"
echo "log-level = debug" >"$work/conf/guests.d/sim-guest-1.conf"
echo "log-level = warning" >"$work/conf/guests.d/sim-guest-2.conf"
"${VDISPLD_NOCTL[@]}" --config "$work/conf/vdispld.conf" --hypervisor sim --sim-guests 3 \
  --sim-resolution 160x120 --run-for 1 >/dev/null 2>"$work/err" || fail "log-level run exited $?"
grep -q 'debug: dom1 vdispl 0: frontend Initialising -> Initialised' "$work/err" &&
  grep -q 'debug: dom1 conn 0: DBUF_CREATE ' "$work/err" ||
  fail "no debug lines of the guest with log-level = debug: $(cat "$work/err")"
! grep -q 'debug: dom[23]' "$work/err" || fail "debug lines of other guests: $(grep 'debug: dom[23]' "$work/err")"
! grep -q 'debug: [^d]' "$work/err" || fail "the daemon's own debug lines: $(grep 'debug: [^d]' "$work/err")"
! grep -q 'sim-guest-2 (dom2)' "$work/err" && grep -q 'info: sim-guest-3 (dom3) vdispl 0 connected' "$work/err" ||
  fail "log-level = warning: the guest's info lines: $(cat "$work/err")"
echo "per-guest log-level: dom1 at debug ($(grep -c 'debug: dom1' "$work/err") lines), dom2 at warning"
echo "cli: all checks passed"
