#!/usr/bin/python3
"""transport-webrtc's configuration and signalling refusals, against the
real aero-netd: bad keys stop start-up with exit 2 naming the key; the
offer endpoint refuses wrong methods, missing or oversized bodies, bad
JSON and SDP without a DataChannel section; the signalling WebSocket
refuses other subprotocols and answers bad messages with an error; every
refusal is counted. TAP output."""

import json
import socket
import time

import aerotest
import wsclient

H = "127.0.0.1"
tap = aerotest.Tap()


def config(http_port, rtc=None, extra=()):
    groups = [
        ("core", {"shutdown-timeout": "3s"}),
        ("http", {"listen": f"{H}:{http_port}"}),
        ("log", {"level": "debug"}),
        ("admission", {"open": "true"}),
        ("lan", {"plugin": "test-reflect"}),
        ("rtc", dict({"plugin": "transport-webrtc", "stack": "lan"}, **(rtc or {}))),
    ]
    groups.extend(extra)
    return aerotest.ini(groups)


def check_bad_configs(tmp):
    cases = [
        ({"max-message-size": "128KiB"}, "max-message-size"),
        ({"max-message-size": "1KiB"}, "largest tunnel message"),
        ({"udp-max-payload": "65000", "max-message-size": "4KiB"}, "udp-max-payload"),
        ({"ice-servers": "http://example.com"}, "ice-servers"),
        ({"ice-servers": "turn://example.com:3478"}, "credentials"),
        ({"ice-servers": "stun://a:3478;stun://b:3478"}, "at most one stun"),
        ({"ice-local-addresses": "localhost"}, "ice-local-addresses"),
        ({"ice-port-range": "5000"}, "ice-port-range"),
        ({"offer-path": "webrtc"}, "offer-path"),
        ({"signal-path": "/metrics"}, "belongs to the core"),
        ({"offer-path": "", "signal-path": ""}, "no client could"),
        ({"udp-relay": "maybe"}, "udp-relay"),
        ({"max-peers": "0"}, "max-peers"),
        ({"connect-timeout": "soon"}, "connect-timeout"),
        ({"no-such-key": "1"}, "no-such-key"),
    ]
    for keys, expect in cases:
        path = tmp.file("bad.ini", config(aerotest.free_port(), keys))
        rc, _, err = aerotest.run_netd(["--config", path, "--check-config"])
        tap.ok(rc == 2 and "[rtc]" in err and expect in err,
               f"bad config {keys}: exit 2 naming {expect!r}", f"rc={rc} {err.strip()}")
    path = tmp.file("good.ini", config(aerotest.free_port(), {
        "ice-servers": "stun://stun.example.org:3478, turn://u:p@turn.example.org:3478",
        "ice-local-addresses": "127.0.0.1", "ice-port-range": "40000-40100",
        "max-message-size": "16KiB", "udp-relay": "off"}))
    rc, _, err = aerotest.run_netd(["--config", path, "--check-config"])
    tap.ok(rc == 0, "a complete valid configuration passes --check-config", err.strip())


def raw_http(port, text, timeout=5.0):
    """Sends TEXT and returns (status, body)."""
    with socket.create_connection((H, port), timeout=timeout) as s:
        s.sendall(text.encode() if isinstance(text, str) else text)
        data = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            if b"content-length:" in head.lower():
                n = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                if len(body) >= n:
                    break
    status = int(data.split(b" ", 2)[1]) if data else None
    return status, data.partition(b"\r\n\r\n")[2].decode(errors="replace")


def post(port, body, path="/webrtc/offer"):
    b = body.encode() if isinstance(body, str) else body
    return raw_http(port, f"POST {path} HTTP/1.1\r\nHost: {H}\r\nConnection: close\r\n"
                          f"Content-Type: application/json\r\nContent-Length: {len(b)}\r\n\r\n"
                    .encode() + b)


def check_offer_endpoint(d):
    p = d.http_port
    status, body = raw_http(p, f"GET /webrtc/offer HTTP/1.1\r\nHost: {H}\r\nConnection: close\r\n\r\n")
    tap.ok(status == 405 and "error" in body, "GET on the offer path: 405 with a JSON error",
           f"{status} {body}")
    status, body = raw_http(p, f"POST /webrtc/offer HTTP/1.1\r\nHost: {H}\r\nConnection: close\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    tap.ok(status == 411, "chunked POST without a length: 411", f"{status} {body}")
    big = b"x" * (1024 * 1024)
    rss_before = wsclient.rss_kib(d.pid)
    status, body = post(p, big)
    rss_after = wsclient.rss_kib(d.pid)
    tap.ok(status == 413, "a 1 MiB offer (limit 64 KiB): 413", f"{status} {body}")
    tap.ok(rss_before is None or wsclient.sanitized(d.pid) or rss_after - rss_before < 900,
           "the refused body was not kept in memory", f"{rss_before} -> {rss_after} KiB")
    status, body = post(p, "not json")
    tap.ok(status == 400 and "JSON" in body, "not JSON: 400", f"{status} {body}")
    status, body = post(p, json.dumps({"type": "answer", "sdp": "v=0"}))
    tap.ok(status == 400, "not an offer: 400", f"{status} {body}")
    status, body = post(p, json.dumps({"type": "offer", "sdp": "garbage"}))
    tap.ok(status == 400 and "SDP" in body, "an offer that is not SDP: 400", f"{status} {body}")
    audio_only = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
                  "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n")
    status, body = post(p, json.dumps({"type": "offer", "sdp": audio_only}))
    tap.ok(status == 400 and "DataChannel" in body, "an offer without a DataChannel section: 400",
           f"{status} {body}")
    samples = d.metrics()
    for reason, n in (("bad_method", 1), ("too_large", 2), ("bad_request", 4)):
        got = aerotest.metric(samples, "aero_webrtc_offers_refused_total", instance="rtc",
                              reason=reason)
        tap.ok(got == n, f"refusals counted: {reason} = {n}", f"got {got}")
    tap.ok(aerotest.metric(samples, "aero_webrtc_peers_active", instance="rtc") == 0,
           "no peer connection left behind")


def check_signal_endpoint(d):
    p = d.http_port
    status, _, body = wsclient.raw_upgrade(H, p, path="/webrtc/signal", protocols=("chat",))
    tap.ok(status == 400 and "aero-webrtc-signal-v1" in body,
           "signalling upgrade offering another subprotocol: 400", f"{status} {body}")
    status, _, _ = wsclient.raw_upgrade(H, p, path="/webrtc/signal", method="POST")
    tap.ok(status == 405, "POST on the signalling path: 405", str(status))
    with wsclient.WsClient(H, p, "/webrtc/signal", protocols=("aero-webrtc-signal-v1",
                                                              "aero-l2-token.x")) as c:
        tap.ok(c.protocol == "aero-webrtc-signal-v1", "subprotocol selected exactly")
        c.send_text(json.dumps({"type": "hello"}))
        op, payload = c.recv_message()
        msg = json.loads(payload)
        tap.ok(op == wsclient.OP_TEXT and msg.get("type") == "error",
               "an unknown message type is answered with an error", str(payload))
        c.send_text(json.dumps({"type": "offer", "sdp": "garbage"}))
        op, payload = c.recv_message()
        tap.ok(json.loads(payload).get("type") == "error", "a bad offer is answered with an error",
               str(payload))
        op, payload = c.recv_message()
        tap.ok(op == wsclient.OP_CLOSE and payload[:2] == b"\x03\xf0",
               "then the socket is closed with 1008", repr(payload))
    with wsclient.WsClient(H, p, "/webrtc/signal", protocols=()) as c:
        c.send_text("{not json")
        _, payload = c.recv_message()
        op, close = c.recv_message()
        tap.ok(op == wsclient.OP_CLOSE, "malformed JSON closes the signalling socket",
               repr(close))


def check_silent_socket(tmp):
    port = aerotest.free_port()
    d = aerotest.Daemon(tmp.file("silent.ini", config(port, {"connect-timeout": "1s"})), tmp.path,
                        http_port=port)
    try:
        d.wait_ready()
        with wsclient.WsClient(H, port, "/webrtc/signal", protocols=()) as c:
            _, payload = c.recv_message(timeout=5)
            op, close = c.recv_message(timeout=5)
            tap.ok(b"no offer" in payload and op == wsclient.OP_CLOSE,
                   "a signalling socket that sends no offer is closed after connect-timeout",
                   repr(payload))
    finally:
        rc = d.stop()
    tap.ok(rc == 0 and not d.criticals(), "clean exit", "\n".join(d.criticals()))


def main():
    with aerotest.TempDir() as tmp:
        check_bad_configs(tmp)
        port = aerotest.free_port()
        d = aerotest.Daemon(tmp.file("aero.ini", config(port)), tmp.path, http_port=port)
        try:
            d.wait_ready()
            tap.check("offer endpoint refusals", check_offer_endpoint, d)
            tap.check("signalling endpoint refusals", check_signal_endpoint, d)
            status, _, body = d.get("/metrics")
            for family in ("aero_webrtc_peers_active", "aero_webrtc_connect_timeouts_total",
                           "aero_webrtc_offers_refused_total", "aero_webrtc_rx_dropped_total",
                           "aero_webrtc_udp_dropped_total", "aero_webrtc_send_backlog_bytes"):
                tap.ok(f"# TYPE {family} " in body, f"/metrics declares {family}")
        finally:
            rc = d.stop()
        tap.ok(rc == 0, "aero-netd exits 0 on SIGTERM", str(rc))
        tap.ok(not d.criticals(), "no critical log lines", "\n".join(d.criticals()))
        check_silent_socket(tmp)
    tap.done()


if __name__ == "__main__":
    main()
