#!/usr/bin/python3
"""transport-ws send-queue bound: a client sends frames to test-reflect and
never reads what comes back. The daemon's RSS must stay under its start
figure + 32 MiB, the send backlog under send-queue, drops must be counted,
and once drops go on past backpressure-limit the tunnel ends with ERROR
backpressure (9) and close code 1008, which the client reads afterwards.
A client that reads in bursts loses frames but is not cut off. TAP output,
with the RSS figures as comments."""

import socket
import time

import aerotest
import wsclient as w
from wstest import Tap, criticals, eth_frame, healthy, start_daemon, ws_config, ws_m

H = "127.0.0.1"
tap = Tap()

SEND_QUEUE = 256 * 1024
RSS_BOUND_KIB = 32 * 1024
FLOOD_SECONDS = 10.0


def check_never_reads(d):
    # Warm up: one tunnel, one round trip, so that the start figure includes
    # the tunnel machinery.
    with w.WsClient(H, d.http_port) as c:
        c.send_tunnel(w.T_FRAME, eth_frame(100))
        c.recv_tunnel()
    rss_start = w.rss_kib(d.pid)
    rss_peak = rss_start
    backlog_peak = 0
    frame = w.encode_frame(w.OP_BINARY, w.tunnel(w.T_FRAME, eth_frame(1400)))
    batch = frame * 32
    sent = 0
    start = time.monotonic()
    ended_by = "time"

    c = w.WsClient(H, d.http_port, rcvbuf=16384)
    try:
        c.sock.settimeout(2.0)
        next_poll = 0.0
        while time.monotonic() - start < FLOOD_SECONDS:
            try:
                c.send_raw(batch)
            except socket.timeout:
                ended_by = "send blocked"
                break
            except OSError:
                ended_by = "connection closed"
                break
            sent += 32
            now = time.monotonic()
            if now >= next_poll:
                next_poll = now + 0.1
                rss_peak = max(rss_peak, w.rss_kib(d.pid) or 0)
                samples = d.metrics()
                backlog_peak = max(backlog_peak, aerotest.metric(
                    samples, "aero_ws_send_backlog_bytes", instance="ws") or 0)
                if (aerotest.metric(samples, "aero_ws_backpressure_closes_total",
                                    instance="ws") or 0) >= 1:
                    ended_by = "backpressure close"
                    break
        elapsed = time.monotonic() - start
        rss_peak = max(rss_peak, w.rss_kib(d.pid) or 0)
        drops = ws_m(d, "aero_ws_tx_dropped_total", reason="queue_full")
        tap.diag(f"sent {sent} frames ({sent * len(frame) >> 20} MiB) in {elapsed:.2f} s "
                 f"without reading; ended by: {ended_by}")
        tap.diag(f"RSS start {rss_start} KiB, peak {rss_peak} KiB, growth "
                 f"{rss_peak - rss_start} KiB (bound {RSS_BOUND_KIB} KiB)")
        tap.diag(f"send backlog peak {backlog_peak:.0f} bytes (send-queue {SEND_QUEUE}); "
                 f"tx drops {drops:.0f}")
        if w.sanitized(d.pid):
            tap.skip("RSS stayed under start + 32 MiB", "AddressSanitizer build")
        else:
            tap.ok(rss_peak - rss_start < RSS_BOUND_KIB, "RSS stayed under start + 32 MiB")
        tap.ok(backlog_peak <= SEND_QUEUE, "send backlog never above send-queue")
        tap.ok(drops > 1024, "frames to the peer dropped and counted (more than the limit)")
        tap.ok(ended_by == "backpressure close", "backpressure close counted",
               f"ended by {ended_by}")

        # Read everything that is left: the reflected frames, ERROR 9, 1008.
        code, reason, seen, how = c.read_until_close(10)
        frames = sum(1 for t, _ in seen if t == w.T_FRAME)
        errors = [w.parse_error(p) for t, p in seen if t == w.T_ERROR]
        tap.diag(f"read afterwards: {frames} frames, errors {errors}, then {how} {code}")
        tap.ok(errors and errors[-1][0] == 9 and seen[-1][0] == w.T_ERROR,
               "last message before the close is ERROR backpressure (9)")
        tap.ok(how == "close" and code == 1008, "tunnel closed with 1008", f"{how} {code}")
    finally:
        c.close()
    tap.ok(healthy(d), "daemon healthy")


def check_bursty_reader(d):
    """Bursts of 200 frames, each burst read back in full: some frames may be
    dropped while a burst is in flight, but the backlog drains each time,
    so the tunnel is never cut off."""
    before = ws_m(d, "aero_ws_backpressure_closes_total")
    with w.WsClient(H, d.http_port, rcvbuf=16384) as c:
        frame = w.encode_frame(w.OP_BINARY, w.tunnel(w.T_FRAME, eth_frame(1400)))
        received = 0
        for _ in range(10):
            c.send_raw(frame * 200)
            c.send_tunnel(w.T_PING, b"end")
            while True:
                t, _ = c.recv_tunnel(5)
                if t == w.T_PONG:
                    break
                received += 1
        tap.diag(f"bursty reader: {received} of 2000 frames came back")
        c.send_tunnel(w.T_PING, b"still")
        tap.ok(c.recv_tunnel(5) == (w.T_PONG, b"still"), "bursty reader still connected")
    tap.ok(ws_m(d, "aero_ws_backpressure_closes_total") == before,
           "no backpressure close for a reader that drains")


def main():
    with aerotest.TempDir() as tmp:
        port = aerotest.free_port()
        cfg = ws_config(port, ws={"send-queue": "256KiB", "backpressure-limit": "1024"})
        with start_daemon(tmp, "bp", cfg, port) as d:
            tap.check("never reads", check_never_reads, d)
            tap.check("bursty reader", check_bursty_reader, d)
            rc = d.stop()
            tap.ok(rc == 0, "daemon exits 0 on SIGTERM", f"rc={rc}")
            tap.ok(not criticals(d), "no criticals logged", "\n".join(criticals(d)[:5]))
    tap.done()


if __name__ == "__main__":
    main()
