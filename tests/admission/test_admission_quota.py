#!/usr/bin/python3
"""test_admission_quota — the tunnel quotas at upgrade time: with
`max-tunnels = 3` and `max-tunnels-per-session = 2`, a third tunnel of one
session (its aero_session cookie) is refused with 429, another session may
still open one until the process-wide quota is reached (429 again), and a
closed tunnel gives its place back. Each refusal is counted by reason and
logged, and /metrics shows the configured limits."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import admtest  # noqa: E402
import aerotest  # noqa: E402
import wsclient  # noqa: E402

tap = admtest.Tap()
SECRET = "quota-test-session-secret-0123456789"


def main():
    with aerotest.TempDir() as tmp:
        port = aerotest.free_port()
        cfg = admtest.config(port, admission={
            "auth": "session", "session-secret": SECRET, "max-tunnels": "3",
            "max-tunnels-per-session": "2"})
        origin = admtest.same_origin(port)
        tunnels = []
        with admtest.start(tmp, "quota", cfg, port) as d:
            try:
                cookies = []
                for _ in range(3):
                    status, _, _, cookie = admtest.post_session(port, origin)
                    cookies.append(cookie)
                tap.ok(all(cookies) and len(set(cookies)) == 3, "three sessions from POST /session")

                def open_with(cookie):
                    return admtest.open_tunnel(port, origin=origin,
                                               headers=[("Cookie", f"aero_session={cookie}")])

                def status_with(cookie):
                    return admtest.upgrade(port, origin=origin,
                                           headers=[("Cookie", f"aero_session={cookie}")])

                tunnels.append(open_with(cookies[0]))
                tunnels.append(open_with(cookies[0]))
                tap.ok(all(admtest.reflect_roundtrip(t) for t in tunnels),
                       "session A: two tunnels open and work")
                status, _, body = status_with(cookies[0])
                tap.ok(status == 429, "session A: a third tunnel is refused with 429",
                       f"{status} {body!r}")
                tunnels.append(open_with(cookies[1]))
                tap.ok(admtest.reflect_roundtrip(tunnels[-1]),
                       "session B: a tunnel opens (3 of max-tunnels 3)")
                status, _, body = status_with(cookies[2])
                tap.ok(status == 429, "session C: refused with 429 at max-tunnels",
                       f"{status} {body!r}")
                tap.ok(admtest.m(d, "aero_admission_tunnels_active") == 3,
                       "aero_admission_tunnels_active is 3")
                tap.ok(admtest.m(d, "aero_admission_refused_total",
                                 reason="quota_session_tunnels") == 1,
                       "aero_admission_refused_total{reason=quota_session_tunnels} is 1")
                tap.ok(admtest.m(d, "aero_admission_refused_total", reason="quota_tunnels") == 1,
                       "aero_admission_refused_total{reason=quota_tunnels} is 1")
                tap.ok(admtest.m(d, "aero_ws_tunnels_refused_total", instance="ws",
                                 reason="admission") == 2,
                       "transport-ws counts both as admission refusals")
                limits = {k: admtest.m(d, "aero_admission_limit", limit=k)
                          for k in ("max_tunnels", "max_tunnels_per_session")}
                tap.ok(limits == {"max_tunnels": 3, "max_tunnels_per_session": 2},
                       "aero_admission_limit shows the quotas", str(limits))

                # Closing one of A's tunnels gives its place back.
                t = tunnels.pop(0)
                t.send_close(1000)
                t.read_until_close(timeout=3)
                t.close()
                tap.ok(admtest.wait_for(lambda: admtest.m(d, "aero_admission_tunnels_active") == 2,
                                        5), "a closed tunnel is released (2 active)")
                status, _, _ = status_with(cookies[2])
                tap.ok(status == 101, "session C: admitted once there is room", str(status))
                tap.ok(admtest.wait_for(lambda: admtest.m(d, "aero_admission_tunnels_active") == 2,
                                        5), "the dropped tunnel of C is released too")
                tunnels.append(open_with(cookies[0]))
                tap.ok(admtest.reflect_roundtrip(tunnels[-1]),
                       "session A: a tunnel opens again after one closed")
                quota_lines = [ln for ln in admtest.access_lines(d) if ln.get("status") == "429"]
                tap.ok(len(quota_lines) == 2 and
                       {ln.get("reason") for ln in quota_lines} ==
                       {"quota_tunnels", "quota_session_tunnels"},
                       "access log: the two 429s with their reasons", str(quota_lines))
            except wsclient.Refused as e:
                tap.ok(False, "every expected tunnel opened", f"{e.status} {e.body!r}")
            finally:
                for t in tunnels:
                    t.close()
            tap.ok(d.stop() == 0, "exits 0")
    tap.done()


if __name__ == "__main__":
    main()
