#!/usr/bin/python3
"""transport-ws in client mode, with two aero-netd processes on loopback:
A serves tunnels (transport-ws server + test-arp answering for 10.0.2.2),
B keeps a tunnel to A (transport-ws client + test-probe, which ARPs for
10.0.2.2 and counts the replies). Replies counted on B prove that frames
cross the tunnel both ways. Also: keepalive PING/PONG, reconnection with
backoff after A restarts, a peer that stops answering PINGs, the token
and Origin sent, refusals, configuration errors, and SIGTERM. TAP output."""

import signal
import time

import aerotest
import wsclient as w
from wstest import Tap, criticals, start_daemon, wait_for, ws_config, ws_m, m

tap = Tap()


def a_config(port):
    return ws_config(port, stack="test-arp", stack_keys={"address": "10.0.2.2"})


def b_config(port, url, **ws):
    keys = {"mode": "client", "url": url, "keepalive": "300ms", "reconnect-min": "100ms",
            "reconnect-max": "800ms", "connect-timeout": "2s"}
    keys.update(ws)
    return ws_config(port, stack="test-probe", stack_keys={"target": "10.0.2.2",
                                                             "interval": "50ms"}, ws=keys)


def replies(b):
    return m(b, "aero_test_probe_replies_total")


def check_crossing_and_keepalive(a, b):
    tap.ok(wait_for(lambda: replies(b) >= 10, 10),
           "B's probe gets ARP replies from A's stack through the tunnel",
           f"replies={replies(b)}")
    tap.ok(ws_m(a, "aero_ws_tunnels_accepted_total") == 1, "A accepted one tunnel")
    tap.ok(ws_m(b, "aero_ws_client_connects_total", result="ok") == 1, "B connected once")
    tap.ok(wait_for(lambda: ws_m(a, "aero_ws_pings_answered_total") >= 3, 5),
           "B pings every keepalive interval and A answers")
    tap.ok(ws_m(b, "aero_ws_pongs_received_total") >= 2
           and ws_m(b, "aero_ws_client_pings_sent_total") >= 3,
           "B counts its PINGs and the PONGs")
    tap.ok(ws_m(b, "aero_ws_client_keepalive_timeouts_total") == 0, "no keepalive timeout")
    tap.ok(ws_m(b, "aero_ws_tx_messages_total") > 10
           and ws_m(b, "aero_ws_rx_messages_total") > 10, "B's tunnel traffic counted")


def check_reconnect(tmp, a, b, port_a):
    rc = a.stop()
    tap.ok(rc == 0, "A stopped with SIGTERM, exit 0", f"rc={rc}")
    tap.ok(wait_for(lambda: m(b, "aero_sessions_closed_total", reason="normal") >= 1, 5),
           "B's session closed when A closed the tunnel (1001)")
    tap.ok(wait_for(lambda: ws_m(b, "aero_ws_client_connects_total", result="failed") >= 2, 5),
           "B keeps trying while A is down (failures counted)")
    down = time.monotonic()
    failed_before = ws_m(b, "aero_ws_client_connects_total", result="failed")
    time.sleep(1.5)
    failed_during = ws_m(b, "aero_ws_client_connects_total", result="failed") - failed_before
    # With reconnect-min 100ms and reconnect-max 800ms, 1.5 s holds at most
    # 15 attempts at the minimum; the backoff must make it far fewer.
    tap.diag(f"{failed_during:.0f} failed attempts in 1.5 s with A down")
    tap.ok(1 <= failed_during <= 8, "attempts spaced out by the backoff")
    replies_before = replies(b)
    a2 = start_daemon(tmp, "a2", a_config(port_a), port_a)
    try:
        tap.ok(wait_for(lambda: ws_m(b, "aero_ws_client_connects_total", result="ok") == 2, 5),
               "B reconnected once A was back")
        tap.diag(f"reconnected {time.monotonic() - down:.2f} s after A went down")
        tap.ok(ws_m(b, "aero_ws_client_reconnects_total") == 1, "reconnect counted")
        tap.ok(wait_for(lambda: replies(b) >= replies_before + 5, 5),
               "frames cross the new tunnel")
        tap.ok(ws_m(a2, "aero_ws_tunnels_accepted_total") == 1, "new A accepted the tunnel")
        # SIGTERM on B: it closes its tunnel politely; A sees a normal close.
        rc = b.stop()
        tap.ok(rc == 0, "B exits 0 on SIGTERM", f"rc={rc}")
        tap.ok(wait_for(lambda: ws_m(a2, "aero_ws_tunnels_closed_total", reason="normal") == 1,
                        5), "A saw the tunnel closed normally")
        tap.ok(not criticals(a2), "no criticals logged by A", "\n".join(criticals(a2)[:5]))
        rc = a2.stop()
        tap.ok(rc == 0, "A exits 0", f"rc={rc}")
    finally:
        a2.kill_if_running()


def check_dead_peer(tmp):
    fake_port = aerotest.free_port()
    port = aerotest.free_port()
    with w.FakeTunnelServer(fake_port, answer_pings=False) as fake:
        url = f"ws://127.0.0.1:{fake_port}/l2?x=1"
        cfg = b_config(port, url, token="s3cret-T0ken", origin="https://vm.example.com")
        with start_daemon(tmp, "dead", cfg, port) as b:
            tap.ok(wait_for(lambda: ws_m(b, "aero_ws_client_keepalive_timeouts_total") >= 1, 5),
                   "no PONG within the keepalive interval: connection dropped")
            tap.ok(wait_for(lambda: len(fake.snapshot()) >= 2, 5),
                   "B dialled again after dropping the dead connection")
            first = fake.snapshot()[0]
            h = first["headers"]
            tap.ok(h.get("sec-websocket-protocol") == "aero-l2-tunnel-v1, aero-l2-token.s3cret-T0ken",
                   "offered aero-l2-tunnel-v1 and the token entry", str(h))
            tap.ok(h.get("origin") == "https://vm.example.com", "Origin header sent")
            pings = [p for t, p in first["messages"] if t == w.T_PING]
            tap.ok(pings and all(len(p) == 8 for p in pings),
                   "keepalive PINGs carry an 8-byte timestamp")
            frames = [p for t, p in first["messages"] if t == w.T_FRAME]
            tap.ok(frames and frames[0][12:14] == b"\x08\x06", "probe ARP requests sent as FRAMEs")
            log = b.stderr()
            tap.ok("s3cret-T0ken" not in log, "token not in the log")
            rc = b.stop()
            tap.ok(rc == 0, "B exits 0", f"rc={rc}")


def check_refused(tmp):
    """A server that refuses (wrong path: 404) is retried with backoff."""
    port_a = aerotest.free_port()
    port_b = aerotest.free_port()
    with start_daemon(tmp, "ra", a_config(port_a), port_a) as a:
        cfg = b_config(port_b, f"ws://127.0.0.1:{port_a}/nowhere")
        with start_daemon(tmp, "rb", cfg, port_b) as b:
            tap.ok(wait_for(lambda: ws_m(b, "aero_ws_client_connects_total",
                                         result="failed") >= 3, 5),
                   "404 answer: connection attempts fail and are retried")
            log = b.stderr()
            tap.ok("server answered 404" in log, "refusal status in the log")
            tap.ok(log.count("cannot open the tunnel") == 1,
                   "one warning for the streak of failures")
            tap.ok(b.stop() == 0 and a.stop() == 0, "both exit 0")


def check_wss(tmp):
    """A serves TLS with a self-signed certificate; B trusts it through
    tls-ca. Another B without tls-ca refuses A's certificate."""
    made = aerotest.make_certificate(tmp.path)
    if made is None:
        tap.skip("wss:// tunnel", "openssl not available")
        return
    cert, key = made
    port_a = aerotest.free_port()
    port_b = aerotest.free_port()
    port_c = aerotest.free_port()
    cfg_a = a_config(port_a).replace(f"listen = 127.0.0.1:{port_a}",
                                     f"listen = 127.0.0.1:{port_a}\ntls-certificate = {cert}\n"
                                     f"tls-key = {key}")
    path = tmp.file("tls-a.ini", cfg_a)
    with aerotest.Daemon(path, tmp.path, http_port=port_a) as a:
        import ssl
        ctx = ssl.create_default_context(cafile=cert)
        a.wait_ready(tls_context=ctx)
        url = f"wss://127.0.0.1:{port_a}/l2"
        with start_daemon(tmp, "tls-b", b_config(port_b, url, **{"tls-ca": cert}), port_b) as b, \
                start_daemon(tmp, "tls-c", b_config(port_c, url), port_c) as c:
            tap.ok(wait_for(lambda: replies(b) >= 5, 10),
                   "wss://: frames cross a TLS tunnel (certificate trusted through tls-ca)",
                   b.stderr()[-2000:])
            tap.ok(wait_for(lambda: ws_m(c, "aero_ws_client_connects_total",
                                         result="failed") >= 1, 5)
                   and ws_m(c, "aero_ws_client_connects_total", result="ok") == 0,
                   "wss:// without tls-ca: the self-signed certificate is refused")
            tap.ok(b.stop() == 0 and c.stop() == 0, "clients exit 0")
        rc = a.stop()
        if rc != 0 and "LeakSanitizer has encountered a fatal error" in a.stderr():
            # LeakSanitizer cannot stop the TLS worker threads where ptrace is
            # not allowed; a TLS daemon without transport-ws does the same.
            tap.skip("TLS server exits 0", "LeakSanitizer could not run in this process")
        else:
            tap.ok(rc == 0, "TLS server exits 0", f"rc={rc}")
        tap.ok(not criticals(a), "no criticals logged by the TLS server",
               "\n".join(criticals(a)[:5]))


def check_config_errors(tmp):
    port = aerotest.free_port()
    cases = [
        ({"mode": "client"}, "url"),
        ({"mode": "client", "url": "http://127.0.0.1:1/l2"}, "url"),
        ({"mode": "client", "url": "ws://127.0.0.1:1/l2", "paths": "/l2"}, "paths"),
        ({"url": "ws://127.0.0.1:1/l2"}, "url"),
        ({"mode": "client", "url": "ws://127.0.0.1:1/l2", "token": "a b"}, "token"),
        ({"mode": "client", "url": "ws://127.0.0.1:1/l2", "reconnect-min": "2s",
          "reconnect-max": "1s"}, "reconnect-max"),
        ({"paths": "l2"}, "paths"),
        ({"max-frame-payload": "100000"}, "max-frame-payload"),
        ({"max-frame-payload": "65535", "send-queue": "16KiB"}, "send-queue"),
        ({"mode": "relay"}, "mode"),
        ({"mode": "client", "url": "ws://127.0.0.1:1/l2", "tls-ca": "/etc/hostname"}, "tls-ca"),
        ({"mode": "client", "url": "wss://127.0.0.1:1/l2", "tls-ca": "/nonexistent.pem"},
         "tls-ca"),
    ]
    for keys, key in cases:
        path = tmp.file("bad.ini", ws_config(port, ws=keys))
        rc, _, err = aerotest.run_netd(["--config", path, "--check-config"])
        tap.ok(rc == 2 and "[ws]" in err and key in err,
               f"invalid {keys}: exit 2 naming [ws] {key}", f"rc={rc} {err.strip()}")
    path = tmp.file("good.ini", b_config(port, "wss://example.com/l2", token="abc"))
    rc, out, err = aerotest.run_netd(["--config", path, "--check-config"])
    tap.ok(rc == 0, "valid client configuration accepted by --check-config", err)


def main():
    with aerotest.TempDir() as tmp:
        port_a = aerotest.free_port()
        port_b = aerotest.free_port()
        a = start_daemon(tmp, "a", a_config(port_a), port_a)
        try:
            b = start_daemon(tmp, "b", b_config(port_b, f"ws://127.0.0.1:{port_a}/l2"), port_b)
            try:
                tap.check("frames cross, keepalive", check_crossing_and_keepalive, a, b)
                tap.ok(not criticals(a), "no criticals logged by A", "\n".join(criticals(a)[:5]))
                tap.check("reconnect", check_reconnect, tmp, a, b, port_a)
                tap.ok(not criticals(b), "no criticals logged by B", "\n".join(criticals(b)[:5]))
            finally:
                b.kill_if_running()
        finally:
            a.kill_if_running()
        tap.check("dead peer", check_dead_peer, tmp)
        tap.check("refused", check_refused, tmp)
        tap.check("wss", check_wss, tmp)
        tap.check("configuration errors", check_config_errors, tmp)
    tap.done()


if __name__ == "__main__":
    main()
