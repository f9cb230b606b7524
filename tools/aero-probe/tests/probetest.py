"""probetest — helpers of the aero-probe tests: running aero-probe with a
deadline, a TCP echo server on loopback, and a scripted WebSocket server
that plays an upgrade refusal or a misbehaving aero-l2-tunnel-v1 peer.

Everything listens on 127.0.0.1 only; every wait has a deadline; servers
are stopped (sockets closed, threads joined with a bound) by close().

Environment (set by meson):
  AERO_PROBE             the aero-probe executable
  AERO_DAEMON_TESTS      tests/daemon of the source tree (for aerotest)
"""

import base64
import hashlib
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.environ.get(
    "AERO_DAEMON_TESTS",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tests", "daemon")))
import aerotest  # noqa: E402,F401  (re-exported for the tests)

AERO_PROBE = os.environ.get("AERO_PROBE", "aero-probe")
PROBE_TIMEOUT = 120.0
JOIN_TIMEOUT = 5.0
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

STEPS = ["connect", "tunnel-ping", "dhcp", "arp", "dns", "icmp",
         "tcp-connect", "tcp-echo", "tcp-bulk", "tcp-close", "close"]


def check(tap, desc, func, *args):
    """Runs FUNC(*ARGS); an exception becomes a failed test with its traceback."""
    tap.check(desc, func, *args)


class ProbeRun:
    """The outcome of one aero-probe run."""

    def __init__(self, args, returncode, stdout, stderr, elapsed):
        self.args = args
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.elapsed = elapsed
        self.report = None
        self.json_error = None
        if "--json" in args and returncode in (0, 1):
            try:
                self.report = json.loads(stdout)
            except ValueError as e:
                self.json_error = str(e)

    def step(self, name):
        for s in (self.report or {}).get("steps", []):
            if s["name"] == name:
                return s
        return None

    def diag(self):
        return (f"command: {' '.join(self.args)}\nexit status: {self.returncode} "
                f"after {self.elapsed:.1f}s\n--- stdout\n{self.stdout}\n--- stderr\n"
                f"{self.stderr[-4000:]}")


def run_probe(*args, timeout=PROBE_TIMEOUT, env=None):
    """Runs aero-probe with ARGS (and ENV added to the environment); a run
    past TIMEOUT is killed (returncode None)."""
    cmd = [AERO_PROBE] + list(args)
    extra = env
    env = dict(os.environ)
    env["LC_ALL"] = "C.UTF-8"
    env.update(extra or {})
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                           env=env)
    except subprocess.TimeoutExpired as e:
        return ProbeRun(cmd, None, (e.stdout or b"").decode(errors="replace"),
                        (e.stderr or b"").decode(errors="replace"), time.monotonic() - t0)
    return ProbeRun(cmd, p.returncode, p.stdout.decode(errors="replace"),
                    p.stderr.decode(errors="replace"), time.monotonic() - t0)


# ---- a TCP echo server ----------------------------------------------------------

class EchoServer:
    """Echoes every byte back on every connection; counts what it echoed."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.echoed = 0
        self.connections = 0
        self.lock = threading.Lock()
        self.stopping = False
        self.threads = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.connections += 1
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, conn):
        conn.settimeout(0.2)
        with conn:
            while not self.stopping:
                try:
                    data = conn.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    return
                if not data:
                    return
                try:
                    conn.sendall(data)
                except OSError:
                    return
                with self.lock:
                    self.echoed += len(data)

    def close(self):
        self.stopping = True
        try:
            self.sock.close()
        except OSError:
            pass
        self.thread.join(JOIN_TIMEOUT)
        for t in self.threads:
            t.join(JOIN_TIMEOUT)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---- a scripted WebSocket server ------------------------------------------------

def l2(msg_type, payload=b"", magic=0xA2, version=0x03):
    return bytes([magic, version, msg_type, 0]) + payload


class WsPeer:
    """One accepted connection's WebSocket framing (server side)."""

    def __init__(self, conn, deadline):
        self.conn = conn
        self.deadline = deadline
        self.buf = b""

    def _fill(self):
        while True:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("deadline passed")
            self.conn.settimeout(min(remaining, 0.5))
            try:
                data = self.conn.recv(65536)
            except socket.timeout:
                continue
            if not data:
                raise EOFError("client closed the connection")
            self.buf += data
            return

    def _read(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_request(self):
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > 65536:
                raise ValueError("request too large")
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        return lines[0], headers

    def send_raw(self, data):
        self.conn.sendall(data)

    def send_frame(self, opcode, payload):
        n = len(payload)
        if n < 126:
            hdr = struct.pack("!BB", 0x80 | opcode, n)
        elif n < 65536:
            hdr = struct.pack("!BBH", 0x80 | opcode, 126, n)
        else:
            hdr = struct.pack("!BBQ", 0x80 | opcode, 127, n)
        self.conn.sendall(hdr + payload)

    def read_frame(self):
        """(opcode, payload) of the next client frame (unmasked)."""
        b0, b1 = self._read(2)
        opcode = b0 & 0x0F
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", self._read(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", self._read(8))
        if n > 1 << 20:
            raise ValueError("frame too large")
        mask = self._read(4) if b1 & 0x80 else b"\0\0\0\0"
        data = self._read(n)
        return opcode, bytes(c ^ mask[i % 4] for i, c in enumerate(data))


def accept_key(key):
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


class FakeServer:
    """Accepts connections on loopback and runs SCRIPT(peer, request_line,
    headers, server) for each, in a thread, with a deadline. What the
    scripts observe goes into self.seen (a dict)."""

    def __init__(self, script, deadline_s=30.0):
        self.script = script
        self.deadline_s = deadline_s
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.seen = {}
        self.errors = []
        self.stopping = False
        self.threads = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def url(self, path="/l2"):
        return f"ws://127.0.0.1:{self.port}{path}"

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, conn):
        peer = WsPeer(conn, time.monotonic() + self.deadline_s)
        try:
            with conn:
                line, headers = peer.read_request()
                self.seen["request_line"] = line
                self.seen["headers"] = headers
                self.script(peer, line, headers, self)
        except (EOFError, TimeoutError, OSError, ValueError) as e:
            self.seen.setdefault("end", repr(e))
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.errors.append(repr(e))

    def close(self):
        self.stopping = True
        try:
            self.sock.close()
        except OSError:
            pass
        self.thread.join(JOIN_TIMEOUT)
        for t in self.threads:
            t.join(JOIN_TIMEOUT)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def http_refusal(status, reason):
    def script(peer, line, headers, server):
        body = f"{reason}\n".encode()
        peer.send_raw(f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\n"
                      f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    return script


def upgrade(peer, headers, protocol):
    resp = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept_key(headers.get('sec-websocket-key', ''))}\r\n")
    if protocol:
        resp += f"Sec-WebSocket-Protocol: {protocol}\r\n"
    peer.send_raw((resp + "\r\n").encode())


def is_dhcp_discover(frame):
    """An Ethernet/IPv4/UDP frame from port 68 to port 67."""
    if len(frame) < 14 + 20 + 8 or frame[12:14] != b"\x08\x00":
        return False
    ihl = (frame[14] & 0x0F) * 4
    if frame[14 + 9] != 17 or len(frame) < 14 + ihl + 8:
        return False
    sport, dport = struct.unpack("!HH", frame[14 + ihl:14 + ihl + 4])
    return sport == 68 and dport == 67
