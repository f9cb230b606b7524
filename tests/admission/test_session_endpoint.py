#!/usr/bin/python3
"""test_session_endpoint — POST /session: the aero_session cookie
(HttpOnly, SameSite, Path, Max-Age; Secure under TLS), the JSON body with
the endpoints and the session's limits, CORS for allowed origins, refusals
(403 for an Origin that is not allowed, 405 for other methods), and the
cookie opening a tunnel, over ws:// and over wss:// with a self-signed
certificate made by openssl."""
import calendar
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import admtest  # noqa: E402
import aerotest  # noqa: E402
import wsclient  # noqa: E402

tap = admtest.Tap()
SECRET = "endpoint-test-session-secret-abcdefgh"


def attributes(set_cookie):
    parts = [p.strip() for p in set_cookie.split(";")]
    attrs = {}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        attrs[k.lower()] = v
    return parts[0], attrs


def check_answer(prefix, status, pairs, doc, cookie, lifetime, tls):
    tap.ok(status == 201, f"{prefix}: POST /session answers 201", str(status))
    tap.ok(admtest.header(pairs, "cache-control") == ["no-store"],
           f"{prefix}: Cache-Control: no-store")
    cookies = admtest.header(pairs, "set-cookie")
    tap.ok(len(cookies) == 1 and cookie, f"{prefix}: one aero_session cookie", str(cookies))
    if not cookies:
        return
    _, attrs = attributes(cookies[0])
    tap.ok("httponly" in attrs, f"{prefix}: HttpOnly", cookies[0])
    tap.ok(attrs.get("samesite") == "Lax", f"{prefix}: SameSite=Lax", cookies[0])
    tap.ok(attrs.get("path") == "/", f"{prefix}: Path=/", cookies[0])
    tap.ok(attrs.get("max-age") == str(lifetime), f"{prefix}: Max-Age={lifetime}", cookies[0])
    tap.ok(("secure" in attrs) == tls, f"{prefix}: Secure {'set' if tls else 'not set'}",
           cookies[0])
    tap.ok(cookie.count(".") == 1 and len(cookie.split(".")[1]) == 43,
           f"{prefix}: value is <payload>.<43-char signature>", cookie)
    tap.ok(doc is not None, f"{prefix}: the body is JSON")
    if doc is None:
        return
    expires = doc.get("session", {}).get("expiresAt", "")
    try:
        when = calendar.timegm(time.strptime(expires, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        when = 0
    tap.ok(abs(when - (time.time() + lifetime)) < 10,
           f"{prefix}: session.expiresAt is now + session-lifetime", expires)
    tap.ok(doc.get("endpoints") == {"l2": "/l2"}, f"{prefix}: endpoints lists l2 at /l2",
           str(doc.get("endpoints")))
    tap.ok(doc.get("limits", {}).get("l2") == {"maxFramePayloadBytes": 1500,
                                               "maxControlPayloadBytes": 200},
           f"{prefix}: limits.l2 carries the tunnel's payload limits",
           str(doc.get("limits")))
    tap.ok(doc.get("limits", {}).get("session") == {"maxTunnels": 2, "bytesPerSecond": 1048576,
                                                    "framesPerSecond": 5000,
                                                    "lifetimeSeconds": lifetime},
           f"{prefix}: limits.session carries the session's limits", str(doc.get("limits")))


def admission(extra=None):
    a = {"auth": "session", "session-secret": SECRET, "session-lifetime": "10min",
         "max-tunnels-per-session": "2", "bytes-per-second": "1M", "frames-per-second": "5000",
         "origins": "https://app.example"}
    a.update(extra or {})
    return a


WS = {"max-frame-payload": "1500", "max-control-payload": "200"}


def run_plain(tmp):
    port = aerotest.free_port()
    cfg = admtest.config(port, admission=admission(), ws=WS)
    with admtest.start(tmp, "plain", cfg, port) as d:
        status, pairs, doc, cookie = admtest.post_session(port, "https://app.example")
        check_answer("http", status, pairs, doc, cookie, 600, tls=False)
        tap.ok(admtest.header(pairs, "access-control-allow-origin") == ["https://app.example"] and
               admtest.header(pairs, "access-control-allow-credentials") == ["true"],
               "http: CORS headers for the allowed origin", str(pairs))
        try:
            with admtest.open_tunnel(port, origin="https://app.example",
                                     headers=[("Cookie", f"aero_session={cookie}")]) as t:
                tap.ok(admtest.reflect_roundtrip(t), "http: the cookie opens a tunnel")
        except wsclient.Refused as e:
            tap.ok(False, "http: the cookie opens a tunnel", f"{e.status} {e.body}")
        status, _, _, c2 = admtest.post_session(port, "https://evil.example")
        tap.ok(status == 403 and c2 is None, "http: another Origin gets 403 and no cookie",
               str(status))
        status, _, _ = admtest.http_request(port, "POST", "/session")[:3]
        tap.ok(status == 403, "http: no Origin gets 403", str(status))
        status, pairs, _ = admtest.http_request(port, "GET", "/session",
                                                [("Origin", "https://app.example")])
        tap.ok(status == 405 and "POST" in ",".join(admtest.header(pairs, "allow")),
               "http: GET /session is 405 with Allow: POST", str(status))
        status, pairs, _ = admtest.http_request(port, "OPTIONS", "/session",
                                                [("Origin", "https://app.example"),
                                                 ("Access-Control-Request-Method", "POST")])
        tap.ok(status == 204 and admtest.header(pairs, "access-control-allow-methods") == ["POST"],
               "http: a CORS preflight from the allowed origin is 204", str(status))
        issued = admtest.m(d, "aero_session_cookies_issued_total")
        tap.ok(issued == 1, "aero_session_cookies_issued_total is 1", str(issued))
        tap.ok(admtest.m(d, "aero_session_requests_refused_total", reason="origin_denied") == 1,
               "aero_session_requests_refused_total{reason=origin_denied} is 1")
        lines = [ln for ln in admtest.access_lines(d) if ln.get("path") == "/session"]
        tap.ok(any(ln.get("status") == "201" and ln.get("reason") == "session_issued"
                   for ln in lines) and
               any(ln.get("status") == "403" for ln in lines),
               "access log: the issued session and the refusal", str(lines))
        tap.ok(cookie not in d.stderr(), "the cookie value is not logged")
        tap.ok(d.stop() == 0, "http daemon exits 0")


def run_same_site(tmp):
    port = aerotest.free_port()
    cfg = admtest.config(port, admission=admission({"session-cookie-samesite": "strict"}))
    with admtest.start(tmp, "strict", cfg, port) as d:
        _, pairs, _, _ = admtest.post_session(port, "https://app.example")
        tap.ok(any("SameSite=Strict" in c for c in admtest.header(pairs, "set-cookie")),
               "session-cookie-samesite = strict gives SameSite=Strict")
        tap.ok(d.stop() == 0, "strict daemon exits 0")


def run_no_session_mode(tmp):
    port = aerotest.free_port()
    cfg = admtest.config(port, admission={"auth": "token", "token": "t0ken"})
    with admtest.start(tmp, "token", cfg, port) as d:
        status = admtest.http_request(port, "POST", "/session",
                                      [("Origin", admtest.same_origin(port))])[0]
        tap.ok(status == 404, "POST /session is not served when auth uses no session",
               str(status))
        tap.ok(d.stop() == 0, "token daemon exits 0")


def run_tls(tmp):
    pair = aerotest.make_certificate(tmp.path)
    if pair is None:
        tap.skip("TLS: POST /session and wss://", "openssl missing or failed")
        return
    cert, key = pair
    ctx = admtest.client_tls(cert)
    port = aerotest.free_port()
    origin = f"https://127.0.0.1:{port}"
    cfg = admtest.config(port, admission=admission({"origins": origin}), ws=WS,
                         http={"tls-certificate": cert, "tls-key": key})
    with admtest.start(tmp, "tls", cfg, port, tls=ctx, env=admtest.tls_env()) as d:
        status, pairs, doc, cookie = admtest.post_session(port, origin, tls=ctx)
        check_answer("https", status, pairs, doc, cookie, 600, tls=True)
        try:
            with admtest.open_tunnel(port, origin=origin, tls=ctx,
                                     headers=[("Cookie", f"aero_session={cookie}")]) as t:
                tap.ok(admtest.reflect_roundtrip(t), "wss: the cookie opens a tunnel over TLS")
        except wsclient.Refused as e:
            tap.ok(False, "wss: the cookie opens a tunnel over TLS", f"{e.status} {e.body}")
        status, _, _ = admtest.upgrade(port, origin=origin, tls=ctx)
        tap.ok(status == 401, "wss: without the cookie, 401", str(status))
        tap.ok(d.stop() == 0, "tls daemon exits 0")


def main():
    with aerotest.TempDir() as tmp:
        for func in (run_plain, run_same_site, run_no_session_mode, run_tls):
            try:
                func(tmp)
            except Exception:  # noqa: BLE001 - reported, then the next part runs
                import traceback
                tap.ok(False, f"{func.__name__} ran to completion", traceback.format_exc())
    tap.done()


if __name__ == "__main__":
    main()
