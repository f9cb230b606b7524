"""slirptest — the harness of the stack-slirp tests: TAP output, a real
aero-netd running the test-stream transport in front of a stack-slirp
instance, and a scripted guest that speaks raw Ethernet frames through it
(ARP, DHCP, ICMP, DNS and a small TCP client).

Every wait has a deadline; the daemon is always stopped (SIGTERM, then
SIGKILL) when its context manager exits. Traffic goes to loopback only.

Environment (set by meson):
  AERO_NETD              the aero-netd executable
  AERO_NETD_PLUGIN_PATH  plugin directories (stack-slirp and test-stream)
"""

import http.client
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import time

import netframes as nf

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "..", "tests", "daemon"))
import aerotest  # noqa: E402

AERO_NETD = os.environ.get("AERO_NETD", "aero-netd")
PLUGIN_PATH = os.environ.get("AERO_NETD_PLUGIN_PATH", "")

IO_TIMEOUT = 5.0
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0

GUEST_MAC = "52:54:00:12:34:56"
GATEWAY = "10.0.2.2"
DNS = "10.0.2.3"
GUEST_IP = "10.0.2.15"
GATEWAY_MAC = "52:55:0a:00:02:02"
DNS_MAC = "52:55:0a:00:02:03"


# ---- TAP ------------------------------------------------------------------------

class Tap(aerotest.Tap):
    def run(self, desc, func, *args):
        """Runs FUNC(*args) for the checks it makes itself; an exception is
        one failed test with its traceback."""
        self.check(desc, lambda: (func(*args), None)[1])


# ---- ports, files, metrics ----------------------------------------------------------

free_port = aerotest.free_port
ini = aerotest.ini


def TempDir():
    return aerotest.TempDir(prefix="slirptest-")


def slirp_config(http_port, stream_port, lan=None, dns=None, services=None):
    """aero-netd configuration: transport `guest` (test-stream) → stack `lan`."""
    groups = [
        ("core", {"shutdown-timeout": "5s"}),
        ("http", {"listen": f"127.0.0.1:{http_port}"}),
        ("log", {"level": "debug"}),
        ("lan", dict({"plugin": "stack-slirp"}, **(lan or {}))),
    ]
    if dns:
        groups.append(("lan.dns", dns))
    if services:
        groups.append(("lan.services", services))
    groups.append(("guest", {"plugin": "test-stream", "listen": f"127.0.0.1:{stream_port}",
                             "stack": "lan", "queue-frames": "1024"}))
    return ini(groups)


def parse_metrics(text):
    """{(name, frozenset(labels.items())): value} from Prometheus text."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        labels = {}
        if "{" in head:
            name, _, rest = head.partition("{")
            for item in rest.rstrip("}").split(","):
                if item:
                    k, _, v = item.partition("=")
                    labels[k] = v.strip('"')
        else:
            name = head
        samples[(name, frozenset(labels.items()))] = float(value)
    return samples


# ---- the daemon -----------------------------------------------------------------------

class Daemon:
    """aero-netd running CONFIG; stopped on exit from the context manager."""

    def __init__(self, tmp, config_text, http_port):
        self.http_port = http_port
        self.config = tmp.file(f"aero-{http_port}.ini", config_text)
        self.stderr_path = os.path.join(tmp.path, f"aero-{http_port}.stderr")
        self._stderr = open(self.stderr_path, "wb")
        env = dict(os.environ, AERO_NETD_PLUGIN_PATH=PLUGIN_PATH, LC_ALL="C.UTF-8")
        self.proc = subprocess.Popen([AERO_NETD, "--config", self.config],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self._stderr, env=env)
        self.pid = self.proc.pid

    def __enter__(self):
        try:
            self.wait_ready()
        except BaseException:
            self.kill()
            self._stderr.close()
            raise
        return self

    def __exit__(self, *exc):
        self.kill()
        self._stderr.close()

    def stderr(self):
        self._stderr.flush()
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", errors="replace")

    def get(self, path, timeout=5.0):
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=timeout)
        try:
            conn.request("GET", path, headers={"Connection": "close"})
            resp = conn.getresponse()
            return resp.status, resp.read().decode("utf-8", errors="replace")
        finally:
            conn.close()

    def wait_ready(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"aero-netd exited with {self.proc.returncode}:\n"
                                   + self.stderr())
            try:
                if self.get("/readyz", timeout=1.0)[0] == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.05)
        raise RuntimeError("aero-netd not ready:\n" + self.stderr())

    def metrics(self):
        status, body = self.get("/metrics")
        if status != 200:
            raise RuntimeError(f"/metrics answered {status}")
        return parse_metrics(body)

    def metric(self, name, **labels):
        labels.setdefault("instance", "lan")
        return self.metrics().get((name, frozenset(labels.items())), 0.0)

    def fd_count(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM and wait; returns the exit status (None if it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5.0)


poll_until = aerotest.poll_until


# ---- the guest --------------------------------------------------------------------------

class Guest:
    """A guest on the test-stream transport: sends frames, receives parsed
    frames, and answers ARP and NDP for its own addresses by itself."""

    def __init__(self, port, mac=GUEST_MAC, ip=GUEST_IP, ip6=None):
        self.mac = mac
        self.ip = ip
        self.ip6 = ip6
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
        self.buf = b""
        self.unmatched = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, frame):
        self.sock.sendall(struct.pack(">I", len(frame)) + frame)

    def _recv_raw(self, deadline):
        while True:
            if len(self.buf) >= 4:
                (length,) = struct.unpack(">I", self.buf[:4])
                if len(self.buf) >= 4 + length:
                    frame = self.buf[4:4 + length]
                    self.buf = self.buf[4 + length:]
                    return frame
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise socket.timeout("no frame before the deadline")
            self.sock.settimeout(remaining)
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("connection closed by aero-netd")
            self.buf += data

    def _answer_neighbours(self, f):
        if f.arp and f.arp["op"] == 1 and f.arp["tpa"] == self.ip:
            self.send(nf.arp_reply(self.mac, self.ip, f.arp["sha"], f.arp["spa"]))
            return True
        if (self.ip6 and f.proto == nf.PROTO_ICMP6 and f.icmp_type == 135
                and nf.ip_str(f.segment[8:24]) == self.ip6):
            body = struct.pack(">I", 0x60000000) + nf.ip6(self.ip6) + bytes([2, 1]) \
                + nf.mac(self.mac)
            msg = nf.icmp6(self.ip6, f.src_ip, 136, 0, body)
            self.send(nf.eth(f.src, self.mac, nf.ETH_IP6,
                             nf.ipv6(self.ip6, f.src_ip, nf.PROTO_ICMP6, msg, 255)))
            return True
        return False

    def expect(self, pred, timeout=IO_TIMEOUT):
        """The first frame matching PRED; others go to self.unmatched.
        Raises socket.timeout when none arrives in time."""
        deadline = time.monotonic() + timeout
        while True:
            f = nf.parse(self._recv_raw(deadline))
            if self._answer_neighbours(f):
                continue
            if pred(f):
                return f
            self.unmatched.append(f)

    def nothing(self, pred, timeout):
        """True when no frame matching PRED arrives within TIMEOUT."""
        try:
            self.expect(pred, timeout)
        except socket.timeout:
            return True
        return False

    # ---- conveniences ----

    def arp(self, target):
        self.send(nf.arp_request(self.mac, self.ip, target))
        f = self.expect(lambda f: f.arp and f.arp["op"] == 2 and f.arp["spa"] == target)
        return f.arp["sha"]

    def udp(self, dst_mac, dst, sport, dport, payload):
        src = self.ip6 if ":" in dst else self.ip
        self.send(nf.udp_frame(self.mac, dst_mac, src, dst, sport, dport, payload))

    def dns(self, name, qtype=nf.TYPE_A, server=DNS, server_mac=DNS_MAC, raw=None,
            timeout=IO_TIMEOUT):
        """Sends a query (or RAW bytes) and returns (parsed answer, frame)."""
        qid = random.randrange(1, 65535)
        sport = random.randrange(20000, 60000)
        msg = raw if raw is not None else nf.dns_query(qid, name, qtype)
        self.udp(server_mac, server, sport, 53, msg)
        f = self.expect(lambda f: f.proto == nf.PROTO_UDP and f.sport == 53 and f.dport == sport,
                        timeout)
        return nf.dns_parse(f.payload), f


class TcpFlow:
    """A minimal TCP client over the guest's frames (no retransmission:
    the tunnel is reliable)."""

    def __init__(self, guest, dst, dport, dst_mac=GATEWAY_MAC, sport=None):
        self.g = guest
        self.dst = dst
        self.dport = dport
        self.dst_mac = dst_mac
        self.src = guest.ip6 if ":" in dst else guest.ip
        self.sport = sport or random.randrange(30000, 60000)
        self.seq = random.randrange(1, 2**31)
        self.ack = 0
        self.received = b""
        self.peer_fin = False

    def _send(self, flags, payload=b"", options=b""):
        self.g.send(nf.tcp_frame(self.g.mac, self.dst_mac, self.src, self.dst, self.sport,
                                 self.dport, self.seq, self.ack, flags, payload, options))

    def _mine(self, f):
        return f.proto == nf.PROTO_TCP and f.sport == self.dport and f.dport == self.sport

    def syn(self):
        self._send(nf.TCP_SYN, options=struct.pack(">BBH", 2, 4, 1400))

    def connect(self, timeout=IO_TIMEOUT):
        """Returns the answer to the SYN: 'connected', 'reset' (RST) or the frame."""
        self.syn()
        f = self.g.expect(self._mine, timeout)
        if f.flags & nf.TCP_RST:
            return "reset"
        if f.flags & (nf.TCP_SYN | nf.TCP_ACK) != nf.TCP_SYN | nf.TCP_ACK:
            return f
        self.seq += 1
        self.ack = f.seq + 1
        self._send(nf.TCP_ACK)
        return "connected"

    def send(self, data):
        self._send(nf.TCP_PSH | nf.TCP_ACK, data)
        self.seq += len(data)

    def _take(self, f):
        if f.flags & nf.TCP_RST:
            raise ConnectionResetError("reset by the stack")
        if f.payload and f.seq == self.ack:
            self.received += f.payload
            self.ack += len(f.payload)
        if f.flags & nf.TCP_FIN and f.seq + len(f.payload) == self.ack:
            self.ack += 1
            self.peer_fin = True
        if f.payload or f.flags & nf.TCP_FIN:
            self._send(nf.TCP_ACK)

    def recv_until(self, n, timeout=IO_TIMEOUT):
        deadline = time.monotonic() + timeout
        while len(self.received) < n and not self.peer_fin:
            self._take(self.g.expect(self._mine, max(deadline - time.monotonic(), 0.01)))
        return self.received

    def close(self, timeout=IO_TIMEOUT):
        """Sends FIN and waits for the peer's FIN; True when both are done."""
        self._send(nf.TCP_FIN | nf.TCP_ACK)
        self.seq += 1
        deadline = time.monotonic() + timeout
        while not self.peer_fin:
            self._take(self.g.expect(self._mine, max(deadline - time.monotonic(), 0.01)))
        return True
