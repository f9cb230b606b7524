#!/usr/bin/python3
"""test_slirp_sessions — sessions are separate networks, and closing one
releases everything it held.

  * two guests connected at once, with the same MAC and IP address: the
    echo replies and DNS answers of one never reach the other;
  * each holds a TCP connection through a virtual service while open; the
    daemon's open file descriptors grow, and return to the baseline once
    both guests have gone (sockets and timers of a session are released),
    and the loopback server sees its connections closed;
  * the session gauge returns to 0.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netframes as nf  # noqa: E402
import slirptest as st  # noqa: E402
from slirptest import GATEWAY, GATEWAY_MAC, GUEST_IP  # noqa: E402
from test_slirp_services import TcpServer  # noqa: E402

SERVICE_IP = "10.0.2.100"


def ping(g, ident):
    g.send(nf.eth(GATEWAY_MAC, g.mac, nf.ETH_IP4,
                  nf.ipv4(GUEST_IP, GATEWAY, nf.PROTO_ICMP, nf.icmp_echo(ident, 1, b"iso"))))


def warm_up(stream_port):
    """One session through everything once, so that lazily opened
    process-wide descriptors (resolver, ...) exist before the baseline."""
    with st.Guest(stream_port) as g:
        g.arp(GATEWAY)
        g.dns("localhost")
        mac = g.arp(SERVICE_IP)
        flow = st.TcpFlow(g, SERVICE_IP, 80, dst_mac=mac)
        flow.connect()
        flow.send(b"x")
        flow.recv_until(1)
        flow.close()


def isolation(tap, d, a, b):
    ping(a, 0xA)
    f = a.expect(lambda f: f.proto == nf.PROTO_ICMP)
    tap.ok(f.icmp_type == 0 and f.payload[:2] == b"\x00\x0a",
           "session A gets its echo reply")
    tap.ok(b.nothing(lambda f: True, 0.5), "session B receives nothing meanwhile")

    ans, _ = b.dns("localhost")
    tap.ok(ans["answers"], "session B gets its DNS answer")
    tap.ok(a.nothing(lambda f: True, 0.5), "session A receives nothing meanwhile")


def held_connections(tap, d, echo, guests):
    flows = []
    for g in guests:
        mac = g.arp(SERVICE_IP)
        flow = st.TcpFlow(g, SERVICE_IP, 80, dst_mac=mac)
        tap.ok(flow.connect() == "connected", "a connection through the service opens")
        flow.send(b"held")
        tap.ok(flow.recv_until(4) == b"held", "and echoes")
        flows.append(flow)
    return flows


def main():
    tap = st.Tap()
    echo = TcpServer()
    try:
        with st.TempDir() as tmp:
            http_port, stream_port = st.free_port(), st.free_port()
            config = st.slirp_config(http_port, stream_port, services={
                f"tcp:{SERVICE_IP}:80": f"127.0.0.1:{echo.port}"})
            with st.Daemon(tmp, config, http_port) as d:
                warm_up(stream_port)
                tap.ok(st.poll_until(lambda: d.metric("aero_slirp_sessions") == 0, 5.0),
                       "the warm-up session is gone")
                time.sleep(0.5)
                baseline = d.fd_count()
                tap.diag(f"open descriptors at baseline: {baseline}")
                closed_before = echo.closed_by_peer

                a = st.Guest(stream_port)
                b = st.Guest(stream_port)
                try:
                    a.arp(GATEWAY)
                    b.arp(GATEWAY)
                    tap.ok(st.poll_until(lambda: d.metric("aero_slirp_sessions") == 2, 5.0),
                           "two sessions open")
                    tap.run("isolation", isolation, tap, d, a, b)
                    held_connections(tap, d, echo, [a, b])
                    during = d.fd_count()
                    tap.ok(during >= baseline + 4,
                           f"descriptors grow while sessions hold connections ({during})")
                finally:
                    a.close()
                    b.close()

                tap.ok(st.poll_until(lambda: d.metric("aero_slirp_sessions") == 0, 5.0),
                       "both sessions are torn down")
                after = st.poll_until(lambda: d.fd_count() <= baseline, 10.0)
                tap.ok(after, f"open descriptors return to the baseline ({d.fd_count()} vs "
                       f"{baseline})")
                tap.ok(st.poll_until(lambda: echo.closed_by_peer - closed_before == 2, 5.0),
                       "the loopback server sees both held connections closed")
                rc = d.stop()
                tap.ok(rc == 0, f"aero-netd exits 0 on SIGTERM (status {rc})",
                       d.stderr()[-3000:])
    finally:
        echo.stop()
    tap.done()


if __name__ == "__main__":
    main()
