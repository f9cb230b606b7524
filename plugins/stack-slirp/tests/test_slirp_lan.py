#!/usr/bin/python3
"""test_slirp_lan — the virtual LAN a guest sees through stack-slirp.

A guest on the test-stream transport, speaking raw frames:
  * ARP for the gateway is answered;
  * DHCP DISCOVER → OFFER → REQUEST → ACK gives the configured lease,
    gateway, DNS server, domain, search list and interface MTU;
  * ICMP echo to the gateway and to the DNS address is answered;
  * DNS: static names (any case, A and AAAA), *.invalid → NXDOMAIN,
    localhost resolved by the host (files only) and then cached, other
    types → NOERROR without answers; malformed queries are answered
    FORMERR or dropped, counted, and the server keeps answering;
  * frames too short or too long are dropped and counted;
  * the daemon exits 0 on SIGTERM afterwards.
"""

import os
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netframes as nf  # noqa: E402
import slirptest as st  # noqa: E402
from slirptest import DNS, DNS_MAC, GATEWAY, GATEWAY_MAC, GUEST_IP  # noqa: E402

MTU = 1400


def dhcp_exchange(tap, g):
    xid = 0x1234ABCD
    g.send(nf.udp_frame(g.mac, nf.BROADCAST, "0.0.0.0", "255.255.255.255", 68, 67,
                        nf.dhcp(nf.DHCP_DISCOVER, xid, g.mac)))
    offer = g.expect(lambda f: f.proto == nf.PROTO_UDP and f.sport == 67 and f.dport == 68)
    yiaddr, opts = nf.dhcp_parse(offer.payload)
    tap.ok(opts.get(53) == bytes([nf.DHCP_OFFER]), "DHCP DISCOVER is answered with an OFFER")
    tap.ok(offer.checksums_ok, "the OFFER's IP and UDP checksums are valid")
    tap.ok(yiaddr == GUEST_IP, f"the OFFER leases dhcp-start ({yiaddr})")

    g.send(nf.udp_frame(g.mac, nf.BROADCAST, "0.0.0.0", "255.255.255.255", 68, 67,
                        nf.dhcp(nf.DHCP_REQUEST, xid, g.mac, requested=yiaddr, server=GATEWAY)))
    ack = g.expect(lambda f: f.proto == nf.PROTO_UDP and f.sport == 67 and f.dport == 68)
    yiaddr, opts = nf.dhcp_parse(ack.payload)
    tap.ok(opts.get(53) == bytes([nf.DHCP_ACK]) and yiaddr == GUEST_IP,
           "DHCP REQUEST is answered with an ACK for the same address")
    tap.ok(ack.checksums_ok, "the ACK's IP and UDP checksums are valid")
    tap.ok(opts.get(54) == nf.ip4(GATEWAY), "server identifier: the gateway")
    tap.ok(opts.get(1) == nf.ip4("255.255.255.0"), "subnet mask of the configured network")
    tap.ok(opts.get(3) == nf.ip4(GATEWAY), "router: the gateway")
    tap.ok(opts.get(6) == nf.ip4(DNS), "DNS server: the configured DNS address")
    tap.ok(opts.get(15) == b"example.lan", f"domain name option: {opts.get(15)!r}")
    tap.ok(119 in opts and b"corp" in opts[119], "domain search option present")
    tap.ok(opts.get(26) == struct.pack(">H", MTU), f"interface MTU option: {opts.get(26)!r}")


def ping(tap, g, dst, dst_mac, what):
    g.send(nf.eth(dst_mac, g.mac, nf.ETH_IP4,
                  nf.ipv4(GUEST_IP, dst, nf.PROTO_ICMP, nf.icmp_echo(0x77, 1, b"aero-ping"))))
    f = g.expect(lambda f: f.proto == nf.PROTO_ICMP and f.src_ip == dst)
    tap.ok(f.icmp_type == 0 and f.payload.endswith(b"aero-ping") and f.checksums_ok,
           f"ICMP echo to {what} is answered")


def dns_tests(tap, d, g):
    ans, f = g.dns("printer.example.lan")
    tap.ok(ans["rcode"] == nf.RCODE_NOERROR and ans["answers"] == [(nf.TYPE_A, 60, "10.0.2.50")],
           f"static A name answered with its address ({ans})")
    tap.ok(f.src_ip == DNS and f.dst_ip == GUEST_IP and f.checksums_ok,
           "the answer comes from the DNS address with valid IP and UDP checksums")
    tap.ok(ans["flags"] & 0x8000 and ans["flags"] & 0x0080, "QR and RA set in the answer")

    ans, _ = g.dns("PRINTER.Example.LAN")
    tap.ok([a[2] for a in ans["answers"]] == ["10.0.2.50"], "static names are case-insensitive")

    ans, _ = g.dns("mixed.example", nf.TYPE_AAAA)
    tap.ok([a[2] for a in ans["answers"]] == ["fd00::10"], f"static AAAA answer ({ans})")
    ans, _ = g.dns("mixed.example", nf.TYPE_A)
    tap.ok([a[2] for a in ans["answers"]] == ["192.0.2.10"], "static A of a mixed entry")

    ans, _ = g.dns("nonexistent.invalid")
    tap.ok(ans["rcode"] == nf.RCODE_NXDOMAIN and not ans["answers"],
           f"nonexistent.invalid → NXDOMAIN ({ans['rcode']})")

    ans, _ = g.dns("printer.example.lan", nf.TYPE_MX)
    tap.ok(ans["rcode"] == nf.RCODE_NOERROR and not ans["answers"],
           "MX → NOERROR without answers")

    # localhost is in /etc/hosts: the host resolver answers it without DNS traffic.
    ans, _ = g.dns("localhost")
    tap.ok(ans["rcode"] == nf.RCODE_NOERROR and ("127.0.0.1" in [a[2] for a in ans["answers"]]),
           f"localhost resolved through the host resolver ({ans})")
    ans, _ = g.dns("localhost")
    tap.ok(ans["rcode"] == nf.RCODE_NOERROR and ans["answers"], "and answered again")
    m = d.metrics()

    def value(name, **labels):
        return m.get((name, frozenset(dict(labels, instance="lan").items())), 0.0)

    tap.ok(value("aero_slirp_dns_queries_total", answer="resolved") >= 1
           and value("aero_slirp_dns_queries_total", answer="cached") >= 1,
           "the second localhost answer came from the cache")
    tap.ok(value("aero_slirp_dns_queries_total", answer="static") == 4,
           "static answers counted")
    tap.ok(value("aero_slirp_dns_cache_entries") >= 1, "the cache size gauge is set")


def malformed_dns(tap, d, g):
    before = d.metric("aero_slirp_dns_queries_total", answer="formerr")
    dropped_before = d.metric("aero_slirp_dns_dropped_total")

    pointer = struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c" + struct.pack(">HH", 1, 1)
    ans, _ = g.dns(None, raw=pointer)
    tap.ok(ans["rcode"] == nf.RCODE_FORMERR and ans["id"] == 7,
           "a compression pointer in a query → FORMERR")

    two = struct.pack(">HHHHHH", 8, 0x0100, 2, 0, 0, 0) + nf.dns_name("a.b") + b"\0\1\0\1" * 2
    ans, _ = g.dns(None, raw=two)
    tap.ok(ans["rcode"] == nf.RCODE_FORMERR, "two questions → FORMERR")

    long_label = struct.pack(">HHHHHH", 9, 0x0100, 1, 0, 0, 0) + b"\x3f" + b"a" * 10
    ans, _ = g.dns(None, raw=long_label)
    tap.ok(ans["rcode"] == nf.RCODE_FORMERR, "a label running past the end → FORMERR")

    bad_char = struct.pack(">HHHHHH", 10, 0x0100, 1, 0, 0, 0) + b"\x03a b\x00\x00\x01\x00\x01"
    ans, _ = g.dns(None, raw=bad_char)
    tap.ok(ans["rcode"] == nf.RCODE_REFUSED, "a name with a space → REFUSED")

    g.udp(DNS_MAC, DNS, 40000, 53, b"\x01\x02\x03")
    g.udp(DNS_MAC, DNS, 40001, 53, struct.pack(">HHHHHH", 11, 0x8180, 1, 0, 0, 0))
    tap.ok(g.nothing(lambda f: f.proto == nf.PROTO_UDP and f.sport == 53, 0.5),
           "a 3-byte datagram and a response are not answered")

    ans, _ = g.dns("printer.example.lan")
    tap.ok(ans["answers"], "the DNS server still answers afterwards")
    tap.ok(d.metric("aero_slirp_dns_queries_total", answer="formerr") - before == 3,
           "FORMERR answers counted")
    tap.ok(d.metric("aero_slirp_dns_dropped_total") - dropped_before == 2,
           "dropped DNS datagrams counted")


def bad_frames(tap, d, g):
    before = d.metric("aero_slirp_dropped_total", reason="oversize")
    g.send(nf.udp_frame(g.mac, GATEWAY_MAC, GUEST_IP, "192.0.2.1", 1000, 9, b"x" * (MTU + 100)))
    tap.ok(st.poll_until(lambda: d.metric("aero_slirp_dropped_total", reason="oversize") > before,
                         3.0), "a frame longer than MTU + headers is dropped and counted")
    before = d.metric("aero_slirp_dropped_total", reason="malformed")
    g.send(nf.eth(GATEWAY_MAC, g.mac, nf.ETH_IP4, b"\x45\x00\x00\x30"))
    tap.ok(st.poll_until(lambda: d.metric("aero_slirp_dropped_total", reason="malformed") > before,
                         3.0), "a truncated IPv4 header is dropped and counted")


def main():
    tap = st.Tap()
    with st.TempDir() as tmp:
        http_port, stream_port = st.free_port(), st.free_port()
        config = st.slirp_config(
            http_port, stream_port,
            lan={"mtu": str(MTU), "domain": "example.lan", "search": "corp.example, example.lan"},
            dns={"printer.example.lan": "10.0.2.50", "Mixed.Example.": "192.0.2.10, fd00::10"})
        d = st.Daemon(tmp, config, http_port)
        with d:
            with st.Guest(stream_port) as g:
                sha = g.arp(GATEWAY)
                tap.ok(sha == GATEWAY_MAC, f"ARP for the gateway answered ({sha})")
                tap.run("DHCP", dhcp_exchange, tap, g)
                tap.run("ping gateway", ping, tap, g, GATEWAY, GATEWAY_MAC, "the gateway")
                tap.run("ping DNS", ping, tap, g, DNS, DNS_MAC, "the DNS address")
                tap.run("DNS", dns_tests, tap, d, g)
                tap.run("malformed DNS", malformed_dns, tap, d, g)
                tap.run("bad frames", bad_frames, tap, d, g)
                tap.ok(d.metric("aero_slirp_sessions") == 1, "one session open")
                tap.ok(d.metric("aero_slirp_frames_total", direction="from_guest") > 10
                       and d.metric("aero_slirp_frames_total", direction="to_guest") > 10,
                       "frames counted both ways")
            tap.ok(st.poll_until(lambda: d.metric("aero_slirp_sessions") == 0, 5.0),
                   "the session gauge returns to 0 after the guest leaves")
            rc = d.stop()
            tap.ok(rc == 0, f"aero-netd exits 0 on SIGTERM (status {rc})",
                   d.stderr()[-3000:])
    tap.done()


if __name__ == "__main__":
    main()
