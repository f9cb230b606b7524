#!/usr/bin/python3
"""transport-ws in server mode against test-reflect: the upgrade (subprotocol
required and selected exactly, HTTP refusals), FRAME/PING/PONG/ERROR,
the /eth alias, size limits, the idle timeout, the session limit, the logs,
and SIGTERM closing tunnels with 1001. TAP output."""

import signal
import socket
import struct
import time

import aerotest
import wsclient as w
from wstest import Tap, criticals, eth_frame, healthy, mac_swapped, m, start_daemon, wait_for, ws_config, ws_m

H = "127.0.0.1"
tap = Tap()


def expect_refused(port, status, body_part=None, **kw):
    got, _, body = w.raw_upgrade(H, port, **kw)
    if got != status or (body_part and body_part not in body):
        raise AssertionError(f"expected {status} with {body_part!r}, got {got} {body!r}")
    return True


def check_upgrades(d):
    p = d.http_port
    tap.check("no subprotocol offered: 400 naming aero-l2-tunnel-v1",
              expect_refused, p, 400, "aero-l2-tunnel-v1", protocols=())
    tap.check("another subprotocol only: 400", expect_refused, p, 400, "subprotocol",
              protocols=("chat", "aero-l2-token.abc"))
    tap.check("plain GET without upgrade: 400", expect_refused, p, 400, "WebSocket",
              upgrade=False)
    tap.check("POST: 405", expect_refused, p, 405, method="POST")
    tap.check("sub-path /l2/x is not ours: 404", expect_refused, p, 404, path="/l2/x")
    samples = d.metrics()
    tap.ok(aerotest.metric(samples, "aero_ws_tunnels_refused_total", instance="ws",
                           reason="no_subprotocol") == 2
           and aerotest.metric(samples, "aero_ws_tunnels_refused_total", instance="ws",
                               reason="bad_handshake") == 1
           and aerotest.metric(samples, "aero_ws_tunnels_refused_total", instance="ws",
                               reason="bad_method") == 1,
           "refusals counted by reason")

    for offer in [(w.SUBPROTOCOL,), ("aero-l2-token.s3cret", w.SUBPROTOCOL),
                  ("chat", w.SUBPROTOCOL, "aero-l2-token.x")]:
        status, headers, _ = w.raw_upgrade(H, p, protocols=offer)
        tap.ok(status == 101 and headers.get("sec-websocket-protocol") == w.SUBPROTOCOL,
               f"offer {', '.join(offer)}: 101 selecting exactly {w.SUBPROTOCOL}",
               f"{status} {headers}")
    status, headers, _ = w.raw_upgrade(
        H, p, extra={"Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits"})
    tap.ok(status == 101 and "sec-websocket-extensions" not in headers,
           "permessage-deflate offered: not accepted (no extension in the answer)", str(headers))


def check_traffic(d):
    p = d.http_port
    for path in ("/l2", "/eth"):
        with w.WsClient(H, p, path) as c:
            frame = eth_frame(100, b"PAYLOAD-MARKER-7f3a")
            c.send_tunnel(w.T_FRAME, frame)
            t, payload = c.recv_tunnel()
            tap.ok(t == w.T_FRAME and payload == mac_swapped(frame),
                   f"{path}: FRAME reflected with the MACs swapped")
            c.send_tunnel(w.T_PING, struct.pack(">Q", 1234567))
            t, payload = c.recv_tunnel()
            tap.ok(t == w.T_PONG and payload == struct.pack(">Q", 1234567),
                   f"{path}: PING answered with a PONG echoing its payload")
    with w.WsClient(H, p) as c:
        c.send_tunnel(w.T_PING, b"")
        tap.ok(c.recv_tunnel() == (w.T_PONG, b""), "empty PING answered")
        # Frames that arrive in one TCP segment each get their answer.
        c.send_raw(b"".join(w.encode_frame(w.OP_BINARY, w.tunnel(w.T_PING, bytes([i])))
                            for i in range(20)))
        got = [c.recv_tunnel() for _ in range(20)]
        tap.ok(got == [(w.T_PONG, bytes([i])) for i in range(20)],
               "20 PINGs in one write: 20 PONGs in order")
        # PONG and ERROR from the client are counted; unknown types ignored.
        before = (ws_m(d, "aero_ws_pongs_received_total"), ws_m(d, "aero_ws_rx_errors_total"),
                  ws_m(d, "aero_ws_rx_dropped_total", reason="unknown_type"))
        c.send_tunnel(w.T_PONG, b"x")
        c.send_tunnel(w.T_ERROR, w.error_payload(1, "SECRET-ERROR-TEXT"))
        c.send_tunnel(0x42, b"future message type")
        c.send_tunnel(w.T_PING, b"after")
        tap.ok(c.recv_tunnel() == (w.T_PONG, b"after"),
               "tunnel still answers after PONG, ERROR and an unknown type")
        after = (ws_m(d, "aero_ws_pongs_received_total"), ws_m(d, "aero_ws_rx_errors_total"),
                 ws_m(d, "aero_ws_rx_dropped_total", reason="unknown_type"))
        tap.ok(after == (before[0] + 1, before[1] + 1, before[2] + 1),
               "PONG, ERROR and unknown type counted", f"{before} -> {after}")
        # Frames sent right behind the upgrade request, before the 101.
    with socket.create_connection((H, p), timeout=5) as s:
        s.sendall(w.upgrade_request_text("/l2", H, p)
                  + w.encode_frame(w.OP_BINARY, w.tunnel(w.T_PING, b"early")))
        deadline = time.monotonic() + 5
        buf = b""
        while b"early" not in buf and time.monotonic() < deadline:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        tap.ok(b" 101 " in buf.split(b"\r\n")[0] and w.tunnel(w.T_PONG, b"early") in buf,
               "a PING sent with the upgrade request, before the 101, is answered")
    with w.WsClient(H, p) as c:
        # Flags bits are ignored on receipt.
        c.send_binary(w.tunnel(w.T_PING, b"flags", flags=0xFF))
        tap.ok(c.recv_tunnel() == (w.T_PONG, b"flags"), "unknown flag bits ignored")


def epoll_watched(pid):
    """The fds in the epoll sets of process PID (its shared watch source),
    from /proc/PID/fdinfo; None when it has no epoll fd."""
    import os
    total = None
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if "eventpoll" not in os.readlink(f"/proc/{pid}/fd/{fd}"):
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                total = (total or 0) + sum(1 for line in f if line.startswith("tfd:"))
        except OSError:
            continue
    return total


def check_quiet_tunnels_watched(d):
    """Each open tunnel's socket sits in the daemon's one epoll set (an
    AeroWatch), not in the poll() of every main-loop iteration; closed
    tunnels leave it, and with the last one only the listening socket (the
    core's accept loop) is left."""
    # Tunnels of the checks before may still be closing.
    wait_for(lambda: epoll_watched(d.pid) == 1, 5)
    before = epoll_watched(d.pid) or 0
    clients = [w.WsClient(H, d.http_port) for _ in range(20)]
    try:
        for i, c in enumerate(clients):
            c.send_tunnel(w.T_PING, bytes([i]))
            assert c.recv_tunnel() == (w.T_PONG, bytes([i]))
        during = epoll_watched(d.pid)
        tap.ok(during == before + 20, "20 open tunnels: 20 more fds in the epoll set",
               f"{before} -> {during}")
    finally:
        for c in clients:
            c.close()
    tap.ok(wait_for(lambda: (epoll_watched(d.pid) or 0) == before, 5),
           "closed tunnels leave the epoll set", f"{epoll_watched(d.pid)}")
    tap.ok(wait_for(lambda: epoll_watched(d.pid) == 1, 5),
           "with no tunnel left, only the listening socket is watched",
           f"{epoll_watched(d.pid)}")


def check_limits(d):
    p = d.http_port
    with w.WsClient(H, p) as c:
        frame = eth_frame(2048 - 14)
        c.send_tunnel(w.T_FRAME, frame)
        t, payload = c.recv_tunnel()
        tap.ok(t == w.T_FRAME and payload == mac_swapped(frame),
               "FRAME of exactly max-frame-payload (2048) reflected")
        c.send_tunnel(w.T_PING, b"p" * 256)
        tap.ok(c.recv_tunnel() == (w.T_PONG, b"p" * 256), "PING of exactly 256 bytes answered")
        before = ws_m(d, "aero_ws_rx_dropped_total", reason="oversize")
        c.send_tunnel(w.T_PING, b"p" * 257)
        c.send_tunnel(w.T_ERROR, b"e" * 1000)
        c.send_tunnel(w.T_PING, b"next")
        tap.ok(c.recv_tunnel() == (w.T_PONG, b"next"),
               "oversized control messages dropped, tunnel still open")
        tap.ok(ws_m(d, "aero_ws_rx_dropped_total", reason="oversize") == before + 2,
               "oversized control messages counted (reason=oversize)")

    # Above the largest message (4 + 2048): refused with ERROR 1 and 1009.
    with w.WsClient(H, p) as c:
        before = ws_m(d, "aero_ws_rx_dropped_total", reason="message_too_big")
        c.send_tunnel(w.T_FRAME, eth_frame(2049 - 14))
        code, reason, seen, how = c.read_until_close(5)
        errors = [w.parse_error(pl) for t, pl in seen if t == w.T_ERROR]
        tap.ok(how == "close" and code == 1009 and errors and errors[-1][0] == 1,
               "FRAME above the largest message: ERROR protocol_error, then close 1009",
               f"{how} {code} {reason} {seen}")
        tap.ok(ws_m(d, "aero_ws_rx_dropped_total", reason="message_too_big") == before + 1,
               "refused message counted (reason=message_too_big)")
    tap.ok(healthy(d), "daemon healthy after the refusal")


def check_limits_before_buffering(d):
    """max-frame-payload 1500, max-control-payload 2048: the largest message
    is 2052 bytes."""
    p = d.http_port
    with w.WsClient(H, p) as c:
        c.send_tunnel(w.T_FRAME, eth_frame(1501 - 14))
        c.send_tunnel(w.T_PING, b"q" * 2048)
        tap.ok(c.recv_tunnel() == (w.T_PONG, b"q" * 2048),
               "FRAME above max-frame-payload dropped; 2048-byte PING still answered")
        tap.ok(ws_m(d, "aero_ws_rx_dropped_total", reason="oversize") == 1,
               "oversized FRAME counted (reason=oversize)")
    with w.WsClient(H, p) as c:
        # Announce a 1 GiB message and send none of it: the refusal cannot
        # depend on having buffered the payload.
        c.send_raw(w.encode_frame(w.OP_BINARY, b"", length_override=1 << 30)[:14])
        start = time.monotonic()
        code, _, _, how = c.read_until_close(5)
        tap.ok(how == "close" and code == 1009,
               "1 GiB message announced: closed with 1009 from its header alone",
               f"{how} {code}")
        tap.diag(f"refused after {1000 * (time.monotonic() - start):.1f} ms")
    tap.ok(healthy(d), "daemon healthy")


def check_idle(d):
    p = d.http_port
    with w.WsClient(H, p) as quiet, w.WsClient(H, p) as busy:
        start = time.monotonic()
        stayed = True
        while time.monotonic() - start < 2.5:
            busy.send_tunnel(w.T_PING, b"keep")
            if busy.recv_tunnel() != (w.T_PONG, b"keep"):
                stayed = False
            time.sleep(0.3)
        code, _, _, how = quiet.read_until_close(3)
        elapsed = time.monotonic() - start
        tap.ok(how == "close" and code == 1000,
               "idle tunnel closed with 1000 after idle-timeout (1s)", f"{how} {code}")
        tap.diag(f"idle close observed after {elapsed:.2f} s")
        tap.ok(stayed, "a tunnel that pings every 0.3 s stays open past the timeout")
        busy.send_tunnel(w.T_PING, b"still")
        tap.ok(busy.recv_tunnel() == (w.T_PONG, b"still"), "busy tunnel still open")
    tap.ok(ws_m(d, "aero_ws_idle_closes_total") == 1, "idle close counted")
    tap.ok(wait_for(lambda: m(d, "aero_sessions_closed_total", reason="idle") == 1, 3),
           "session closed with reason idle")


def check_session_limit(d):
    p = d.http_port
    with w.WsClient(H, p) as first:
        try:
            w.WsClient(H, p).close()
            tap.ok(False, "second tunnel refused at the session limit")
        except w.Refused as e:
            tap.ok(e.status == 429, "second tunnel refused with 429 at the session limit",
                   str(e))
        first.send_tunnel(w.T_PING, b"1")
        tap.ok(first.recv_tunnel() == (w.T_PONG, b"1"), "first tunnel unaffected")
    tap.ok(ws_m(d, "aero_ws_tunnels_refused_total", reason="session_limit") == 1,
           "refusal counted (reason=session_limit)")


def check_shutdown(d):
    p = d.http_port
    polite = w.WsClient(H, p)
    stubborn = w.WsClient(H, p)
    try:
        for c in (polite, stubborn):
            c.send_tunnel(w.T_PING, b"up")
            c.recv_tunnel()
        d.send_signal(signal.SIGTERM)
        code, _, _, how = polite.read_until_close(5)
        tap.ok(how == "close" and code == 1001, "SIGTERM: tunnel closed with 1001",
               f"{how} {code}")
        # The stubborn client does not answer its close frame, so the daemon
        # waits (up to close-timeout): new upgrades meanwhile get 503.
        op, payload = stubborn.recv_message(5)
        tap.ok(op == w.OP_CLOSE and struct.unpack(">H", payload[:2])[0] == 1001,
               "second tunnel got close 1001 too")
        try:
            status = w.raw_upgrade(H, p)[0]
        except (OSError, w.Closed) as e:
            status = repr(e)
        tap.ok(status == 503, "upgrade during shutdown refused with 503", str(status))
        rc = d.wait(10)
        tap.ok(rc == 0, "aero-netd exited 0 after SIGTERM", f"rc={rc}")
    finally:
        polite.close()
        stubborn.close()


def check_logs(d):
    log = d.stderr()
    opened = [l for l in log.splitlines() if "tunnel opened" in l]
    closed = [l for l in log.splitlines() if "tunnel closed" in l]
    tap.ok(opened and all("peer=127.0.0.1:" in l and "session=" in l for l in opened),
           "one log line per tunnel open, with peer and session")
    tap.ok(closed and all("reason=" in l and "session=" in l and "peer=" in l for l in closed),
           "one log line per tunnel close, with peer, session and reason")
    tap.ok("SECRET-ERROR-TEXT" not in log and "PAYLOAD-MARKER-7f3a" not in log,
           "no payload bytes in the log")


def main():
    with aerotest.TempDir() as tmp:
        port = aerotest.free_port()
        with start_daemon(tmp, "main", ws_config(port), port) as d:
            tap.check("upgrades", check_upgrades, d)
            tap.check("traffic", check_traffic, d)
            tap.check("quiet tunnels watched", check_quiet_tunnels_watched, d)
            tap.check("limits", check_limits, d)
            tap.ok(healthy(d), "healthz answers")
            tap.check("shutdown", check_shutdown, d)
            tap.check("logs", check_logs, d)
            tap.ok(not criticals(d), "no criticals logged", "\n".join(criticals(d)))

        port = aerotest.free_port()
        cfg = ws_config(port, ws={"max-frame-payload": "1500", "max-control-payload": "2048"})
        with start_daemon(tmp, "limits", cfg, port) as d:
            tap.check("limits before buffering", check_limits_before_buffering, d)
            tap.ok(not criticals(d), "no criticals logged", "\n".join(criticals(d)))

        port = aerotest.free_port()
        with start_daemon(tmp, "idle", ws_config(port, ws={"idle-timeout": "1s"}), port) as d:
            tap.check("idle timeout", check_idle, d)
            tap.ok(not criticals(d), "no criticals logged", "\n".join(criticals(d)))

        port = aerotest.free_port()
        cfg = ws_config(port, core={"shutdown-timeout": "5s", "max-sessions": "1"})
        with start_daemon(tmp, "limit", cfg, port) as d:
            tap.check("session limit", check_session_limit, d)
    tap.done()


if __name__ == "__main__":
    main()
