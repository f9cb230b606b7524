#!/usr/bin/python3
"""bench.py — aero-netd beside slirp4netns and pasta, in one run.

Started by bench/run (which installs packages, builds the release daemon and
the helper tools, and cleans up after us whatever happens). Standard library
only. Everything runs on loopback and in network namespaces created here;
every load and every wait is bounded in time.

Paths compared (the guest is always a Linux network namespace whose
workload connects to 10.0.2.2, which each path maps to the host's
127.0.0.1):
  aero         TAP -> tunnel client (aero-netd: tap + transport-ws client)
               -> WebSocket -> aero-netd (transport-ws server, stack-slirp
               with host-loopback = true) -> host sockets
  aero-tso     the same at guest MTU 1500 with offload on both ends (tap
               offload = true, stack-slirp offload = true): TCP crosses the
               tunnel in segments of up to TSO_SEGMENT bytes (MTU 1500 only)
  slirp4netns  TAP -> slirp4netns (libslirp) -> host sockets
  pasta        TAP -> pasta (passt) -> host sockets, gateway mapped to host
  loopback     the same workload on the host's loopback, no namespace
"""

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(BENCH)
# AERO_BENCH_BUILD: another meson build directory to benchmark (a patched
# tree, say) against the same peers; default: the release build bench/run makes.
BUILD = os.environ.get("AERO_BENCH_BUILD") or os.path.join(TOP, "build-release")
DAEMON = os.path.join(BUILD, "src", "daemon", "aero-netd")
PLUGIN_PATH = ":".join(os.path.join(BUILD, "plugins", p)
                       for p in ("transport-ws", "stack-slirp", "tap"))
TOOLS = os.path.join(BENCH, ".build")
RR = os.path.join(TOOLS, "rr")
WSDHCP = os.path.join(TOOLS, "wsdhcp")
WSFLOOR = os.path.join(TOOLS, "wsfloor")
STATE_FILE = os.path.join(TOOLS, "state")

CLK_TCK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1
GUEST_TARGET = "10.0.2.2"

# Largest values the plugins accept (plugins/transport-ws/ws-config.c,
# plugins/stack-slirp/slirp-settings.c, plugins/tap/tap-plugin.c): a FRAME
# payload is a whole Ethernet frame, so MTU + 14 <= 65535, and stack-slirp
# stops at 65520 (as do slirp4netns and pasta).
MAX_FRAME_PAYLOAD = 65535
JUMBO_MTU = 65520
# The "aero-tso" path: guest MTU 1500, the tunnel client's TAP with offload
# (TSO/GSO), pieces of up to this many TCP payload bytes per tunnel frame.
TSO_SEGMENT = int(os.environ.get("AERO_BENCH_SEGMENT", "32768"))


def _die_with_parent():
    """Asks the kernel to SIGTERM the calling process when its parent dies
    (survives exec; `ip netns exec` execs its command in place)."""
    import ctypes
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def child_setup():
    _die_with_parent()


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# ---- processes and namespaces we own ------------------------------------------------------

def proc_starttime(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


class Registry:
    """Every process and namespace this run creates, mirrored to a state
    file that bench/run's trap reads if we die without cleaning up."""

    def __init__(self):
        self.procs = {}     # pid -> (Popen, name)
        self.netns = []
        self.dirs = []
        self.save()

    def save(self):
        os.makedirs(os.path.dirname(STATE_FILE), exist_ok=True)
        tmp = STATE_FILE + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"self {os.getpid()} {proc_starttime(os.getpid()) or '-'}\n")
            for pid in self.procs:
                f.write(f"pid {pid} {proc_starttime(pid) or '-'}\n")
            for ns in self.netns:
                f.write(f"netns {ns}\n")
            for d in self.dirs:
                f.write(f"dir {d}\n")
        os.replace(tmp, STATE_FILE)

    def spawn(self, cmd, name, **kw):
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("stdout", subprocess.DEVNULL)
        kw.setdefault("stderr", subprocess.DEVNULL)
        kw.setdefault("preexec_fn", child_setup)
        p = subprocess.Popen(cmd, **kw)
        self.procs[p.pid] = (p, name)
        self.save()
        return p

    def stop(self, p, timeout=5.0):
        if p is None:
            return
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    pass
        self.procs.pop(p.pid, None)
        self.save()

    def add_netns(self, name):
        subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True, timeout=10)
        self.netns.append(name)
        self.save()
        run(["ip", "-n", name, "link", "set", "lo", "up"])

    def del_netns(self, name):
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)
        shutil.rmtree(f"/etc/netns/{name}", ignore_errors=True)
        if name in self.netns:
            self.netns.remove(name)
        self.save()

    def add_dir(self, path):
        self.dirs.append(path)
        self.save()

    def cleanup(self):
        for pid in list(self.procs):
            self.stop(self.procs[pid][0], timeout=3)
        for ns in list(self.netns):
            self.del_netns(ns)
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)
        self.dirs = []
        try:
            os.unlink(STATE_FILE)
        except OSError:
            pass


REG = None
DEADLINE = None


def time_left():
    return DEADLINE - time.monotonic()


def run(cmd, timeout=30, check=False, **kw):
    """Runs CMD to completion within TIMEOUT (stopped by PID past it), with
    its output captured; the process is in the registry while it runs."""
    if REG is None:
        return subprocess.run(cmd, capture_output=True, timeout=timeout, check=check, **kw)
    p = REG.spawn(cmd, os.path.basename(cmd[0]), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                  **kw)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        REG.stop(p)
        raise
    REG.procs.pop(p.pid, None)
    REG.save()
    r = subprocess.CompletedProcess(cmd, p.returncode, out, err)
    if check:
        r.check_returncode()
    return r


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, timeout=5.0):
    """Whether something listens on 127.0.0.1:PORT (read from /proc, so that
    no probe connection disturbs a one-shot server)."""
    want = f"0100007F:{port:04X}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open("/proc/net/tcp") as f:
            for line in f:
                parts = line.split()
                if len(parts) > 3 and parts[1] == want and parts[3] == "0A":
                    return True
        time.sleep(0.02)
    return False


def http_status(port, path):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            data = s.recv(64)
        m = re.match(rb"HTTP/1\.\d (\d+)", data)
        return int(m.group(1)) if m else None
    except OSError:
        return None


def machine_cpu():
    """(busy, total, steal) jiffies of all CPUs from /proc/stat. Busy
    includes steal: time the hypervisor gave to other guests while this
    one had work, which is what makes runs on a shared VM noisy."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    steal = v[7] if len(v) > 7 else 0
    return sum(v) - idle, sum(v), steal


def steal_pct(m0, m1):
    """Steal as a share of all CPU time between two machine_cpu() readings."""
    return round(100 * (m1[2] - m0[2]) / max(1, m1[1] - m0[1]), 1)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu_seconds_fine(pid):
    """CPU time of all PID's threads from /proc/PID/task/*/schedstat (ns),
    for loads too short for clock ticks."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total / 1e9


def memory(pid):
    """VmRSS, RssAnon and (from smaps_rollup) Pss and private bytes, in KiB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                out[k] = int(v.split()[0])
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("Pss", "Private_Clean", "Private_Dirty"):
                    out[k] = int(v.split()[0])
        out["Private"] = out.get("Private_Clean", 0) + out.get("Private_Dirty", 0)
    except OSError:
        pass
    return out


def set_affinity(pid, cpus):
    """Pins every thread of PID (taskset -a)."""
    run(["taskset", "-a", "-p", "-c", cpus, str(pid)], timeout=10)


def ini(groups):
    out = []
    for group, keys in groups:
        out.append(f"[{group}]")
        out.extend(f"{k} = {v}" for k, v in keys.items())
        out.append("")
    return "\n".join(out)


def raise_nofile():
    """Soft RLIMIT_NOFILE up to the hard limit (raising the hard limit needs
    CAP_SYS_RESOURCE, which containers often lack)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536 if hard == resource.RLIM_INFINITY else min(65536, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    _die_with_parent()


class Daemon:
    """One aero-netd process."""

    def __init__(self, work, name, groups, env_extra=None, wrapper=None):
        """WRAPPER: a command line the daemon runs under (valgrind)."""
        self.name = name
        self.http_port = None
        for g, keys in groups:
            if g == "http":
                self.http_port = int(keys["listen"].rsplit(":", 1)[1])
        self.config = os.path.join(work, f"{name}.ini")
        with open(self.config, "w") as f:
            f.write(ini(groups))
        self.stderr_path = os.path.join(work, f"{name}.stderr")
        env = dict(os.environ, AERO_NETD_PLUGIN_PATH=PLUGIN_PATH, LC_ALL="C.UTF-8")
        env.update(env_extra or {})
        self.stderr_file = open(self.stderr_path, "wb")
        self.proc = REG.spawn((wrapper or []) + [DAEMON, "--config", self.config], name,
                              stderr=self.stderr_file, env=env, preexec_fn=raise_nofile)
        self.pid = self.proc.pid

    def wait_ready(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.name} exited with {self.proc.returncode}: {self.stderr()}")
            if http_status(self.http_port, "/readyz") == 200:
                return
            time.sleep(0.05)
        raise BenchError(f"{self.name} not ready after {timeout}s: {self.stderr()}")

    def stderr(self, tail=2000):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode(errors="replace")[-tail:]
        except OSError:
            return ""

    def stop(self):
        REG.stop(self.proc)
        self.stderr_file.close()


# ---- the guest paths -----------------------------------------------------------------------

UDHCPC_SCRIPT = """#!/bin/sh
# Sets only the address and the default route (busybox's default script
# would rewrite the machine's resolv.conf).
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    for r in $router; do ip route replace default via "$r" dev "$interface"; done
    ;;
esac
exit 0
"""


class GuestPath:
    kind = None

    def __init__(self, work, tag, mtu):
        self.work = work
        self.mtu = mtu
        self.ns = f"abn{os.getpid() % 100000}{tag}"
        self.label = self.kind
        self.procs = {}  # role -> pid, for CPU and memory accounting

    def exec_prefix(self):
        return ["ip", "netns", "exec", self.ns]

    def guest_mtu(self):
        r = run(["ip", "-n", self.ns, "-o", "link", "show", "dev", self.dev])
        m = re.search(r"mtu (\d+)", r.stdout.decode())
        return int(m.group(1)) if m else None

    def guest_addr(self):
        r = run(["ip", "-n", self.ns, "-o", "-4", "addr", "show", "dev", self.dev])
        m = re.search(r"inet (\S+)", r.stdout.decode())
        return m.group(1) if m else None

    def check(self):
        mtu, addr = self.guest_mtu(), self.guest_addr()
        if mtu != self.mtu or addr is None:
            raise BenchError(f"{self.label}: guest interface has mtu {mtu} address {addr}, "
                             f"expected mtu {self.mtu}")
        r = run(self.exec_prefix() + ["ip", "route", "get", GUEST_TARGET])
        if r.returncode != 0:
            raise BenchError(f"{self.label}: no route to {GUEST_TARGET}")
        self.address = addr

    def describe(self):
        return {"path": self.kind, "mtu": self.mtu, "namespace": self.ns,
                "guest_address": getattr(self, "address", None)}

    def close(self):
        for p in getattr(self, "_popen", []):
            REG.stop(p)
        REG.del_netns(self.ns)


class AeroPath(GuestPath):
    kind = "aero"

    def __init__(self, work, tag, mtu, frame_payload, segment=None):
        """SEGMENT: the tunnel client's TAP offload (TSO/GSO) with pieces of
        up to SEGMENT payload bytes; the guest keeps MTU."""
        super().__init__(work, tag, mtu)
        self.segment = segment
        if segment:
            self.kind = "aero-tso"
            frame_payload = MAX_FRAME_PAYLOAD
        self.frame_payload = frame_payload
        self.dev = f"abt{tag}"
        self.label = f"{self.kind}(frame {frame_payload})"
        lan = {"plugin": "stack-slirp", "host-loopback": "true", "mtu": str(mtu)}
        tap = {"plugin": "tap", "device": self.dev, "netns": self.ns, "mtu": str(mtu)}
        if segment:
            lan["offload"] = "true"
            tap.update({"offload": "true", "segment-size": str(segment)})
        self._popen = []
        REG.add_netns(self.ns)
        os.makedirs(f"/etc/netns/{self.ns}", exist_ok=True)
        with open(f"/etc/netns/{self.ns}/resolv.conf", "w") as f:
            f.write("nameserver 10.0.2.3\n")
        server_http = free_port()
        self.server = Daemon(work, f"aero-server-{tag}", [
            ("core", {"shutdown-timeout": "2s"}),
            ("http", {"listen": f"127.0.0.1:{server_http}"}),
            ("log", {"level": "message"}),
            # The tunnel client is not a browser: it sends no Origin.
            ("admission", {"open": "true"}),
            ("tunnel", {"plugin": "transport-ws", "stack": "lan",
                        "max-frame-payload": str(frame_payload)}),
            ("lan", lan),
        ])
        self._popen.append(self.server.proc)
        self.server.wait_ready()
        bridge_http = free_port()
        self.bridge = Daemon(work, f"aero-client-{tag}", [
            ("core", {"shutdown-timeout": "2s"}),
            ("http", {"listen": f"127.0.0.1:{bridge_http}"}),
            ("log", {"level": "message"}),
            ("uplink", {"plugin": "transport-ws", "mode": "client",
                        "url": f"ws://127.0.0.1:{server_http}/l2", "stack": "guest",
                        "max-frame-payload": str(frame_payload)}),
            ("guest", tap),
        ])
        self._popen.append(self.bridge.proc)
        self.bridge.wait_ready()
        script = os.path.join(work, f"udhcpc-{tag}.sh")
        with open(script, "w") as f:
            f.write(UDHCPC_SCRIPT)
        os.chmod(script, 0o755)
        t0 = time.monotonic()
        r = run(self.exec_prefix() + ["busybox", "udhcpc", "-i", self.dev, "-n", "-q", "-f",
                                      "-t", "5", "-T", "2", "-s", script], timeout=40)
        self.dhcp_s = time.monotonic() - t0
        if self.guest_addr() is None:
            raise BenchError(f"aero: udhcpc got no lease: {r.stdout.decode()} {r.stderr.decode()} "
                             f"server: {self.server.stderr()} client: {self.bridge.stderr()}")
        self.procs = {"aero-netd": self.server.pid, "tunnel-client": self.bridge.pid}
        self.check()

    def describe(self):
        d = super().describe()
        d.update({"max_frame_payload": self.frame_payload, "dhcp_seconds": round(self.dhcp_s, 3),
                  "offload_segment": self.segment})
        return d


class Slirp4netnsPath(GuestPath):
    kind = "slirp4netns"

    def __init__(self, work, tag, mtu):
        super().__init__(work, tag, mtu)
        self.dev = "tap0"
        REG.add_netns(self.ns)
        rfd, wfd = os.pipe()
        errf = open(os.path.join(work, f"slirp4netns-{tag}.log"), "wb")
        p = REG.spawn(["slirp4netns", "--configure", f"--mtu={mtu}", "--ready-fd", str(wfd),
                       "--netns-type=path", f"/run/netns/{self.ns}", self.dev],
                      f"slirp4netns-{tag}", pass_fds=(wfd,), stdout=errf, stderr=errf)
        os.close(wfd)
        self._popen = [p]
        ready = False
        deadline = time.monotonic() + 10
        os.set_blocking(rfd, False)
        while time.monotonic() < deadline and p.poll() is None:
            try:
                if os.read(rfd, 1):
                    ready = True
                    break
            except BlockingIOError:
                pass
            time.sleep(0.02)
        os.close(rfd)
        if not ready:
            raise BenchError(f"slirp4netns did not become ready (exit {p.poll()})")
        self.procs = {"slirp4netns": p.pid}
        self.check()


class PastaPath(GuestPath):
    kind = "pasta"

    def __init__(self, work, tag, mtu):
        super().__init__(work, tag, mtu)
        self.dev = "tap0"
        REG.add_netns(self.ns)
        logf = os.path.join(work, f"pasta-{tag}.log")
        # The same addressing as the others: guest 10.0.2.15/24, gateway
        # 10.0.2.2, which pasta maps to the host (its default; --no-map-gw
        # would turn that off). No port forwarding, IPv4 only, as root.
        p = REG.spawn(["pasta", "--foreground", "--quiet", "--ipv4-only", "--runas", "0",
                       "--config-net", "--ns-ifname", self.dev, "--address", "10.0.2.15",
                       "--netmask", "24", "--gateway", GUEST_TARGET, "--mtu", str(mtu),
                       "--tcp-ports", "none", "--udp-ports", "none", "--tcp-ns", "none",
                       "--udp-ns", "none", "--log-file", logf, "--netns", self.ns],
                      f"pasta-{tag}")
        self._popen = [p]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and p.poll() is None:
            if self.guest_addr() is not None and self.guest_mtu() == mtu:
                break
            time.sleep(0.05)
        if p.poll() is not None:
            raise BenchError(f"pasta exited with {p.returncode}")
        self.procs = {"pasta": p.pid}
        self.check()


# ---- workloads --------------------------------------------------------------------------------

def iperf_once(path, direction, streams, duration):
    """One iperf3 run from the guest (or the host, for path None) to a
    one-shot iperf3 server on 127.0.0.1. Returns a result dict."""
    port = free_port()
    server = REG.spawn(["iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", str(port)], "iperf3-server")
    try:
        if not wait_listening(port):
            raise BenchError("iperf3 server did not start")
        target = GUEST_TARGET if path else "127.0.0.1"
        cmd = (path.exec_prefix() if path else []) + [
            "iperf3", "-c", target, "-p", str(port), "-t", str(duration), "-J",
            "--connect-timeout", "5000"]
        if direction == "down":
            cmd.append("-R")
        if streams > 1:
            cmd += ["-P", str(streams)]
        procs = path.procs if path else {}
        cpu0 = {role: cpu_seconds(pid) for role, pid in procs.items()}
        m0 = machine_cpu()
        t0 = time.monotonic()
        r = run(cmd, timeout=duration + 30)
        wall = time.monotonic() - t0
        m1 = machine_cpu()
        cpu = {role: cpu_seconds(pid) - cpu0[role] for role, pid in procs.items()}
        try:
            data = json.loads(r.stdout.decode())
        except ValueError:
            raise BenchError(f"iperf3 gave no JSON: {r.stderr.decode()[-500:]}")
        if "error" in data:
            raise BenchError(f"iperf3: {data['error']}")
        recv = data["end"]["sum_received"]
        sent = data["end"].get("sum_sent", {})
        gbytes = recv["bytes"] / 1e9
        res = {"gbps": recv["bits_per_second"] / 1e9, "bytes": recv["bytes"],
               "retransmits": sent.get("retransmits"), "wall_s": round(wall, 2),
               "cpu_s": {k: round(v, 3) for k, v in cpu.items()},
               "cpu_s_per_gb": {k: round(v / gbytes, 3) if gbytes else None
                                for k, v in cpu.items()},
               "cpu_pct_of_core": {k: round(100 * v / wall, 1) for k, v in cpu.items()},
               # every process of the machine (iperf3 and the guest's kernel work included)
               "machine_busy_pct": round(100 * (m1[0] - m0[0]) / max(1, m1[1] - m0[1]), 1),
               "steal_pct": steal_pct(m0, m1)}
        return res
    finally:
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            pass
        REG.stop(server)


def rr_once(path, rr_port, count, pinned):
    cmd = (path.exec_prefix() if path else []) + [
        RR, "client", GUEST_TARGET if path else "127.0.0.1", str(rr_port), str(count), "64",
        "1000", "120"]
    if pinned:
        cmd = ["taskset", "-c", "0"] + cmd
    r = run(cmd, timeout=130)
    if r.returncode != 0:
        raise BenchError(f"rr client failed ({r.returncode}): {r.stderr.decode()[-300:]}")
    return json.loads(r.stdout.decode())


# ---- the benchmarks ---------------------------------------------------------------------------

def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def throughput_bench(work, results, args, size_class):
    """Benchmarks 1, 2 and 4 for one frame-size class: every path up at
    once, runs interleaved (rep, test, path) so that noise hits all alike."""
    if size_class == "mtu1500":
        mtu, frame = 1500, 2048
    else:
        mtu, frame = JUMBO_MTU, MAX_FRAME_PAYLOAD
    tag = "a" if size_class == "mtu1500" else "b"
    paths = []
    ctors = [lambda: AeroPath(work, tag + "0", mtu, frame),
             lambda: Slirp4netnsPath(work, tag + "1", mtu),
             lambda: PastaPath(work, tag + "2", mtu)]
    if size_class == "mtu1500":
        ctors.insert(1, lambda: AeroPath(work, tag + "3", mtu, frame, segment=TSO_SEGMENT))
    try:
        for ctor in ctors:
            try:
                paths.append(ctor())
            except (BenchError, subprocess.SubprocessError, OSError) as e:
                log(f"{size_class}: a path failed to start: {e}")
                results["errors"].append(f"{size_class}: path start: {e}")
        results["paths"][size_class] = [p.describe() for p in paths]
        idle = results.setdefault("idle_memory_kib", {})
        for p in paths:
            for role, pid in p.procs.items():
                idle[f"{role} ({size_class})"] = memory(pid)
        tests = [(d, s) for s in (1, 4) for d in ("up", "down")]
        runs = {}
        for rep in range(args.reps):
            for direction, streams in tests:
                for p in [None] + paths:
                    if p is None and (size_class != "mtu1500" or direction == "down"):
                        continue
                    name = p.kind if p else "loopback"
                    if time_left() < args.duration + 40:
                        results["errors"].append(f"time budget: skipped {size_class} {name} "
                                                 f"{direction} x{streams} rep {rep + 1}")
                        continue
                    log(f"throughput {size_class} {name:12} {direction:4} x{streams} "
                        f"rep {rep + 1}/{args.reps}")
                    try:
                        r = iperf_once(p, direction, streams, args.duration)
                    except (BenchError, subprocess.SubprocessError, OSError, KeyError) as e:
                        log(f"  failed: {e}")
                        results["errors"].append(f"{size_class} {name} {direction} x{streams}: {e}")
                        continue
                    log(f"  {r['gbps']:.2f} Gbit/s cpu {r['cpu_pct_of_core']} steal {r['steal_pct']} %")
                    runs.setdefault((name, direction, streams), []).append(r)
        for (name, direction, streams), rs in runs.items():
            entry = {"size_class": size_class, "path": name, "direction": direction,
                     "streams": streams, "mtu": mtu if name != "loopback" else 65536,
                     "gbps": median([r["gbps"] for r in rs]),
                     "gbps_runs": [round(r["gbps"], 3) for r in rs],
                     "retransmits": [r["retransmits"] for r in rs]}
            roles = sorted({k for r in rs for k in r["cpu_s_per_gb"]})
            entry["cpu_s_per_gb"] = {k: median([r["cpu_s_per_gb"].get(k) for r in rs]) for k in roles}
            entry["cpu_pct_of_core"] = {k: median([r["cpu_pct_of_core"].get(k) for r in rs])
                                        for k in roles}
            entry["machine_busy_pct"] = median([r["machine_busy_pct"] for r in rs])
            entry["steal_pct_runs"] = [r["steal_pct"] for r in rs]
            if name == "aero":
                entry["frame_payload"] = frame
            if name == "aero-tso":
                entry["frame_payload"] = MAX_FRAME_PAYLOAD
                entry["offload_segment"] = TSO_SEGMENT
            results["throughput"].append(entry)
    finally:
        for p in paths:
            p.close()


def latency_bench(work, results, args):
    """Benchmark 3: 64-byte request/response round trips, unpinned and with
    every process involved pinned to CPU 0. Besides the paths and plain
    loopback: "slirp4netns+relay", slirp4netns with the server behind a
    minimal relay process (rr relay) — one more process and one more TCP
    hop, which is what the tunnel client and the WebSocket add to aero's
    path: the least such a path can cost."""
    paths = []
    rr_port = free_port()
    relay_port = free_port()
    server = REG.spawn([RR, "server", "127.0.0.1", str(rr_port), "64"], "rr-server")
    relay = REG.spawn([RR, "relay", "127.0.0.1", str(relay_port), "127.0.0.1", str(rr_port)],
                      "rr-relay")
    try:
        if not wait_listening(rr_port) or not wait_listening(relay_port):
            raise BenchError("rr server or relay did not start")
        for ctor in (lambda: AeroPath(work, "c0", 1500, 2048),
                     lambda: Slirp4netnsPath(work, "c1", 1500),
                     lambda: PastaPath(work, "c2", 1500)):
            try:
                paths.append(ctor())
            except (BenchError, subprocess.SubprocessError, OSError) as e:
                results["errors"].append(f"latency: path start: {e}")
        runs = [("loopback", None, rr_port, [])] + [(p.kind, p, rr_port, []) for p in paths]
        runs += [("slirp4netns+relay", p, relay_port, [relay.pid])
                 for p in paths if p.kind == "slirp4netns"]
        all_cpus = f"0-{NCPU - 1}"
        for pinned in (False, True):
            for name, p, port, extra in runs:
                if time_left() < 60:
                    results["errors"].append(f"time budget: skipped latency {name}")
                    continue
                pids = [server.pid] + extra + (list(p.procs.values()) if p else [])
                if pinned:
                    for pid in pids:
                        set_affinity(pid, "0")
                log(f"latency {'pinned' if pinned else 'unpinned'} {name}")
                try:
                    r = rr_once(p, port, args.rr_count, pinned)
                    r.update({"path": name, "pinned": pinned})
                    results["latency"].append(r)
                    log(f"  p50 {r['p50_us']:.1f} us p99 {r['p99_us']:.1f} us")
                except (BenchError, subprocess.SubprocessError, OSError, ValueError) as e:
                    results["errors"].append(f"latency {name} pinned={pinned}: {e}")
                finally:
                    if pinned:
                        for pid in pids:
                            set_affinity(pid, all_cpus)
    finally:
        for p in paths:
            p.close()
        REG.stop(relay)
        REG.stop(server)


def scale_server(work, name, env_extra=None, wrapper=None, ready_timeout=10.0, http_extra=None):
    port = free_port()
    d = Daemon(work, name, [
        ("core", {"shutdown-timeout": "5s", "max-sessions": "20000"}),
        # Every tunnel comes from 127.0.0.1: no per-address connection cap.
        ("http", dict({"listen": f"127.0.0.1:{port}", "max-connections-per-address": "0"},
                      **(http_extra or {}))),
        ("log", {"level": "info"}),
        # wsdhcp sends no Origin; no per-peer tunnel quota (all from 127.0.0.1).
        ("admission", {"open": "true"}),
        ("tunnel", {"plugin": "transport-ws", "stack": "lan", "idle-timeout": "0"}),
        ("lan", {"plugin": "stack-slirp", "host-loopback": "true"}),
    ], env_extra=env_extra, wrapper=wrapper)
    d.wait_ready(ready_timeout)
    return d


def run_wsdhcp(port, count, concurrency, timeout, hold):
    cmd = [WSDHCP, "--port", str(port), "--count", str(count), "--concurrency", str(concurrency),
           "--timeout", str(timeout)]
    if hold:
        cmd.append("--hold")
    p = REG.spawn(cmd, "wsdhcp", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                  stderr=subprocess.PIPE, preexec_fn=raise_nofile)
    return p


def read_json_line(p, timeout):
    """The next JSON line on P's stdout, within TIMEOUT seconds."""
    import select
    deadline = time.monotonic() + timeout
    buf = b""
    fd = p.stdout.fileno()
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        buf += chunk
        if b"\n" in buf:
            return json.loads(buf.split(b"\n", 1)[0])
    raise BenchError(f"no result line from wsdhcp within {timeout:.0f}s")


def scale_bench(work, results, args):
    """Benchmark 5a: memory per idle session. A fresh server per N; N
    tunnels each take a DHCP lease and stay open; RSS delta / N."""
    for n in args.scale:
        budget = min(args.scale_timeout, time_left() - 60)
        if budget < 20:
            results["errors"].append(f"time budget: skipped scale N={n}")
            continue
        log(f"scale N={n} (fill {args.fill_concurrency} in flight, bound {budget:.0f}s)")
        d = scale_server(work, f"aero-scale-{n}")
        client = None
        try:
            time.sleep(0.5)
            before = memory(d.pid)
            t0 = time.monotonic()
            client = run_wsdhcp(d.http_port, n, args.fill_concurrency, budget, hold=True)
            ready = read_json_line(client, budget + 30)
            fill_s = time.monotonic() - t0
            time.sleep(2)
            after = memory(d.pid)
            cpu0 = cpu_seconds(d.pid)
            time.sleep(args.idle_window)
            idle_cpu = (cpu_seconds(d.pid) - cpu0) / args.idle_window
            opened = ready["opened"]
            # What an idle crowd costs everyone else: set-ups one at a time
            # while the N sessions stay open.
            probe = run_wsdhcp(d.http_port, 50, 1, 30, hold=False)
            try:
                probe_res = read_json_line(probe, 40)
            finally:
                REG.stop(probe)
            per = {k: round((after[k] - before.get(k, 0)) / opened, 2) if opened else None
                   for k in ("VmRSS", "RssAnon", "Pss", "Private") if k in after}
            entry = {"n": n, "opened": opened, "failed": ready["failed"],
                     "unfinished": ready["unfinished"], "fill_s": round(fill_s, 2),
                     "fill_rate_per_s": ready["rate_per_s"], "setup_ms": ready["setup_ms"],
                     "first_failure": ready.get("first_failure"),
                     "kib_per_session": per, "rss_before_kib": before, "rss_after_kib": after,
                     "idle_cpu_pct_of_core": round(100 * idle_cpu, 1),
                     "setup_ms_1_in_flight_with_n_open": probe_res.get("setup_ms")}
            t1 = time.monotonic()
            client.stdin.close()
            try:
                closed = read_json_line(client, 60)
                entry["lost_while_idle"] = closed.get("lost")
            except BenchError:
                pass
            REG.stop(client)
            client = None
            # How long the daemon takes to tear the sessions down.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                body = metrics(d.http_port)
                if body is not None and metric_value(body, "aero_sessions_active") == 0:
                    break
                time.sleep(0.1)
            entry["teardown_s"] = round(time.monotonic() - t1, 2)
            results["scale"].append(entry)
            log(f"  opened {opened}/{n} in {fill_s:.1f}s, {per.get('VmRSS')} KiB RSS/session, "
                f"idle cpu {entry['idle_cpu_pct_of_core']}%")
        except (BenchError, subprocess.SubprocessError, OSError, ValueError, KeyError) as e:
            results["errors"].append(f"scale N={n}: {e}")
            log(f"  failed: {e}")
        finally:
            if client is not None:
                REG.stop(client)
            d.stop()


def metrics(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            s.settimeout(5)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        return data.decode(errors="replace")
    except OSError:
        return None


def metric_value(body, name):
    m = re.search(rf"^{name} (\S+)$", body, re.M)
    return float(m.group(1)) if m else None


def setup_bench(work, results, args):
    """Benchmark 5b: session set-up time (connect + WebSocket upgrade ->
    DHCPACK), each scenario on a fresh server. Besides aero-netd, the same
    load against wsfloor, the least a tunnel server can do per set-up (a
    fixed 101 and canned DHCP answers, nothing else): the floor of the
    set-up time on this machine with this load generator on the same cores.
    Each entry also has the CPU each side spent per set-up. The first two
    scenarios also run against aero-netd with `[http] direct-upgrades =
    false` ("aero-netd via libsoup": every upgrade through libsoup's
    server), the three servers one after another per scenario."""
    scenarios = [
        ("100 at once", 100, 100),
        ("100 in flight", args.setup_count, 100),
        ("1 in flight", max(50, args.setup_count // 5), 1),
    ]
    runs = [(kind, sc) for sc in scenarios[:2]
            for kind in ("aero-netd", "aero-netd via libsoup", "floor")]
    runs += [("aero-netd", sc) for sc in scenarios[2:]]
    for server_kind, (label, count, conc) in runs:
        budget = min(args.setup_timeout, time_left() - 60)
        if budget < 10:
            results["errors"].append(f"time budget: skipped set-up '{label}' ({server_kind})")
            continue
        log(f"set-up: {count} tunnels, {label} ({server_kind})")
        d = floor = None
        client = None
        try:
            if server_kind == "floor":
                port = free_port()
                floor = REG.spawn([WSFLOOR, str(port)], "wsfloor", preexec_fn=raise_nofile)
                if not wait_listening(port):
                    raise BenchError("wsfloor did not start")
                server_pid = floor.pid
            else:
                libsoup = server_kind == "aero-netd via libsoup"
                d = scale_server(work, f"aero-setup-{count}-{conc}{'-libsoup' if libsoup else ''}",
                                 http_extra={"direct-upgrades": "false"} if libsoup else None)
                port, server_pid = d.http_port, d.pid
            cpu0 = cpu_seconds_fine(server_pid)
            m0 = machine_cpu()
            ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            client = run_wsdhcp(port, count, conc, budget, hold=False)
            ready = read_json_line(client, budget + 30)
            server_cpu = cpu_seconds_fine(server_pid) - cpu0
            client.wait(10)
            ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            client_cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
            entry = {"scenario": label, "server": server_kind, "count": count, "in_flight": conc,
                     "opened": ready["opened"], "failed": ready["failed"],
                     "unfinished": ready["unfinished"], "elapsed_s": ready["elapsed_s"],
                     "rate_per_s": ready["rate_per_s"], "setup_ms": ready["setup_ms"],
                     "upgrade_ms": ready["upgrade_ms"], "lease_ms": ready.get("lease_ms"),
                     "first_failure": ready.get("first_failure"),
                     "server_cpu_ms_per_setup": round(server_cpu * 1000 / count, 3),
                     "client_cpu_ms_per_setup": round(client_cpu * 1000 / count, 3),
                     "listen_backlog": listen_backlog(port),
                     "steal_pct": steal_pct(m0, machine_cpu())}
            results["setup"].append(entry)
            s = ready["setup_ms"] or {}
            log(f"  opened {ready['opened']}/{count}: p50 {s.get('p50')} ms p99 {s.get('p99')} ms; "
                f"CPU/set-up server {entry['server_cpu_ms_per_setup']} ms, "
                f"wsdhcp {entry['client_cpu_ms_per_setup']} ms, steal {entry['steal_pct']} %")
        except (BenchError, subprocess.SubprocessError, OSError, ValueError, KeyError) as e:
            results["errors"].append(f"set-up '{label}' ({server_kind}): {e}")
            log(f"  failed: {e}")
        finally:
            if client is not None:
                REG.stop(client)
            if floor is not None:
                REG.stop(floor)
            if d is not None:
                d.stop()


def wait_sessions(port, n, timeout):
    """Waits until the daemon on PORT has N sessions open."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = metrics(port)
        if body is not None and metric_value(body, "aero_sessions_active") == n:
            return True
        time.sleep(0.2)
    return False


def callgrind_totals(path):
    """The instruction count of one callgrind dump."""
    with open(path) as f:
        for line in f:
            if line.startswith(("totals:", "summary:")):
                return int(line.split()[1])
    raise BenchError(f"{path}: no totals line")


def callgrind(work, prefix):
    """The command line prefix that runs a program under callgrind, its
    counts going to WORK/PREFIX.N (one file per callgrind_dump())."""
    return ["valgrind", "--tool=callgrind",
            f"--callgrind-out-file={os.path.join(work, prefix)}"]


def callgrind_zero(pid):
    run(["callgrind_control", "-z", str(pid)], check=True)


def callgrind_dump(pid, work, prefix):
    """Has the callgrind running PID (--callgrind-out-file=WORK/PREFIX)
    write its counts so far, and returns their instruction total."""
    before = set(os.listdir(work))
    run(["callgrind_control", "-d", str(pid)], check=True)
    new = sorted(f for f in set(os.listdir(work)) - before if f.startswith(prefix + "."))
    if not new:
        raise BenchError("callgrind wrote no dump")
    return callgrind_totals(os.path.join(work, new[-1]))


def strace_totals(path):
    """Calls per system call, and in all, from an `strace -c` summary."""
    calls = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 5 and re.match(r"^\d+\.\d+$", parts[0]) and parts[-1] != "total":
                calls[parts[-1]] = int(parts[3])
    return calls


def count_warm_up(port):
    """100 set-ups and teardowns against the server on PORT, one by one."""
    warm = run_wsdhcp(port, 100, 10, 120, hold=False)
    read_json_line(warm, 150)
    warm.wait(30)


def count_hold(port, n):
    """N set-ups at 100 in flight against the server on PORT, held open
    until the returned wsdhcp's stdin closes."""
    client = run_wsdhcp(port, n, 100, 300, hold=True)
    ready = read_json_line(client, 330)
    if ready["opened"] != n:
        REG.stop(client)
        raise BenchError(f"{ready['opened']} of {n} set-ups: {ready.get('first_failure')}")
    return client


def count_bench(work, results, args):
    """Benchmark 6: what a set-up and a teardown cost aero-netd in units
    the neighbours on a shared VM do not move: user-space instructions
    (valgrind's callgrind) and system calls (strace -c). A fresh server,
    100 set-ups and teardowns to warm it, then COUNT set-ups at 100 in
    flight held open (counted), then their teardown (counted)."""
    n = args.count_setups
    entry = {"setups": n, "in_flight": 100}
    results["count"] = entry
    for tool in ("callgrind", "strace"):
        if time_left() < 120:
            results["errors"].append(f"time budget: skipped the {tool} count")
            continue
        if shutil.which(tool if tool == "strace" else "valgrind") is None:
            results["errors"].append(f"count: {tool} is not installed")
            continue
        log(f"count: {n} set-ups and teardowns of aero-netd under {tool}")
        out = os.path.join(work, f"count.{tool}")
        d = client = tracer = None
        try:
            if tool == "callgrind":
                d = scale_server(work, "aero-count-cg", ready_timeout=120,
                                 wrapper=callgrind(work, f"count.{tool}"))
            else:
                d = scale_server(work, "aero-count-st")
            count_warm_up(d.http_port)
            if not wait_sessions(d.http_port, 0, 60):
                raise BenchError("the warm-up sessions did not close")

            def start(part):
                if tool == "callgrind":
                    callgrind_zero(d.pid)
                    return None
                t = REG.spawn(["strace", "-f", "-c", "-o", f"{out}.{part}", "-p", str(d.pid)],
                              "strace", stderr=subprocess.PIPE)
                t.stderr.readline()  # "strace: Process N attached"
                return t

            def stop(part, t):
                if tool == "callgrind":
                    return {"instructions": callgrind_dump(d.pid, work, f"count.{tool}")}
                t.send_signal(signal.SIGINT)
                t.wait(30)
                calls = strace_totals(f"{out}.{part}")
                return {"syscalls": sum(calls.values()), "by_call": calls}

            tracer = start("setup")
            client = count_hold(d.http_port, n)
            got = stop("setup", tracer)
            tracer = start("teardown")
            client.stdin.close()
            if not wait_sessions(d.http_port, 0, 120):
                raise BenchError("the sessions did not close")
            got_down = stop("teardown", tracer)
            tracer = None
            for key, value in got.items():
                if key == "by_call":
                    entry["syscalls_per_setup_by_call"] = {
                        k: round(v / n, 2) for k, v in sorted(value.items(), key=lambda kv: -kv[1])}
                else:
                    entry[f"{key}_per_setup"] = round(value / n)
                    entry[f"{key}_per_teardown"] = round(got_down[key] / n)
            log(f"  per set-up: " + ", ".join(f"{k} {v}" for k, v in entry.items()
                                              if k.endswith(("_per_setup", "_per_teardown"))))
        except (BenchError, subprocess.SubprocessError, OSError, ValueError, KeyError) as e:
            results["errors"].append(f"count ({tool}): {e}")
            log(f"  failed: {e}")
        finally:
            for p in (tracer, client):
                REG.stop(p)  # None: nothing to stop
            if d is not None:
                d.stop()
    if shutil.which("valgrind") is not None and time_left() >= 60:
        count_floor(work, results, n)
    if shutil.which("valgrind") is not None and time_left() >= 90:
        count_libsoup(work, results, n)


def count_libsoup(work, results, n):
    """The set-ups counted again with every upgrade through libsoup's
    server ([http] direct-upgrades = false): what the direct path saves."""
    def start():
        d = scale_server(work, "aero-count-libsoup", ready_timeout=120,
                         wrapper=callgrind(work, "count.libsoup"),
                         http_extra={"direct-upgrades": "false"})
        count_warm_up(d.http_port)
        if not wait_sessions(d.http_port, 0, 60):
            d.stop()
            raise BenchError("the warm-up sessions did not close")
        return d.pid, d.http_port, d.stop
    count_setups_of(work, results, n, "libsoup", "aero-netd, direct-upgrades = false", start)


def count_floor(work, results, n):
    """The same set-ups against wsfloor under callgrind: what the user
    space of the least a tunnel server can do costs per set-up."""
    def start():
        port = free_port()
        floor = REG.spawn(callgrind(work, "count.floor") + [WSFLOOR, str(port)], "wsfloor",
                          preexec_fn=raise_nofile)
        if not wait_listening(port, 60):
            REG.stop(floor)
            raise BenchError("wsfloor did not start under valgrind")
        count_warm_up(port)
        time.sleep(1)
        return floor.pid, port, lambda: REG.stop(floor)
    count_setups_of(work, results, n, "floor", "wsfloor", start)


def count_setups_of(work, results, n, key, what, start):
    """N set-ups held open, counted by callgrind in the server START gives
    (its pid, its port, how to stop it; run under callgrind(work,
    "count.KEY") and warmed up): results["count"]["KEY_instructions_per_setup"]."""
    log(f"count: {n} set-ups of {what} under callgrind")
    stop = client = None
    try:
        pid, port, stop = start()
        callgrind_zero(pid)
        client = count_hold(port, n)
        per = round(callgrind_dump(pid, work, f"count.{key}") / n)
        results["count"][f"{key}_instructions_per_setup"] = per
        log(f"  per set-up: {per} instructions")
    except (BenchError, subprocess.SubprocessError, OSError, ValueError, KeyError) as e:
        results["errors"].append(f"count ({what}): {e}")
        log(f"  failed: {e}")
    finally:
        REG.stop(client)
        if stop is not None:
            stop()


def listen_backlog(port):
    r = run(["ss", "-ltnH", f"sport = :{port}"])
    parts = r.stdout.decode().split()
    return int(parts[2]) if len(parts) > 2 else None


# ---- profiles (--profile) ----------------------------------------------------------------------

OUR_SYMBOLS = re.compile(
    r"\b(g_main_context_(prepare|check|dispatch|iterate|query|poll)|g_wakeup_signal|"
    r"g_source_(attach|set_ready_time|add_unix_fd|modify_unix_fd)|poll_source_\w+|"
    r"slirp_\w+|aero_\w+|ws_\w+|tap_\w+|on_\w+|port_push|session_\w+|handle_upgrade|"
    r"soup_websocket_\w+|server_handler|__x64_sys_\w+)\b")


def perf_counts(pids, seconds):
    """Syscalls, context switches and CPU time of each PID over SECONDS."""
    procs = {}
    for role, pid in pids.items():
        procs[role] = REG.spawn(["perf", "stat", "-x", ",", "-e",
                                 "raw_syscalls:sys_enter,context-switches,task-clock",
                                 "-p", str(pid), "--", "sleep", str(seconds)],
                                "perf-stat", stderr=subprocess.PIPE)
    out = {}
    for role, p in procs.items():
        try:
            _, err = p.communicate(timeout=seconds + 15)
        except subprocess.TimeoutExpired:
            REG.stop(p)
            continue
        REG.procs.pop(p.pid, None)
        vals = {}
        for line in err.decode(errors="replace").splitlines():
            parts = line.split(",")
            if len(parts) >= 3:
                try:
                    vals[parts[2]] = float(parts[0])
                except ValueError:
                    pass
        out[role] = {"syscalls": vals.get("raw_syscalls:sys_enter"),
                     "context_switches": vals.get("context-switches"),
                     "cpu_ms": vals.get("task-clock")}
    REG.save()
    return out


def perf_record(pid, seconds, data):
    p = REG.spawn(["perf", "record", "-F", "999", "--call-graph", "dwarf,16384", "-p", str(pid),
                   "-o", data, "--", "sleep", str(seconds)], "perf-record")
    return p


def perf_summary(data, out_txt, title):
    """Writes the self and inclusive views of DATA to OUT_TXT; returns the
    top self symbols and the inclusive share of our own functions."""
    self_view = run(["perf", "report", "-i", data, "--no-children", "--sort", "dso,sym",
                     "--stdio", "-g", "none", "--percent-limit", "0.5"], timeout=300)
    incl_view = run(["perf", "report", "-i", data, "--children", "--sort", "sym", "--stdio",
                     "-g", "none", "--percent-limit", "1"], timeout=300)
    dso_view = run(["perf", "report", "-i", data, "--no-children", "--sort", "dso", "--stdio",
                    "-g", "none"], timeout=300)

    def rows(text):
        return [ln for ln in text.decode(errors="replace").splitlines()
                if re.match(r"^\s+\d+\.\d+%", ln)]
    selfs, incl, dsos = rows(self_view.stdout), rows(incl_view.stdout), rows(dso_view.stdout)
    ours = [ln for ln in incl if OUR_SYMBOLS.search(ln)]
    with open(out_txt, "w") as f:
        f.write(f"# {title}\n# perf record -F 999 --call-graph dwarf; {data}\n\n")
        f.write("## time by object (self)\n" + "\n".join(dsos[:15]) + "\n\n")
        f.write("## top symbols (self)\n" + "\n".join(selfs[:60]) + "\n\n")
        f.write("## inclusive (children) for the main loop, our code, libslirp, libsoup\n"
                + "\n".join(ours[:80]) + "\n")
    clean = lambda ln: re.sub(r"\s+", " ", ln.strip())  # noqa: E731
    return {"by_object": [clean(x) for x in dsos[:8]], "self": [clean(x) for x in selfs[:15]],
            "inclusive": [clean(x) for x in ours[:25]], "file": os.path.relpath(out_txt, TOP)}


def profile_bench(work, results, args, stamp):
    """Where the time goes: syscalls and context switches per MB for every
    path's processes, and perf profiles of aero-netd and the tunnel client
    (bulk upload and download, pinned round trips, a set-up burst)."""
    outdir = os.path.join(BENCH, "results", "profiles", stamp)
    os.makedirs(outdir, exist_ok=True)
    prof = results.setdefault("profile", {"dir": os.path.relpath(outdir, TOP), "per_mb": [], "perf": {}})
    paths = []
    try:
        for ctor in (lambda: AeroPath(work, "d0", 1500, 2048),
                     lambda: Slirp4netnsPath(work, "d1", 1500),
                     lambda: PastaPath(work, "d2", 1500)):
            try:
                paths.append(ctor())
            except (BenchError, subprocess.SubprocessError, OSError) as e:
                results["errors"].append(f"profile: path start: {e}")
        window = 3
        for direction in ("up", "down"):
            for p in paths:
                if time_left() < 60:
                    results["errors"].append("time budget: skipped part of the profile")
                    return
                log(f"profile: syscalls per MB, {p.kind} {direction}")
                port = free_port()
                server = REG.spawn(["iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", str(port)],
                                   "iperf3-server")
                wait_listening(port)
                cmd = p.exec_prefix() + ["iperf3", "-c", GUEST_TARGET, "-p", str(port), "-t",
                                         str(window + 2), "-J"] + (["-R"] if direction == "down" else [])
                client = REG.spawn(cmd, "iperf3-client", stdout=subprocess.PIPE)
                time.sleep(1)
                counts = perf_counts(p.procs, window)
                try:
                    outp, _ = client.communicate(timeout=window + 30)
                    gbps = json.loads(outp.decode())["end"]["sum_received"]["bits_per_second"] / 1e9
                except (subprocess.TimeoutExpired, ValueError, KeyError):
                    gbps = None
                REG.stop(client)
                REG.stop(server)
                mb = gbps * 1e3 / 8 * window if gbps else None
                for role, c in counts.items():
                    prof["per_mb"].append({
                        "path": p.kind, "direction": direction, "process": role,
                        "gbps": round(gbps, 3) if gbps else None,
                        "syscalls_per_mb": round(c["syscalls"] / mb, 1) if mb and c["syscalls"] else None,
                        "ctxsw_per_mb": round(c["context_switches"] / mb, 1)
                        if mb and c["context_switches"] is not None else None,
                        "cpu_ms_per_mb": round(c["cpu_ms"] / mb, 2) if mb and c["cpu_ms"] else None})
        aero = next((p for p in paths if p.kind == "aero"), None)
        if aero is None:
            return
        for direction in ("up", "down"):
            log(f"profile: perf record aero-netd and tunnel client, {direction}")
            port = free_port()
            server = REG.spawn(["iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", str(port)],
                               "iperf3-server")
            wait_listening(port)
            client = REG.spawn(aero.exec_prefix() + ["iperf3", "-c", GUEST_TARGET, "-p", str(port),
                                                      "-t", "6"] + (["-R"] if direction == "down" else []),
                               "iperf3-client")
            time.sleep(1)
            recs = {role: (perf_record(pid, 3, os.path.join(work, f"{role}-{direction}.data")),
                           os.path.join(work, f"{role}-{direction}.data"))
                    for role, pid in aero.procs.items()}
            for rp, _ in recs.values():
                try:
                    rp.wait(30)
                except subprocess.TimeoutExpired:
                    pass
                REG.stop(rp)
            REG.stop(client)
            REG.stop(server)
            for role, (_, data) in recs.items():
                prof["perf"][f"{role} bulk {direction}"] = perf_summary(
                    data, os.path.join(outdir, f"{role}-bulk-{direction}.txt"),
                    f"{role}, iperf3 {direction} x1 at MTU 1500")
        # Pinned round trips.
        log("profile: perf record, pinned round trips")
        rr_port = free_port()
        rrs = REG.spawn([RR, "server", "127.0.0.1", str(rr_port), "64"], "rr-server")
        wait_listening(rr_port)
        pids = [rrs.pid] + list(aero.procs.values())
        for pid in pids:
            set_affinity(pid, "0")
        client = REG.spawn(["taskset", "-c", "0"] + aero.exec_prefix() +
                           [RR, "client", GUEST_TARGET, str(rr_port), "40000", "64", "0", "30"],
                           "rr-client")
        time.sleep(0.5)
        recs = {role: (perf_record(pid, 3, os.path.join(work, f"{role}-rr.data")),
                       os.path.join(work, f"{role}-rr.data")) for role, pid in aero.procs.items()}
        for rp, _ in recs.values():
            try:
                rp.wait(30)
            except subprocess.TimeoutExpired:
                pass
            REG.stop(rp)
        REG.stop(client)
        REG.stop(rrs)
        for pid in aero.procs.values():
            set_affinity(pid, f"0-{NCPU - 1}")
        for role, (_, data) in recs.items():
            prof["perf"][f"{role} pinned rr"] = perf_summary(
                data, os.path.join(outdir, f"{role}-pinned-rr.txt"),
                f"{role}, 64-byte round trips, everything pinned to CPU 0")
    finally:
        for p in paths:
            p.close()
    # A set-up burst on top of 2000 open sessions.
    if time_left() < 60:
        return
    log("profile: perf record, set-up burst with 2000 sessions open")
    d = scale_server(work, "aero-profile-setup")
    filler = burst = None
    try:
        filler = run_wsdhcp(d.http_port, 2000, 8, 60, hold=True)
        read_json_line(filler, 90)
        data = os.path.join(work, "setup.data")
        rec = perf_record(d.pid, 3, data)
        time.sleep(0.3)
        burst = run_wsdhcp(d.http_port, 1000, 100, 20, hold=False)
        b = read_json_line(burst, 40)
        prof["setup_burst_on_2000"] = {k: b[k] for k in ("opened", "rate_per_s", "setup_ms")}
        rec.wait(30)
        REG.stop(rec)
        prof["perf"]["aero-netd set-up burst"] = perf_summary(
            data, os.path.join(outdir, "aero-netd-setup-burst.txt"),
            "aero-netd, 1000 set-ups with 100 in flight on top of 2000 open sessions")
    except (BenchError, subprocess.SubprocessError, OSError, ValueError) as e:
        results["errors"].append(f"profile set-up: {e}")
    finally:
        for c in (burst, filler):
            if c is not None:
                REG.stop(c)
        d.stop()


# ---- machine and versions -------------------------------------------------------------------

def dpkg_version(pkg):
    r = run(["dpkg-query", "-W", "-f=${Version}", pkg])
    return r.stdout.decode().strip() or None


def machine_info():
    mem = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, _, v = line.partition(":")
            mem[k] = v.strip()
    model = None
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    # The tree the benchmarked build was made from (AERO_BENCH_BUILD may
    # be another tree's build).
    src = TOP
    try:
        with open(os.path.join(BUILD, "meson-info", "meson-info.json")) as f:
            src = json.load(f)["directories"]["source"]
    except (OSError, ValueError, KeyError):
        pass
    git = run(["git", "-C", src, "rev-parse", "--short", "HEAD"]).stdout.decode().strip()
    dirty = run(["git", "-C", src, "status", "--porcelain"]).stdout.decode().strip() != ""
    import hashlib
    diff = run(["git", "-C", src, "diff", "HEAD", "--", "src", "plugins"], timeout=60).stdout
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    return {
        "nproc": NCPU, "cpu": model, "mem_total": mem.get("MemTotal"),
        "kernel": platform.release(), "debian": open("/etc/debian_version").read().strip(),
        "loadavg_at_start": load,
        "versions": {
            "aero-netd": f"{git}{'+dirty' if dirty else ''}",
            "aero-netd_diff_sha256": hashlib.sha256(diff).hexdigest()[:16] if diff else None,
            "libslirp0": dpkg_version("libslirp0"), "libsoup-3.0-0": dpkg_version("libsoup-3.0-0"),
            "libglib2.0-0": dpkg_version("libglib2.0-0"), "slirp4netns": dpkg_version("slirp4netns"),
            "passt": dpkg_version("passt"), "iperf3": dpkg_version("iperf3"),
            "linux-perf": dpkg_version("linux-perf"), "busybox": dpkg_version("busybox"),
        },
    }


# ---- the report ------------------------------------------------------------------------------

def fmt(v, spec=".2f", none="-"):
    return none if v is None else format(v, spec)


def ratio(a, b):
    return a / b if a is not None and b else None


def table(rows, header):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    lines = []
    for r in [header] + rows:
        lines.append("  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths))))
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def report(results):
    out = []
    tp = results["throughput"]

    def get(size_class, path, direction, streams):
        for e in tp:
            if (e["size_class"], e["path"], e["direction"], e["streams"]) == \
                    (size_class, path, direction, streams):
                return e
        return None

    loop1 = get("mtu1500", "loopback", "up", 1)
    for size_class, title in (("mtu1500", "1. L2 TCP throughput, MTU 1500 (Gbit/s, median)"),
                              ("jumbo", f"2. Large frames: aero max-frame-payload {MAX_FRAME_PAYLOAD} "
                                        f"/ MTU {JUMBO_MTU}; peers MTU {JUMBO_MTU} (Gbit/s)")):
        rows = []
        for streams in (1, 4):
            for direction in ("up", "down"):
                a = get(size_class, "aero", direction, streams)
                s = get(size_class, "slirp4netns", direction, streams)
                p = get(size_class, "pasta", direction, streams)
                lo = get("mtu1500", "loopback", "up", streams)
                ag, sg, pg = (e["gbps"] if e else None for e in (a, s, p))
                row = [f"{'guest->host' if direction == 'up' else 'host->guest'} x{streams}",
                       fmt(ag), fmt(sg), fmt(pg), fmt(ratio(ag, sg), ".2f") + "x" if ag and sg else "-",
                       fmt(ratio(ag, pg), ".2f") + "x" if ag and pg else "-",
                       fmt(lo["gbps"] if lo else None)]
                if size_class == "jumbo":
                    a15 = get("mtu1500", "aero", direction, streams)
                    row.append(fmt(ratio(ag, a15["gbps"] if a15 else None), ".2f") + "x"
                               if ag and a15 else "-")
                else:
                    t = get(size_class, "aero-tso", direction, streams)
                    tg = t["gbps"] if t else None
                    row += [fmt(tg), fmt(ratio(tg, sg), ".2f") + "x" if tg and sg else "-",
                            fmt(ratio(tg, pg), ".2f") + "x" if tg and pg else "-"]
                rows.append(row)
        header = ["test", "aero", "slirp4netns", "pasta", "aero/slirp", "aero/pasta", "loopback"]
        if size_class == "jumbo":
            header.append("aero gain vs 1500")
        else:
            header += ["aero-tso", "tso/slirp", "tso/pasta"]
        if rows:
            out += [title, table(rows, header), ""]

    rows = []
    for size_class, aero in (("mtu1500", "aero"), ("mtu1500", "aero-tso"), ("jumbo", "aero")):
        for streams in (1, 4):
            for direction in ("up", "down"):
                a = get(size_class, aero, direction, streams)
                s = get(size_class, "slirp4netns", direction, streams)
                p = get(size_class, "pasta", direction, streams)
                if not (a or s or p):
                    continue
                srv = a["cpu_s_per_gb"].get("aero-netd") if a else None
                cli = a["cpu_s_per_gb"].get("tunnel-client") if a else None
                s4 = s["cpu_s_per_gb"].get("slirp4netns") if s else None
                ps = p["cpu_s_per_gb"].get("pasta") if p else None
                label = size_class if aero == "aero" else f"{size_class} tso"
                rows.append([f"{label} {'up' if direction == 'up' else 'down'} x{streams}",
                             fmt(srv), fmt(cli), fmt(s4), fmt(ps),
                             fmt(ratio(srv, s4)) + "x" if srv and s4 else "-",
                             f"{fmt(a['cpu_pct_of_core'].get('aero-netd'), '.0f')}/"
                             f"{fmt(a['cpu_pct_of_core'].get('tunnel-client'), '.0f')}"
                             if a else "-",
                             fmt(s["cpu_pct_of_core"].get("slirp4netns"), ".0f") if s else "-",
                             fmt(p["cpu_pct_of_core"].get("pasta"), ".0f") if p else "-",
                             "/".join(fmt(x.get("machine_busy_pct") if x else None, ".0f")
                                      for x in (a, s, p))])
    if rows:
        out += ["4. CPU seconds per GB moved (median runs; % = share of one core during the run;",
                "   machine % = all CPUs busy during the run, aero/slirp4netns/pasta)",
                table(rows, ["test", "aero-netd", "tunnel-client", "slirp4netns", "pasta",
                             "aero-netd/slirp", "aero %srv/cli", "slirp %", "pasta %",
                             "machine %"]), ""]

    lat = results["latency"]
    rows = []
    for pinned in (False, True):
        base = next((e for e in lat if e["path"] == "loopback" and e["pinned"] == pinned), None)
        s4 = next((e for e in lat if e["path"] == "slirp4netns" and e["pinned"] == pinned), None)
        for e in [x for x in lat if x["pinned"] == pinned]:
            added = e["p50_us"] - base["p50_us"] if base and e["path"] != "loopback" else None
            s4_added = s4["p50_us"] - base["p50_us"] if base and s4 else None
            rows.append([f"{e['path']} ({'pinned CPU 0' if pinned else 'unpinned'})",
                         fmt(e["p50_us"], ".1f"), fmt(e["p99_us"], ".1f"), fmt(e["mean_us"], ".1f"),
                         fmt(added, ".1f"),
                         fmt(ratio(e["p50_us"], s4["p50_us"] if s4 else None)) + "x"
                         if s4 and e["path"] != "loopback" else "-",
                         fmt(ratio(added, s4_added)) + "x" if added and s4_added else "-"])
    if rows:
        n = lat[0]["count"] if lat else 0
        out += [f"3. Latency: 64-byte TCP request/response, {n} sequential round trips (us)",
                table(rows, ["path", "p50", "p99", "mean", "added p50", "p50 vs slirp",
                             "added vs slirp"]), ""]

    rows = []
    for e in results["scale"]:
        per = e["kib_per_session"]
        rows.append([str(e["n"]), f"{e['opened']}/{e['n']}", fmt(per.get("VmRSS"), ".1f"),
                     fmt(per.get("RssAnon"), ".1f"), fmt(per.get("Private"), ".1f"),
                     fmt(e["rss_after_kib"].get("VmRSS", 0) / 1024, ".0f"),
                     fmt(e["fill_s"], ".1f"), fmt(e["idle_cpu_pct_of_core"], ".1f"),
                     fmt((e.get("setup_ms_1_in_flight_with_n_open") or {}).get("p50")),
                     fmt(e.get("teardown_s"), ".1f")])
    if rows:
        out += ["5a. Scale: idle sessions with a DHCP lease (KiB per session = delta / N)",
                table(rows, ["N", "opened", "RSS/sess", "anon/sess", "private/sess", "RSS MiB",
                             "fill s", "idle CPU %", "1 set-up p50 ms", "teardown s"]), ""]
    rows = []
    for e in results["setup"]:
        s, u, le = e["setup_ms"] or {}, e["upgrade_ms"] or {}, e.get("lease_ms") or {}
        rows.append([e.get("server", "aero-netd"), e["scenario"], f"{e['opened']}/{e['count']}",
                     fmt(s.get("p50")), fmt(s.get("p99")), fmt(s.get("max")), fmt(u.get("p99")),
                     fmt(le.get("p50")), fmt(le.get("p99")),
                     fmt(e["rate_per_s"], ".0f"), fmt(e.get("server_cpu_ms_per_setup"), ".3f"),
                     fmt(e.get("client_cpu_ms_per_setup"), ".3f"), str(e.get("listen_backlog")),
                     fmt(e.get("steal_pct"), ".1f")])
    if rows:
        out += ["5b. Session set-up: connect + WebSocket upgrade -> DHCPACK (ms); "
                "upgrade = connect -> 101, lease = 101 -> DHCPACK; floor = wsfloor, the least "
                "a server can do; CPU ms per set-up of the server and of wsdhcp",
                table(rows, ["server", "scenario", "ok", "p50", "p99", "max", "upgrade p99",
                             "lease p50", "lease p99", "per s", "srv CPU", "gen CPU",
                             "backlog", "steal %"]), ""]

    c = results.get("count") or {}
    if c.get("instructions_per_setup") or c.get("syscalls_per_setup"):
        top = ", ".join(f"{k} {v}" for k, v in
                        list((c.get("syscalls_per_setup_by_call") or {}).items())[:8])
        out += [f"6. Counted: aero-netd per set-up (connect + upgrade -> DHCPACK) and per "
                f"teardown, {c['setups']} set-ups at {c['in_flight']} in flight on a warm server",
                table([["user-space instructions (callgrind)",
                        fmt(c.get("instructions_per_setup"), ",.0f"),
                        fmt(c.get("instructions_per_teardown"), ",.0f")],
                       ["  the floor's (wsfloor)",
                        fmt(c.get("floor_instructions_per_setup"), ",.0f"), "-"],
                       ["  aero-netd's via libsoup (direct-upgrades = false)",
                        fmt(c.get("libsoup_instructions_per_setup"), ",.0f"), "-"],
                       ["system calls (strace -c)", fmt(c.get("syscalls_per_setup"), ".0f"),
                        fmt(c.get("syscalls_per_teardown"), ".0f")]],
                      ["", "per set-up", "per teardown"]),
                f"system calls per set-up: {top}" if top else "", ""]

    rows = []
    for k, v in sorted(results.get("idle_memory_kib", {}).items()):
        rows.append([k, str(v.get("VmRSS")), str(v.get("RssAnon")), str(v.get("Pss")),
                     str(v.get("Private"))])
    if rows:
        out += ["Idle memory of each path's processes, one guest (KiB)",
                table(rows, ["process", "RSS", "RssAnon", "PSS", "private"]), ""]

    prof = results.get("profile")
    if prof and prof.get("per_mb"):
        rows = [[f"{e['path']} {e['direction']}", e["process"], fmt(e["gbps"]),
                 fmt(e["syscalls_per_mb"], ".0f"), fmt(e["ctxsw_per_mb"], ".0f"),
                 fmt(e["cpu_ms_per_mb"], ".2f")] for e in prof["per_mb"]]
        out += ["Profile: per MB moved, iperf3 x1 at MTU 1500 (perf stat, 3 s window)",
                table(rows, ["path", "process", "Gbit/s", "syscalls/MB", "ctx switches/MB",
                             "CPU ms/MB"]), ""]
        for name, summ in prof.get("perf", {}).items():
            out.append(f"Profile {name}: top self symbols ({summ['file']})")
            out += ["  " + x for x in summ["self"][:8]]
            out.append("")
        if prof.get("setup_burst_on_2000"):
            out += [f"Set-up burst on top of 2000 open sessions: "
                    f"{json.dumps(prof['setup_burst_on_2000'])}", ""]

    out += targets(results)
    if results["errors"]:
        out += ["Errors and skips:"] + [f"  - {e}" for e in results["errors"]] + [""]
    return "\n".join(out)


def targets(results):
    """The issue's targets, each MET / MISSED / n/a, from this run's figures."""
    lines = ["Targets (this run):"]
    tp = results["throughput"]

    def g(path, d, s, sc="mtu1500"):
        return next((e for e in tp if (e["size_class"], e["path"], e["direction"], e["streams"])
                     == (sc, path, d, s)), None)

    def verdict(ok):
        return "n/a   " if ok is None else ("MET   " if ok else "MISSED")

    for d, n, aero in [(d, n, a) for a in ("aero", "aero-tso") for n in (1, 4)
                       for d in ("up", "down")]:
        a, s, p = g(aero, d, n), g("slirp4netns", d, n), g("pasta", d, n)
        if a is None:
            continue
        ok = None if not (a and s) else a["gbps"] >= s["gbps"]
        lines.append(f"  {verdict(ok)} MTU 1500 {d} x{n} {aero} >= slirp4netns: "
                     f"{fmt(a and a['gbps'])} vs {fmt(s and s['gbps'])} Gbit/s")
        ok = None if not (a and p) else a["gbps"] > p["gbps"]
        lines.append(f"  {verdict(ok)} MTU 1500 {d} x{n} {aero} > pasta: "
                     f"{fmt(a and a['gbps'])} vs {fmt(p and p['gbps'])} Gbit/s")
        if n != 1:
            continue
        if a:
            cli = a["cpu_pct_of_core"].get("tunnel-client")
            lines.append(f"  {verdict(None if cli is None else cli < 90)} tunnel client not the "
                         f"bottleneck ({aero} {d} x1): it used {fmt(cli, '.0f')}% of a core "
                         f"(server {fmt(a['cpu_pct_of_core'].get('aero-netd'), '.0f')}%)")
        if a and s:
            srv, s4 = a["cpu_s_per_gb"].get("aero-netd"), s["cpu_s_per_gb"].get("slirp4netns")
            lines.append(f"  {verdict(None if not (srv and s4) else srv <= s4)} CPU/GB aero-netd "
                         f"<= slirp4netns ({aero} {d} x1): {fmt(srv)} vs {fmt(s4)} s/GB")
    lat = results["latency"]
    for pinned in (False, True):
        base = next((e for e in lat if e["path"] == "loopback" and e["pinned"] == pinned), None)
        a = next((e for e in lat if e["path"] == "aero" and e["pinned"] == pinned), None)
        s = next((e for e in lat if e["path"] == "slirp4netns" and e["pinned"] == pinned), None)
        if a and s and base:
            aa, sa = a["p50_us"] - base["p50_us"], s["p50_us"] - base["p50_us"]
            f = next((e for e in lat if e["path"] == "slirp4netns+relay"
                      and e["pinned"] == pinned), None)
            fa = f["p50_us"] - base["p50_us"] if f else None
            # The floor's path is part of aero's: measured slower than aero,
            # the run says more about the VM's noise than about either path.
            noisy = fa is not None and fa > aa
            lines.append(f"  {'NOISY ' if noisy else verdict(aa <= 1.2 * sa)} added latency p50 "
                         f"within 1.2x slirp4netns "
                         f"({'pinned' if pinned else 'unpinned'}): {aa:.1f} vs {sa:.1f} us "
                         f"({aa / sa if sa > 0 else float('nan'):.2f}x)"
                         f"{'; the floor measured slower than aero: no verdict' if noisy else ''}")
            if f and sa > 0:
                lines.append(f"         floor for a path with one more process and TCP hop "
                             f"(slirp4netns+relay): {fa:.1f} us added = {fa / sa:.2f}x slirp4netns"
                             f"{' > 1.2x: out of reach for such a path' if fa > 1.2 * sa else ''}"
                             f"; aero = {aa / fa if fa > 0 else float('nan'):.2f}x the floor")
    for e in results["scale"]:
        per = e["kib_per_session"].get("VmRSS")
        lines.append(f"  {verdict(None if per is None else per < 64)} idle session < 64 KiB at "
                     f"N={e['n']}: {fmt(per, '.1f')} KiB RSS/session")
    big = [e for e in results["scale"] if e["n"] >= 10000]
    if big:
        e = big[-1]
        lines.append(f"  {verdict(e['opened'] >= 10000)} 10,000 concurrent sessions: "
                     f"{e['opened']} opened")
    for st in results["setup"]:
        if st["in_flight"] != 100 or not st["setup_ms"] or st.get("server", "aero-netd") != "aero-netd":
            continue
        p99 = st["setup_ms"]["p99"]
        lines.append(f"  {verdict(p99 < 20 and st['opened'] == st['count'])} set-up p99 < 20 ms "
                     f"with 100 in flight ({st['count']} set-ups): {p99:.1f} ms "
                     f"({st['opened']}/{st['count']} opened)")
        f = next((e for e in results["setup"] if e.get("server") == "floor"
                  and e["scenario"] == st["scenario"] and e["setup_ms"]), None)
        if f:
            fp = f["setup_ms"]["p99"]
            lines.append(f"         floor (wsfloor, the least a server can do): p99 {fp:.1f} ms"
                         f"{' >= 20 ms: out of reach on this machine' if fp >= 20 else ''}; "
                         f"CPU per set-up aero-netd {fmt(st.get('server_cpu_ms_per_setup'), '.3f')}"
                         f" ms, floor {fmt(f.get('server_cpu_ms_per_setup'), '.3f')} ms, "
                         f"load generator {fmt(st.get('client_cpu_ms_per_setup'), '.3f')} ms")
    return lines + [""]


# ---- main ---------------------------------------------------------------------------------------

def main():
    global REG, DEADLINE
    ap = argparse.ArgumentParser(description="aero-netd benchmarks (run through bench/run)")
    ap.add_argument("--quick", action="store_true", help="short smoke run of every benchmark")
    ap.add_argument("--only", default="throughput,jumbo,latency,scale,setup,count",
                    help="comma-separated subset of: throughput,jumbo,latency,scale,setup,count")
    ap.add_argument("--duration", type=int, help="seconds per iperf3 run")
    ap.add_argument("--reps", type=int, help="iperf3 runs per test (median reported)")
    ap.add_argument("--rr-count", type=int, help="timed round trips per latency run")
    ap.add_argument("--scale", help="comma-separated session counts for the memory test")
    ap.add_argument("--setup-count", type=int, help="set-ups per set-up scenario")
    ap.add_argument("--count-setups", type=int,
                    help="set-ups counted under callgrind and strace (500; quick: 100)")
    ap.add_argument("--budget", type=int, help="overall time budget in seconds (1140; quick: 360)")
    ap.add_argument("--out", help="JSON output file (default bench/results/DATE.json)")
    ap.add_argument("--note", default="", help="free text stored with the results")
    ap.add_argument("--profile", action="store_true",
                    help="also record profiles (perf) into bench/results/profiles/DATE/")
    args = ap.parse_args()
    q = args.quick
    args.duration = args.duration or (2 if q else 6)
    args.budget = args.budget or (360 if q else 1140)
    args.reps = args.reps or (1 if q else 3)
    args.rr_count = args.rr_count or (2000 if q else 10000)
    args.scale = [int(x) for x in (args.scale or ("100,1000" if q else "100,1000,10000")).split(",")]
    args.setup_count = args.setup_count or (200 if q else 1000)
    args.count_setups = args.count_setups or (100 if q else 500)
    args.fill_concurrency = 32
    args.scale_timeout = 60 if q else 300
    args.setup_timeout = 30 if q else 90
    args.idle_window = 2 if q else 5
    only = set(args.only.split(","))
    if args.profile:
        only.add("profile")

    DEADLINE = time.monotonic() + args.budget
    _die_with_parent()
    REG = Registry()

    def on_signal(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)

    started = datetime.datetime.now(datetime.timezone.utc)
    results = {"date": started.isoformat(timespec="seconds"), "machine": machine_info(),
               "conditions": {"quick": q, "iperf3_seconds": args.duration, "reps": args.reps,
                              "rr_round_trips": args.rr_count, "rr_size": 64,
                              "scale_n": args.scale, "fill_concurrency": args.fill_concurrency,
                              "setup_count": args.setup_count, "build": "meson release (-O3)",
                              "build_dir": os.path.relpath(BUILD, TOP),
                              "note": args.note},
               "paths": {}, "throughput": [], "latency": [], "scale": [], "setup": [],
               "steal_pct": {}, "errors": []}
    stamp = started.strftime("%Y-%m-%dT%H%M%SZ") + ("-quick" if q else "")
    work = tempfile.mkdtemp(prefix="aero-bench-")
    REG.add_dir(work)
    status = 0
    try:
        for name, fn in (("throughput", lambda: throughput_bench(work, results, args, "mtu1500")),
                         ("jumbo", lambda: throughput_bench(work, results, args, "jumbo")),
                         ("latency", lambda: latency_bench(work, results, args)),
                         ("scale", lambda: scale_bench(work, results, args)),
                         ("setup", lambda: setup_bench(work, results, args)),
                         ("count", lambda: count_bench(work, results, args)),
                         ("profile", lambda: profile_bench(work, results, args, stamp))):
            if name not in only:
                continue
            m0 = machine_cpu()
            try:
                fn()
            except (BenchError, subprocess.SubprocessError, OSError) as e:
                log(f"{name} failed: {e}")
                results["errors"].append(f"{name}: {e}")
            finally:
                results["steal_pct"][name] = steal_pct(m0, machine_cpu())
    except KeyboardInterrupt as e:
        results["errors"].append(f"interrupted: {e}")
        status = 130
    finally:
        REG.cleanup()
    results["elapsed_s"] = round(time.monotonic() - (DEADLINE - args.budget), 1)
    with open("/proc/loadavg") as f:
        results["machine"]["loadavg_at_end"] = f.read().split()[:3]

    out = args.out or os.path.join(BENCH, "results", stamp + ".json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    m = results["machine"]
    print(f"aero-netd benchmarks, {results['date']} ({'quick' if q else 'full'} run, "
          f"{results['elapsed_s']:.0f} s)")
    print(f"machine: {m['nproc']} CPUs ({m['cpu']}), {m['mem_total']}, kernel {m['kernel']}, "
          f"load {' '.join(m['loadavg_at_start'])} -> {' '.join(m['loadavg_at_end'])}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()))
    print(f"conditions: iperf3 {args.duration} s x {args.reps} (median), "
          f"{args.rr_count} round trips, scale N={args.scale}")
    print("steal (CPU time the hypervisor gave to other guests, % of all CPU time): " +
          (", ".join(f"{k} {v:.1f} %" for k, v in results["steal_pct"].items()) or "-") + "\n")
    print(report(results))
    print(f"JSON: {out}")
    return status


if __name__ == "__main__":
    sys.exit(main())
