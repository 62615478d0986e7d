#!/bin/sh
# SPDX-License-Identifier: MIT
# The guest half of tests/vm/systemd_test.py: runs as vdtest.service under
# the VM's systemd (PID 1) once the boot reached multi-user.target. It drives
# vdispld.service with systemctl and prints what it sees on the second serial
# port, one "VDTEST <key> <data>" line each; the host side asserts on them.
# Only busybox, systemctl, journalctl and vdispctl are in the image.
set -u

rep() { echo "VDTEST $*"; }
# Each line of stdin as a report line of KEY.
rep_lines() { sed "s/^/VDTEST $1 /"; }
up() { cut -d' ' -f1 /proc/uptime; }
since() { awk -v a="$1" -v b="$(up)" 'BEGIN { printf "%.2f", b - a }'; }
prop() { systemctl show -p "$1" --value vdispld; }
show() { # KEY PROPERTY...: the properties of vdispld.service as KEY lines
	k=$1
	shift
	for p in "$@"; do rep "$k" "$p=$(prop "$p")"; done
}
status() { vdispctl --json status 2>&1; }
# Both simulated guests have flipped: "flips":N>0 for the totals and each connector.
flipping() { [ "$(status | grep -o '"flips":[1-9][0-9]*' | wc -l)" -ge 3 ]; }
# Wait (0.1 s steps, at most $2 s) for a command to succeed. Each step runs
# systemctl or vdispctl, which cost the single TCG CPU: not more often.
wait_for() {
	end=$(awk -v a="$(up)" -v t="$2" 'BEGIN { print a + t }')
	while ! eval "$1"; do
		awk -v a="$(up)" -v e="$end" 'BEGIN { exit !(a > e) }' && return 1
		sleep 0.1
	done
	return 0
}
# A new main process, active, and guests flipping again after $1 (the old pid).
restarted() {
	p=$(prop MainPID)
	[ "$p" != 0 ] && [ "$p" != "$1" ] && [ "$(prop ActiveState)" = active ] && flipping
}
show_run() { # KEY [PROPERTY...]: the state of a running unit, and more
	k=$1
	shift
	show "$k" ActiveState SubState Result Type NotifyAccess MainPID StatusText NRestarts \
		WatchdogUSec "$@"
}

rep boot "uptime=$(up)"
rep kernel "$(uname -r)"

# ---- 0. the package: dpkg -i enables and starts nothing; enable does ----
t=$(up)
dpkg -i /root/vdispld.deb >/tmp/dpkg.log 2>&1
rc=$?
rep dpkg "rc=$rc seconds=$(since "$t")"
rep_lines dpkg-log </tmp/dpkg.log
if [ "$rc" != 0 ]; then # nothing to test without it
	rep end "uptime=$(up)"
	exit 0
fi
rep dpkg-status "$(dpkg-query -W -f '${Status} ${Version}' vdispld 2>&1)"
rep installed "enabled=$(systemctl is-enabled vdispld 2>&1) active=$(systemctl is-active vdispld 2>&1)"
rep conffiles "$(ls /etc/vdispld/vdispld.conf /etc/vdispld/guests.d/example.conf 2>&1 | tr '\n' ' ')"
systemctl enable vdispld >/dev/null 2>&1
rep enable "rc=$? enabled=$(systemctl is-enabled vdispld 2>&1) active=$(systemctl is-active vdispld 2>&1)"

# ---- 1. start: systemctl returns once READY=1 came (Type=notify) ----
t=$(up)
systemctl start vdispld
rc=$?
rep start "rc=$rc seconds=$(since "$t")"
# Right when start returned: the state, and the control socket answers.
rep start-state "$(prop ActiveState)/$(prop SubState)"
rep start-status "$(status)"
show_run start-show ExecMainStartTimestampMonotonic ActiveEnterTimestampMonotonic \
	WatchdogTimestampMonotonic
pid=$(prop MainPID)

# ---- 2. hardening in effect, seen from /proc ----
grep -E '^(NoNewPrivs|Seccomp|CapBnd|CapEff):' "/proc/$pid/status" | rep_lines proc
for ns in mnt net uts; do
	rep ns "$ns pid1=$(readlink /proc/1/ns/$ns) vdispld=$(readlink "/proc/$pid/ns/$ns")"
done
awk '$5 == "/" || $5 == "/etc" || $5 == "/run/vdispld" || $5 == "/tmp" || $5 == "/home" {
	print $5, $6 }' "/proc/$pid/mountinfo" | rep_lines mount
rep ip-in-ns "$(awk -F: 'NR > 2 { printf "%s ", $1 }' "/proc/$pid/net/dev")"

grep '^Max open files' "/proc/$pid/limits" | rep_lines limits
awk '$5 == "/var/lib/vdispld" { print $5, $6 }' "/proc/$pid/mountinfo" | rep_lines mount

# ---- 3. vdispctl through the control socket while the guests flip ----
wait_for flipping 20 || rep note "guests not flipping after 20 s"
rep status1 "$(status)"
sleep 1
rep status2 "$(status)"
# STATUS= (systemctl status): the status line, once it has a second of flips.
# shellcheck disable=SC2016 # expanded by wait_for's eval
wait_for '[ -n "$(prop StatusText | grep "flips/s")" ]' 10 || true
rep status-text "$(prop StatusText)"
# The deployment guide's screenshot, through the hardened unit's PrivateTmp.
vdispctl screenshot sim-guest-1 /tmp/shot.png >/dev/null 2>&1
rep screenshot "rc=$? magic=$(head -c 4 /tmp/shot.png 2>/dev/null | od -An -tx1 | tr -d ' ')"

# ---- 4. reload: a good file is applied, a bad one refused ----
mkdir -p /etc/vdispld/guests.d
cat >/etc/vdispld/vdispld.conf <<'EOF'
# written by the VM test: restart-only and per-guest settings
status-interval = 3
refresh = 30
capture-dir = /var/lib/vdispld/captures
[default]
max-buffers = 64
EOF
echo "max-framebuffers = 32" >/etc/vdispld/guests.d/sim-guest-1.conf
t=$(up)
systemctl reload vdispld
rep reload-good "rc=$? seconds=$(since "$t") pid=$(prop MainPID) state=$(prop ActiveState)/$(prop SubState)"
rep reload-good-status "$(status)"
cat >/etc/vdispld/guests.d/sim-guest-2.conf <<'EOF'
max-buffers = lots
EOF
t=$(up)
systemctl reload vdispld
rep reload-bad "rc=$? seconds=$(since "$t") pid=$(prop MainPID) state=$(prop ActiveState)/$(prop SubState)"
wait_for flipping 5 || true
rep reload-bad-status "$(status)"
rm /etc/vdispld/guests.d/sim-guest-2.conf

# ---- 5. WatchdogSec=10s of the unit: WATCHDOG=1 keeps coming ----
# sd-event pings at 1/2..3/4 of the period: a new timestamp within 8 s.
wd0=$(prop WatchdogTimestampMonotonic)
# shellcheck disable=SC2016 # expanded by wait_for's eval
wait_for '[ "$(prop WatchdogTimestampMonotonic)" != "$wd0" ]' 12 || true
wd1=$(prop WatchdogTimestampMonotonic)
rep watchdog-ping "usec=$(prop WatchdogUSec) before=$wd0 after=$wd1 now=$(up)"

# ---- 6. kill -9: Restart=on-failure, guests flip again ----
old=$(prop MainPID)
t=$(up)
rep kill9-at "$t"
kill -9 "$old"
wait_for "restarted $old" 30 || rep note "no restart after kill -9 within 30 s"
rep kill9 "old=$old new=$(prop MainPID) seconds=$(since "$t")"
show_run kill9-show
rep kill9-status "$(status)"
# capture-dir in the StateDirectory: the new process writes there, no drop-in.
# shellcheck disable=SC2016 # expanded by wait_for's eval
wait_for '[ -s /var/lib/vdispld/captures/sim-guest-1_0.png ]' 5 || true
rep captures "$(ls /var/lib/vdispld/captures 2>&1 | tr '\n' ' ')"

# ---- 7. the watchdog: a stopped loop is killed and restarted ----
# A short WatchdogSec for this part only (a runtime drop-in, removed after).
mkdir -p /run/systemd/system/vdispld.service.d
printf '[Service]\nWatchdogSec=3s\n' >/run/systemd/system/vdispld.service.d/short-watchdog.conf
systemctl daemon-reload
systemctl restart vdispld
rep wd-restart "rc=$? WatchdogUSec=$(prop WatchdogUSec)"
wait_for flipping 20 || true
old=$(prop MainPID)
t=$(up)
rep sigstop-at "$t"
kill -STOP "$old"
wait_for "restarted $old" 40 || rep note "no restart after SIGSTOP within 40 s"
rep watchdog "old=$old new=$(prop MainPID) seconds=$(since "$t")"
show_run watchdog-show
rm -r /run/systemd/system/vdispld.service.d
systemctl daemon-reload

# ---- 8. stop: a clean exit with the summary line ----
pid=$(prop MainPID)
t=$(up)
systemctl stop vdispld
rep stop "rc=$? seconds=$(since "$t") pid=$pid"
# (How it ended is in the journal: the unit may be unloaded already.)
rep stop-state "$(prop ActiveState)"

# ---- 9. the journal: vdispld's lines with their priorities, and systemd's ----
journalctl -b -u vdispld -o json --no-pager \
	--output-fields=MESSAGE,PRIORITY,_PID,SYSLOG_IDENTIFIER,_COMM | rep_lines journal
# Everything at warning or worse since boot.
journalctl -b -p warning -o json --no-pager \
	--output-fields=MESSAGE,PRIORITY,_PID,UNIT,_SYSTEMD_UNIT,_COMM,_TRANSPORT | rep_lines warning
systemctl --failed --no-legend --plain | rep_lines failed
# systemd.log_level=debug on the command line (systemd_test.py --debug):
# what PID 1 said about the unit, for a directive it could not apply.
if grep -q systemd.log_level=debug /proc/cmdline; then
	journalctl -b -o short-monotonic --no-pager _PID=1 | grep -i vdispld | rep_lines debug
fi
rep end "uptime=$(up)"
