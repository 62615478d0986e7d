#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""vdispld.service under a real systemd (CTest label "vm").

The host has no systemd as PID 1, so this boots one: Debian's 6.1 kernel
(from the cache tests/xen-qemu/fetch.sh fills, never installed on the host)
in QEMU (TCG, no network) with an initramfs whose PID 1 is the host's own
systemd (Debian 12's package: systemd, systemd-journald, systemctl,
journalctl and their libraries, the host's unit files), and dpkg (with
debhelper's deb-systemd-helper and -invoke, and the Perl they need). This
build's Debian package (the deb_build fixture) is installed in the VM with
`dpkg -i`, under the running systemd; one drop-in
(tests/vm/systemd/vm-test.conf) gives ExecStart the simulated hypervisor,
as the VM has no Xen. tests/vm/systemd_guest.sh runs in the guest as
vdtest.service, drives the unit with systemctl and reports on the second
serial port; this side asserts on the report:

- `dpkg -i`: installed, the unit neither enabled nor started, the
  configuration in /etc/vdispld; `systemctl enable` enables it;
- `systemctl start` returns after READY=1: the unit is active/running, its
  control socket answers, and systemd saw READY after the exec;
- STATUS= carries the status line (guests, flips/s) while they flip;
- LimitNOFILE and StateDirectory (/var/lib/vdispld writable: the captures
  of a capture-dir there, no drop-in); `vdispctl screenshot` writes a PNG;
- the hardening of the unit is in effect (no new privileges, seccomp, the
  capability bounding set, own mount/network/UTS namespaces, / read-only);
- `vdispctl status --json` through the control socket: both guests flip;
- `systemctl reload`: a good file is loaded (notice), a bad one refused
  (error naming file, line and key), same main process, still running;
- WatchdogSec=10s: the watchdog timestamp advances; with a runtime drop-in
  of WatchdogSec=3s a SIGSTOPped daemon is killed and restarted;
- `kill -9`: Restart=on-failure brings it back and the guests flip again;
- `systemctl stop`: exit status 0 and the summary line in the journal;
- the journal keeps the levels (PRIORITY 3/5/6) without the <N> prefixes.

Usage: systemd_test.py DEB_DIR WORKDIR [--timeout S]
Environment: VD_XEN_CACHE (default /var/cache/vdispld-xen-qemu).
Prints "systemd-test: ..." lines with the timings measured.
"""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from vm_test import STAGE, ensure_cache, glob_one  # noqa: E402

# The host's systemd (Debian 12 systemd package), and where it keeps units.
SYSTEMD_BINS = ["/lib/systemd/systemd", "/lib/systemd/systemd-journald",
                "/bin/systemctl", "/bin/journalctl"]
UNIT_DIR = "/lib/systemd/system"
# Busybox applets that would stand in for systemd's own tools: not linked.
NO_APPLETS = {"init", "linuxrc", "halt", "poweroff", "reboot", "shutdown", "sulogin"}
# Enabled in the image: journald (its sockets), the test driver.
WANTS = {
    "sockets.target.wants": ["systemd-journald.socket", "systemd-journald-dev-log.socket"],
    "sysinit.target.wants": ["systemd-journald.service"],
}
CMDLINE = ("console=ttyS0 rdinit=/lib/systemd/systemd panic=-1 loglevel=4 audit=0 "
           "systemd.show_status=1")


def say(*a):
    print("systemd-test:", *a, flush=True)


def fail(msg):
    say("FAIL:", msg)
    sys.exit(1)


def under(root, path):
    return os.path.join(root, path.lstrip("/"))


def copy_file(root, path):
    """path (a symlink: what it names) at the same place in root."""
    dst = under(root, path)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copy2(os.path.realpath(path), dst)


def copy_libs(root, binary):
    """What ldd says binary needs, at the same places in root."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    for m in re.finditer(r"(/\S+) \(0x", out):
        if not os.path.exists(under(root, m.group(1))):
            copy_file(root, m.group(1))


# dpkg in the VM: itself, what its maintainer scripts call (debhelper's
# deb-systemd-helper and deb-systemd-invoke, in Perl), ldconfig (dpkg wants
# it in PATH; start-stop-daemon, tar, diff, rm are busybox's).
DPKG_BINS = ["/usr/bin/dpkg", "/usr/bin/dpkg-deb", "/usr/bin/dpkg-query", "/sbin/ldconfig",
             "/usr/bin/perl", "/usr/bin/deb-systemd-helper", "/usr/bin/deb-systemd-invoke"]
PERL_LIB = "/usr/lib/x86_64-linux-gnu/perl-base"


def dpkg_status_entries(deb):
    """The host's status entries of the packages deb depends on, so that dpkg
    -i in the VM finds its dependencies installed. Their libraries go into the
    image by ldd; their own relations are left out (dpkg would want those
    packages too, whose files the image does not need)."""
    depends = subprocess.run(["dpkg-deb", "-f", deb, "Depends"], capture_output=True,
                             text=True, check=True).stdout
    names = sorted({re.split(r"[ (:]", d.strip())[0] for d in depends.split(",") if d.strip()})
    entries = []
    for n in names:
        p = subprocess.run(["dpkg-query", "-s", n], capture_output=True, text=True)
        if p.returncode != 0:
            fail("the package depends on %s, which this host lacks" % n)
        entry = re.sub(r"^(Pre-Depends|Depends|Recommends|Suggests|Breaks|Conflicts|Replaces|"
                       r"Enhances):.*\n(?:[ \t].*\n)*", "", p.stdout.strip() + "\n",
                       flags=re.M)
        entries.append((n, entry))
    return entries


def install_deb_tools(root, deb):
    """dpkg and its database in root, the package at /root/vdispld.deb, and
    the libraries of what the package holds."""
    for b in DPKG_BINS:
        copy_file(root, b)
        if b != "/usr/bin/deb-systemd-helper" and b != "/usr/bin/deb-systemd-invoke":
            copy_libs(root, b)
    shutil.copytree(PERL_LIB, under(root, PERL_LIB), symlinks=True)
    for so in subprocess.run(["find", PERL_LIB, "-name", "*.so"], capture_output=True,
                             text=True, check=True).stdout.split():
        copy_libs(root, so)
    db = under(root, "/var/lib/dpkg")
    for d in ("info", "updates", "triggers", "alternatives"):
        os.makedirs(os.path.join(db, d), exist_ok=True)
    status = []
    for name, entry in dpkg_status_entries(deb):
        status.append(entry)
        arch = re.search(r"^Multi-Arch: same$", entry, re.M)
        open(os.path.join(db, "info", name + (":amd64" if arch else "") + ".list"), "w").close()
    with open(os.path.join(db, "status"), "w") as f:
        f.write("\n".join(status))
    open(os.path.join(db, "available"), "w").close()
    os.makedirs(under(root, "/etc/dpkg/dpkg.cfg.d"), exist_ok=True)
    shutil.copy2(deb, under(root, "/root/vdispld.deb"))
    # What ldd says the packaged programs need (dpkg -i puts them in place).
    x = os.path.join(os.path.dirname(root), "deb-x")
    shutil.rmtree(x, ignore_errors=True)
    subprocess.run(["dpkg-deb", "-x", deb, x], check=True)
    for b in ("usr/sbin/vdispld", "usr/bin/vdispctl"):
        copy_libs(root, os.path.join(x, b))
    shutil.rmtree(x)


def build_root(deb, work):
    root = os.path.join(work, "root")
    shutil.rmtree(root, ignore_errors=True)
    # Debian 12's merged /usr.
    for d in ("usr/bin", "usr/sbin", "usr/lib", "usr/lib64", "proc", "sys", "dev", "run",
              "tmp", "var/tmp", "var/log", "etc/systemd/system", "root", "home"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    for d in ("bin", "sbin", "lib", "lib64"):
        os.symlink("usr/" + d, os.path.join(root, d))
    os.chmod(os.path.join(root, "tmp"), 0o1777)
    os.chmod(os.path.join(root, "var/tmp"), 0o1777)

    # The Debian package of this build (deb_build), installed in the VM with
    # dpkg by the guest script; its libraries are the host's (ldd of what it
    # holds), as Depends: would have brought them.
    install_deb_tools(root, deb)

    # systemd as PID 1, journald, the tools, and the unit files (without the
    # host's .wants/ directories: only what WANTS names is enabled).
    for b in SYSTEMD_BINS:
        copy_file(root, b)
        copy_libs(root, b)
    udst = under(root, UNIT_DIR)
    os.makedirs(udst, exist_ok=True)
    for n in os.listdir(UNIT_DIR):
        src = os.path.join(UNIT_DIR, n)
        if os.path.isdir(src) or n == "default.target":
            continue
        if os.path.islink(src):
            os.symlink(os.readlink(src), os.path.join(udst, n))
        else:
            shutil.copy2(src, os.path.join(udst, n))
    os.symlink("multi-user.target", os.path.join(udst, "default.target"))
    for wants, units in WANTS.items():
        os.makedirs(os.path.join(udst, wants), exist_ok=True)
        for u in units:
            os.symlink("../" + u, os.path.join(udst, wants, u))

    # busybox for the rest (sh, kill for ExecReload=, sleep, grep, awk, ...).
    bb = os.path.join(STAGE, "bin", "busybox")
    shutil.copy2(bb, under(root, "/usr/bin/busybox"))
    applets = subprocess.run([bb, "--list-full"], capture_output=True, text=True,
                             check=True).stdout.split()
    for a in applets:
        if os.path.basename(a) in NO_APPLETS:
            continue
        dst = under(root, a)
        if not os.path.lexists(dst):
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.symlink("/usr/bin/busybox", dst)

    # /etc: who root is, an identity, os-release.
    etc = under(root, "/etc")
    with open(os.path.join(etc, "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:"
                "/usr/sbin/nologin\n")
    with open(os.path.join(etc, "group"), "w") as f:
        f.write("root:x:0:\nsystemd-journal:x:101:\nnogroup:x:65534:\n")
    with open(os.path.join(etc, "machine-id"), "w") as f:
        f.write("5d0f3b0e1d5c4b1e9a3c0f00dd15b1d0\n")
    with open(os.path.join(etc, "hostname"), "w") as f:
        f.write("vdtest\n")
    copy_file(root, "/usr/lib/os-release")
    os.symlink("../usr/lib/os-release", os.path.join(etc, "os-release"))

    # The drop-in for vdispld.service, and the test driver.
    sysd = os.path.join(etc, "systemd", "system")
    os.makedirs(os.path.join(sysd, "vdispld.service.d"))
    shutil.copy2(os.path.join(HERE, "systemd", "vm-test.conf"),
                 os.path.join(sysd, "vdispld.service.d", "vm-test.conf"))
    shutil.copy2(os.path.join(HERE, "systemd", "vdtest.service"),
                 os.path.join(sysd, "vdtest.service"))
    os.makedirs(os.path.join(sysd, "multi-user.target.wants"))
    os.symlink("../vdtest.service", os.path.join(sysd, "multi-user.target.wants",
                                                  "vdtest.service"))
    os.makedirs(under(root, "/usr/libexec/vdtest"), exist_ok=True)
    shutil.copy2(os.path.join(HERE, "systemd_guest.sh"),
                 under(root, "/usr/libexec/vdtest/systemd_guest.sh"))

    img = os.path.join(work, "initrd.cpio")
    subprocess.run("find . -print0 | cpio --null -o -H newc --quiet > " + img,
                   shell=True, cwd=root, check=True)
    return img


class Vm:
    def __init__(self, work, kernel, initrd, cmdline):
        self.console = os.path.join(work, "console.log")
        self.report = os.path.join(work, "report.log")
        self.mon_path = os.path.join(work, "mon.sock")
        for p in (self.console, self.report, self.mon_path):
            if os.path.exists(p):
                os.unlink(p)
        cmd = ["qemu-system-x86_64", "-accel", "tcg", "-m", "512", "-smp", "1",
               "-nodefaults", "-no-user-config", "-display", "none", "-nic", "none",
               "-kernel", kernel, "-initrd", initrd, "-append", cmdline,
               "-serial", "file:" + self.console, "-serial", "file:" + self.report,
               "-monitor", "unix:%s,server=on,wait=off" % self.mon_path, "-no-reboot"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)

    def read(self, path):
        try:
            with open(path, "rb") as f:
                return f.read().decode(errors="replace").replace("\r", "")
        except FileNotFoundError:
            return ""

    def wait_report(self, timeout):
        end = time.time() + timeout
        seen = 0
        while time.time() < end:
            rep = self.read(self.report)
            lines = rep.splitlines(keepends=True)
            for line in lines[seen:]:
                if line.endswith("\n") and not line.startswith("VDTEST journal "):
                    sys.stdout.write("  guest: " + line)
                    seen += 1
                elif not line.endswith("\n"):
                    break
                else:
                    seen += 1
            if re.search(r"^VDTEST end ", rep, re.M):
                return rep
            if self.proc.poll() is not None:
                self.dump_console()
                fail("QEMU exited (%d) before the end of the report" % self.proc.returncode)
            time.sleep(0.25)
        self.dump_console()
        fail("timed out after %d s waiting for the guest's report" % timeout)

    def dump_console(self):
        say("---- serial console ----")
        sys.stdout.write(self.read(self.console))
        say("---- end of the serial console ----")

    def stop(self):
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(self.mon_path)
            s.sendall(b"quit\n")
        except OSError:
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Report:
    def __init__(self, text):
        self.lines = {}
        for line in text.splitlines():
            m = re.match(r"VDTEST (\S+) ?(.*)$", line)
            if m:
                self.lines.setdefault(m.group(1), []).append(m.group(2))

    def all(self, key):
        return self.lines.get(key, [])

    def one(self, key):
        v = self.all(key)
        if len(v) != 1:
            fail("report: %d %r lines, expected one" % (len(v), key))
        return v[0]

    def kv(self, key):
        """key=value pairs of one line (values without spaces)."""
        return dict(re.findall(r"(\w+)=(\S*)", self.one(key)))

    def show(self, key):
        """The Property=value lines of a `show` in the guest script."""
        return dict(line.split("=", 1) for line in self.all(key))

    def json(self, key):
        try:
            return json.loads(self.one(key))
        except ValueError:
            fail("report: %s is not JSON: %s" % (key, self.one(key)))


def check(cond, what, detail=""):
    if not cond:
        fail(what + (": " + str(detail) if detail else ""))
    say("ok:", what)


def connector_flips(st):
    return {g["name"]: sum(c["flips"] for d in g["devices"] for c in d["connectors"])
            for g in st["guests"]}


def check_flipping(st, what):
    flips = connector_flips(st)
    check(len(flips) == 2 and all(v > 0 for v in flips.values()) and
          all(d["state"] == "Connected" for g in st["guests"] for d in g["devices"]),
          what + ": two guests connected and flipping", flips)
    return flips


# Warnings the journal may have (the kernel's aside: TCG and QEMU's machine
# vary): caused by the test (the kills, the bad file), or by the VM: no
# /dev/xen (DeviceAllow= of the unit names them; a Dom0 has them), no kernel
# modules in the image.
EXPECTED_WARNINGS = (
    r"Main process exited, code=killed|Failed with result '(signal|watchdog)'|"
    r"Watchdog timeout|vdispld: error: .*(sim-guest-2.conf|has errors)|"
    r"^Couldn't stat device /dev/xen/|^Failed to find module 'autofs4'")


# systemd's messages about the unit after a kill, in order.
STEPS = [("exit", r"Watchdog timeout|Main process exited"), ("restart", r"Scheduled restart job"),
         ("ready", r"^Started vdispld\.service")]


def timeline(journal, at):
    """Seconds from `at` (guest uptime) to each of STEPS in systemd's messages."""
    out, i = {}, 0
    for e in journal:
        mono = int(e.get("__MONOTONIC_TIMESTAMP", 0)) / 1e6
        if e.get("_PID") != "1" or mono < at or i == len(STEPS):
            continue
        if re.search(STEPS[i][1], str(e.get("MESSAGE"))):
            out[STEPS[i][0]] = mono - at
            i += 1
    return " ".join("%s %.2f s" % kv for kv in out.items())


def assert_package(r):
    """0. dpkg -i: installed, nothing enabled or started; enable enables."""
    d = r.kv("dpkg")
    for line in r.all("dpkg-log"):
        say("  dpkg: " + line)
    check(d["rc"] == "0", "dpkg -i of the package in %.1f s" % float(d["seconds"]), d)
    check(r.one("dpkg-status").startswith("install ok installed "),
          "dpkg knows it installed: " + r.one("dpkg-status"))
    inst = r.kv("installed")
    check(inst == {"enabled": "disabled", "active": "inactive"},
          "installing enabled and started nothing (is-enabled disabled, is-active inactive)",
          inst)
    check("No such file" not in r.one("conffiles"), "/etc/vdispld from the package: " +
          r.one("conffiles"))
    en = r.kv("enable")
    check(en == {"rc": "0", "enabled": "enabled", "active": "inactive"},
          "systemctl enable vdispld: enabled (started by the next step)", en)


def assert_report(r):
    t = {}
    assert_package(r)
    # 1. start after READY=1
    st = r.kv("start")
    t["start"] = float(st["seconds"])
    check(st["rc"] == "0", "systemctl start vdispld returned 0", st)
    check(r.one("start-state") == "active/running",
          "active/running as soon as systemctl start returned", r.one("start-state"))
    s = r.json("start-status")
    check(s.get("hypervisor") == "sim", "the control socket answered at once (vdispctl status)")
    sh = r.show("start-show")
    check(sh.get("Type") == "notify" and sh.get("NotifyAccess") == "main",
          "Type=notify, NotifyAccess=main", sh)
    # "Serving" with READY=1; the status line a second later (TCG may be that slow here).
    check(sh.get("StatusText") == "Serving" or
          re.match(r"2 guest\(s\), ", sh.get("StatusText", "")),
          "STATUS= from the daemon", sh.get("StatusText"))
    exec_us = int(sh["ExecMainStartTimestampMonotonic"])
    ready_us = int(sh["ActiveEnterTimestampMonotonic"])
    t["ready"] = (ready_us - exec_us) / 1e6
    check(exec_us > 0 and ready_us > exec_us,
          "active only when READY=1 came, %.3f s after the exec" % t["ready"], sh)
    check(sh.get("WatchdogUSec") == "10s", "WatchdogSec=10s of the unit", sh.get("WatchdogUSec"))

    # 2. hardening
    proc = dict(line.split(":", 1) for line in r.all("proc"))
    proc = {k: v.strip() for k, v in proc.items()}
    check(proc.get("NoNewPrivs") == "1", "NoNewPrivileges in effect", proc)
    check(proc.get("Seccomp") == "2", "a seccomp filter (SystemCallFilter) in effect", proc)
    check(proc.get("CapBnd") == "0000000000200001",
          "capability bounding set CAP_SYS_ADMIN CAP_CHOWN", proc)
    for line in r.all("ns"):
        m = re.match(r"(\w+) pid1=(\S+) vdispld=(\S+)", line)
        check(m and m.group(2) != m.group(3), "own %s namespace" % line.split()[0], line)
    mounts = dict(line.split(" ", 1) for line in r.all("mount"))
    check(mounts.get("/", "").startswith("ro"), "/ read-only (ProtectSystem=strict)", mounts)
    check(mounts.get("/run/vdispld", "").startswith("rw"), "/run/vdispld writable", mounts)
    check("/tmp" in mounts, "a private /tmp", mounts)
    check(r.one("ip-in-ns").split() == ["lo"], "PrivateNetwork: only lo",
          r.one("ip-in-ns"))
    lim = r.one("limits").split()
    check(lim[3:5] == ["16384", "16384"], "LimitNOFILE=16384 in effect", r.one("limits"))
    check(mounts.get("/var/lib/vdispld", "").startswith("rw"),
          "/var/lib/vdispld writable (StateDirectory)", mounts)

    # 3. vdispctl while the guests flip
    f1 = check_flipping(r.json("status1"), "vdispctl status --json")
    f2 = check_flipping(r.json("status2"), "vdispctl status --json a second later")
    check(all(f2[g] > f1[g] for g in f1), "the flip counts grow", (f1, f2))
    t["flips_per_second"] = sum(c["flips_per_second"] for g in r.json("status2")["guests"]
                                for d in g["devices"] for c in d["connectors"])
    m = re.match(r"2 guest\(s\), 2 device\(s\), 2 connected .*?, ([0-9.]+) flips/s, ",
                 r.one("status-text"))
    check(m and float(m.group(1)) > 0,
          "STATUS= (systemctl status): the status line: " + r.one("status-text"))
    check(r.kv("screenshot") == {"rc": "0", "magic": "89504e47"},
          "vdispctl screenshot: a PNG through the unit's PrivateTmp", r.one("screenshot"))

    # 4. reload
    pid = sh["MainPID"]
    good, bad = r.kv("reload-good"), r.kv("reload-bad")
    t["reload"] = float(good["seconds"])
    check(good["rc"] == "0" and good["pid"] == pid and good["state"] == "active/running",
          "systemctl reload with a good file: same process, running", good)
    check(r.json("reload-good-status").get("config_found") is True,
          "the reloaded configuration is in effect (status: config found)")
    check(bad["rc"] == "0" and bad["pid"] == pid and bad["state"] == "active/running",
          "systemctl reload with a bad file: the daemon stays up", bad)
    check_flipping(r.json("reload-bad-status"), "after the refused reload")

    # 5. the watchdog pings
    wp = r.kv("watchdog-ping")
    check(int(wp["after"]) > int(wp["before"]) > 0,
          "WATCHDOG=1 received: the watchdog timestamp advanced", wp)

    # 6. kill -9
    k = r.kv("kill9")
    t["kill9"] = float(k["seconds"])
    check(k["new"] not in ("0", k["old"]),
          "kill -9: restarted (pid %s -> %s), guests flipping %.2f s after the kill" % (
              k["old"], k["new"], t["kill9"]), k)
    ks = r.show("kill9-show")
    check(ks.get("NRestarts") == "1" and ks.get("ActiveState") == "active",
          "Restart=on-failure counted one restart", ks)
    kst = r.json("kill9-status")
    check_flipping(kst, "after the restart")
    caps = {g["name"]: g["devices"][0]["caps"] for g in kst["guests"]}
    check(caps["sim-guest-1"]["max_buffers"] == 64 and
          caps["sim-guest-1"]["max_framebuffers"] == 32 and
          caps["sim-guest-2"]["max_buffers"] == 64,
          "the new process uses the configuration in /etc/vdispld", caps)
    caps_files = r.one("captures").split()
    check("sim-guest-1_0.png" in caps_files and "sim-guest-2_0.png" in caps_files,
          "capture-dir = /var/lib/vdispld/captures written with no drop-in", caps_files)

    # 7. the watchdog kills a stopped daemon
    check(r.kv("wd-restart").get("WatchdogUSec") == "3s", "drop-in WatchdogSec=3s in effect",
          r.one("wd-restart"))
    w = r.kv("watchdog")
    t["watchdog"] = float(w["seconds"])
    check(w["new"] not in ("0", w["old"]),
          "SIGSTOP: the watchdog fired and the daemon was restarted, guests flipping "
          "%.2f s after the stop" % t["watchdog"], w)

    # 8. stop (how it ended: from the journal below)
    sp = r.kv("stop")
    t["stop"] = float(sp["seconds"])
    check(sp["rc"] == "0" and r.one("stop-state") == "inactive", "systemctl stop: inactive",
          (sp, r.one("stop-state")))

    # 9. the journal
    journal = []
    for line in r.all("journal"):
        try:
            journal.append(json.loads(line))
        except ValueError:
            fail("journal line is not JSON: " + line)
    own = [e for e in journal if e.get("_COMM") == "vdispld"]
    check(own, "vdispld's lines in the journal (%d)" % len(own))

    def find(pattern, prio, pid=None):
        for e in own:
            msg = e.get("MESSAGE")
            if isinstance(msg, str) and re.search(pattern, msg) and \
                    (pid is None or e.get("_PID") == pid):
                check(e.get("PRIORITY") == str(prio),
                      "journal: %r at priority %d" % (msg[:90], prio), e)
                return e
        fail("journal: no line matching %r" % pattern)

    check(all(not str(e.get("MESSAGE", "")).startswith("<") for e in own),
          "no <N> prefixes left in the messages (SyslogLevelPrefix=yes)")
    find(r"^vdispld: info: running: hypervisor sim", 6)
    # sim-guest-1.conf and the package's guests.d/example.conf (all commented out)
    find(r"^vdispld: notice: reload: configuration /etc/vdispld/vdispld.conf loaded "
         r"\(2 guest file", 5)
    # capture-dir and refresh changed; status-interval is the command line's (vm-test.conf)
    find(r"^vdispld: notice: reload: capture-dir and refresh changed: they take effect at "
         r"the next restart$", 5)
    find(r"^vdispld: notice: reload: the command line sets status-interval "
         r"\(--status-interval\): the file's value has no effect$", 5)
    find(r"guests.d/sim-guest-2.conf:1: max-buffers", 3)
    find(r"^vdispld: error: reload: .* has errors .*keeping the previous configuration", 3)
    find(r"^vdispld: notice: Terminated: shutting down", 5, pid=sp["pid"])
    summ = find(r"^summary: flips=\d+ .*errors=0 guests=2", 6, pid=sp["pid"])
    say("summary of the last run:", summ["MESSAGE"])
    sysd = [e.get("MESSAGE", "") for e in journal if e.get("_PID") == "1"]
    last = max(i for i, m in enumerate(sysd) if str(m).startswith("Stopping vdispld.service"))
    after = [str(m) for m in sysd[last:]]
    check("vdispld.service: Deactivated successfully." in after and
          not any(re.search(r"Main process exited, code=(killed|exited, status=[1-9])|"
                        r"Failed with result", m) for m in after),
          "the stopped daemon exited with status 0", after)
    check(any(re.search(r"Watchdog timeout \(limit 3s\)", str(m)) for m in sysd),
          "journal: systemd's watchdog timeout for vdispld", sysd)
    check(any(re.search(r"Main process exited, code=killed, status=9/KILL", str(m))
              for m in sysd), "journal: systemd saw the SIGKILL")
    t["kill9_steps"] = timeline(journal, float(r.one("kill9-at")))
    t["watchdog_steps"] = timeline(journal, float(r.one("sigstop-at")))
    warnings = [e for e in (json.loads(line) for line in r.all("warning"))
                if e.get("_TRANSPORT") != "kernel"]
    for e in warnings:
        say("warning in the journal: [%s] %s" % (e.get("_SYSTEMD_UNIT") or e.get("UNIT") or
                                                  e.get("_COMM"), e.get("MESSAGE")))
    unexpected = [e.get("MESSAGE") for e in warnings
                  if not re.search(EXPECTED_WARNINGS, str(e.get("MESSAGE")))]
    check(not unexpected, "%d warnings, all caused by the test or a VM without Xen" %
          len(warnings), unexpected)
    for line in r.all("debug"):
        say("debug:", line)
    check(not r.all("failed"), "no failed units", r.all("failed"))
    check(not r.all("note"), "no timeouts in the guest", r.all("note"))
    return t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("deb_dir")
    ap.add_argument("work")
    ap.add_argument("--timeout", type=int, default=400)
    ap.add_argument("--debug", action="store_true",
                    help="systemd.log_level=debug; prints what PID 1 logged about the unit")
    args = ap.parse_args()
    t0 = time.time()
    args.work = os.path.abspath(args.work)
    os.makedirs(args.work, exist_ok=True)
    for b in SYSTEMD_BINS:
        if not os.path.exists(b):
            fail("%s missing: tests/install-deps.sh installs systemd" % b)
    ensure_cache()
    kernel = glob_one(os.path.join(STAGE, "boot"), "vmlinuz-6.1")
    debs = [f for f in os.listdir(args.deb_dir) if re.match(r"vdispld_.*\.deb$", f)]
    if len(debs) != 1:
        fail("no package (or more than one) in %s: deb_build builds it" % args.deb_dir)
    deb = os.path.join(args.deb_dir, debs[0])
    initrd = build_root(deb, args.work)
    say("initramfs ready in %.1f s (%.1f MB); booting %s with systemd as PID 1" % (
        time.time() - t0, os.path.getsize(initrd) / 1e6, os.path.basename(kernel)))
    t_boot = time.time()
    vm = Vm(args.work, kernel, initrd,
            CMDLINE + (" systemd.log_level=debug" if args.debug else ""))
    try:
        text = vm.wait_report(args.timeout)
    finally:
        vm.stop()
    t_vm = time.time() - t_boot
    r = Report(text)
    try:
        t = assert_report(r)
    except SystemExit:
        vm.dump_console()
        raise
    boot = float(r.kv("boot")["uptime"])
    say("times: boot to vdtest.service %.1f s (guest uptime); start (READY) %.2f s, exec->READY "
        "%.3f s; reload %.2f s; kill -9 -> flipping again %.2f s (%s); SIGSTOP -> flipping "
        "again %.2f s (%s); stop %.2f s; %.0f flips/s (2 guests, TCG); VM %.1f s" % (
            boot, t["start"], t["ready"], t["reload"], t["kill9"], t["kill9_steps"],
            t["watchdog"], t["watchdog_steps"], t["stop"], t["flips_per_second"], t_vm))
    say("PASS in %.1f s" % (time.time() - t0))


if __name__ == "__main__":
    main()
