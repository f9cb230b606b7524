"""wsclient — a minimal RFC 6455 client and aero-l2-tunnel-v1 helpers for
the transport-ws tests (standard library only).

The client does exactly what a test tells it: it masks what it sends
(unless told not to), can fragment messages and send any opcode, never
answers pings or closes by itself, and every read has a deadline. It reads
with its own buffer, so frames that arrive together are not lost.

Also here: raw upgrade requests (to see HTTP refusals), the tunnel codec
(encode/decode, ERROR payloads), a fake tunnel server for client-mode
tests, and small helpers to find aero-netd's RSS.
"""

import base64
import hashlib
import os
import select
import socket
import struct
import threading
import time

SUBPROTOCOL = "aero-l2-tunnel-v1"
TOKEN_PREFIX = "aero-l2-token."
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

T_FRAME, T_PING, T_PONG, T_ERROR = 0x00, 0x01, 0x02, 0x7F

IO_TIMEOUT = 5.0


# ---- the tunnel codec ------------------------------------------------------

def tunnel(msg_type, payload=b"", magic=0xA2, version=0x03, flags=0):
    return bytes([magic, version, msg_type, flags]) + payload


def untunnel(message):
    """(type, flags, payload) of a tunnel message."""
    if len(message) < 4 or message[0] != 0xA2 or message[1] != 0x03:
        raise ValueError(f"not a tunnel message: {message[:8].hex()}")
    return message[2], message[3], message[4:]


def error_payload(code, text):
    raw = text.encode()
    return struct.pack(">HH", code, len(raw)) + raw


def parse_error(payload):
    """(code, text) of an ERROR payload; code 0 when unstructured."""
    if len(payload) >= 4:
        code, length = struct.unpack(">HH", payload[:4])
        if 4 + length == len(payload):
            return code, payload[4:].decode(errors="replace")
    return 0, payload.decode(errors="replace")


# ---- WebSocket frames --------------------------------------------------------

def encode_frame(opcode, payload, fin=True, mask=True, rsv=0, length_override=None):
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload) if length_override is None else length_override
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack(">BB", b0, mbit | n)
    elif n < 65536:
        head = struct.pack(">BBH", b0, mbit | 126, n)
    else:
        head = struct.pack(">BBQ", b0, mbit | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    masked = bytes(b ^ key[i & 3] for i, b in enumerate(payload)) if len(payload) < 4096 \
        else _mask_fast(payload, key)
    return head + key + masked


def _mask_fast(payload, key):
    k = int.from_bytes(key * 2, "little")
    out = bytearray(payload)
    n8 = len(out) // 8 * 8
    for i in range(0, n8, 8):
        v = int.from_bytes(out[i:i + 8], "little") ^ k
        out[i:i + 8] = v.to_bytes(8, "little")
    for i in range(n8, len(out)):
        out[i] ^= key[i & 3]
    return bytes(out)


class Closed(Exception):
    """The TCP connection ended (EOF or reset)."""


class Refused(Exception):
    def __init__(self, status, headers, body):
        super().__init__(f"upgrade refused: {status} {body!r}")
        self.status = status
        self.headers = headers
        self.body = body


def _read_http_head(sock, deadline):
    buf = b""
    while b"\r\n\r\n" not in buf:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("no HTTP answer")
        sock.settimeout(remaining)
        chunk = sock.recv(4096)
        if not chunk:
            raise Closed("connection closed before the HTTP answer")
        buf += chunk
        if len(buf) > 65536:
            raise ValueError("HTTP answer head too long")
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    return status, headers, rest


def _read_body(sock, headers, rest, deadline):
    n = int(headers.get("content-length", "0"))
    body = rest
    while len(body) < n:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        sock.settimeout(remaining)
        chunk = sock.recv(4096)
        if not chunk:
            break
        body += chunk
    return body[:n].decode(errors="replace")


def upgrade_request_text(path, host, port, protocols=(SUBPROTOCOL,), extra=None, method="GET",
                         upgrade=True, key=None):
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}"]
    if upgrade:
        lines += ["Upgrade: websocket", "Connection: Upgrade",
                  f"Sec-WebSocket-Key: {key or base64.b64encode(os.urandom(16)).decode()}",
                  "Sec-WebSocket-Version: 13"]
    if protocols:
        lines.append("Sec-WebSocket-Protocol: " + ", ".join(protocols))
    for k, v in (extra or {}).items():
        lines.append(f"{k}: {v}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def raw_upgrade(host, port, path="/l2", protocols=(SUBPROTOCOL,), extra=None, method="GET",
                upgrade=True, timeout=IO_TIMEOUT):
    """Sends an upgrade request and returns (status, headers, body) without
    keeping the connection."""
    deadline = time.monotonic() + timeout
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(upgrade_request_text(path, host, port, protocols, extra, method, upgrade))
        status, headers, rest = _read_http_head(s, deadline)
        body = "" if status == 101 else _read_body(s, headers, rest, deadline)
        return status, headers, body


class WsClient:
    """One WebSocket connection. Use as a context manager."""

    def __init__(self, host, port, path="/l2", protocols=(SUBPROTOCOL,), extra=None,
                 timeout=IO_TIMEOUT, rcvbuf=None, sndbuf=None):
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                                  socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if sndbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.buf = b""
        key = base64.b64encode(os.urandom(16)).decode()
        deadline = time.monotonic() + timeout
        self.sock.sendall(upgrade_request_text(path, host, port, protocols, extra, key=key))
        status, headers, rest = _read_http_head(self.sock, deadline)
        if status != 101:
            body = _read_body(self.sock, headers, rest, deadline)
            self.sock.close()
            raise Refused(status, headers, body)
        expected = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        if headers.get("sec-websocket-accept") != expected:
            self.sock.close()
            raise ValueError("bad Sec-WebSocket-Accept")
        self.headers = headers
        self.protocol = headers.get("sec-websocket-protocol")
        self.buf = rest

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # -- sending --

    def send_raw(self, data):
        self.sock.sendall(data)

    def send_frame(self, opcode, payload=b"", **kw):
        self.sock.sendall(encode_frame(opcode, payload, **kw))

    def send_binary(self, data):
        self.send_frame(OP_BINARY, data)

    def send_text(self, text):
        self.send_frame(OP_TEXT, text.encode())

    def send_tunnel(self, msg_type, payload=b""):
        self.send_binary(tunnel(msg_type, payload))

    def send_close(self, code=1000, reason=b""):
        payload = struct.pack(">H", code) + reason if code is not None else b""
        self.send_frame(OP_CLOSE, payload)

    # -- receiving --

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("deadline passed")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(262144)
        except ConnectionError as e:
            raise Closed(str(e)) from e
        if not data:
            raise Closed("end of stream")
        self.buf += data

    def _need(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)

    def recv_frame(self, timeout=IO_TIMEOUT):
        """(fin, opcode, payload) of the next frame; raises socket.timeout or Closed."""
        deadline = time.monotonic() + timeout
        self._need(2, deadline)
        b0, b1 = self.buf[0], self.buf[1]
        n = b1 & 0x7F
        pos = 2
        if n == 126:
            self._need(4, deadline)
            n = struct.unpack(">H", self.buf[2:4])[0]
            pos = 4
        elif n == 127:
            self._need(10, deadline)
            n = struct.unpack(">Q", self.buf[2:10])[0]
            pos = 10
        if b1 & 0x80:
            raise ValueError("server sent a masked frame")
        self._need(pos + n, deadline)
        payload = self.buf[pos:pos + n]
        self.buf = self.buf[pos + n:]
        return bool(b0 & 0x80), b0 & 0x0F, payload

    def recv_message(self, timeout=IO_TIMEOUT):
        """(opcode, payload) of the next data message or control frame
        (fragments are joined)."""
        deadline = time.monotonic() + timeout
        parts, first = [], None
        while True:
            fin, op, payload = self.recv_frame(max(0.0, deadline - time.monotonic()))
            if op & 0x8:
                return op, payload
            if first is None:
                first = op
            parts.append(payload)
            if fin:
                return first, b"".join(parts)

    def recv_tunnel(self, timeout=IO_TIMEOUT, skip_types=()):
        """(type, payload) of the next tunnel message; a close frame raises
        Closed with the code."""
        deadline = time.monotonic() + timeout
        while True:
            op, payload = self.recv_message(max(0.0, deadline - time.monotonic()))
            if op == OP_CLOSE:
                code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
                raise Closed(f"close frame {code}")
            if op != OP_BINARY:
                continue
            t, _, p = untunnel(payload)
            if t in skip_types:
                continue
            return t, p

    def read_until_close(self, timeout=IO_TIMEOUT, reply=True):
        """Reads everything up to the close frame. Returns (close code or
        None, close reason, [tunnel messages before it as (type, payload)],
        how it ended: 'close' or 'eof' or 'timeout')."""
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            try:
                op, payload = self.recv_message(max(0.0, deadline - time.monotonic()))
            except Closed:
                return None, "", seen, "eof"
            except socket.timeout:
                return None, "", seen, "timeout"
            if op == OP_CLOSE:
                code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
                if reply:
                    try:
                        self.send_close(code if code not in (None, 1005, 1006) else 1000)
                    except OSError:
                        pass
                return code, payload[2:].decode(errors="replace"), seen, "close"
            if op == OP_BINARY and len(payload) >= 4:
                seen.append((payload[2], payload[4:]))

    def wait_eof(self, timeout=IO_TIMEOUT):
        """True once the server closed the TCP connection."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self._fill(deadline)
                self.buf = b""
        except Closed:
            return True
        except socket.timeout:
            return False


# ---- a fake tunnel server (for client-mode tests) ------------------------------

class FakeTunnelServer:
    """Accepts WebSocket upgrades on 127.0.0.1:PORT in a thread and records
    every connection: the request headers and the tunnel messages it got.
    With answer_pings=False it never answers PINGs (a dead-looking peer)."""

    def __init__(self, port, answer_pings=False):
        self.port = port
        self.answer_pings = answer_pings
        self.connections = []      # list of dicts: headers, messages, closed
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(16)
        self.listener.settimeout(0.2)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self.stop_flag.set()
        self.thread.join(5)
        self.listener.close()

    def snapshot(self):
        with self.lock:
            return [dict(c) for c in self.connections]

    def _run(self):
        socks = []
        try:
            while not self.stop_flag.is_set():
                try:
                    s, _ = self.listener.accept()
                    socks.append(s)
                    threading.Thread(target=self._serve, args=(s,), daemon=True).start()
                except socket.timeout:
                    continue
        finally:
            for s in socks:
                try:
                    s.close()
                except OSError:
                    pass

    def _serve(self, s):
        record = {"headers": {}, "messages": [], "closed": False}
        with self.lock:
            self.connections.append(record)
        try:
            deadline = time.monotonic() + IO_TIMEOUT
            buf = b""
            while b"\r\n\r\n" not in buf:
                s.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = s.recv(4096)
                if not chunk:
                    return
                buf += chunk
            head, rest = buf.split(b"\r\n\r\n", 1)
            headers = {}
            for line in head.decode("latin-1").split("\r\n")[1:]:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
            record["headers"] = headers
            key = headers["sec-websocket-key"]
            accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
            s.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\n"
                       "Sec-WebSocket-Protocol: " + SUBPROTOCOL + "\r\n\r\n").encode())
            buf = rest
            while not self.stop_flag.is_set():
                frame, buf = self._next_frame(s, buf)
                if frame is None:
                    break
                op, payload = frame
                if op == OP_CLOSE:
                    break
                if op == OP_BINARY and len(payload) >= 4:
                    with self.lock:
                        record["messages"].append((payload[2], payload[4:]))
                    if payload[2] == T_PING and self.answer_pings:
                        s.sendall(encode_frame(OP_BINARY, tunnel(T_PONG, payload[4:]),
                                               mask=False))
        except (OSError, ValueError):
            pass
        finally:
            record["closed"] = True
            s.close()

    def _next_frame(self, s, buf):
        while True:
            if len(buf) >= 2:
                n = buf[1] & 0x7F
                pos = 2
                if n == 126 and len(buf) >= 4:
                    n, pos = struct.unpack(">H", buf[2:4])[0], 4
                elif n == 127 and len(buf) >= 10:
                    n, pos = struct.unpack(">Q", buf[2:10])[0], 10
                elif n >= 126:
                    n = None
                if n is not None:
                    masked = buf[1] & 0x80
                    total = pos + (4 if masked else 0) + n
                    if len(buf) >= total:
                        payload = buf[pos + 4:total] if masked else buf[pos:total]
                        if masked:
                            key = buf[pos:pos + 4]
                            payload = bytes(b ^ key[i & 3] for i, b in enumerate(payload))
                        return (buf[0] & 0x0F, payload), buf[total:]
            r, _, _ = select.select([s], [], [], 0.2)
            if self.stop_flag.is_set():
                return None, buf
            if not r:
                continue
            chunk = s.recv(65536)
            if not chunk:
                return None, buf
            buf += chunk


# ---- process figures ---------------------------------------------------------

def rss_kib(pid):
    """VmRSS of PID in KiB, or None."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def sanitized(pid):
    """Whether the process runs under AddressSanitizer, whose quarantine of
    freed memory makes RSS figures meaningless as a bound."""
    try:
        with open(f"/proc/{pid}/maps", encoding="ascii", errors="replace") as f:
            return "libasan" in f.read()
    except OSError:
        return False
