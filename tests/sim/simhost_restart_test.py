#!/usr/bin/env python3
"""vdispld killed and restarted under guests that live on, as on real Xen.

vdispl-simhost hosts the simulated hypervisor and 3 guests (the second with 2
connectors); vdispld serves them over its socket. Three rounds of kill -9 and
one of kill -TERM: after each death the simhost must have released
everything the daemon held (event channel bindings, grant mappings, grant
handles, watches; dma-bufs), and after each restart every guest must flip
again within 2 s (the time from the restart to the first PG_FLIP event each
of its connectors takes, measured by the simhost) with frames that are
exactly what the guest drew (vdispctl screenshot). Finally the simhost dies
under the daemon, which must log it and still shut down cleanly.

With --be-alloc the guests use backend-allocated buffers: the daemon's
memory, granted to the guests (dmabuf_imp_to_refs with the daemon's memfd
passed over), must be ungranted when it dies."""
import os, re, signal, socket, struct, subprocess, sys, tempfile, time

SIMHOST, VDISPLD, VDISPCTL, SHOTCHECK = sys.argv[1:5]
BE_ALLOC = sys.argv[5:] == ["--be-alloc"]
LIMIT_S = 2.0
CONNS = [1, 2, 1]
OP_STATUS = 23  # simhost_proto.h VD_SH_STATUS

work = tempfile.mkdtemp(prefix="vdispl-simhost-")
hsock = os.path.join(work, "simhost.sock")
csock = os.path.join(work, "control.sock")
conf = os.path.join(work, "vdispld.conf")
open(conf, "w").write("# defaults\n")
procs = []


def fail(msg):
    print("FAIL:", msg)
    for p in procs:
        if p.poll() is None:
            p.kill()
    for name in ("simhost.log", "vdispld.log"):
        try:
            text = open(os.path.join(work, name)).read()
        except OSError:
            continue
        at = text.find("ERROR: AddressSanitizer")
        print(f"--- {name}\n" + (text[at:at + 12000] if at >= 0 else text[-3000:]))
    sys.exit(1)


def status(since=0):
    """The simhost's STATUS: {"simhost": {...}, "dom0": {...}, "guests": [{...}]}."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(10)
    s.connect(hsock)
    s.send(struct.pack("<Ii4Q", OP_STATUS, 0, since, 0, 0, 0))
    m = s.recv(256 * 1024)
    s.close()
    op, ret = struct.unpack_from("<Ii", m)
    if op != OP_STATUS or ret != 0:
        fail(f"STATUS answered op {op} ret {ret}")
    out = {"guests": []}
    for line in m[40:].decode().splitlines():
        kind, *kvs = line.split()
        rec = {}
        for kv in kvs:
            k, v = kv.split("=")
            rec[k] = [int(x) for x in v.split(",")] if "," in v or "flip" in k else int(v)
        if kind == "guest":
            out["guests"].append(rec)
        else:
            out[kind] = rec
    return out


def wait_for(cond, what, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r = cond()
        if r:
            return r
        time.sleep(0.02)
    fail(f"timed out waiting for {what}: {status()}")


def start_daemon(log):
    d = subprocess.Popen([VDISPLD, "--hypervisor", "simhost", "--sim-socket", hsock,
                          "--control-socket", csock, "--refresh", "60", "--status-interval", "0",
                          "--config", conf],
                         stdout=log, stderr=log)
    procs.append(d)
    return d


def shots_exact():
    """Every connector's screenshot is exactly a frame its guest drew."""
    for i, g in enumerate(status()["guests"]):
        for c in range(CONNS[i]):
            shot = os.path.join(work, f"g{i + 1}c{c}.png")
            p = subprocess.run([VDISPCTL, "-s", csock, "screenshot", f"sim-guest-{i + 1}:{c}", shot],
                               capture_output=True, text=True, timeout=10)
            if p.returncode != 0:
                fail(f"screenshot sim-guest-{i + 1}:{c}: {p.stderr}")
            p = subprocess.run([SHOTCHECK, shot, str(g["domid"]), str(c)], capture_output=True,
                               text=True, timeout=10)
            if p.returncode != 0:
                fail(f"sim-guest-{i + 1}:{c} shows a frame the guest did not draw: {p.stdout}")


def held(st):
    h = st["simhost"]
    return {k: h[k] for k in ("ports", "maps", "gnts", "watches")}


def check_released(before, st, killed):
    """Nothing of the dead daemon stays; after kill -9 the simhost reaped it all."""
    h = st["simhost"]
    if h["clients"] != 1:  # the STATUS connection itself
        fail(f"daemon connections still open: {h}")
    if any(held(st).values()):
        fail(f"the dead daemon still holds {held(st)}")
    if st["dom0"]["ports_open"] or st["dom0"]["imports_granted"]:
        fail(f"dom0 ports still bound or buffers still granted: {st['dom0']}")
    for g in st["guests"]:
        if g["pages_mapped"] or g["dmabufs"]:
            fail(f"guest {g['domid']}: {g['pages_mapped']} pages still mapped, "
                 f"{g['dmabufs']} dma-bufs alive")
    if killed:
        reaped = {k: h["reaped_" + k] - before["reaped"][k] for k in ("ports", "maps", "gnts", "watches")}
        want = {k: before["held"][k] for k in ("ports", "maps", "gnts", "watches")}
        if reaped != want or not all(want.values()):
            fail(f"the simhost reaped {reaped} of the killed daemon, which held {want}")
        return reaped
    return {}


def all_flip_since(t0):
    st = status(t0)
    times = []
    for g in st["guests"]:
        first = g["first_flip_since_ns"]
        if not all(first):
            return None
        times.append((max(first) - t0) / 1e9)
    return times


def round_(name, sig, d, log):
    st = status()
    before = {"held": held(st), "reaped": {k: st["simhost"]["reaped_" + k]
                                           for k in ("ports", "maps", "gnts", "watches")}}
    d.send_signal(sig)
    rc = d.wait(timeout=20)
    if sig == signal.SIGTERM and rc != 0:
        fail(f"vdispld exited {rc} on SIGTERM")
    st = wait_for(lambda: (lambda s: s if s["dom0"]["ports_open"] == 0 and s["dom0"]["imports_granted"] == 0 and
                           all(g["dmabufs"] == 0 for g in s["guests"]) and
                           s["simhost"]["clients"] == 1 else None)(status()),
                  "the simhost to release the daemon's resources", 10)
    reaped = check_released(before, st, sig == signal.SIGKILL)
    t0 = time.monotonic_ns()
    d = start_daemon(log)
    times = wait_for(lambda: all_flip_since(t0), "every guest to flip again", 30)
    worst = max(times)
    print(f"{name}: restart -> next completed flip per guest: " +
          ", ".join(f"sim-guest-{i + 1} {t * 1000:.0f} ms" for i, t in enumerate(times)) +
          (f"; reaped {reaped}" if reaped else ""))
    if worst > LIMIT_S:
        fail(f"{name}: a guest took {worst:.2f} s to flip again (limit {LIMIT_S} s)")
    shots_exact()
    return d


log = open(os.path.join(work, "vdispld.log"), "w")
hlog = open(os.path.join(work, "simhost.log"), "w")
host = subprocess.Popen([SIMHOST, "--socket", hsock, "--sim-guests", str(len(CONNS)),
                         "--sim-connectors", ",".join(map(str, CONNS)),
                         "--sim-resolution", "320x240"] + (["--sim-be-alloc"] if BE_ALLOC else []),
                        stdout=hlog, stderr=hlog)
procs.append(host)
wait_for(lambda: os.path.exists(hsock), "the simhost socket", 10)
d = start_daemon(log)
t0 = time.monotonic_ns()
wait_for(lambda: all_flip_since(t0), "every guest to flip", 30)
shots_exact()
print(f"first start{' (be-alloc)' if BE_ALLOC else ''}: every guest flips, frames exact")

for i in range(3):
    d = round_(f"kill -9 round {i + 1}", signal.SIGKILL, d, log)
d = round_("kill -TERM round", signal.SIGTERM, d, log)

# The hypervisor goes from under the daemon (the simhost's own clean-up runs,
# so that a sanitizer build checks it): the daemon logs it and still exits
# cleanly.
host.send_signal(signal.SIGTERM)
if host.wait(timeout=20) != 0:
    fail(f"vdispl-simhost exited {host.returncode} on SIGTERM")
time.sleep(2.5)  # the daemon's periodic work (flip rates: 1 s) runs without it
if d.poll() is not None:
    fail(f"vdispld exited ({d.returncode}) when the simhost died")
d.send_signal(signal.SIGTERM)
rc = d.wait(timeout=20)
log.flush()
text = open(os.path.join(work, "vdispld.log")).read()
if rc != 0 or "connection lost" not in text:
    fail(f"vdispld after the simhost died: exit {rc}, logged loss: {'connection lost' in text}")
hlog.flush()
# Each program logs under its own name, with the time (stderr is not the journal).
htext = open(os.path.join(work, "simhost.log")).read()
if not re.search(r"^\d\d:\d\d:\d\d\.\d{3} vdispl-simhost: info: serving 3 simulated guest", htext, re.M) \
        or " vdispld: " in htext or re.search(r"^<\d>", htext, re.M):
    fail(f"the simhost's log lines: {htext[:300]!r}")
for name in ("vdispld.log", "simhost.log"):
    text = open(os.path.join(work, name)).read()
    if "Sanitizer" in text or "runtime error" in text:
        fail(f"sanitizer report in {name}")
print("simhost gone under the daemon: logged, clean exit")
subprocess.run(["rm", "-rf", work])
print("PASS")
