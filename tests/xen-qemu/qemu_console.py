"""qemu_console -- the console side of the Xen-in-QEMU tests' run.py.

Shared by tests/xen-qemu/run.py (x86) and tests/xen-qemu-arm64/run.py
(which puts this directory on sys.path). A Console starts QEMU with its
serial console on a pipe, logs every line with its time since the start,
and drives the run by the markers Dom0 prints:

  * boot markers (substrings, in order) are timed until the first step;
  * "VDTEST-STEP NAME budget=S": a step with a hard timeout of S + 30 s;
  * "VDTEST-CHECK ID PASS|FAIL DETAIL": one check, recorded;
  * "VDTEST-SCENARIO-DONE" or "VDTEST-END": the scenario is over.

Each harness passes its own line hook (markers only it knows) and the
pattern of the lines it echoes when not verbose. Python 3 stdlib only.
"""
import os
import re
import select
import signal
import subprocess
import sys
import time


class Console:
    def __init__(self, qemu, log_path, show, verbose=False, tail=60, on_line=None, cleanup=None):
        """start QEMU (argv qemu) now; show: the regex of the lines said when
        not verbose; on_line(s): a harness's own markers, True when it took
        the line; cleanup(): called when QEMU is stopped"""
        self.log_path = log_path
        self.show = re.compile(show)
        self.verbose = verbose
        self.ntail = tail
        self.hook = on_line
        self.cleanup = cleanup
        self.lines = []         # the whole console, for the tail on failure
        self.partial = b""
        self.checks = {}        # id -> (PASS|FAIL, detail)
        self.order = []
        self.marks = {}         # step or boot marker -> s since the start
        self.logf = open(log_path, "w")
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(qemu, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, bufsize=0)
        self.logf.write(f"# {' '.join(qemu)}\n# qemu pid {self.proc.pid}\n")
        signal.signal(signal.SIGTERM, lambda *_: (self.stop(), sys.exit("run.py: killed")))

    def el(self):
        return time.monotonic() - self.t0

    def say(self, s):
        print(f"[{self.el():6.1f}s] {s}", flush=True)

    def record(self, cid, verdict, detail):
        if cid not in self.checks:
            self.order.append(cid)
        self.checks[cid] = (verdict, detail)
        self.say(f"{verdict} {cid}: {detail}")

    def on_line(self, s):
        """look at one console line"""
        if self.hook and self.hook(s):
            return
        m = re.search(r"VDTEST-CHECK (\S+) (PASS|FAIL) ?(.*)", s)
        if m:
            self.record(m.group(1), m.group(2), m.group(3))
            return
        if self.verbose:
            print(f"{self.el():8.2f} {s}", flush=True)
        elif self.show.search(s):
            self.say(s.strip())

    def pump(self, timeout):
        """read what QEMU printed (up to timeout s); False when QEMU is gone"""
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not r:
            return True
        d = os.read(self.proc.stdout.fileno(), 65536)
        if not d:
            return False
        self.partial += d
        while b"\n" in self.partial:
            line, self.partial = self.partial.split(b"\n", 1)
            s = line.decode("utf-8", "replace").replace("\r", "")
            s = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", s)
            self.lines.append(s)
            self.logf.write(f"{self.el():8.2f} {s}\n")
            self.logf.flush()
            self.on_line(s)
        return True

    def stop(self):
        if self.cleanup:
            self.cleanup()
        proc = self.proc
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)     # only the QEMU started here
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def tail(self, why):
        print(f"---- {why}: last {self.ntail} console lines ({self.log_path}) ----")
        for s in self.lines[-self.ntail:]:
            print("  " + s)
        print("---- end of console tail ----", flush=True)

    def run(self, boot_markers, boot_timeout, timeout, markers_in_boot_only=False):
        """drive: wait for the markers, each step with its deadline, until the
        scenario is done, then stop QEMU. The failure (None: none) and the
        run's length in s; on failure its tail is printed."""
        failure = None
        step = "boot"
        deadline = self.t0 + boot_timeout
        seen = 0
        while True:
            now = time.monotonic()
            if now > deadline:
                failure = f"step '{step}' overran its time"
                break
            if self.el() > timeout:
                failure = f"whole run over {timeout:.0f} s (in step '{step}')"
                break
            n = len(self.lines)
            if not self.pump(min(1.0, deadline - now)):
                failure = f"QEMU exited (status {self.proc.wait()}) in step '{step}'"
                break
            done = False
            for s in self.lines[n:]:
                if step == "boot" or not markers_in_boot_only:
                    while seen < len(boot_markers) and boot_markers[seen][0] in s:
                        self.marks[boot_markers[seen][1]] = round(self.el(), 1)
                        seen += 1
                m = re.search(r"VDTEST-STEP (\S+) budget=(\d+)", s)
                if m:
                    self.marks[step] = round(self.el(), 1)
                    step = m.group(1)
                    deadline = time.monotonic() + int(m.group(2)) + 30
                if "VDTEST-SCENARIO-DONE" in s or "VDTEST-END" in s:
                    self.marks[step] = round(self.el(), 1)
                    done = True
            if done:
                # give the share a moment, then stop
                end = time.monotonic() + 3
                while time.monotonic() < end and self.pump(0.2):
                    pass
                break
        self.stop()
        total = self.el()
        self.logf.close()
        if failure:
            self.say(f"FAILED: {failure}")
            self.tail(failure)
        return failure, total

    def verdict(self, title, expected, failure, total, results, extra=()):
        """the expected checks not run fail; the summary; the exit status"""
        for cid in expected:
            if cid not in self.checks:
                self.record(cid, "FAIL", "not run" + (f" ({failure})" if failure else ""))
        print(f"\n==== {title} ====")
        for cid in self.order:
            v, d = self.checks[cid]
            print(f"{v} {cid}: {d}")
        for s in extra:
            print(s)
        npass = sum(1 for v, _ in self.checks.values() if v == "PASS")
        nfail = len(self.checks) - npass
        print("timings: " + " ".join(f"{k}={v}s" for k, v in self.marks.items()) + f" total={total:.1f}s")
        print(f"logs: {self.log_path} and {results}/")
        print(f"{npass} passed, {nfail} failed")
        return 0 if nfail == 0 and not failure else 1
