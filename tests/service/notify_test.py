#!/usr/bin/env python3
"""The systemd protocol without systemd: READY=1 once the backend is up,
WATCHDOG=1 from the event loop at the rate WATCHDOG_USEC asks, a live
STATUS= (what `systemctl status` shows: guests and flips/s), STOPPING=1."""
import os, re, socket, subprocess, sys, tempfile, time

VDISPLD = sys.argv[1]
work = tempfile.mkdtemp(prefix="vdispld-notify-")
path = os.path.join(work, "notify")
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(0.2)
env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="200000")
env.pop("WATCHDOG_PID", None)
start = time.time()
d = subprocess.Popen([VDISPLD, "--hypervisor", "sim", "--sim-guests", "1", "--run-for", "2",
                      "--control-socket", "", "--config", "/dev/null", "-q"],
                     env=env, stdout=subprocess.DEVNULL)
msgs = []
while d.poll() is None or time.time() - start < 2.5:
    try:
        msgs.append((time.time() - start, s.recv(4096).decode()))
    except socket.timeout:
        if d.poll() is not None:
            break
d.wait(timeout=10)
os.unlink(path)
os.rmdir(work)
ready = [t for t, m in msgs if "READY=1" in m.split("\n")]
dogs = [t for t, m in msgs if "WATCHDOG=1" in m.split("\n")]
stopping = [t for t, m in msgs if "STOPPING=1" in m.split("\n")]
statuses = [(t, l[7:]) for t, m in msgs for l in m.split("\n") if l.startswith("STATUS=")]
print(f"READY at {ready}, {len(dogs)} WATCHDOG pings, STOPPING at {stopping}")
for t, text in statuses:
    print(f"STATUS at {t:.2f} s: {text}")
if d.returncode != 0:
    sys.exit(f"FAIL: exit status {d.returncode}")
if len(ready) != 1 or ready[0] > 1.5:
    sys.exit("FAIL: no READY=1 (or more than one)")
# 2 s with a 200 ms watchdog: sd-event pings every 50..150 ms.
if len(dogs) < 8:
    sys.exit(f"FAIL: only {len(dogs)} WATCHDOG=1 in 2 s with WATCHDOG_USEC=200000")
# The status line, live: after the first second of flips, the guest and its rate.
live = [(t, text) for t, text in statuses if t > ready[0] and
        re.match(r"1 guest\(s\), 1 device\(s\), 1 connected .*?, ([0-9.]+) flips/s", text)]
if not live or float(re.search(r"([0-9.]+) flips/s", live[0][1]).group(1)) <= 0:
    sys.exit("FAIL: no STATUS= with the guest and its flips/s after READY=1")
if not stopping or stopping[0] < ready[0]:
    sys.exit("FAIL: no STOPPING=1 after READY=1")
print("notify: ok")
