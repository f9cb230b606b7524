#!/usr/bin/python3
"""test_slirp_dns_pile — a resolver that never answers does not pile up
lookups: dns-max-pending and dns-max-lookups count a timed-out lookup until
the host resolver returns, so the daemon's threads stay bounded and other
sessions still resolve.

The daemon runs in a network namespace of its own whose resolv.conf points
at a UDP port on its loopback that swallows every query (options timeout:5
attempts:1: a host lookup takes seconds, far longer than dns-timeout) and
whose /etc/hosts names victim.test. One session sends fresh names
non-stop; later a second one joins it (together they reach
dns-max-lookups); a third session asks for victim.test during the flood
and after the flooding sessions are gone.

Needs root and `ip netns`: otherwise exits 77 (skipped). The namespace
(and any process left in it) is removed in a finally block; the run takes
about 25 seconds and is bounded to INNER_TIMEOUT.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netframes as nf  # noqa: E402
import slirptest as st  # noqa: E402

PYTHON = "/usr/bin/python3"
INNER_TIMEOUT = 50.0
VICTIM_NAME = "victim.test"
VICTIM_ADDRESS = "192.0.2.77"
MAX_PENDING = 4   # dns-max-pending: per session
MAX_LOOKUPS = 6   # dns-max-lookups: the instance (one flooder stays under it)
THREAD_SLACK = 4  # GLib's idle pool threads and the like


def skip(reason):
    print(f"SKIP: {reason}", flush=True)
    sys.exit(77)


def run(cmd, check=False):
    return subprocess.run(cmd, capture_output=True, timeout=30, check=check,
                          stdin=subprocess.DEVNULL)


# ---- outside: the namespace ----------------------------------------------------------

def requirements():
    if os.geteuid() != 0:
        skip("needs root (network namespaces)")
    if shutil.which("ip") is None:
        skip("needs ip (iproute2)")
    if not os.path.exists(PYTHON):
        skip(f"needs {PYTHON} inside the namespace")
    probe = f"aerodnsprobe{os.getpid()}"
    r = run(["ip", "netns", "add", probe])
    if r.returncode != 0:
        skip("ip netns is unavailable: " + r.stderr.decode(errors="replace").strip())
    run(["ip", "netns", "del", probe])


def kill_namespace_processes(ns):
    r = run(["ip", "netns", "pids", ns])
    for pid in r.stdout.decode().split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


def outer():
    requirements()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    ns = f"aerodnspile{os.getpid()}"
    etc = f"/etc/netns/{ns}"
    inner = None
    try:
        run(["ip", "netns", "add", ns], check=True)
        os.makedirs(etc, exist_ok=True)
        with open(os.path.join(etc, "resolv.conf"), "w") as f:
            f.write("nameserver 127.0.0.1\noptions timeout:5 attempts:1\n")
        with open(os.path.join(etc, "hosts"), "w") as f:
            f.write(f"127.0.0.1 localhost\n{VICTIM_ADDRESS} {VICTIM_NAME}\n")
        # getaddrinfo() with AI_ADDRCONFIG wants an IPv4 address besides 127.0.0.1.
        for cmd in (["link", "set", "lo", "up"], ["addr", "add", "192.0.2.1/32", "dev", "lo"]):
            run(["ip", "-n", ns] + cmd, check=True)
        inner = subprocess.Popen(["ip", "netns", "exec", ns, PYTHON, os.path.abspath(__file__),
                                  "--inner"], stdin=subprocess.DEVNULL)
        try:
            return inner.wait(timeout=INNER_TIMEOUT)
        except subprocess.TimeoutExpired:
            print(f"not ok - the run took longer than {INNER_TIMEOUT:.0f} s", flush=True)
            return 1
    finally:
        if inner is not None and inner.poll() is None:
            inner.kill()
            inner.wait()
        kill_namespace_processes(ns)
        run(["ip", "netns", "del", ns])
        shutil.rmtree(etc, ignore_errors=True)


# ---- inside: the daemon and its guests ------------------------------------------------

def threads(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return 0


class Flooder:
    """A session that keeps MAX_PENDING fresh names asked, and counts the answers."""

    def __init__(self, port, mac, tag):
        self.g = st.Guest(port, mac=mac)
        self.tag = tag
        self.sent = 0
        self.rcodes = {}

    def round(self):
        for _ in range(MAX_PENDING):
            self.sent += 1
            name = f"{self.tag}-{self.sent}-{os.getpid()}.example.com"
            self.g.udp(st.DNS_MAC, st.DNS, 20000 + self.sent % 20000, 53,
                       nf.dns_query(self.sent & 0xffff, name, nf.TYPE_A))

    def drain(self):
        while True:
            try:
                f = self.g.expect(lambda f: f.proto == nf.PROTO_UDP and f.sport == 53, 0.01)
            except socket.timeout:
                return
            rcode = f.payload[3] & 0x0f
            self.rcodes[rcode] = self.rcodes.get(rcode, 0) + 1

    def close(self):
        self.g.close()


def victim_lookup(port, attempts=1, interval=0.0, deadline=None):
    """Asks for victim.test from a fresh session until it resolves (or
    ATTEMPTS / DEADLINE run out); returns the last answer's (rcode, addresses)."""
    last = None
    for i in range(attempts):
        with st.Guest(port, mac="52:54:00:00:00:99") as g:
            try:
                a, _ = g.dns(VICTIM_NAME, timeout=3.0)
                last = (a["rcode"], [x[2] for x in a["answers"]])
            except socket.timeout:
                last = ("no answer", [])
        if last == (0, [VICTIM_ADDRESS]):
            return last
        if deadline is not None and time.monotonic() > deadline:
            break
        time.sleep(interval)
    return last


def flood(d, flooders, seconds, samples):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for fl in flooders:
            fl.round()
        time.sleep(0.3)
        for fl in flooders:
            fl.drain()
        samples.append(threads(d.pid))


def inner():
    tap = st.Tap()
    hole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    hole.bind(("127.0.0.1", 53))
    swallowed = [0]

    def swallow():
        while True:
            hole.recvfrom(4096)
            swallowed[0] += 1
    threading.Thread(target=swallow, daemon=True).start()

    hp, sp = st.free_port(), st.free_port()
    with st.TempDir() as tmp:
        cfg = st.slirp_config(hp, sp, lan={
            "dns-max-pending": str(MAX_PENDING), "dns-max-lookups": str(MAX_LOOKUPS),
            "dns-timeout": "200ms", "dns-cache-entries": "0"})
        with st.Daemon(tmp, cfg, hp) as d:
            base = threads(d.pid)
            bound = base + MAX_LOOKUPS + THREAD_SLACK
            samples = []
            g1 = Flooder(sp, "52:54:00:00:00:01", "a")
            g2 = None
            try:
                # One session floods: it holds at most dns-max-pending calls.
                flood(d, [g1], 5.0, samples)
                during = victim_lookup(sp, attempts=2, interval=0.2)
                tap.ok(during == (0, [VICTIM_ADDRESS]),
                       "another session resolves a name of /etc/hosts during the flood",
                       f"answer {during}")
                flood(d, [g1], 1.0, samples)

                # Two sessions flood: together they reach dns-max-lookups.
                g2 = Flooder(sp, "52:54:00:00:00:02", "b")
                flood(d, [g1, g2], 4.0, samples)
                tap.ok(max(samples) <= bound,
                       f"the daemon's threads stay at most {bound} (base {base} + "
                       f"dns-max-lookups {MAX_LOOKUPS} + {THREAD_SLACK})",
                       f"thread counts: {samples}")
                tap.diag(f"threads {base} -> max {max(samples)}; blackhole got "
                         f"{swallowed[0]} queries; answers {g1.rcodes} {g2.rcodes}")
                tap.ok(swallowed[0] > 0, "the flood reached the host resolver")
                tap.ok(g1.rcodes.get(2, 0) > 0, "timed-out lookups are answered SERVFAIL",
                       f"answers {g1.rcodes}")
                refused = d.metric("aero_slirp_dns_lookups_refused_total", limit="instance")
                tap.ok(refused > 0, "dns-max-lookups refusals are counted",
                       f"aero_slirp_dns_lookups_refused_total{{limit=instance}} = {refused}")
                tap.ok(d.metric("aero_slirp_dns_lookups_refused_total", limit="session") > 0,
                       "dns-max-pending refusals are counted")
            finally:
                # The flooding sessions go while their lookups are still running.
                g1.close()
                if g2 is not None:
                    g2.close()

            after = victim_lookup(sp, attempts=100, interval=0.5,
                                  deadline=time.monotonic() + 15.0)
            tap.ok(after == (0, [VICTIM_ADDRESS]),
                   "another session resolves a name of /etc/hosts after the flood",
                   f"answer {after}")
            tap.ok(threads(d.pid) <= bound, "the threads are still bounded after the flood")
            logged = d.stderr().count("refusing more queries")
            tap.ok(1 <= logged <= 3, "refusals are logged, rate-limited",
                   f"{logged} warnings")
            status = d.proc.poll()
            tap.ok(status is None, "aero-netd is still running", f"exit status {status}")
            rc = d.stop()
            tap.ok(rc == 0, "aero-netd stops cleanly", f"exit status {rc}\n{d.stderr()[-3000:]}")
    tap.done()


if __name__ == "__main__":
    if sys.argv[1:] == ["--inner"]:
        inner()
    else:
        sys.exit(outer())
