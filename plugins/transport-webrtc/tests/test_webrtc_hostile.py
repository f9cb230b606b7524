#!/usr/bin/python3
"""Signalling messages whose members have the wrong JSON types, against the
real aero-netd on loopback: a number, an object or an array where a string
is expected is a bad request (400 on the offer endpoint; an error, then
1008, on the signalling WebSocket), counted as bad_request, never a crash
and never a GLib critical. A flood of unusable messages on the signalling
WebSocket gets 16 errors, then 1008. TAP output."""

import http.client
import json
import socket

import aerotest
import wsclient

H = "127.0.0.1"
tap = aerotest.Tap()


def config(http_port):
    return aerotest.ini([
        ("core", {"shutdown-timeout": "3s"}),
        ("http", {"listen": f"{H}:{http_port}"}),
        ("log", {"level": "debug"}),
        ("admission", {"open": "true"}),
        ("lan", {"plugin": "test-reflect"}),
        ("rtc", {"plugin": "transport-webrtc", "stack": "lan"}),
    ])


def post(port, body):
    """POSTs BODY as an offer; returns (status, body text)."""
    conn = http.client.HTTPConnection(H, port, timeout=5)
    try:
        conn.request("POST", "/webrtc/offer", body.encode(),
                     {"Content-Type": "application/json", "Connection": "close"})
        r = conn.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        conn.close()


def check_offer_endpoint(d):
    bodies = [
        {"type": "offer", "sdp": {}},
        {"type": "offer", "sdp": [1]},
        {"type": "offer", "sdp": 7},
        {"type": 1, "sdp": "v=0"},
        {"type": ["offer"], "sdp": "v=0"},
        {"type": None, "sdp": "v=0"},
    ]
    for body in bodies:
        status, text = post(d.http_port, json.dumps(body))
        try:
            error = json.loads(text).get("error")
        except ValueError:
            error = None
        tap.ok(status == 400 and isinstance(error, str),
               f"POST {json.dumps(body)}: 400 with a JSON error", f"{status} {text}")
    tap.ok(d.running(), "the daemon survives the offers", d.stderr()[-3000:])
    got = aerotest.metric(d.metrics(), "aero_webrtc_offers_refused_total", instance="rtc",
                          reason="bad_request")
    tap.ok(got == len(bodies), f"each counted as bad_request ({len(bodies)})", f"got {got}")


def ws_exchange(port, obj, close_wait=5.0):
    """Sends OBJ on a fresh signalling socket; returns (the first reply as
    JSON or None, the close code or None if none came within CLOSE_WAIT)."""
    reply, code = None, None
    with wsclient.WsClient(H, port, "/webrtc/signal", protocols=()) as c:
        c.send_text(json.dumps(obj))
        try:
            op, payload = c.recv_message(timeout=5)
            if op == wsclient.OP_TEXT:
                reply = json.loads(payload)
                op, payload = c.recv_message(timeout=close_wait)
            if op == wsclient.OP_CLOSE and len(payload) >= 2:
                code = int.from_bytes(payload[:2], "big")
        except (socket.timeout, wsclient.Closed):
            pass
    return reply, code


def check_signal_endpoint(d):
    before = aerotest.metric(d.metrics(), "aero_webrtc_offers_refused_total", instance="rtc",
                             reason="bad_request")
    refused = [
        {"type": 1},
        {"type": True},
        {"type": {"kind": "offer"}},
        {"type": "offer", "sdp": [1]},
        {"type": "offer", "sdp": {"sdp": "v=0"}},
        {"type": "offer", "sdp": 0},
    ]
    for obj in refused:
        reply, code = ws_exchange(d.http_port, obj)
        tap.ok(reply is not None and reply.get("type") == "error" and code == 1008,
               f"WS {json.dumps(obj)}: an error, then 1008", f"{reply} {code}")
    # A candidate is not an offer: answered with an error, the socket stays open.
    reply, code = ws_exchange(d.http_port, {"type": "candidate", "candidate": 5}, close_wait=1.0)
    tap.ok(reply is not None and reply.get("type") == "error" and code is None,
           'WS {"type":"candidate","candidate":5}: an error, the socket stays open',
           f"{reply} {code}")
    tap.ok(d.running(), "the daemon survives the messages", d.stderr()[-3000:])
    got = aerotest.metric(d.metrics(), "aero_webrtc_offers_refused_total", instance="rtc",
                          reason="bad_request")
    tap.ok(got == before + len(refused), f"each refused offer counted as bad_request",
           f"{before} -> {got}")


def check_unusable_flood(d):
    """Unusable messages are answered with an error 16 times; the 17th is
    refused with a last error and 1008, counted as bad_request. A client
    that floods them and never reads gets no more answers queued."""
    before = aerotest.metric(d.metrics(), "aero_webrtc_offers_refused_total", instance="rtc",
                             reason="bad_request")
    unusable = wsclient.encode_frame(wsclient.OP_TEXT, b'{"type":"x"}')
    with wsclient.WsClient(H, d.http_port, "/webrtc/signal", protocols=()) as c:
        c.sock.sendall(unusable * 40)
        errors, code, last = 0, None, None
        try:
            while True:
                op, payload = c.recv_message(timeout=5)
                if op == wsclient.OP_TEXT:
                    errors += 1
                    last = json.loads(payload)
                elif op == wsclient.OP_CLOSE:
                    code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
                    break
        except (socket.timeout, wsclient.Closed):
            pass
    tap.ok(errors == 17 and code == 1008 and "too many" in (last or {}).get("message", ""),
           "40 unusable signalling messages: 16 errors, a 17th, then 1008",
           f"{errors} errors, close {code}, last {last}")
    got = aerotest.metric(d.metrics(), "aero_webrtc_offers_refused_total", instance="rtc",
                          reason="bad_request")
    tap.ok(got == before + 1, "the socket counted as bad_request", f"{before} -> {got}")

    # 1 MiB (signal-max-bytes) of them from a client that does not read
    # meanwhile: what it finds queued for it afterwards is all the daemon
    # kept.
    c = wsclient.WsClient(H, d.http_port, "/webrtc/signal", protocols=(), rcvbuf=4096)
    try:
        batch = unusable * 1000
        for _ in range(1024 * 1024 // len(batch)):
            c.sock.sendall(batch)
    except OSError:
        pass  # the daemon may have stopped reading: that is fine too
    answers, code = 0, None
    try:
        while answers <= 100:
            op, payload = c.recv_message(timeout=3)
            if op == wsclient.OP_TEXT:
                answers += 1
            elif op == wsclient.OP_CLOSE:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
                break
    except (socket.timeout, wsclient.Closed, OSError):
        pass
    c.sock.close()
    tap.ok(answers == 17 and code == 1008,
           "a flood of 1 MiB without reading leaves 17 answers queued, then 1008",
           f"{answers} answers, close {code}")


def main():
    with aerotest.TempDir() as tmp:
        port = aerotest.free_port()
        with aerotest.Daemon(tmp.file("aero.ini", config(port)), tmp.path, http_port=port) as d:
            d.wait_ready()
            tap.check("offer endpoint: members of the wrong type", check_offer_endpoint, d)
            tap.check("signalling socket: members of the wrong type", check_signal_endpoint, d)
            tap.check("signalling socket: unusable messages", check_unusable_flood, d)
            rc = d.stop() if d.running() else d.poll()
            tap.ok(rc == 0, "aero-netd exits 0 on SIGTERM", str(rc))
            tap.ok(not d.criticals(), "no critical log lines", "\n".join(d.criticals()))
    tap.done()


if __name__ == "__main__":
    main()
