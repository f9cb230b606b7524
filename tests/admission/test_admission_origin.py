#!/usr/bin/python3
"""test_admission_origin — every case of ../shared/vectors/origin.json at
upgrade time, against a real aero-netd with transport-ws.

normalize cases: the daemon allows exactly the expected normalised origins;
a valid raw Origin must be upgraded (101), an invalid one refused with 403
(a value with a line break cannot be sent in a header at all; that case
is skipped here and checked by admission-vectors). allow cases: one daemon
per allow list, the request's Host header set to the case's requestHost;
an allowed origin gets 101, anything else 403 (a Host header that is not
a valid HTTP host is refused by libsoup before admission: 400 or 404). Also: a missing Origin is 403
unless the deployment is in open mode, and every attempt writes one access
line with the verdict and the reason.
"""
import ipaddress
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import admtest  # noqa: E402
import aerotest  # noqa: E402

tap = admtest.Tap()
VECTORS = os.environ.get("AERO_VECTORS_DIR", "")


def load_vectors():
    path = os.path.join(VECTORS, "origin.json")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def http_can_carry(raw):
    """Whether RAW can be sent as a header value at all: a line break ends
    the header, so the server would see another value."""
    return "\n" not in raw and "\r" not in raw


def http_host_valid(host):
    """Whether libsoup takes HOST as a Host header at all; it answers 400
    or 404 itself for a Host with a path, query or fragment part or a
    bracketed name that is not an IPv6 address, before any handler runs."""
    if any(c in host for c in "?#/"):
        return False
    if host.startswith("["):
        inside = host[1:host.find("]")] if "]" in host else ""
        try:
            ipaddress.IPv6Address(inside)
        except ValueError:
            return False
    return True


def run_normalize(tmp, vectors):
    cases = vectors["normalize"]
    expected = sorted({c["normalizedOrigin"] for c in cases if not c.get("expectError")})
    port = aerotest.free_port()
    cfg = admtest.config(port, admission={"origins": ", ".join(expected)})
    with admtest.start(tmp, "normalize", cfg, port) as d:
        for c in cases:
            raw = c["rawOriginHeader"]
            status, _, body = admtest.upgrade(port, origin=raw)
            if not c.get("expectError"):
                tap.ok(status == 101, f"normalize {c['name']}: {raw!r} is allowed as "
                       f"{c['normalizedOrigin']} (101)", f"status {status} {body!r}")
            elif http_can_carry(raw):
                tap.ok(status == 403, f"normalize {c['name']}: {raw!r} refused with 403",
                       f"status {status} {body!r}")
            else:
                tap.skip(f"normalize {c['name']}: {raw!r}",
                         "a line break cannot be sent inside a header (admission-vectors "
                         "checks the value itself)")
        status, _, _ = admtest.upgrade(port, origin=None)
        tap.ok(status == 403, "a missing Origin is refused with 403", f"status {status}")
        lines = admtest.access_lines(d)
        reasons = {ln.get("reason") for ln in lines}
        tap.ok({"admitted", "origin_invalid", "origin_missing"} <= reasons,
               "access log: admitted, origin_invalid and origin_missing lines", str(reasons))
        tap.ok(admtest.m(d, "aero_admission_refused_total", reason="origin_missing") == 1,
               "aero_admission_refused_total{reason=origin_missing} is 1")
        tap.ok(d.stop() == 0, "normalize daemon exits 0")


def run_allow(tmp, vectors):
    groups = {}
    for c in vectors["allow"]:
        groups.setdefault(tuple(c["allowedOrigins"]), []).append(c)
    for allowed, cases in groups.items():
        port = aerotest.free_port()
        adm = {"origins": ", ".join(allowed)} if allowed else {}
        cfg = admtest.config(port, admission=adm)
        label = ",".join(allowed) or "(same host)"
        with admtest.start(tmp, "allow", cfg, port) as d:
            for c in cases:
                status, _, body = admtest.upgrade(port, origin=c["rawOriginHeader"],
                                                  host=c["requestHost"])
                want = 101 if c["expectAllowed"] else 403
                if not c["expectAllowed"] and not http_host_valid(c["requestHost"]):
                    tap.ok(status in (400, 404), f"allow [{label}] {c['name']}: Host "
                           f"{c['requestHost']!r} is refused by HTTP itself ({status})",
                           f"status {status} {body!r}")
                    continue
                tap.ok(status == want, f"allow [{label}] {c['name']}: Host {c['requestHost']!r}, "
                       f"Origin {c['rawOriginHeader']!r} -> {want}", f"status {status} {body!r}")
            denied = [ln for ln in admtest.access_lines(d) if ln.get("verdict") == "refused"]
            tap.ok(all(ln.get("status") == "403" and ln.get("reason", "").startswith("origin_")
                       for ln in denied),
                   f"allow [{label}]: every refusal is logged with status 403 and an origin_* "
                   "reason", "\n".join(map(str, denied)))
            tap.ok(d.stop() == 0, f"allow [{label}] daemon exits 0")


def run_open_mode(tmp):
    port = aerotest.free_port()
    cfg = admtest.config(port, admission={"open": "true", "origins": "https://app.example"})
    with admtest.start(tmp, "open", cfg, port) as d:
        for origin in (None, "https://evil.example", "not an origin"):
            status, _, _ = admtest.upgrade(port, origin=origin)
            tap.ok(status == 101, f"open mode admits Origin {origin!r}", f"status {status}")
        tap.ok("OPEN MODE" in d.stderr(), "open mode is logged loudly at start")
        tap.ok(d.stop() == 0, "open daemon exits 0")


def run_access_fields(tmp):
    port = aerotest.free_port()
    cfg = admtest.config(port, admission={"origins": "https://app.example"})
    with admtest.start(tmp, "fields", cfg, port) as d:
        admtest.upgrade(port, origin="https://app.example")
        admtest.upgrade(port, origin="https://evil.example")
        lines = admtest.access_lines(d)
        tap.ok(len(lines) == 2, "one access line per upgrade attempt", str(lines))
        ok = len(lines) == 2
        for ln in lines:
            ok = ok and all(k in ln for k in ("peer", "principal", "origin", "verdict", "reason",
                                              "status"))
            ok = ok and ln["peer"].startswith("127.0.0.1:")
        tap.ok(ok, "access lines carry peer, principal, origin, verdict, reason and status",
               str(lines))
        tap.ok(len(lines) == 2 and lines[0]["verdict"] == "admitted" and lines[0]["status"] == "101"
               and lines[0]["origin"] == "https://app.example",
               "admitted: verdict admitted, status 101, the normalised origin", str(lines[:1]))
        tap.ok(len(lines) == 2 and lines[1]["verdict"] == "refused"
               and lines[1]["reason"] == "origin_denied",
               "denied: verdict refused, reason origin_denied", str(lines[1:]))
        status, _, _ = admtest.upgrade(port, origin="https://app.example",
                                       headers=[("Origin", "https://app.example")])
        tap.ok(status == 403, "two Origin headers are refused (403)", str(status))
        tap.ok(d.stop() == 0, "fields daemon exits 0")


def main():
    vectors = load_vectors()
    with aerotest.TempDir() as tmp:
        for func, needs in ((run_normalize, True), (run_allow, True), (run_open_mode, False),
                            (run_access_fields, False)):
            if needs and vectors is None:
                tap.skip(func.__name__, f"vectors not found in {VECTORS!r}")
                continue
            try:
                func(tmp, vectors) if needs else func(tmp)
            except Exception:  # noqa: BLE001 - reported, then the next part runs
                import traceback
                tap.ok(False, f"{func.__name__} ran to completion", traceback.format_exc())
    tap.done()


if __name__ == "__main__":
    main()
