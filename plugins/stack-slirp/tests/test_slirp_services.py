#!/usr/bin/python3
"""test_slirp_services — virtual services and what the guest may not reach.

Servers listen on 127.0.0.1 only. Through stack-slirp:
  * the guest resolves a service address with ARP, opens a TCP connection
    to tcp:10.0.2.100:80, and gets its bytes echoed by a loopback server
    (small and multi-segment), then closes cleanly both ways;
  * a UDP datagram to udp:10.0.2.100:5353 comes back from the same
    virtual address;
  * other ports of the service address, other local addresses, the DNS
    address over TCP and loopback itself answer a TCP SYN with a reset;
  * with host-loopback = false a SYN to the gateway on the port of a
    loopback server never reaches it; with host-loopback = true it does.
"""

import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netframes as nf  # noqa: E402
import slirptest as st  # noqa: E402
from slirptest import DNS, DNS_MAC, GATEWAY, GATEWAY_MAC  # noqa: E402

SERVICE_IP = "10.0.2.100"


class TcpServer:
    """A loopback TCP server that echoes (or just counts connections)."""

    def __init__(self, echo=True):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.echo = echo
        self.accepted = 0
        self.closed_by_peer = 0
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _serve(self, conn):
        conn.settimeout(10.0)
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    self.closed_by_peer += 1
                    break
                if self.echo:
                    conn.sendall(data)
        except OSError:
            pass
        finally:
            conn.close()

    def _run(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            self.accepted += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def stop(self):
        self.running = False
        self.thread.join(timeout=2.0)
        self.sock.close()


class UdpEcho:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            try:
                data, peer = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            self.sock.sendto(b"echo:" + data, peer)

    def stop(self):
        self.running = False
        self.thread.join(timeout=2.0)
        self.sock.close()


def tcp_service(tap, d, g, echo, service_mac):
    flow = st.TcpFlow(g, SERVICE_IP, 80, dst_mac=service_mac)
    tap.ok(flow.connect() == "connected", "TCP handshake with tcp:10.0.2.100:80")
    flow.send(b"hello aero")
    got = flow.recv_until(10)
    tap.ok(got == b"hello aero", f"bytes echoed by the loopback server ({got!r})")
    chunk = bytes(range(256)) * 4
    for _ in range(12):
        flow.send(chunk)
    got = flow.recv_until(10 + 12 * len(chunk), timeout=10.0)
    tap.ok(got[10:] == chunk * 12, f"a 12 KiB multi-segment transfer is echoed ({len(got)} bytes)")
    tap.ok(flow.close(), "FIN answered by FIN: the connection closes both ways")
    tap.ok(st.poll_until(lambda: echo.closed_by_peer >= 1, 5.0),
           "the loopback server saw the guest's close")
    tap.ok(echo.accepted == 1, f"the server accepted exactly one connection ({echo.accepted})")
    tap.ok(d.metric("aero_slirp_service_connections_total", service="tcp:10.0.2.100:80") == 1,
           "the service connection is counted")


def tcp_frames_from_service(tap, g, service_mac):
    flow = st.TcpFlow(g, SERVICE_IP, 80, dst_mac=service_mac)
    flow.syn()
    f = g.expect(flow._mine)
    tap.ok(f.src_ip == SERVICE_IP and f.sport == 80 and f.checksums_ok
           and f.flags & nf.TCP_SYN and f.flags & nf.TCP_ACK,
           "the SYN-ACK comes from 10.0.2.100:80 with valid checksums")
    tap.ok(f.src == "52:55:0a:00:02:64", f"from the service's MAC ({f.src})")
    flow.seq += 1
    flow.ack = f.seq + 1
    flow._send(nf.TCP_RST | nf.TCP_ACK)


def udp_service(tap, d, g, service_mac):
    g.udp(service_mac, SERVICE_IP, 40123, 5353, b"ping-udp")
    f = g.expect(lambda f: f.proto == nf.PROTO_UDP and f.dport == 40123)
    tap.ok(f.src_ip == SERVICE_IP and f.sport == 5353 and f.payload == b"echo:ping-udp",
           f"UDP service answers from 10.0.2.100:5353 ({f})")
    tap.ok(f.checksums_ok, "with valid checksums")
    tap.ok(d.metric("aero_slirp_service_connections_total", service="udp:10.0.2.100:5353") >= 1,
           "UDP service traffic is counted")


def refused(tap, d, g, service_mac, loopback_port):
    before = d.metric("aero_slirp_dropped_total", reason="refused")
    cases = [
        (SERVICE_IP, 81, service_mac, "another port of the service address"),
        ("10.0.2.77", 80, GATEWAY_MAC, "another address of the virtual network"),
        (DNS, 53, DNS_MAC, "TCP to the DNS address"),
        ("127.0.0.1", loopback_port, GATEWAY_MAC, "the loopback address itself"),
        ("0.0.0.0", loopback_port, GATEWAY_MAC, "the unspecified address"),
        (GATEWAY, loopback_port, GATEWAY_MAC, "the gateway with host-loopback = false"),
    ]
    for dst, port, dst_mac, what in cases:
        flow = st.TcpFlow(g, dst, port, dst_mac=dst_mac)
        answer = flow.connect()
        tap.ok(answer == "reset", f"SYN to {what} is reset ({answer})")
    tap.ok(d.metric("aero_slirp_dropped_total", reason="refused") - before == len(cases),
           "refusals counted")


def run_main_daemon(tap, tmp, echo, udp_echo, loopback):
    http_port, stream_port = st.free_port(), st.free_port()
    config = st.slirp_config(http_port, stream_port, services={
        f"tcp:{SERVICE_IP}:80": f"127.0.0.1:{echo.port}",
        f"udp:{SERVICE_IP}:5353": f"127.0.0.1:{udp_echo.port}",
    })
    with st.Daemon(tmp, config, http_port) as d:
        with st.Guest(stream_port) as g:
            g.arp(GATEWAY)
            service_mac = g.arp(SERVICE_IP)
            tap.ok(service_mac == "52:55:0a:00:02:64",
                   f"ARP for the service address is answered ({service_mac})")
            tap.run("TCP service", tcp_service, tap, d, g, echo, service_mac)
            tap.run("TCP service frames", tcp_frames_from_service, tap, g, service_mac)
            tap.run("UDP service", udp_service, tap, d, g, service_mac)
            tap.run("refusals", refused, tap, d, g, service_mac, loopback.port)
        time.sleep(0.3)
        tap.ok(loopback.accepted == 0,
               f"the loopback server saw no connection ({loopback.accepted})")
        rc = d.stop()
        tap.ok(rc == 0, f"aero-netd exits 0 on SIGTERM (status {rc})", d.stderr()[-3000:])


def reset_and_reopen(tap, g, port):
    """One flow reset and the next one opened in a single burst: libslirp
    closes the first socket and creates the second (usually with the same
    fd number) before the loop next asks it what to poll. The new socket
    must still be polled: its connect completes and the guest gets its
    SYN-ACK, then its data echoed. Five times over."""
    import struct
    for i in range(5):
        a = st.TcpFlow(g, GATEWAY, port)
        if a.connect() != "connected":
            return tap.ok(False, f"round {i}: first flow connects")
        a.send(b"first")
        if a.recv_until(5) != b"first":
            return tap.ok(False, f"round {i}: first flow echoes")
        b = st.TcpFlow(g, GATEWAY, port)
        rst = nf.tcp_frame(g.mac, a.dst_mac, a.src, a.dst, a.sport, a.dport, a.seq, a.ack,
                           nf.TCP_RST | nf.TCP_ACK)
        syn = nf.tcp_frame(g.mac, b.dst_mac, b.src, b.dst, b.sport, b.dport, b.seq, 0,
                           nf.TCP_SYN, options=struct.pack(">BBH", 2, 4, 1400))
        g.sock.sendall(struct.pack(">I", len(rst)) + rst + struct.pack(">I", len(syn)) + syn)
        try:
            f = g.expect(b._mine, 5.0)
        except socket.timeout:
            return tap.ok(False, f"round {i}: the flow opened with the reset gets an answer")
        if f.flags & (nf.TCP_SYN | nf.TCP_ACK) != nf.TCP_SYN | nf.TCP_ACK:
            return tap.ok(False, f"round {i}: SYN-ACK for the flow opened with the reset",
                          f"flags {f.flags:#x}")
        b.seq += 1
        b.ack = f.seq + 1
        b._send(nf.TCP_ACK)
        b.send(b"second")
        got = b.recv_until(6)
        b._send(nf.TCP_RST | nf.TCP_ACK)
        if got != b"second":
            return tap.ok(False, f"round {i}: the new flow echoes", repr(got))
    return tap.ok(True, "a flow reset and a new one in one burst: the new one connects and "
                  "echoes (5 rounds)")


def run_host_loopback_daemon(tap, tmp, loopback, echo):
    http_port, stream_port = st.free_port(), st.free_port()
    config = st.slirp_config(http_port, stream_port, lan={"host-loopback": "true"})
    with st.Daemon(tmp, config, http_port) as d:
        with st.Guest(stream_port) as g:
            g.arp(GATEWAY)
            flow = st.TcpFlow(g, GATEWAY, loopback.port)
            tap.ok(flow.connect() == "connected",
                   "with host-loopback = true the gateway reaches a loopback server")
            tap.ok(st.poll_until(lambda: loopback.accepted == 1, 5.0),
                   "and the loopback server sees the connection")
            reset_and_reopen(tap, g, echo.port)
            flow = st.TcpFlow(g, "127.0.0.1", loopback.port)
            tap.ok(flow.connect() == "reset", "the loopback address itself is still refused")
        d.stop()


def main():
    tap = st.Tap()
    echo, udp_echo, loopback = TcpServer(), UdpEcho(), TcpServer(echo=False)
    try:
        with st.TempDir() as tmp:
            tap.run("main daemon", run_main_daemon, tap, tmp, echo, udp_echo, loopback)
            tap.run("host-loopback daemon", run_host_loopback_daemon, tap, tmp, loopback, echo)
    finally:
        echo.stop()
        udp_echo.stop()
        loopback.stop()
    tap.done()


if __name__ == "__main__":
    main()
