#!/usr/bin/python3
"""transport-ws against hostile clients: every kind of bad tunnel message
(too short, bad magic, bad version, oversized, random bytes, text), floods
of them from several tunnels at once, WebSocket-level abuse (unmasked
frames, bad control frames, lengths not in their shortest form, frames
after a framing error, endless fragments, ping floods, a 1 GiB frame
header). The daemon must never crash or stall: a witness tunnel keeps
getting its PONGs within a deadline during and after, /healthz answers,
each drop is counted by reason, and repeated violations close a tunnel
with ERROR protocol_error then close code 1002. TAP output."""

import os
import random
import struct
import threading
import time

import aerotest
import wsclient as w
from wstest import Tap, criticals, healthy, m, start_daemon, wait_for, ws_config, ws_m

H = "127.0.0.1"
tap = Tap()
rng = random.Random(0xAE50)

# Largest time the witness may wait for one PONG while the daemon is under attack.
WITNESS_DEADLINE = 1.0


class Witness:
    """A well-behaved tunnel pinging in a thread; records round trips."""

    def __init__(self, port):
        self.c = w.WsClient(H, port)
        self.rtts = []
        self.failures = []
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        n = 0
        while not self.stop_flag.is_set():
            n += 1
            payload = struct.pack(">Q", n)
            start = time.monotonic()
            try:
                self.c.send_tunnel(w.T_PING, payload)
                got = self.c.recv_tunnel(WITNESS_DEADLINE)
                if got != (w.T_PONG, payload):
                    self.failures.append(f"wrong answer {got}")
                self.rtts.append(time.monotonic() - start)
            except Exception as e:  # noqa: BLE001 - recorded, checked by the test
                self.failures.append(repr(e))
                return
            time.sleep(0.02)

    def stop(self):
        self.stop_flag.set()
        self.thread.join(5)
        self.c.close()


def bad_messages():
    """(reason label, raw WebSocket frame) for each kind of violation."""
    rand = bytes([rng.randrange(256) for _ in range(rng.randrange(4, 1500))])
    if rand[0] == 0xA2:
        rand = b"\x00" + rand[1:]
    return [
        ("too_short", w.encode_frame(w.OP_BINARY, b"\xa2\x03")),
        ("too_short", w.encode_frame(w.OP_BINARY, b"")),
        ("bad_magic", w.encode_frame(w.OP_BINARY, w.tunnel(w.T_FRAME, b"x" * 60, magic=0xA3))),
        ("bad_version", w.encode_frame(w.OP_BINARY, w.tunnel(w.T_FRAME, b"x" * 60, version=2))),
        ("oversize", w.encode_frame(w.OP_BINARY, w.tunnel(w.T_PING, b"p" * 300))),
        ("bad_magic", w.encode_frame(w.OP_BINARY, rand)),
        ("text", w.encode_frame(w.OP_TEXT, b"hello, this is text")),
        ("text", w.encode_frame(w.OP_TEXT, "\u00e9t\u00e9 \u2603".encode())),
    ]


def check_each_violation(d):
    for reason, frame in bad_messages():
        before = ws_m(d, "aero_ws_rx_dropped_total", reason=reason)
        with w.WsClient(H, d.http_port) as c:
            c.send_raw(frame)
            c.send_tunnel(w.T_PING, b"alive")
            answered = c.recv_tunnel() == (w.T_PONG, b"alive")
        after = ws_m(d, "aero_ws_rx_dropped_total", reason=reason)
        tap.ok(answered and after == before + 1,
               f"{reason}: dropped, counted, tunnel still open", f"{before} -> {after}")


def check_violations_close(d):
    before = ws_m(d, "aero_ws_violation_closes_total")
    with w.WsClient(H, d.http_port) as c:
        msgs = [f for _, f in bad_messages()]
        c.send_raw(b"".join(msgs[i % len(msgs)] for i in range(16)))
        code, _, seen, how = c.read_until_close(5)
        errors = [w.parse_error(p) for t, p in seen if t == w.T_ERROR]
        tap.ok(how == "close" and code == 1002 and len(errors) == 1 and errors[0][0] == 1,
               "16 violations: ERROR protocol_error (1), then close 1002",
               f"{how} {code} {seen}")
    tap.ok(ws_m(d, "aero_ws_violation_closes_total") == before + 1, "violation close counted")
    # 15 violations do not close.
    with w.WsClient(H, d.http_port) as c:
        c.send_raw(b"".join(w.encode_frame(w.OP_BINARY, b"\x00\x00\x00\x00") for _ in range(15)))
        c.send_tunnel(w.T_PING, b"15")
        tap.ok(c.recv_tunnel() == (w.T_PONG, b"15"), "15 violations: tunnel still open")


def flood_worker(port, seconds, kind, results):
    """Sends garbage of one KIND as fast as possible for SECONDS, reconnecting
    when the server closes; records closes seen."""
    end = time.monotonic() + seconds
    closes, sent = [], 0
    msgs = [f for _, f in bad_messages()]
    unknown = w.encode_frame(w.OP_BINARY, w.tunnel(0x55, os.urandom(200)))
    while time.monotonic() < end:
        try:
            with w.WsClient(H, port, timeout=3) as c:
                if kind == "unknown":
                    batch = unknown * 50
                else:
                    batch = b"".join(rng.choice(msgs) for _ in range(50))
                while True:
                    c.send_raw(batch)
                    sent += 50
                    if kind == "violations" or time.monotonic() >= end:
                        break
                if kind == "violations":
                    code, _, _, how = c.read_until_close(3)
                    closes.append((how, code))
        except (OSError, w.Closed, w.Refused):
            pass
    results.append((kind, sent, closes))


def check_flood(d):
    witness = Witness(d.http_port)
    results = []
    threads = [threading.Thread(target=flood_worker,
                                args=(d.http_port, 3.0, kind, results), daemon=True)
               for kind in ["violations"] * 4 + ["unknown"] * 2]
    start = time.monotonic()
    healthz = []
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads) and time.monotonic() - start < 20:
        healthz.append(healthy(d))
        time.sleep(0.2)
    for t in threads:
        t.join(10)
    time.sleep(0.3)
    witness.stop()

    sent = sum(r[1] for r in results)
    closes = [c for r in results for c in r[2]]
    tap.diag(f"flood: {sent} bad messages from 6 tunnels in 3 s, {len(closes)} violation closes")
    if witness.rtts:
        rtts = sorted(witness.rtts)
        tap.diag(f"witness: {len(rtts)} PONGs, median {1000 * rtts[len(rtts) // 2]:.1f} ms, "
                 f"max {1000 * rtts[-1]:.1f} ms")
    tap.ok(not witness.failures and len(witness.rtts) >= 20,
           f"witness tunnel got every PONG within {WITNESS_DEADLINE} s during the flood",
           str(witness.failures[:3]))
    tap.ok(healthz and all(healthz), "/healthz answered 200 throughout the flood")
    tap.ok(closes and all(c == ("close", 1002) for c in closes),
           "every violation flood tunnel was closed with 1002",
           str([c for c in closes if c != ("close", 1002)][:5]))
    tap.ok(ws_m(d, "aero_ws_rx_dropped_total", reason="unknown_type") > 0,
           "unknown types counted")


def check_websocket_abuse(d):
    p = d.http_port
    # An unmasked client frame (RFC 6455 §5.1): close 1002.
    with w.WsClient(H, p) as c:
        c.send_frame(w.OP_BINARY, w.tunnel(w.T_PING, b"x"), mask=False)
        code, _, _, how = c.read_until_close(5)
        tap.ok(how == "close" and code == 1002, "unmasked frame: close 1002", f"{how} {code}")
    # Text that is not UTF-8: close 1007 before it counts as a violation.
    with w.WsClient(H, p) as c:
        c.send_frame(w.OP_TEXT, w.tunnel(w.T_PING, b"binary in a text frame"))
        code, _, _, how = c.read_until_close(5)
        tap.ok(how == "close" and code == 1007, "invalid UTF-8 text: close 1007", f"{how} {code}")
    # A reserved opcode.
    with w.WsClient(H, p) as c:
        c.send_frame(0x3, b"???")
        code, _, _, how = c.read_until_close(5)
        tap.ok(how == "close" and code == 1002, "reserved opcode: close 1002", f"{how} {code}")
    # A close frame: answered with its code.
    with w.WsClient(H, p) as c:
        c.send_frame(w.OP_CLOSE, b"\x0b\xb8bye")
        code, _, _, how = c.read_until_close(5)
        tap.ok(how == "close" and code == 3000, "close 3000 answered with 3000", f"{how} {code}")
    # A close frame with a code no peer may send (1005): close 1002.
    with w.WsClient(H, p) as c:
        c.send_frame(w.OP_CLOSE, b"\x03\xed")
        code, _, _, how = c.read_until_close(5)
        tap.ok(how == "close" and code == 1002, "close 1005 from a peer: close 1002",
               f"{how} {code}")
    # A ping longer than 125 bytes (RFC 6455 §5.5): refused by the guard.
    with w.WsClient(H, p) as c:
        c.send_frame(w.OP_PING, b"z" * 200)
        code, _, seen, how = c.read_until_close(5)
        tap.ok(how == "close" and code == 1002, "oversized control frame: close 1002",
               f"{how} {code}")
    tap.ok(ws_m(d, "aero_ws_rx_dropped_total", reason="bad_control_frame") >= 1,
           "bad control frame counted")
    # Endless fragments, each small: the guard bounds the reassembled message.
    with w.WsClient(H, p) as c:
        before = ws_m(d, "aero_ws_rx_dropped_total", reason="message_too_big")
        c.send_frame(w.OP_BINARY, w.tunnel(w.T_FRAME, b"f" * 100), fin=False)
        closed_after = None
        for i in range(1, 2000):
            try:
                c.send_frame(w.OP_CONT, b"f" * 100, fin=False)
            except OSError:
                closed_after = i
                break
            if i == 25:
                code, _, _, how = c.read_until_close(5)
                closed_after = i
                break
        tap.ok(how == "close" and code == 1009,
               "fragments past the largest message: close 1009", f"{how} {code}")
        tap.ok(ws_m(d, "aero_ws_rx_dropped_total", reason="message_too_big") == before + 1,
               "fragmented oversize counted (reason=message_too_big)")
        tap.diag(f"fragments sent before reading the close: {closed_after}")
    # A 1 GiB frame announced and 8 MiB of it sent: nothing is buffered.
    rss_before = w.rss_kib(d.pid)
    with w.WsClient(H, p) as c:
        c.send_raw(w.encode_frame(w.OP_BINARY, b"", length_override=1 << 30)[:14])
        chunk = os.urandom(65536)
        sent = 0
        try:
            for _ in range(128):
                c.send_raw(chunk)
                sent += len(chunk)
        except OSError:
            pass
        code, _, _, how = c.read_until_close(5)
    rss_after = w.rss_kib(d.pid)
    tap.diag(f"1 GiB frame: {sent >> 20} MiB of it sent; RSS {rss_before} -> {rss_after} KiB")
    tap.ok(how in ("close", "eof") and (code in (1009, None)),
           "1 GiB frame: closed", f"{how} {code}")
    if w.sanitized(d.pid):
        tap.skip("RSS grew by less than 8 MiB", "AddressSanitizer build")
    else:
        tap.ok(rss_after - rss_before < 8 * 1024, "RSS grew by less than 8 MiB")


def check_nul_is_utf8(d):
    """U+0000 is UTF-8 (RFC 3629): a text message holding it is an ordinary
    text violation, and a close reason holding it is a valid one."""
    p = d.http_port
    before = ws_m(d, "aero_ws_rx_dropped_total", reason="text")
    with w.WsClient(H, p) as c:
        c.send_frame(w.OP_TEXT, b"a\x00b")
        c.send_tunnel(w.T_PING, b"alive")
        got = c.recv_tunnel(5)
    tap.ok(got == (w.T_PONG, b"alive")
           and ws_m(d, "aero_ws_rx_dropped_total", reason="text") == before + 1,
           "text 'a\\0b': a counted text violation, tunnel still open", str(got))
    with w.WsClient(H, p) as c:
        c.send_close(3000, b"o\x00k")
        code, _, _, how = c.read_until_close(5, reply=False)
    tap.ok(how == "close" and code == 3000, "close 3000 with reason 'o\\0k' answered with 3000",
           f"{how} {code}")


def check_flood_after_close(d):
    """A peer that never reads, sends its close frame while the server still
    has bytes for it, then floods: the server stops reading once it closes
    (the socket's buffers fill and the peer's sends block), so its memory
    does not follow the flood."""
    def hwm():
        with open(f"/proc/{d.pid}/status", encoding="ascii") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
    closes = ws_m(d, "aero_ws_backpressure_closes_total")
    with w.WsClient(H, d.http_port, rcvbuf=4096) as c:
        ping = w.encode_frame(w.OP_PING, b"x" * 125)
        # Until the kernel's buffers toward the peer are full (their size
        # varies from run to run: megabytes), bounded in time. A slow build
        # may go from no backlog to a backpressure close between two looks:
        # that close is the server holding pongs past its bound.
        held = False
        end = time.monotonic() + 15
        while time.monotonic() < end and not held:
            try:
                c.send_raw(ping * 128)
            except OSError:
                pass
            time.sleep(0.005)
            held = ws_m(d, "aero_ws_send_backlog_bytes") > 0 or \
                ws_m(d, "aero_ws_backpressure_closes_total") > closes
        tap.ok(held, "the server holds pongs it cannot write (the peer does not read)")
        before = hwm()
        try:
            c.send_close(1000)
        except OSError:
            pass
        chunk = w.encode_frame(w.OP_BINARY, w.tunnel(w.T_FRAME, b"z" * 1900)) * 512
        sent = 0
        end = time.monotonic() + 1.8
        c.sock.settimeout(0.5)
        try:
            while time.monotonic() < end:
                c.sock.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass
        after = hwm()
    tap.diag(f"flood after close: {sent >> 20} MiB sent; VmHWM {before} -> {after} KiB")
    if w.sanitized(d.pid):
        tap.skip("memory did not follow the flood after the close", "AddressSanitizer build")
    else:
        tap.ok(after - before < 16 * 1024, "memory did not follow the flood after the close",
               f"grew by {(after - before) >> 10} MiB")


def check_ping_flood(d):
    """WebSocket pings sent without ever reading: a pong is owed for each;
    the tunnel counts those bytes and cuts the peer off."""
    before = ws_m(d, "aero_ws_backpressure_closes_total")
    rss_before = w.rss_kib(d.pid)
    with w.WsClient(H, d.http_port, rcvbuf=4096) as c:
        ping = w.encode_frame(w.OP_PING, b"x" * 125)
        batch = ping * 256
        end = time.monotonic() + 10
        sent = 0
        try:
            while time.monotonic() < end:
                c.send_raw(batch)
                sent += 256
                if sent % (256 * 40) == 0 and \
                        ws_m(d, "aero_ws_backpressure_closes_total") > before:
                    break
        except OSError:
            pass
        rss_after = w.rss_kib(d.pid)
    tap.diag(f"ping flood: {sent} pings sent; RSS {rss_before} -> {rss_after} KiB")
    tap.ok(ws_m(d, "aero_ws_backpressure_closes_total") == before + 1,
           "ping flood without reading: tunnel closed for backpressure")
    if w.sanitized(d.pid):
        tap.skip("RSS grew by less than 16 MiB", "AddressSanitizer build")
    else:
        tap.ok(rss_after - rss_before < 16 * 1024, "RSS grew by less than 16 MiB")


def masked_frame(b0, len_field, ext, payload):
    """A masked frame with its length field written as given (ext: the
    extended length bytes), e.g. not in its shortest form."""
    key = os.urandom(4)
    return bytes([b0, 0x80 | len_field]) + ext + key + bytes(
        b ^ key[i & 3] for i, b in enumerate(payload))


def check_length_forms(d):
    """RFC 6455 5.2: a length in the shortest form, the 64-bit one with its
    top bit clear; a frame out of order is refused as such, whatever its
    size: 1002, and the message is not processed."""
    body = w.tunnel(w.T_PING, b"nm")
    cases = [
        ("binary message with its length in the 16-bit field",
         masked_frame(0x82, 126, struct.pack(">H", len(body)), body)),
        ("binary message with its length in the 64-bit field",
         masked_frame(0x82, 127, struct.pack(">Q", len(body)), body)),
        ("64-bit length with the top bit set", b"\x82\xff\x80" + b"\x00" * 7 + os.urandom(4)),
        ("continuation without a message, 3000 bytes announced",
         w.encode_frame(w.OP_CONT, b"", length_override=3000)),
    ]
    for name, frame in cases:
        with w.WsClient(H, d.http_port) as c:
            c.send_raw(frame)
            code, _, seen, how = c.read_until_close(3)
        tap.ok(how == "close" and code == 1002 and not seen, f"{name}: close 1002, not processed",
               f"{how} {code} {seen}")


def check_nothing_after_a_framing_error(d):
    """RFC 6455 7.1.7: once the connection is failed, nothing after the bad
    frame is processed, although it arrives in the same read."""
    bad = {
        "ping with RSV1": w.encode_frame(w.OP_PING, b"x", rsv=4),
        "unmasked ping": w.encode_frame(w.OP_PING, b"x", mask=False),
        "reserved control opcode 0xB": w.encode_frame(0xB, b"x"),
        "text not UTF-8": w.encode_frame(w.OP_TEXT, b"\xff\xfe"),
    }
    after = w.encode_frame(w.OP_BINARY, w.tunnel(w.T_PING, b"after"))
    for name, frame in bad.items():
        with w.WsClient(H, d.http_port) as c:
            c.send_raw(frame + after)
            code, _, seen, how = c.read_until_close(3)
        tap.ok(how == "close" and code in (1002, 1007) and not seen,
               f"{name}, then a tunnel PING in the same segment: the PING is not answered",
               f"{how} {code} answered={seen}")


def check_subprotocol_offer_forms(d):
    """libsoup reads Sec-WebSocket-Protocol its own way when it answers (one
    header, split at ", "): offers it will not find aero-l2-tunnel-v1 in are
    refused with 400 before a session is opened for them."""
    import socket as socketlib
    opened = m(d, "aero_sessions_opened_total") or 0
    offers = {
        "two headers": "Sec-WebSocket-Protocol: aero-l2-tunnel-v1\r\n"
                       "Sec-WebSocket-Protocol: chat\r\n",
        "a tab after the comma": "Sec-WebSocket-Protocol: chat,\taero-l2-tunnel-v1\r\n",
    }
    for name, header in offers.items():
        req = ("GET /l2 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Version: 13\r\n" + header + "\r\n")
        with socketlib.create_connection((H, d.http_port), timeout=5) as s:
            s.sendall(req.encode())
            status = s.recv(4096).split(b"\r\n", 1)[0]
        tap.ok(status.startswith(b"HTTP/1.1 400"), f"subprotocols in {name}: 400", repr(status))
    tap.ok((m(d, "aero_sessions_opened_total") or 0) == opened,
           "... and no session was opened for them")


def check_idle_connections(d):
    """The HTTP server drops a connection after 20 s of silence (libsoup has
    no idle timeout: slowly or never sent requests would hold descriptors
    for ever); a tunnel, idle as long, is not an HTTP connection any more
    and stays open."""
    import socket as socketlib
    with w.WsClient(H, d.http_port) as c, \
            socketlib.create_connection((H, d.http_port), timeout=10) as silent, \
            socketlib.create_connection((H, d.http_port), timeout=10) as partial:
        partial.sendall(b"GET /healthz HTTP/1.1\r\nHost: h\r\n")
        time.sleep(23)
        tap.ok(silent.recv(100) == b"", "a connection that sent nothing is closed after 20 s")
        tap.ok(partial.recv(100) == b"", "... and one that stopped halfway through its headers")
        c.send_tunnel(w.T_PING, b"idle")
        tap.ok(c.recv_tunnel() == (w.T_PONG, b"idle"), "a tunnel idle as long still answers")


def check_http_limits(tmp):
    """A tunnel is an HTTP connection only until its 101: [http]
    request-timeout and idle-timeout do not close it, but it counts
    toward max-connections-per-address."""
    import socket as socketlib
    port = aerotest.free_port()
    config = ws_config(port, http={"request-timeout": "1s", "idle-timeout": "1s",
                                   "max-connections-per-address": "3"})
    with start_daemon(tmp, "http-limits", config, port) as d:
        with w.WsClient(H, d.http_port) as a, w.WsClient(H, d.http_port) as b:
            time.sleep(2.5)
            a.send_tunnel(w.T_PING, b"a")
            tap.ok(a.recv_tunnel() == (w.T_PONG, b"a"),
                   "a tunnel idle for 2.5 s outlives request-timeout and idle-timeout (1 s)")
            # The two tunnels and one more connection make three.
            with socketlib.create_connection((H, d.http_port), timeout=5) as held:
                with socketlib.create_connection((H, d.http_port), timeout=5) as extra:
                    extra.settimeout(3)
                    try:
                        refused = extra.recv(10) == b""
                    except OSError as e:
                        refused = isinstance(e, ConnectionResetError)
                tap.ok(refused, "two tunnels and one connection from the same address: the "
                       "fourth is refused (max-connections-per-address = 3)")
                held.close()
            b.send_tunnel(w.T_PING, b"b")
            tap.ok(b.recv_tunnel() == (w.T_PONG, b"b"), "the tunnels are untouched")
        tap.ok(d.stop() == 0, "exits 0 on SIGTERM")


def main():
    with aerotest.TempDir() as tmp:
        port = aerotest.free_port()
        with start_daemon(tmp, "hostile", ws_config(port), port) as d:
            witness = Witness(port)
            tap.check("each violation", check_each_violation, d)
            tap.check("violations close", check_violations_close, d)
            tap.check("WebSocket abuse", check_websocket_abuse, d)
            tap.check("length forms", check_length_forms, d)
            tap.check("subprotocol offer forms", check_subprotocol_offer_forms, d)
            tap.check("idle connections", check_idle_connections, d)
            tap.check("nothing after a framing error", check_nothing_after_a_framing_error, d)
            witness.stop()
            tap.ok(not witness.failures and witness.rtts,
                   "witness tunnel answered throughout", str(witness.failures[:3]))
            tap.check("flood", check_flood, d)
            tap.check("ping flood", check_ping_flood, d)
            tap.check("NUL is UTF-8", check_nul_is_utf8, d)
            tap.check("flood after close", check_flood_after_close, d)
            tap.ok(healthy(d), "/healthz answers after everything")
            tap.ok(wait_for(lambda: ws_m(d, "aero_ws_tunnels_active") == 0, 10),
                   "every tunnel closed in the end (active gauge back to 0)")
            tap.ok(d.running(), "daemon still running")
            rc = d.stop()
            tap.ok(rc == 0, "daemon exits 0 on SIGTERM", f"rc={rc}")
            tap.ok(not criticals(d), "no criticals logged", "\n".join(criticals(d)[:5]))
        tap.check("HTTP limits and tunnels", check_http_limits, tmp)
    tap.done()


if __name__ == "__main__":
    main()
