"""netframes — building and parsing the Ethernet frames a test guest
exchanges with stack-slirp: Ethernet, ARP, IPv4, IPv6, UDP, TCP, ICMP,
ICMPv6, DHCP and DNS, with their checksums.

Builders return bytes. parse() returns a Frame whose fields are None when
the layer is absent; it checks the IP header and transport checksums and
records the result in Frame.checksums_ok.
"""

import socket
import struct

ETH_IP4 = 0x0800
ETH_ARP = 0x0806
ETH_IP6 = 0x86DD
PROTO_ICMP = 1
PROTO_TCP = 6
PROTO_UDP = 17
PROTO_ICMP6 = 58

TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK = 0x01, 0x02, 0x04, 0x08, 0x10

BROADCAST = "ff:ff:ff:ff:ff:ff"


def mac(text):
    return bytes.fromhex(text.replace(":", ""))


def mac_str(raw):
    return ":".join(f"{b:02x}" for b in raw)


def ip4(text):
    return socket.inet_pton(socket.AF_INET, text)


def ip6(text):
    return socket.inet_pton(socket.AF_INET6, text)


def ip_str(raw):
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


def ip_bytes(text):
    return ip6(text) if ":" in text else ip4(text)


# ---- checksums ---------------------------------------------------------------

def checksum(data):
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f">{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


def pseudo_header(src, dst, proto, length):
    if len(src) == 4:
        return src + dst + struct.pack(">BBH", 0, proto, length)
    return src + dst + struct.pack(">IxxxB", length, proto)


def l4_checksum(src, dst, proto, segment):
    return checksum(pseudo_header(src, dst, proto, len(segment)) + segment)


# ---- builders -----------------------------------------------------------------

def eth(dst, src, ethertype, payload):
    return mac(dst) + mac(src) + struct.pack(">H", ethertype) + payload


def arp(op, sha, spa, tha, tpa):
    return (struct.pack(">HHBBH", 1, ETH_IP4, 6, 4, op) + mac(sha) + ip4(spa) + mac(tha)
            + ip4(tpa))


def arp_request(src_mac, src_ip, target_ip):
    return eth(BROADCAST, src_mac, ETH_ARP, arp(1, src_mac, src_ip, "00:00:00:00:00:00", target_ip))


def arp_reply(src_mac, src_ip, dst_mac, dst_ip):
    return eth(dst_mac, src_mac, ETH_ARP, arp(2, src_mac, src_ip, dst_mac, dst_ip))


def ipv4(src, dst, proto, payload, ttl=64, ident=0x1234, flags=0x4000):
    hdr = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, flags, ttl, proto, 0,
                      ip4(src), ip4(dst))
    hdr = hdr[:10] + struct.pack(">H", checksum(hdr)) + hdr[12:]
    return hdr + payload


def ipv6(src, dst, next_header, payload, hop_limit=64):
    return struct.pack(">IHBB", 0x60000000, len(payload), next_header, hop_limit) + ip6(src) \
        + ip6(dst) + payload


def ip_packet(src, dst, proto, payload):
    return ipv6(src, dst, proto, payload) if ":" in src else ipv4(src, dst, proto, payload)


def udp(src, dst, sport, dport, payload):
    seg = struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload
    csum = l4_checksum(ip_bytes(src), ip_bytes(dst), PROTO_UDP, seg) or 0xFFFF
    return seg[:6] + struct.pack(">H", csum) + seg[8:]


def tcp(src, dst, sport, dport, seq, ack, flags, payload=b"", window=65535, options=b""):
    off = (20 + len(options)) // 4
    seg = struct.pack(">HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, off << 4,
                      flags, window, 0, 0) + options + payload
    csum = l4_checksum(ip_bytes(src), ip_bytes(dst), PROTO_TCP, seg)
    return seg[:16] + struct.pack(">H", csum) + seg[18:]


def icmp_echo(ident, seq, payload=b"ping", reply=False):
    msg = struct.pack(">BBHHH", 0 if reply else 8, 0, 0, ident, seq) + payload
    return msg[:2] + struct.pack(">H", checksum(msg)) + msg[4:]


def icmp6(src, dst, icmp_type, code, body):
    msg = struct.pack(">BBH", icmp_type, code, 0) + body
    csum = l4_checksum(ip6(src), ip6(dst), PROTO_ICMP6, msg)
    return msg[:2] + struct.pack(">H", csum) + msg[4:]


def udp_frame(src_mac, dst_mac, src, dst, sport, dport, payload):
    proto = ETH_IP6 if ":" in src else ETH_IP4
    return eth(dst_mac, src_mac, proto, ip_packet(src, dst, PROTO_UDP,
                                                  udp(src, dst, sport, dport, payload)))


def tcp_frame(src_mac, dst_mac, src, dst, sport, dport, seq, ack, flags, payload=b"",
              options=b""):
    proto = ETH_IP6 if ":" in src else ETH_IP4
    seg = tcp(src, dst, sport, dport, seq, ack, flags, payload, options=options)
    return eth(dst_mac, src_mac, proto, ip_packet(src, dst, PROTO_TCP, seg))


# ---- DHCP ------------------------------------------------------------------------

DHCP_DISCOVER, DHCP_OFFER, DHCP_REQUEST, DHCP_ACK, DHCP_NAK = 1, 2, 3, 5, 6


def dhcp(msg_type, xid, chaddr, requested=None, server=None):
    bootp = struct.pack(">BBBBIHH4s4s4s4s", 1, 1, 6, 0, xid, 0, 0x8000, b"\0" * 4, b"\0" * 4,
                        b"\0" * 4, b"\0" * 4)
    bootp += mac(chaddr) + b"\0" * 10 + b"\0" * 64 + b"\0" * 128
    opts = bytes([99, 130, 83, 99, 53, 1, msg_type])
    if requested:
        opts += bytes([50, 4]) + ip4(requested)
    if server:
        opts += bytes([54, 4]) + ip4(server)
    opts += bytes([55, 5, 1, 3, 6, 15, 26, 255])
    return bootp + opts + b"\0" * (300 - len(bootp) - len(opts) if len(bootp) + len(opts) < 300
                                   else 0)


def dhcp_parse(payload):
    """(yiaddr, {option: bytes}) of a BOOTP/DHCP message."""
    if len(payload) < 240 or payload[236:240] != bytes([99, 130, 83, 99]):
        raise ValueError("not a DHCP message")
    yiaddr = ip_str(payload[16:20])
    opts = {}
    i = 240
    while i < len(payload):
        tag = payload[i]
        if tag == 0:
            i += 1
            continue
        if tag == 255:
            break
        length = payload[i + 1]
        opts[tag] = payload[i + 2:i + 2 + length]
        i += 2 + length
    return yiaddr, opts


# ---- DNS --------------------------------------------------------------------------

TYPE_A, TYPE_AAAA, TYPE_MX, TYPE_TXT = 1, 28, 15, 16
RCODE_NOERROR, RCODE_FORMERR, RCODE_SERVFAIL, RCODE_NXDOMAIN, RCODE_NOTIMP, RCODE_REFUSED = \
    0, 1, 2, 3, 4, 5


def dns_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def dns_query(qid, name, qtype, rd=True, qclass=1):
    return struct.pack(">HHHHHH", qid, 0x0100 if rd else 0, 1, 0, 0, 0) + dns_name(name) \
        + struct.pack(">HH", qtype, qclass)


def _skip_name(msg, i):
    while True:
        n = msg[i]
        if n & 0xC0 == 0xC0:
            return i + 2
        if n == 0:
            return i + 1
        i += 1 + n


def dns_parse(msg):
    """{'id', 'flags', 'rcode', 'qd', 'answers': [(type, ttl, address text)]}."""
    qid, flags, qd, an, _ns, _ar = struct.unpack(">HHHHHH", msg[:12])
    i = 12
    for _ in range(qd):
        i = _skip_name(msg, i) + 4
    answers = []
    for _ in range(an):
        i = _skip_name(msg, i)
        rtype, _rclass, ttl, rdlen = struct.unpack(">HHIH", msg[i:i + 10])
        rdata = msg[i + 10:i + 10 + rdlen]
        i += 10 + rdlen
        text = ip_str(rdata) if rtype in (TYPE_A, TYPE_AAAA) else rdata.hex()
        answers.append((rtype, ttl, text))
    return {"id": qid, "flags": flags, "rcode": flags & 0xF, "qd": qd, "answers": answers}


# ---- parsing ------------------------------------------------------------------------

class Frame:
    """One parsed frame. Layers that are absent are None."""

    def __init__(self, raw):
        self.raw = raw
        self.dst = mac_str(raw[0:6])
        self.src = mac_str(raw[6:12])
        self.ethertype = struct.unpack(">H", raw[12:14])[0]
        self.arp = None
        self.ip_version = None
        self.src_ip = self.dst_ip = None
        self.proto = None
        self.sport = self.dport = None
        self.seq = self.ack = self.flags = None
        self.icmp_type = self.icmp_code = None
        self.payload = b""
        self.checksums_ok = True
        body = raw[14:]
        if self.ethertype == ETH_ARP and len(body) >= 28:
            op = struct.unpack(">H", body[6:8])[0]
            self.arp = {"op": op, "sha": mac_str(body[8:14]), "spa": ip_str(body[14:18]),
                        "tha": mac_str(body[18:24]), "tpa": ip_str(body[24:28])}
        elif self.ethertype == ETH_IP4 and len(body) >= 20:
            ihl = (body[0] & 0x0F) * 4
            total = struct.unpack(">H", body[2:4])[0]
            if checksum(body[:ihl]) != 0:
                self.checksums_ok = False
            self.ip_version = 4
            self.src_ip, self.dst_ip = ip_str(body[12:16]), ip_str(body[16:20])
            self.proto = body[9]
            self._transport(body[12:16], body[16:20], body[ihl:total])
        elif self.ethertype == ETH_IP6 and len(body) >= 40:
            plen = struct.unpack(">H", body[4:6])[0]
            self.ip_version = 6
            self.src_ip, self.dst_ip = ip_str(body[8:24]), ip_str(body[24:40])
            self.proto = body[6]
            self._transport(body[8:24], body[24:40], body[40:40 + plen])

    def _transport(self, src, dst, seg):
        self.segment = seg
        if self.proto == PROTO_UDP and len(seg) >= 8:
            self.sport, self.dport, length, csum = struct.unpack(">HHHH", seg[:8])
            if (csum != 0 or self.ip_version == 6) and l4_checksum(src, dst, PROTO_UDP,
                                                                   seg[:length]) != 0:
                self.checksums_ok = False
            self.payload = seg[8:length]
        elif self.proto == PROTO_TCP and len(seg) >= 20:
            self.sport, self.dport, self.seq, self.ack, off, self.flags = \
                struct.unpack(">HHIIBB", seg[:14])
            if l4_checksum(src, dst, PROTO_TCP, seg) != 0:
                self.checksums_ok = False
            self.payload = seg[(off >> 4) * 4:]
        elif self.proto in (PROTO_ICMP, PROTO_ICMP6) and len(seg) >= 4:
            self.icmp_type, self.icmp_code = seg[0], seg[1]
            if self.proto == PROTO_ICMP6:
                ok = l4_checksum(src, dst, PROTO_ICMP6, seg) == 0
            else:
                ok = checksum(seg) == 0
            self.checksums_ok = self.checksums_ok and ok
            self.payload = seg[4:]

    def __repr__(self):
        if self.arp:
            return f"<ARP op={self.arp['op']} {self.arp['spa']}->{self.arp['tpa']}>"
        if self.ip_version:
            return (f"<IPv{self.ip_version} {self.src_ip}:{self.sport} -> {self.dst_ip}:{self.dport}"
                    f" proto={self.proto} flags={self.flags} len={len(self.payload)}>")
        return f"<frame type={self.ethertype:#06x} len={len(self.raw)}>"


def parse(raw):
    return Frame(raw)
