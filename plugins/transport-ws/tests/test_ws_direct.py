#!/usr/bin/python3
"""Direct upgrades ([http] direct-upgrades): the core takes a tunnel's
upgrade request off the listener and transport-ws answers it without
libsoup's server. Checked against the real aero-netd: which requests take
the direct path (aero_http_upgrades_direct_total) and which go to libsoup
as they arrived (split heads, bad handshakes, TLS), that both paths give
the same answers (101 and refusals, byte for byte where it matters), a
connection that sends nothing, and `direct-upgrades = false`. TAP output."""

import base64
import hashlib
import os
import socket
import ssl
import time

import aerotest
import wsclient as w
from wstest import Tap, criticals, eth_frame, mac_swapped, m, start_daemon, wait_for, ws_config, ws_m

H = "127.0.0.1"
tap = Tap()
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def direct(d):
    return m(d, "aero_http_upgrades_direct_total")


def answer(sock, timeout=5.0):
    """(status, headers, body) read from SOCK; body empty for a 101."""
    deadline = time.monotonic() + timeout
    status, headers, rest = w._read_http_head(sock, deadline)
    body = "" if status == 101 else w._read_body(sock, headers, rest, deadline)
    return status, headers, body, rest


def frame_through(sock, rest=b""):
    """Sends one FRAME on an upgraded SOCK and reads test-reflect's answer."""
    frame = eth_frame(200, b"direct")
    sock.sendall(w.encode_frame(w.OP_BINARY, w.tunnel(w.T_FRAME, frame), mask=True))
    c = w.WsClient.__new__(w.WsClient)
    c.sock, c.buf = sock, rest
    return c.recv_tunnel() == (w.T_FRAME, mac_swapped(frame))


def check_direct(d):
    p = d.http_port
    before = direct(d)
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection((H, p), timeout=5) as s:
        s.sendall(w.upgrade_request_text("/l2", H, p, key=key))
        status, headers, _, rest = answer(s)
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        tap.ok(status == 101 and headers.get("sec-websocket-accept") == accept
               and headers.get("sec-websocket-protocol") == w.SUBPROTOCOL
               and headers.get("upgrade", "").lower() == "websocket"
               and headers.get("connection", "").lower() == "upgrade"
               and "sec-websocket-extensions" not in headers,
               "a whole request head: 101 with the accept value and the subprotocol", str(headers))
        tap.ok(direct(d) == before + 1, "answered on the direct path",
               f"{before} -> {direct(d)}")
        tap.ok(frame_through(s, rest), "frames pass through the tunnel")

    # The head in two parts: libsoup reads it as before.
    text = w.upgrade_request_text("/l2", H, p)
    with socket.create_connection((H, p), timeout=5) as s:
        s.sendall(text[:20])
        time.sleep(0.3)
        s.sendall(text[20:])
        status, _, _, rest = answer(s)
        tap.ok(status == 101 and direct(d) == before + 1,
               "a head split in two: 101 from libsoup's server", f"{status} {direct(d)}")
        tap.ok(frame_through(s, rest), "frames pass through that tunnel too")

    # Nothing at first: the core waits for the first bytes.
    with socket.create_connection((H, p), timeout=5) as s:
        time.sleep(0.3)
        s.sendall(text)
        status, _, _, rest = answer(s)
        tap.ok(status == 101 and direct(d) == before + 2,
               "a head sent 0.3 s after the connect: answered on the direct path",
               f"{status} {direct(d)}")
        tap.ok(frame_through(s, rest), "and its frames pass")

    # Frames right behind the head are the tunnel's first bytes.
    with socket.create_connection((H, p), timeout=5) as s:
        s.sendall(text + w.encode_frame(w.OP_BINARY, w.tunnel(w.T_PING, b"early"), mask=True))
        status, _, _, rest = answer(s)
        c = w.WsClient.__new__(w.WsClient)
        c.sock, c.buf = s, rest
        tap.ok(status == 101 and c.recv_tunnel() == (w.T_PONG, b"early")
               and direct(d) == before + 3,
               "a PING sent behind the head, before the 101: answered, on the direct path")

    # What libsoup's handler refuses is left to it, with its words.
    n = direct(d)
    tap.ok(w.raw_upgrade(H, p, extra={"Sec-WebSocket-Version": "12"})[0] == 400
           and w.raw_upgrade(H, p, protocols=("chat",))[0] == 400
           and w.raw_upgrade(H, p, method="POST")[0] == 405
           and w.raw_upgrade(H, p, path="/l2/x")[0] == 404
           and direct(d) == n,
           "bad version, no subprotocol, POST, a sub-path: refused by libsoup's server",
           f"{n} -> {direct(d)}")
    big = {"X-Filler": "a" * 9000}
    status, _, _ = w.raw_upgrade(H, p, extra=big)
    tap.ok(status == 101 and direct(d) == n,
           "a head over 8 KiB: upgraded by libsoup's server", f"{status} {direct(d)}")

    # A connection that sends nothing is closed after request-timeout.
    timed_out = m(d, "aero_http_requests_timed_out_total")
    with socket.create_connection((H, p), timeout=5) as s:
        t0 = time.monotonic()
        got = s.recv(1)
        waited = time.monotonic() - t0
    tap.ok(got == b"" and 0.5 < waited < 4.5
           and m(d, "aero_http_requests_timed_out_total") == timed_out + 1,
           "a connection that sends nothing is closed after request-timeout (1 s) and counted",
           f"{got!r} after {waited:.2f} s")
    # (The scrape itself is one open connection.)
    tap.ok(wait_for(lambda: m(d, "aero_http_connections_open")
                    == ws_m(d, "aero_ws_tunnels_open") + 1, 5),
           "no connection left behind",
           f"{m(d, 'aero_http_connections_open')} {ws_m(d, 'aero_ws_tunnels_open')}")


def refusals(p):
    """The answers to requests the admission refuses (Origin)."""
    out = []
    for origin in ("https://evil.example", None):
        extra = {"Origin": origin} if origin else {}
        with socket.create_connection((H, p), timeout=5) as s:
            s.sendall(w.upgrade_request_text("/l2", H, p, extra=extra))
            status, headers, body, _ = answer(s)
            end = s.recv(1)
        out.append((status, body, headers.get("cache-control"), headers.get("content-type"),
                    headers.get("connection"), end))
    return out


def check_refusals(tmp):
    adm = {"origins": "https://ok.example", "auth": "none"}
    got = {}
    for flag in ("true", "false"):
        port = aerotest.free_port()
        cfg = ws_config(port, admission=adm, http={"direct-upgrades": flag})
        with start_daemon(tmp, "refuse-" + flag, cfg, port) as d:
            got[flag] = refusals(port)
            got[flag + "-direct"] = direct(d)
            got[flag + "-refused"] = ws_m(d, "aero_ws_tunnels_refused_total", reason="admission")
            # An admitted one, for the other half.
            with w.WsClient(H, port, extra={"Origin": "https://ok.example"}) as c:
                c.send_tunnel(w.T_PING, b"ok")
                got[flag + "-ok"] = c.recv_tunnel() == (w.T_PONG, b"ok")
            got[flag + "-direct-ok"] = direct(d)
            tap.ok(not criticals(d), f"direct-upgrades = {flag}: no criticals logged")
    t = got["true"]
    tap.ok(t[0][0] == 403 and "Origin" in t[0][1] and t[0][2] == "no-store"
           and t[0][3].startswith("text/plain") and t[0][4] == "close" and t[0][5] == b""
           and t[1][0] == 403,
           "Origin refused on the direct path: 403, text body, no-store, connection closed", str(t))
    tap.ok(got["true"] == got["false"],
           "the same refusals, word for word, with direct-upgrades on and off",
           f"{got['true']}\n{got['false']}")
    tap.ok(got["true-direct"] == 2 and got["true-refused"] == 2,
           "refusals answered on the direct path and counted by transport-ws",
           f"{got['true-direct']} {got['true-refused']}")
    tap.ok(got["false-direct"] == 0 and got["false-direct-ok"] == 0 and got["false-refused"] == 2,
           "direct-upgrades = false: nothing on the direct path")
    tap.ok(got["true-ok"] and got["false-ok"] and got["true-direct-ok"] == 3,
           "an admitted Origin opens a tunnel either way")


def odd_heads(port):
    """Request heads, each whole in one send, that a careless parser would
    read differently from libsoup's server: (name, bytes)."""
    key = base64.b64encode(b"k" * 16).decode()
    base = [("Host", f"{H}:{port}"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Protocol", w.SUBPROTOCOL)]

    def head(line="GET /l2 HTTP/1.1", headers=None, sep="\r\n", drop=(), add=()):
        hs = [(k, v) for k, v in (headers or base) if k not in drop] + list(add)
        text = sep.join([line] + [f"{k}: {v}" for k, v in hs]) + sep + sep
        return text.encode("latin-1")

    return [
        ("a valid upgrade", head()),
        ("HTTP/1.0", head("GET /l2 HTTP/1.0")),
        ("HTTP/2.0 in the request line", head("GET /l2 HTTP/2.0")),
        ("lower-case method", head("get /l2 HTTP/1.1")),
        ("absolute-form target", head(f"GET http://{H}:{port}/l2 HTTP/1.1")),
        ("asterisk target", head("GET * HTTP/1.1")),
        ("a query", head("GET /l2?x=1&token=abc HTTP/1.1")),
        ("an empty query", head("GET /l2? HTTP/1.1")),
        ("a fragment", head("GET /l2#frag HTTP/1.1")),
        ("a percent-encoded path", head("GET /%6c2 HTTP/1.1")),
        ("dot segments", head("GET /x/../l2 HTTP/1.1")),
        ("two spaces in the request line", head("GET  /l2 HTTP/1.1")),
        ("no Host", head(drop=("Host",))),
        ("two Hosts", head(add=[("Host", "other.example")])),
        ("an empty Host", head(drop=("Host",), add=[("Host", "")])),
        ("a Host with a path", head(drop=("Host",), add=[("Host", "example.com/x")])),
        ("a Host ending in ?", head(drop=("Host",), add=[("Host", "example.com?")])),
        ("a bracketed name as Host", head(drop=("Host",), add=[("Host", "[example.com]")])),
        ("a body (Content-Length)", head(add=[("Content-Length", "0")])),
        ("a body (Content-Length 5)", head(add=[("Content-Length", "5")]) + b"hello"),
        ("chunked", head(add=[("Transfer-Encoding", "chunked")]) + b"0\r\n\r\n"),
        ("bare LF line ends", head(sep="\n")),
        ("a folded header", head() [:-2] + b" continued\r\n\r\n"),
        ("a space before the colon", head(add=[("X-Odd ", "1")])),
        ("a header without a colon", head()[:-2] + b"NoColonHere\r\n\r\n"),
        ("a NUL in a header", head(add=[("X-Nul", "a\x00b")])),
        ("a control character in a header", head(add=[("X-Ctl", "a\x01b")])),
        ("Latin-1 in a header", head(add=[("X-Latin", "caf\xe9")])),
        ("an empty header name", head()[:-2] + b": value\r\n\r\n"),
        ("two keys", head(add=[("Sec-WebSocket-Key", key)])),
        ("a short key", head(drop=("Sec-WebSocket-Key",), add=[("Sec-WebSocket-Key", "c2hvcnQ=")])),
        ("a key that is not base64", head(drop=("Sec-WebSocket-Key",),
                                          add=[("Sec-WebSocket-Key", "!" * 24)])),
        ("version 13 twice", head(add=[("Sec-WebSocket-Version", "13")])),
        ("Upgrade: WebSocket", head(drop=("Upgrade",), add=[("Upgrade", "WebSocket")])),
        ("Upgrade: websocket, h2c", head(drop=("Upgrade",), add=[("Upgrade", "websocket, h2c")])),
        ("Connection: keep-alive, Upgrade",
         head(drop=("Connection",), add=[("Connection", "keep-alive, Upgrade")])),
        ("the offer in two headers",
         head(drop=("Sec-WebSocket-Protocol",),
              add=[("Sec-WebSocket-Protocol", "chat"),
                   ("Sec-WebSocket-Protocol", w.SUBPROTOCOL)])),
        ("the offer after a tab", head(drop=("Sec-WebSocket-Protocol",),
                                       add=[("Sec-WebSocket-Protocol",
                                             "chat,\t" + w.SUBPROTOCOL)])),
        ("an Expect header", head(add=[("Expect", "100-continue")])),
        ("1,000 headers", head(add=[(f"X-H{i}", "v") for i in range(1000)])),
        ("a 7 KiB header", head(add=[("X-Big", "b" * 7000)])),
        ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\r\n\r\n"),
        ("only a blank line", b"\r\n\r\n"),
    ]


def status_of(port, data):
    """The status line's code for DATA sent whole at once; 'closed' when the
    connection is closed without one, 'waiting' when nothing comes for 1.5 s
    (the server waits for more of the request)."""
    with socket.create_connection((H, port), timeout=1.5) as s:
        s.sendall(data)
        buf = b""
        deadline = time.monotonic() + 5
        while b"\r\n" not in buf and time.monotonic() < deadline:
            try:
                chunk = s.recv(4096)
            except ConnectionResetError:
                break
            except socket.timeout:
                return "waiting"
            if not chunk:
                break
            buf += chunk
    if not buf:
        return "closed"
    parts = buf.split(b"\r\n", 1)[0].split()
    return parts[1].decode() if len(parts) > 1 else buf[:20]


def check_odd_heads(tmp):
    """Every odd head answered alike with direct-upgrades on and off."""
    daemons = {}
    try:
        for flag in ("true", "false"):
            port = aerotest.free_port()
            cfg = ws_config(port, http={"direct-upgrades": flag})
            daemons[flag] = start_daemon(tmp, "odd-" + flag, cfg, port)
        names = [n for n, _ in odd_heads(daemons["true"].http_port)]
        got = {}
        for flag, d in daemons.items():
            got[flag] = [status_of(d.http_port, data) for _, data in odd_heads(d.http_port)]
        diffs = [f"{n}: direct {a}, libsoup {b}" for n, a, b in zip(names, got["true"], got["false"])
                 if a != b]
        tap.ok(not diffs, f"{len(names)} odd request heads answered alike on both paths",
               "\n".join(diffs))
        tap.diag(f"{direct(daemons['true'])} answered on the direct path; statuses: "
                 + ", ".join(f"{n} {a}" for n, a in zip(names, got["true"])))
        tap.ok(got["true"][0] == "101" and direct(daemons["true"]) >= 1
               and direct(daemons["false"]) == 0,
               "the valid one upgraded, on the direct path only where it is on")
        for flag, d in daemons.items():
            tap.ok(d.running() and not criticals(d),
                   f"direct-upgrades = {flag}: running, no criticals logged",
                   "\n".join(criticals(d)))
    finally:
        for d in daemons.values():
            d.kill_if_running()


def check_tls(tmp):
    import promparse
    port = aerotest.free_port()
    made = aerotest.make_certificate(tmp.path)
    if made is None:
        tap.skip("over TLS: upgraded by libsoup's server", "openssl could not make a certificate")
        return
    cert, key = made
    cfg = ws_config(port, http={"tls-certificate": cert, "tls-key": key})
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with aerotest.Daemon(tmp.file("tls.ini", cfg), tmp.path, http_port=port) as d:
        d.wait_ready(tls_context=ctx)
        with socket.create_connection((H, port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(w.upgrade_request_text("/l2", H, port))
                status, _, _, _ = answer(s)
        samples = promparse.parse(d.get("/metrics", tls_context=ctx)[2]).samples
        n = aerotest.metric(samples, "aero_http_upgrades_direct_total")
        tap.ok(status == 101 and n == 0, "over TLS: upgraded by libsoup's server", f"{status} {n}")


def main():
    with aerotest.TempDir() as tmp:
        port = aerotest.free_port()
        cfg = ws_config(port, http={"request-timeout": "1s"})
        with start_daemon(tmp, "main", cfg, port) as d:
            tap.check("direct path", check_direct, d)
            tap.ok(not criticals(d), "no criticals logged", "\n".join(criticals(d)))
        tap.check("refusals", check_refusals, tmp)
        tap.check("odd heads", check_odd_heads, tmp)
        tap.check("tls", check_tls, tmp)
    tap.done()


if __name__ == "__main__":
    main()
