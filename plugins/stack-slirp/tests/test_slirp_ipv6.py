#!/usr/bin/python3
"""test_slirp_ipv6 — the IPv6 side of the virtual LAN (ipv6 = true).

  * a router solicitation is answered by a router advertisement carrying
    the configured /64 prefix and the IPv6 DNS address (RDNSS);
  * ICMPv6 echo to the IPv6 gateway is answered (after neighbour
    discovery of the guest);
  * DNS over IPv6 to the IPv6 DNS address: static AAAA and A answers,
    *.invalid → NXDOMAIN, with a valid (mandatory) UDP checksum;
  * ICMPv6 echo to an outside address is refused and counted (libslirp
    4.7 cannot relay it);
  * TCP to an address of the prefix other than the gateway is reset.
"""

import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netframes as nf  # noqa: E402
import slirptest as st  # noqa: E402

GUEST6 = "fd00::5054:ff:fe12:3456"
LINK_LOCAL = "fe80::5054:ff:fe12:3456"
GATEWAY6 = "fd00::2"
DNS6 = "fd00::3"
GATEWAY6_MAC = "52:56:00:00:00:02"
DNS6_MAC = "52:56:00:00:00:03"


def ndp_options(body):
    opts = {}
    i = 0
    while i + 2 <= len(body):
        kind, length = body[i], body[i + 1] * 8
        if length == 0:
            break
        opts.setdefault(kind, []).append(body[i:i + length])
        i += length
    return opts


def router_solicitation(tap, g):
    body = b"\0" * 4 + bytes([1, 1]) + nf.mac(g.mac)
    msg = nf.icmp6(LINK_LOCAL, "ff02::2", 133, 0, body)
    g.send(nf.eth("33:33:00:00:00:02", g.mac, nf.ETH_IP6,
                  nf.ipv6(LINK_LOCAL, "ff02::2", nf.PROTO_ICMP6, msg, 255)))
    f = g.expect(lambda f: f.proto == nf.PROTO_ICMP6 and f.icmp_type == 134)
    tap.ok(f.checksums_ok, "a router advertisement answers the solicitation")
    opts = ndp_options(f.payload[12:])
    prefixes = [(o[2], nf.ip_str(o[16:32])) for o in opts.get(3, [])]
    tap.ok((64, "fd00::") in prefixes, f"it carries the prefix fd00::/64 ({prefixes})")
    dns = [nf.ip_str(o[8:24]) for o in opts.get(25, [])]
    tap.ok(DNS6 in dns, f"and the IPv6 DNS address ({dns})")


def ping6(tap, g):
    msg = nf.icmp6(GUEST6, GATEWAY6, 128, 0, struct.pack(">HH", 0x66, 1) + b"ping6")
    g.send(nf.eth(GATEWAY6_MAC, g.mac, nf.ETH_IP6,
                  nf.ipv6(GUEST6, GATEWAY6, nf.PROTO_ICMP6, msg)))
    f = g.expect(lambda f: f.proto == nf.PROTO_ICMP6 and f.icmp_type == 129)
    tap.ok(f.src_ip == GATEWAY6 and f.payload.endswith(b"ping6") and f.checksums_ok,
           "ICMPv6 echo to the IPv6 gateway is answered")


def dns6(tap, g):
    ans, f = g.dns("v6host.example", nf.TYPE_AAAA, server=DNS6, server_mac=DNS6_MAC)
    tap.ok([a[2] for a in ans["answers"]] == ["fd00::50"], f"static AAAA over IPv6 ({ans})")
    udp_checksum = struct.unpack(">H", f.segment[6:8])[0]
    tap.ok(f.src_ip == DNS6 and f.dst_ip == GUEST6 and f.checksums_ok and udp_checksum != 0,
           "answered from the IPv6 DNS address with a valid, non-zero UDP checksum")
    tap.ok(f.src == DNS6_MAC, f"from the DNS address's MAC ({f.src})")
    ans, _ = g.dns("v6host.example", nf.TYPE_A, server=DNS6, server_mac=DNS6_MAC)
    tap.ok([a[2] for a in ans["answers"]] == ["10.0.2.50"], "static A over IPv6")
    ans, _ = g.dns("nothing.invalid", nf.TYPE_AAAA, server=DNS6, server_mac=DNS6_MAC)
    tap.ok(ans["rcode"] == nf.RCODE_NXDOMAIN, "*.invalid → NXDOMAIN over IPv6")


def refused6(tap, d, g):
    before = d.metric("aero_slirp_dropped_total", reason="refused")
    msg = nf.icmp6(GUEST6, "2001:db8::1", 128, 0, struct.pack(">HH", 1, 1))
    g.send(nf.eth(GATEWAY6_MAC, g.mac, nf.ETH_IP6,
                  nf.ipv6(GUEST6, "2001:db8::1", nf.PROTO_ICMP6, msg)))
    tap.ok(st.poll_until(lambda: d.metric("aero_slirp_dropped_total", reason="refused") > before,
                         3.0), "ICMPv6 echo to an outside address is refused and counted")
    flow = st.TcpFlow(g, "fd00::99", 80, dst_mac=GATEWAY6_MAC)
    tap.ok(flow.connect() == "reset", "TCP to another address of the prefix is reset")
    flow = st.TcpFlow(g, "::1", 80, dst_mac=GATEWAY6_MAC)
    tap.ok(flow.connect() == "reset", "TCP to ::1 is reset")


def main():
    tap = st.Tap()
    with st.TempDir() as tmp:
        http_port, stream_port = st.free_port(), st.free_port()
        config = st.slirp_config(http_port, stream_port, lan={"ipv6": "true"},
                                 dns={"v6host.example": "fd00::50, 10.0.2.50"})
        with st.Daemon(tmp, config, http_port) as d:
            with st.Guest(stream_port, ip6=GUEST6) as g:
                tap.run("router solicitation", router_solicitation, tap, g)
                tap.run("ping6", ping6, tap, g)
                tap.run("DNS over IPv6", dns6, tap, g)
                tap.run("refusals", refused6, tap, d, g)
            rc = d.stop()
            tap.ok(rc == 0, f"aero-netd exits 0 on SIGTERM (status {rc})", d.stderr()[-3000:])
    tap.done()


if __name__ == "__main__":
    main()
