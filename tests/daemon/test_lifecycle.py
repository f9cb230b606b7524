#!/usr/bin/python3
"""test_lifecycle — graceful shutdown on SIGTERM and SIGINT.

With a connected test-stream client whose polite close takes close-delay:

  * during the drain /readyz answers 503 (aero_ready 0) while /healthz
    still answers 200;
  * new connections to the transport are refused or closed at once;
  * the server closes the client's connection, after close-delay;
  * the process exits 0 as soon as every channel reported closed, well
    before shutdown-timeout;
  * when close-delay is longer than shutdown-timeout, the process still
    exits 0 once shutdown-timeout has passed.
"""

import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aerotest  # noqa: E402
from aerotest import StreamClient, metric  # noqa: E402

MARGIN = 3.0   # seconds allowed beyond the configured bounds


def frame(marker):
    return aerotest.udp_frame("52:54:00:12:34:56", "52:55:0a:00:02:02", "10.0.2.15",
                              "10.0.2.2", 1000, 2000, marker.encode())


def connected_client(port):
    """A client whose session is known to be up (a frame went round)."""
    c = StreamClient(port)
    c.send_frame(frame("hello"))
    c.recv_frame()
    return c


def new_connection_refused(port, timeout=2.0):
    """True when a new connection is refused, or accepted and then closed
    by the server without serving a frame, within TIMEOUT."""
    try:
        c = StreamClient(port, timeout=timeout)
    except ConnectionRefusedError:
        return "refused"
    except OSError as e:
        return f"failed: {e}"
    with c:
        try:
            c.send_frame(frame("late"))
        except OSError:
            return "closed"
        return "closed" if c.wait_closed(timeout) else None


def run_drain(tap, tmp, signum, close_delay_ms):
    name = signal.Signals(signum).name
    http_port, stream_port = aerotest.free_port(), aerotest.free_port()
    config = tmp.file(f"drain-{name}.ini", aerotest.stream_config(
        http_port, stream_port, "test-reflect",
        core={"shutdown-timeout": "10s"},
        stream_keys={"close-delay": f"{close_delay_ms}ms"}))
    delay = close_delay_ms / 1000.0
    with aerotest.Daemon(config, tmp.path, http_port=http_port) as d:
        d.wait_ready()
        client = connected_client(stream_port)
        with client:
            t0 = time.monotonic()
            d.send_signal(signum)

            ready = aerotest.poll_until(
                lambda: aerotest.http_status("127.0.0.1", http_port, "/readyz") == 503, 1.0)
            tap.ok(ready, f"{name}: /readyz answers 503 during the drain")
            tap.ok(aerotest.http_status("127.0.0.1", http_port, "/healthz") == 200,
                   f"{name}: /healthz still answers 200 during the drain")
            try:
                s = d.metrics()
                tap.ok(metric(s, "aero_ready") == 0 and metric(s, "aero_sessions_active") == 1,
                       f"{name}: during the drain aero_ready is 0 and the session is still open",
                       f"aero_ready={metric(s, 'aero_ready')} "
                       f"aero_sessions_active={metric(s, 'aero_sessions_active')}")
            except Exception as e:  # noqa: BLE001
                tap.ok(False, f"{name}: /metrics answers during the drain", repr(e))
            how = new_connection_refused(stream_port, timeout=min(1.0, delay / 2))
            still_draining = d.running() and time.monotonic() - t0 < delay
            tap.ok(how in ("refused", "closed") and still_draining,
                   f"{name}: a new connection during the drain is refused or closed ({how})",
                   f"outcome {how}, daemon running {d.running()}, "
                   f"{time.monotonic() - t0:.2f}s after the signal")

            closed = client.wait_closed(delay + MARGIN)
            t_closed = time.monotonic() - t0
            tap.ok(closed, f"{name}: the server closes the client's connection "
                           f"({t_closed:.2f}s after the signal)")
            tap.ok(t_closed >= delay - 0.2,
                   f"{name}: the close waited for close-delay ({delay}s)", f"{t_closed:.2f}s")

        rc = d.wait(MARGIN)
        t_exit = time.monotonic() - t0
        tap.ok(rc == 0, f"{name}: exit status 0", f"rc={rc}\n{d.stderr()}")
        tap.ok(not d.criticals(), f"{name}: no critical log lines", "\n".join(d.criticals()))
        tap.ok(rc is not None and t_exit < delay + MARGIN,
               f"{name}: exits once the channel closed ({t_exit:.2f}s), "
               "without waiting for shutdown-timeout (10s)")


def run_timeout(tap, tmp):
    http_port, stream_port = aerotest.free_port(), aerotest.free_port()
    config = tmp.file("timeout.ini", aerotest.stream_config(
        http_port, stream_port, "test-reflect",
        core={"shutdown-timeout": "1s"}, stream_keys={"close-delay": "30s"}))
    with aerotest.Daemon(config, tmp.path, http_port=http_port) as d:
        d.wait_ready()
        with connected_client(stream_port) as client:
            t0 = time.monotonic()
            d.send_signal(signal.SIGTERM)
            rc = d.wait(1.0 + MARGIN)
            t_exit = time.monotonic() - t0
            tap.ok(rc == 0, "shutdown-timeout 1s, close-delay 30s: exit status 0",
                   f"rc={rc}\n{d.stderr()}")
            tap.ok(rc is not None and 0.8 <= t_exit < 1.0 + MARGIN,
                   f"shutdown-timeout 1s: exits after about 1s ({t_exit:.2f}s)")
            tap.ok(client.wait_closed(2.0), "shutdown-timeout: the client's connection is gone")
        tap.ok(not d.criticals(), "shutdown-timeout: no critical log lines",
               "\n".join(d.criticals()))


def run_idle(tap, tmp):
    http_port, stream_port = aerotest.free_port(), aerotest.free_port()
    config = tmp.file("idle.ini", aerotest.stream_config(http_port, stream_port))
    with aerotest.Daemon(config, tmp.path, http_port=http_port) as d:
        d.wait_ready()
        t0 = time.monotonic()
        rc = d.stop(timeout=MARGIN)
        t_exit = time.monotonic() - t0
        tap.ok(rc == 0 and t_exit < 2.0,
               f"without sessions SIGTERM exits 0 promptly ({t_exit:.2f}s)",
               f"rc={rc}\n{d.stderr()}")
        try:
            with socket.create_connection(("127.0.0.1", stream_port), timeout=1.0):
                listening = True
        except OSError:
            listening = False
        tap.ok(not listening, "after exit nothing listens on the transport port")


def main():
    tap = aerotest.Tap()
    with aerotest.TempDir() as tmp:
        parts = [
            lambda: run_drain(tap, tmp, signal.SIGTERM, 1500),
            lambda: run_drain(tap, tmp, signal.SIGINT, 1500),
            lambda: run_timeout(tap, tmp),
            lambda: run_idle(tap, tmp),
        ]
        for i, part in enumerate(parts):
            try:
                part()
            except Exception:  # noqa: BLE001 - report and go on with the next part
                import traceback
                tap.ok(False, f"lifecycle part {i + 1} ran to completion", traceback.format_exc())
    tap.done()


if __name__ == "__main__":
    main()
