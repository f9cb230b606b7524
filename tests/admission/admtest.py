"""admtest — helpers for the admission, session, rate-limit and capture
tests, on top of tests/daemon/aerotest.py (TAP, Daemon, metrics) and
plugins/transport-ws/tests/wsclient.py (the WebSocket client).

Requests are written by hand so that a test controls every header (Origin,
Host, Cookie, Authorization) and may speak TLS. Credentials are minted here
with the standard library (HMAC-SHA256, base64url) exactly as
../shared/PROTOCOLS.md §5 describes them. Every wait has a deadline.
"""

import base64
import hashlib
import hmac
import json
import os
import shutil
import socket
import ssl
import struct
import subprocess
import time

import aerotest
import wsclient

SUBPROTOCOL = wsclient.SUBPROTOCOL
TOKEN_PREFIX = wsclient.TOKEN_PREFIX
IO_TIMEOUT = 5.0

Tap = aerotest.Tap


# ---- configuration ------------------------------------------------------------

def config(http_port, admission=None, capture=None, http=None, ws=None, core=None, log=None,
           stack="test-reflect", stack_keys=None):
    """transport-ws `ws` in front of `lan`, with [admission] and [capture]
    when given. JSON logs, so that access lines are easy to read."""
    groups = [
        ("core", dict(core or {"shutdown-timeout": "3s"})),
        ("http", dict({"listen": f"127.0.0.1:{http_port}"}, **(http or {}))),
        ("log", dict(log or {"level": "info", "format": "json"})),
    ]
    if admission is not None:
        groups.append(("admission", dict(admission)))
    if capture is not None:
        groups.append(("capture", dict(capture)))
    groups.append(("lan", dict({"plugin": stack}, **(stack_keys or {}))))
    groups.append(("ws", dict({"plugin": "transport-ws", "stack": "lan"}, **(ws or {}))))
    return aerotest.ini(groups)


def tls_env():
    """LeakSanitizer's tracer crashes in processes that loaded GnuTLS
    through glib-networking; AddressSanitizer and UBSan stay on."""
    asan = os.environ.get("ASAN_OPTIONS", "")
    return aerotest.daemon_env({"ASAN_OPTIONS": (asan + ":" if asan else "") + "detect_leaks=0"})


def start(tmp, name, text, http_port, tls=None, env=None):
    """Writes TEXT as NAME.ini and starts aero-netd on it, ready."""
    path = tmp.file(name + ".ini", text)
    d = aerotest.Daemon(path, tmp.path, http_port=http_port, env=env)
    try:
        d.wait_ready(tls_context=tls)
    except Exception:
        d.kill_if_running()
        raise
    return d


def check_config(tmp, name, text):
    """Runs --check-config on TEXT; returns (exit status, stderr)."""
    path = tmp.file(name + ".ini", text)
    code, out, err = aerotest.run_netd(["--config", path, "--check-config"])
    return code, out + err


def client_tls(cert):
    """A client TLS context that trusts the self-signed CERT."""
    return ssl.create_default_context(cafile=cert)


# ---- requests ------------------------------------------------------------------

def _connect(port, tls, timeout):
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    if tls is not None:
        sock = tls.wrap_socket(sock, server_hostname="127.0.0.1")
    return sock


def _head_lines(method, path, port, host, headers):
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host if host is not None else f'127.0.0.1:{port}'}"]
    for k, v in (headers or []):
        lines.append(f"{k}: {v}")
    return lines


def upgrade_lines(path, port, origin=None, protocols=(SUBPROTOCOL,), headers=None, host=None,
                  key=None):
    h = [("Upgrade", "websocket"), ("Connection", "Upgrade"),
         ("Sec-WebSocket-Key", key or base64.b64encode(os.urandom(16)).decode()),
         ("Sec-WebSocket-Version", "13")]
    if protocols:
        h.append(("Sec-WebSocket-Protocol", ", ".join(protocols)))
    if origin is not None:
        h.append(("Origin", origin))
    h.extend(headers or [])
    return _head_lines("GET", path, port, host, h)


def upgrade(port, path="/l2", origin=None, protocols=(SUBPROTOCOL,), headers=None, host=None,
            tls=None, timeout=IO_TIMEOUT):
    """Sends an upgrade request; returns (status, headers, body) and closes
    the connection (a 101 tunnel is dropped at once)."""
    deadline = time.monotonic() + timeout
    with _connect(port, tls, timeout) as s:
        text = "\r\n".join(upgrade_lines(path, port, origin, protocols, headers, host)) + "\r\n\r\n"
        s.sendall(text.encode("utf-8", errors="surrogateescape"))
        status, hdrs, rest = wsclient._read_http_head(s, deadline)
        body = "" if status == 101 else wsclient._read_body(s, hdrs, rest, deadline)
        return status, hdrs, body


class Tunnel(wsclient.WsClient):
    """An open tunnel (plain or TLS); the methods are wsclient.WsClient's."""

    def __init__(self, sock, rest, headers):  # noqa: super().__init__ dials by itself
        self.sock = sock
        self.buf = rest
        self.headers = headers
        self.protocol = headers.get("sec-websocket-protocol")


def open_tunnel(port, path="/l2", origin=None, protocols=(SUBPROTOCOL,), headers=None, tls=None,
                timeout=IO_TIMEOUT):
    """Opens a tunnel; raises wsclient.Refused with the status otherwise."""
    deadline = time.monotonic() + timeout
    key = base64.b64encode(os.urandom(16)).decode()
    s = _connect(port, tls, timeout)
    text = "\r\n".join(upgrade_lines(path, port, origin, protocols, headers, None, key)) + "\r\n\r\n"
    s.sendall(text.encode())
    status, hdrs, rest = wsclient._read_http_head(s, deadline)
    if status != 101:
        body = wsclient._read_body(s, hdrs, rest, deadline)
        s.close()
        raise wsclient.Refused(status, hdrs, body)
    expected = base64.b64encode(hashlib.sha1((key + wsclient.GUID).encode()).digest()).decode()
    if hdrs.get("sec-websocket-accept") != expected:
        s.close()
        raise ValueError("bad Sec-WebSocket-Accept")
    return Tunnel(s, rest, hdrs)


def http_request(port, method, path, headers=None, body=b"", tls=None, timeout=IO_TIMEOUT):
    """One HTTP/1.1 request; returns (status, [(name, value)], body bytes)."""
    deadline = time.monotonic() + timeout
    h = list(headers or []) + [("Connection", "close"), ("Content-Length", str(len(body)))]
    with _connect(port, tls, timeout) as s:
        text = "\r\n".join(_head_lines(method, path, port, None, h)) + "\r\n\r\n"
        s.sendall(text.encode() + body)
        data = b""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            s.settimeout(remaining)
            try:
                chunk = s.recv(65536)
            except (ConnectionError, ssl.SSLError):
                break
            if not chunk:
                break
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    pairs = []
    for line in lines[1:]:
        k, v = line.split(":", 1)
        pairs.append((k.strip().lower(), v.strip()))
    return status, pairs, rest


def header(pairs, name):
    """All values of header NAME in a http_request() answer."""
    return [v for k, v in pairs if k == name.lower()]


def post_session(port, origin, tls=None):
    """POST /session; returns (status, headers, parsed JSON or None, cookie
    value or None)."""
    status, pairs, body = http_request(port, "POST", "/session", [("Origin", origin)], tls=tls)
    cookie = None
    for value in header(pairs, "set-cookie"):
        first = value.split(";", 1)[0]
        if first.startswith("aero_session="):
            cookie = first[len("aero_session="):]
    try:
        doc = json.loads(body.decode()) if status == 201 else None
    except ValueError:
        doc = None
    return status, pairs, doc, cookie


def same_origin(port, scheme="http"):
    return f"{scheme}://127.0.0.1:{port}"


# ---- credentials -----------------------------------------------------------------

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint_cookie(secret, sid, exp, version=1):
    payload = b64url(json.dumps({"v": version, "sid": sid, "exp": exp},
                                separators=(",", ":")).encode())
    sig = b64url(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())
    return f"{payload}.{sig}"


def mint_jwt(secret, claims, header=None):
    h = b64url(json.dumps(header or {"alg": "HS256", "typ": "JWT"},
                          separators=(",", ":")).encode())
    p = b64url(json.dumps(claims, separators=(",", ":")).encode())
    sig = b64url(hmac.new(secret.encode(), f"{h}.{p}".encode(), hashlib.sha256).digest())
    return f"{h}.{p}.{sig}"


def jwt_claims(sid="sid-test", ttl=300, **extra):
    now = int(time.time())
    claims = {"sid": sid, "iat": now, "exp": now + ttl}
    claims.update(extra)
    return claims


# ---- logs and metrics ----------------------------------------------------------------

def json_lines(d):
    out = []
    for line in d.stderr().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def access_lines(d):
    return [r for r in json_lines(d) if r.get("component") == "access"]


def m(d, name, **labels):
    value = aerotest.metric(d.metrics(), name, **labels)
    return 0 if value is None else value


def wait_for(func, timeout, interval=0.05):
    return aerotest.poll_until(func, timeout, interval)


# ---- frames ------------------------------------------------------------------------

def eth_frame(payload_len, marker=b""):
    body = (marker + bytes(range(256)) * (payload_len // 256 + 1))[:payload_len]
    return bytes.fromhex("020000000001020000000002") + b"\x88\xb5" + body


def frame_msg(frame):
    return wsclient.tunnel(wsclient.T_FRAME, frame)


def reflect_roundtrip(t, size=100, timeout=IO_TIMEOUT):
    """Sends a frame through the tunnel and waits for test-reflect's answer."""
    f = eth_frame(size, os.urandom(4))
    t.send_binary(frame_msg(f))
    typ, payload = t.recv_tunnel(timeout=timeout, skip_types=(wsclient.T_PONG,))
    return typ == wsclient.T_FRAME and payload == f[6:12] + f[0:6] + f[12:]


# ---- tshark ------------------------------------------------------------------------------

def tshark_problem():
    """None when tshark can read files here, else why not."""
    exe = shutil.which("tshark")
    if exe is None:
        return "tshark is not installed (apt-get install -y tshark)"
    try:
        p = subprocess.run([exe, "-v"], capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"tshark cannot run: {e}"
    if p.returncode != 0:
        return "tshark -v failed: " + p.stderr.decode(errors="replace")[:200]
    return None


def tshark_fields(path, fields, timeout=60):
    """Rows of FIELDS for every packet of PATH (tab-separated output of
    `tshark -r PATH -T fields`); raises with tshark's stderr on failure."""
    cmd = ["tshark", "-n", "-r", path, "-T", "fields", "-E", "separator=\t"]
    for f in fields:
        cmd += ["-e", f]
    p = subprocess.run(cmd, capture_output=True, timeout=timeout,
                       env=dict(os.environ, LC_ALL="C.UTF-8"))
    if p.returncode != 0:
        raise RuntimeError(f"tshark failed on {path}: {p.stderr.decode(errors='replace')}")
    rows = []
    for line in p.stdout.decode(errors="replace").splitlines():
        if line.strip():
            rows.append(line.split("\t"))
    return rows


def pcapng_blocks(path):
    """(type, length) of every block of a pcapng file, read with struct."""
    out = []
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    while pos + 12 <= len(data):
        btype, blen = struct.unpack_from("<II", data, pos)
        if blen < 12 or pos + blen > len(data):
            raise ValueError(f"{path}: bad block length {blen} at {pos}")
        out.append((btype, blen))
        pos += blen
    if pos != len(data):
        raise ValueError(f"{path}: {len(data) - pos} trailing bytes")
    return out
