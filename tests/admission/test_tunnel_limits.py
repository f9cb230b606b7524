#!/usr/bin/python3
"""test_tunnel_limits — the per-tunnel rate limits of [admission], applied
by the core to every session with the shared token-bucket limiter:

  frames-per-second: a client that sends faster than the rate (past the
    burst) gets ERROR quota_fps (7) and WebSocket close 1008; the session
    closes with reason quota_fps;
  bytes-per-second: frames past the byte budget are dropped and counted,
    in both directions, and the tunnel stays up.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import admtest  # noqa: E402
import aerotest  # noqa: E402
import wsclient  # noqa: E402

tap = admtest.Tap()


def run_fps(tmp):
    port = aerotest.free_port()
    cfg = admtest.config(port, admission={"open": "true", "frames-per-second": "20",
                                          "frames-burst": "20"})
    with admtest.start(tmp, "fps", cfg, port) as d:
        with admtest.open_tunnel(port) as t:
            tap.ok(admtest.reflect_roundtrip(t), "fps: a tunnel under the limit works")
            msg = admtest.frame_msg(admtest.eth_frame(60))
            for _ in range(100):
                try:
                    t.send_binary(msg)
                except OSError:
                    break
            code, _, seen, how = t.read_until_close(timeout=5)
        errors = [wsclient.parse_error(p) for typ, p in seen if typ == wsclient.T_ERROR]
        frames = [p for typ, p in seen if typ == wsclient.T_FRAME]
        tap.ok(any(c == 7 for c, _ in errors), "fps: ERROR quota_fps (7) before the close",
               str(errors))
        tap.ok(how == "close" and code == 1008, "fps: close code 1008", f"{how} {code}")
        tap.ok(len(frames) <= 21, f"fps: at most the burst came back ({len(frames)} frames)")
        tap.ok(admtest.wait_for(lambda: admtest.m(d, "aero_sessions_closed_total",
                                                  reason="quota_fps") == 1, 5),
               "fps: aero_sessions_closed_total{reason=quota_fps} is 1")
        tap.ok(admtest.m(d, "aero_session_rate_limit_closes_total") == 1,
               "fps: aero_session_rate_limit_closes_total is 1")
        tap.ok(admtest.m(d, "aero_admission_limit", limit="frames_per_second") == 20,
               "fps: aero_admission_limit{limit=frames_per_second} is 20")
        # A slow client is never cut off.
        with admtest.open_tunnel(port) as t:
            ok = True
            for _ in range(10):
                ok = ok and admtest.reflect_roundtrip(t)
                time.sleep(0.06)
        tap.ok(ok, "fps: a client under the rate keeps its tunnel")
        tap.ok(d.stop() == 0, "fps daemon exits 0")


def run_bytes(tmp):
    port = aerotest.free_port()
    cfg = admtest.config(port, admission={"open": "true", "bytes-per-second": "4k",
                                          "bytes-burst": "8k"})
    with admtest.start(tmp, "bytes", cfg, port) as d:
        with admtest.open_tunnel(port) as t:
            msg = admtest.frame_msg(admtest.eth_frame(986))  # 1000-byte frames
            for _ in range(30):
                t.send_binary(msg)
            got = 0
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline:
                try:
                    typ, _ = t.recv_tunnel(timeout=max(0.05, deadline - time.monotonic()))
                except Exception:  # noqa: BLE001 - a timeout ends the count
                    break
                if typ == wsclient.T_FRAME:
                    got += 1
            tap.ok(8 <= got <= 16, f"bytes: about the 8 KiB burst came back ({got} of 30 frames)")
            dropped = admtest.m(d, "aero_session_rate_limit_drops_total", direction="from_guest")
            tap.ok(dropped >= 14, f"bytes: frames over the budget dropped and counted ({dropped})")
            tap.ok(admtest.m(d, "aero_session_drops_total", direction="from_guest") >= dropped,
                   "bytes: they count as session drops too")
            t.send_tunnel(wsclient.T_PING, b"still-up")
            typ, payload = t.recv_tunnel(timeout=3, skip_types=(wsclient.T_FRAME,))
            tap.ok(typ == wsclient.T_PONG and payload == b"still-up",
                   "bytes: the tunnel stays up (PING answered)")
            time.sleep(1.2)
            tap.ok(admtest.reflect_roundtrip(t, size=986),
                   "bytes: after a second the budget has refilled")
        tap.ok(admtest.m(d, "aero_sessions_closed_total", reason="quota_bytes") == 0,
               "bytes: no session closed for it")
        tap.ok(d.stop() == 0, "bytes daemon exits 0")


def main():
    with aerotest.TempDir() as tmp:
        for func in (run_fps, run_bytes):
            try:
                func(tmp)
            except Exception:  # noqa: BLE001 - reported, then the next part runs
                import traceback
                tap.ok(False, f"{func.__name__} ran to completion", traceback.format_exc())
    tap.done()


if __name__ == "__main__":
    main()
