#!/usr/bin/env python3
"""test_policy_guest — the egress policy seen by a real Linux guest.

The server aero-netd (transport-ws on several paths, each with its own
policy instance, in front of one stack-slirp) and the guests' bridges all
run inside a private network namespace whose only interface is lo, which
also holds the "host's own address": nothing the guests send can leave it. Each guest is a namespace with a TAP device (policyguest.py).

Guest 1 (/main: safe mode, the virtual service 10.0.2.100 allowed,
max-tcp-flows = 4, deny-names = *.blocked.test) gets a lease, pings the
gateway, resolves and fetches from the virtual service, and is refused
quickly — a reset or an ICMP error, never a timeout — on loopback (a raw
SYN to 127.0.0.1, and the gateway's host-loopback path), private
(10.x, 192.168.x), link-local (169.254.169.254) and the host's own address;
names that rebind to 127.0.0.1 or 169.254.169.254 come back without them;
its fifth concurrent connection is reset. Guest 2 (/rate) hits
new-flows-per-second, guest 3 (/quota) spends bytes-quota-down and guest 4
(/fps) exceeds frames-per-second: the server closes their sessions with
quota_bytes and quota_fps.

Needs root, /dev/net/tun, ip and busybox: skips (TAP `1..0 # SKIP`) without.
"""
import http.server
import os
import signal
import socketserver
import sys
import threading
import time

import aerotest
import policycore
import policyguest

QUICK_MS = 1000  # a refusal must arrive well before any TCP timeout
HOST_ADDRESS = "172.32.255.77"  # on lo inside the private namespace
SERVICE = "10.0.2.100"


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class ThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def policy(**keys):
    base = {"plugin": "policy", "allow": f"{SERVICE}:80, {SERVICE}:7000",
            "deny-names": "*.blocked.test"}
    base.update({k.replace("_", "-"): v for k, v in keys.items()})
    return base


def refused_quickly(tap, r, what, want="ECONNREFUSED"):
    return tap.ok(not r["ok"] and r["errno"] == want and r["ms"] < QUICK_MS,
                  f"{what}: {want} after {r['ms']:.1f} ms", repr(r))


def denials(server, instance, reason):
    return aerotest.metric(server.metrics(), "aero_policy_denials_total", instance=instance,
                           reason=reason) or 0


def guest_main(tap, tmp, prefix, server, base_url):
    g = policyguest.Guest(tmp, prefix, 1, base_url + "/main")
    try:
        tap.ok(True, "guest 1: a namespace with a TAP bridged to /main")
        r, lease = g.dhcp()
        tap.ok(lease == "10.0.2.15", f"DHCP through the policy gives a lease ({lease})",
               r.stdout.decode() + r.stderr.decode() + g.bridge.stderr())
        if lease is None:
            return
        if os.path.exists("/usr/bin/ping"):
            r = g.exec(["ping", "-c", "2", "-W", "2", "10.0.2.2"])
            tap.ok(r.returncode == 0, "ICMP to the gateway passes", r.stdout.decode())
        else:
            tap.skip("ICMP to the gateway passes", "ping not installed")
        res = g.probe("resolve", "web.aero.test")[0]
        tap.ok(res["addresses"] == [SERVICE], f"DNS: web.aero.test resolves to {SERVICE}",
               repr(res))
        r = g.exec(["timeout", "10", "busybox", "wget", "-q", "-O", "-",
                    "http://web.aero.test/index.html"])
        tap.ok(b"hello through the policy" in r.stdout,
               "an allowed virtual service works (HTTP through 10.0.2.100:80)", r.stderr.decode())

        # Refusals, timed from the guest's side.
        for host, port, what, instance_reason in [
                ("10.0.2.2", 22, "the gateway (host-loopback path) 10.0.2.2:22", "private"),
                ("10.1.2.3", 80, "private 10.1.2.3:80", "private"),
                ("192.168.1.1", 443, "private 192.168.1.1:443", "private"),
                ("169.254.169.254", 80, "link-local cloud metadata 169.254.169.254:80",
                 "link_local"),
                (HOST_ADDRESS, 80, f"the host's own address {HOST_ADDRESS}:80", "host_address"),
                (SERVICE, 22, f"the virtual service address on a port not allowed ({SERVICE}:22)",
                 "private")]:
            before = denials(server, "p-main", instance_reason)
            refused_quickly(tap, g.probe("connect", host, port)[0], what)
            tap.ok(denials(server, "p-main", instance_reason) > before,
                   f"... counted as aero_policy_denials_total{{reason=\"{instance_reason}\"}}")
        raw = g.probe("rawsyn", g.dev, "127.0.0.1", 8090)[0]
        tap.ok(raw["flags"] == 0x14 and raw["ack_ok"] and raw["ms"] < QUICK_MS,
               f"loopback 127.0.0.1:8090 (a SYN written by hand): RST|ACK after {raw['ms']:.1f} ms",
               repr(raw))
        udp = g.probe("udp", "10.1.2.3", 53)[0]
        tap.ok(udp["errno"] == "EHOSTUNREACH" and udp["ms"] < QUICK_MS,
               f"UDP to 10.1.2.3:53: ICMP administratively prohibited, EHOSTUNREACH after "
               f"{udp['ms']:.1f} ms", repr(udp))
        res = g.probe("resolve", "x.blocked.test")[0]
        tap.ok(not res["ok"] and res["ms"] < QUICK_MS,
               f"a denied name fails to resolve at once ({res['ms']:.1f} ms)", repr(res))

        # DNS rebinding: static names of the stack pointing at blocked addresses.
        for name in ("rebind-loop.test", "rebind-meta.test"):
            res = g.probe("resolve", name)[0]
            tap.ok(res["addresses"] == [], f"{name} is answered without its blocked address",
                   repr(res))
        res = g.probe("resolve", "mixed.test")[0]
        tap.ok(res["addresses"] == [SERVICE], "mixed.test keeps only its allowed address",
               repr(res))
        r = g.exec(["timeout", "10", "busybox", "wget", "-q", "-O", "-", "http://rebind-meta.test/"])
        tap.ok(r.returncode != 0, "wget http://rebind-meta.test/ fails")
        tap.ok(denials(server, "p-main", "rebinding") >= 3,
               "stripped addresses are counted as reason rebinding")
        refused_quickly(tap, g.probe("connect", "169.254.169.254", 80)[0],
                        "and a connection to that address is refused anyway")

        # The HTTP connections above were closed by the server first: the
        # stack keeps each host socket through its TIME_WAIT (10 s), and so
        # does the count.
        freed = aerotest.poll_until(
            lambda: aerotest.metric(server.metrics(), "aero_policy_flows_active",
                                    instance="p-main", protocol="tcp") == 0, 25.0, 0.5)
        tap.ok(freed, "TCP flows the server closed first stop counting once the stack's "
                      "TIME_WAIT is over")

        # Concurrent TCP flows.
        res = g.probe("hold", SERVICE, 7000, 5, 1, timeout=30)[0]["results"]
        tap.ok(all(x["ok"] for x in res[:4]), "max-tcp-flows = 4: four connections open",
               repr(res))
        refused_quickly(tap, res[4], "the fifth concurrent connection")
        tap.ok(denials(server, "p-main", "tcp_flow_limit") >= 1,
               "counted as reason tcp_flow_limit")
        deadline = time.monotonic() + 10
        ok = False
        while time.monotonic() < deadline and not ok:
            ok = g.probe("connect", SERVICE, 7000)[0]["ok"]
            time.sleep(0.2)
        tap.ok(ok, "once they are closed, connections open again")
    finally:
        g.close()


def guest_rate(tap, tmp, prefix, server, base_url):
    g = policyguest.Guest(tmp, prefix, 2, base_url + "/rate")
    try:
        r, lease = g.dhcp()
        tap.ok(lease == "10.0.2.15", f"guest 2 on /rate gets a lease ({lease})",
               r.stderr.decode())
        if lease is None:
            return
        time.sleep(3)  # let the bucket fill after DHCP
        res = g.probe("burst", SERVICE, 80, 10)[0]["results"]
        passed = sum(1 for x in res if x["ok"])
        refused = [x for x in res if not x["ok"]]
        tap.ok(5 <= passed <= 7 and refused and
               all(x["errno"] == "ECONNREFUSED" and x["ms"] < QUICK_MS for x in refused),
               f"new-flows-per-second = 2, burst 5: {passed} of 10 connects in a row pass, the "
               f"rest are reset at once", repr(res))
        tap.ok(denials(server, "p-rate", "new_flow_rate") >= 1,
               "counted as reason new_flow_rate")
        time.sleep(1.5)
        tap.ok(g.probe("connect", SERVICE, 80)[0]["ok"], "a moment later a new connection opens")
    finally:
        g.close()


def closed_sessions(server, reason):
    return aerotest.metric(server.metrics(), "aero_sessions_closed_total", reason=reason) or 0


def guest_quota(tap, tmp, prefix, server, base_url):
    g = policyguest.Guest(tmp, prefix, 3, base_url + "/quota")
    try:
        r, lease = g.dhcp()
        tap.ok(lease == "10.0.2.15", f"guest 3 on /quota gets a lease ({lease})", r.stderr.decode())
        if lease is None:
            return
        start = time.monotonic()
        r = g.exec(["sh", "-c", f"timeout 8 busybox wget -q -O - http://{SERVICE}/blob | wc -c"],
                   timeout=60)
        got = int((r.stdout.decode().split() or ["0"])[0])
        tap.ok(got < 2 * 1024 * 1024,
               f"bytes-quota-down = 1M: a 4 MiB download stops at {got} bytes "
               f"({time.monotonic() - start:.1f} s)")
        n = aerotest.poll_until(lambda: closed_sessions(server, "quota_bytes"), 5.0)
        tap.ok(n == 1, "the server closed the tunnel: aero_sessions_closed_total"
                       "{reason=\"quota_bytes\"} = 1", repr(n))
        s = server.metrics()
        tap.ok(aerotest.metric(s, "aero_policy_quota_closes_total", instance="p-quota",
                               kind="bytes_down") == 1,
               "aero_policy_quota_closes_total{kind=\"bytes_down\"} = 1")
        tap.ok("quota_bytes" in g.bridge.stderr() or "1008" in g.bridge.stderr(),
               "the bridge saw the tunnel end with quota_bytes", g.bridge.stderr()[-2000:])
    finally:
        g.close()


def guest_fps(tap, tmp, prefix, server, base_url):
    g = policyguest.Guest(tmp, prefix, 4, base_url + "/fps")
    try:
        r, lease = g.dhcp()
        tap.ok(lease == "10.0.2.15", f"guest 4 on /fps gets a lease ({lease})", r.stderr.decode())
        if lease is None:
            return
        flood = g.probe("dnsflood", "10.0.2.3", "web.aero.test", 400)[0]
        n = aerotest.poll_until(lambda: closed_sessions(server, "quota_fps"), 5.0)
        tap.ok(n == 1, f"frames-per-second = 50, burst 100: {flood['sent']} queries in "
                       f"{flood['ms']:.0f} ms end the session with quota_fps", repr(n))
        s = server.metrics()
        tap.ok(aerotest.metric(s, "aero_policy_quota_closes_total", instance="p-fps",
                               kind="fps") == 1, "aero_policy_quota_closes_total{kind=\"fps\"} = 1")
    finally:
        g.close()


def inner():
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(128 + s))
    prefix = os.environ["POLICY_GUEST_PREFIX"]
    tap = aerotest.Tap()
    httpd = hold = None
    with aerotest.TempDir("policy-guest-") as tmp:
        try:
            www = os.path.join(tmp.path, "www")
            os.makedirs(www)
            with open(os.path.join(www, "index.html"), "w") as f:
                f.write("<h1>hello through the policy</h1>\n")
            with open(os.path.join(www, "blob"), "wb") as f:
                f.write(os.urandom(4 * 1024 * 1024))
            http_port = aerotest.free_port()
            handler = lambda *a, **kw: Handler(*a, directory=www, **kw)  # noqa: E731
            httpd = ThreadingServer(("127.0.0.1", http_port), handler)
            threading.Thread(target=httpd.serve_forever, daemon=True).start()
            hold = policyguest.HoldServer()

            server_http = aerotest.free_port()
            groups = [
                ("core", {"shutdown-timeout": "2s"}),
                ("http", {"listen": f"127.0.0.1:{server_http}"}),
                ("log", {"level": "info"}),
            ] + policycore.admission(open="true") + [  # the bridges send no Origin
                ("lan", {"plugin": "stack-slirp"}),
                ("lan.dns", {"web.aero.test": SERVICE, "rebind-loop.test": "127.0.0.1",
                             "rebind-meta.test": "169.254.169.254",
                             "mixed.test": f"{SERVICE}, 127.0.0.1"}),
                ("lan.services", {f"tcp:{SERVICE}:80": f"127.0.0.1:{http_port}",
                                  f"tcp:{SERVICE}:7000": f"127.0.0.1:{hold.port}"}),
                ("p-main", policy(max_tcp_flows="4")),
                ("p-rate", policy(new_flows_per_second="2", new_flows_burst="5")),
                ("p-quota", policy(bytes_quota_down="1M")),
                ("p-fps", policy(frames_per_second="50", frames_burst="100")),
            ]
            for name in ("main", "rate", "quota", "fps"):
                groups.append((f"t-{name}", {"plugin": "transport-ws", "stack": "lan",
                                             "filters": f"p-{name}", "paths": f"/{name}"}))
            config = tmp.file("server.ini", aerotest.ini(groups))
            with aerotest.Daemon(config, tmp.path, http_port=server_http) as server:
                server.wait_ready()
                base = f"ws://127.0.0.1:{server_http}"
                for func in (guest_main, guest_rate, guest_quota, guest_fps):
                    policyguest.guarded(tap, func.__name__, server, func, tap, tmp, prefix, server,
                                        base)
                tap.ok(not server.criticals(), "no criticals in the server's log",
                       "\n".join(server.criticals()))
        finally:
            if httpd:
                httpd.shutdown()
            if hold:
                hold.close()
    tap.done()


if __name__ == "__main__":
    policyguest.main(inner, "aeropol", HOST_ADDRESS)
