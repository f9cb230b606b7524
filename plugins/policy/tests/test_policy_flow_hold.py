#!/usr/bin/env python3
"""test_policy_flow_hold — a flow keeps counting as long as the stack can
hold its host socket.

The flow limits are there to bound the host sockets one guest makes
stack-slirp open. libslirp 4.7 keeps a UDP socket 240 s after its last
datagram and an idle TCP connection for ever (it has no keep-alive), so
forgetting a flow sooner lets a guest go past its limit. A real Linux guest
(policyguest.py; everything inside a private namespace with only lo) on one
policy instance, max-tcp-flows = 2, max-udp-flows = 1,
tcp-idle-timeout = 10s:

- UDP: a datagram to the virtual service 10.0.2.100:53 (port 53: an
  answered lookup would stop counting 15 s after its answer) that nobody
  answers. 21 s later the
  flow still counts, so a datagram from another port is refused, and the
  host service sees one host socket only; the stack did keep the first one
  (a datagram from the first port leaves from the same host port).
- TCP: two connections left idle past tcp-idle-timeout are reset on both
  sides: the guest's sockets see ECONNRESET and the host's end of each is
  closed; two new connections then open, and the host never held more than
  two at once.

Needs root, /dev/net/tun, ip and busybox: skips (TAP `1..0 # SKIP`) without.
Runs about 30 s.
"""
import json
import os
import socket
import subprocess
import threading
import time

import aerotest
import policycore
import policyguest

HOST_ADDRESS = "172.32.255.78"  # on lo inside the private namespace
SERVICE = "10.0.2.100"
DNS_FORGET_S = 21  # past the 15 s an answered lookup would count
TCP_IDLE_S = 18    # tcp-idle-timeout 10 s, sweeping every 5 s


class UdpRecorder:
    """A silent UDP service: records the source port of every datagram."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.sources = []
        self.running = True
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while self.running:
            try:
                _, addr = self.sock.recvfrom(2048)
            except socket.timeout:
                continue
            except OSError:
                return
            self.sources.append(addr[1])

    def close(self):
        self.running = False
        self.thread.join(timeout=2)
        self.sock.close()


def active(server, protocol):
    return aerotest.metric(server.metrics(), "aero_policy_flows_active", instance="p-hold",
                           protocol=protocol)


def denials(server, reason):
    return aerotest.metric(server.metrics(), "aero_policy_denials_total", instance="p-hold",
                           reason=reason) or 0


def run_guest(tap, tmp, prefix, server, url, udp, hold):
    g = policyguest.Guest(tmp, prefix, 1, url)
    idle = None
    try:
        r, lease = g.dhcp()
        tap.ok(lease == "10.0.2.15", f"the guest gets a lease ({lease})", r.stderr.decode())
        if lease is None:
            return

        # TCP: two connections left idle, in the background.
        idle = subprocess.Popen(
            ["ip", "netns", "exec", g.ns, policyguest.PYTHON, policyguest.PROBE, "idle", SERVICE,
             "7000", "2", str(TCP_IDLE_S)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)

        # UDP: an unanswered datagram to port 53.
        start = time.monotonic()
        first = g.probe("udpfrom", 40001, SERVICE, 53, 1)[0]
        tap.ok(first["errno"] == "timeout", "UDP from port 40001 to 10.0.2.100:53 passes "
                                            "(nobody answers)", repr(first))
        got = aerotest.poll_until(lambda: len(udp.sources) >= 1, 3.0)
        tap.ok(got, "the host service got it", repr(udp.sources))
        tap.ok(active(server, "udp") == 1, "aero_policy_flows_active{udp} = 1")
        time.sleep(max(0.0, DNS_FORGET_S - (time.monotonic() - start)))

        second = g.probe("udpfrom", 40002, SERVICE, 53, 1)[0]
        tap.ok(second["errno"] == "EHOSTUNREACH",
               f"{DNS_FORGET_S} s later, unanswered, it still counts: "
               "a UDP flow from port 40002 is refused (max-udp-flows = 1)", repr(second))
        tap.ok(denials(server, "udp_flow_limit") >= 1, "... counted as reason udp_flow_limit")
        tap.ok(active(server, "udp") == 1, "aero_policy_flows_active{udp} is still 1")
        again = g.probe("udpfrom", 40001, SERVICE, 53, 1)[0]
        tap.ok(again["errno"] == "timeout", "port 40001 may still send (its own socket)",
               repr(again))
        aerotest.poll_until(lambda: len(udp.sources) >= 2, 3.0)
        tap.ok(len(udp.sources) >= 2 and udp.sources[-1] == udp.sources[0],
               "the stack still held that socket: the datagram left from the same host port",
               repr(udp.sources))
        tap.ok(len(set(udp.sources)) == 1,
               "the host service saw one host socket only, as max-udp-flows = 1 says",
               repr(udp.sources))

        # TCP: the idle connections.
        try:
            out, err = idle.communicate(timeout=TCP_IDLE_S + 20)
        except subprocess.TimeoutExpired:
            idle.kill()
            out, err = idle.communicate()
        lines = [ln for ln in out.decode().splitlines() if ln.startswith("{")]
        res = json.loads(lines[0]) if lines else {"results": [], "states": []}
        tap.ok(len(res["results"]) == 2 and all(x["ok"] for x in res["results"]),
               "max-tcp-flows = 2: two connections open", repr(res) + err.decode())
        tap.ok(res["states"] == ["reset", "reset"],
               f"left idle {TCP_IDLE_S} s (tcp-idle-timeout = 10s), both are reset at the guest",
               repr(res["states"]))
        closed = aerotest.poll_until(lambda: hold.open == 0 and hold.closed >= 2, 3.0)
        tap.ok(closed, "... and the stack closed the host end of both",
               f"open {hold.open}, closed {hold.closed}")
        tap.ok(active(server, "tcp") == 0, "aero_policy_flows_active{tcp} = 0")
        res = g.probe("hold", SERVICE, 7000, 2, 1, timeout=20)[0]["results"]
        tap.ok(all(x["ok"] for x in res), "two new connections open", repr(res))
        tap.ok(hold.most <= 2, f"the host never held more than 2 connections at once "
                               f"({hold.most})")
    finally:
        if idle and idle.poll() is None:
            idle.kill()
            idle.wait()
        g.close()


def inner():
    prefix = os.environ["POLICY_GUEST_PREFIX"]
    tap = aerotest.Tap()
    udp = hold = None
    with aerotest.TempDir("policy-hold-") as tmp:
        try:
            udp = UdpRecorder()
            hold = policyguest.HoldServer()
            server_http = aerotest.free_port()
            groups = [
                ("core", {"shutdown-timeout": "2s"}),
                ("http", {"listen": f"127.0.0.1:{server_http}"}),
                ("log", {"level": "info"}),
            ] + policycore.admission(open="true") + [  # the bridge sends no Origin
                ("lan", {"plugin": "stack-slirp"}),
                ("lan.services", {f"udp:{SERVICE}:53": f"127.0.0.1:{udp.port}",
                                  f"tcp:{SERVICE}:7000": f"127.0.0.1:{hold.port}"}),
                ("p-hold", {"plugin": "policy", "allow": f"{SERVICE}:53, {SERVICE}:7000",
                            "max-tcp-flows": "2", "max-udp-flows": "1",
                            "tcp-idle-timeout": "10s"}),
                ("t-hold", {"plugin": "transport-ws", "stack": "lan", "filters": "p-hold",
                            "paths": "/hold"}),
            ]
            config = tmp.file("server.ini", aerotest.ini(groups))
            with aerotest.Daemon(config, tmp.path, http_port=server_http) as server:
                server.wait_ready()
                policyguest.guarded(tap, "the guest", server, run_guest, tap, tmp, prefix, server,
                                    f"ws://127.0.0.1:{server_http}/hold", udp, hold)
                tap.ok(not server.criticals(), "no criticals in the server's log",
                       "\n".join(server.criticals()))
        finally:
            if udp:
                udp.close()
            if hold:
                hold.close()
    tap.done()


if __name__ == "__main__":
    policyguest.main(inner, "aerohold", HOST_ADDRESS)
