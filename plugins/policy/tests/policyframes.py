"""policyframes — Ethernet/IPv4/IPv6/TCP/UDP/ICMP/DNS frames for the policy
tests: builders for what a guest sends, parsers (struct only) that check
every length and checksum of what comes back, and a tshark cross-check.
"""
import os
import shutil
import socket
import struct
import subprocess
import tempfile

GUEST_MAC = "52:54:00:12:34:56"
GATEWAY_MAC = "52:55:0a:00:02:02"
GUEST_IP = "10.0.2.15"
GUEST_IP6 = "fd00::15"


def mac(text):
    return bytes.fromhex(text.replace(":", ""))


def ip_bytes(text):
    if ":" in text:
        return socket.inet_pton(socket.AF_INET6, text)
    return socket.inet_aton(text)


def ip_str(raw):
    return socket.inet_ntop(socket.AF_INET6 if len(raw) == 16 else socket.AF_INET, raw)


def checksum(data):
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f">{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


def pseudo(src, dst, proto, length):
    if len(src) == 4:
        return src + dst + struct.pack(">BBH", 0, proto, length)
    return src + dst + struct.pack(">IxxxB", length, proto)


def l4_checksum(src, dst, proto, segment):
    return checksum(pseudo(src, dst, proto, len(segment)) + segment)


# ---- building ----------------------------------------------------------------

def eth(payload, ethertype, src=GUEST_MAC, dst=GATEWAY_MAC, vlan=None):
    head = mac(dst) + mac(src)
    if vlan is not None:
        head += struct.pack(">HH", 0x8100, vlan)
    return head + struct.pack(">H", ethertype) + payload


def ipv4(src, dst, proto, payload, ident=0x1234, flags_frag=0x4000, options=b""):
    ihl = 5 + len(options) // 4
    hdr = struct.pack(">BBHHHBBH4s4s", 0x40 | ihl, 0, ihl * 4 + len(payload), ident, flags_frag,
                      64, proto, 0, ip_bytes(src), ip_bytes(dst)) + options
    hdr = hdr[:10] + struct.pack(">H", checksum(hdr)) + hdr[12:]
    return hdr + payload


def ipv6(src, dst, next_header, payload):
    return struct.pack(">IHBB16s16s", 0x60000000, len(payload), next_header, 64,
                       ip_bytes(src), ip_bytes(dst)) + payload


def transport(src, dst, proto, segment, csum_off):
    c = l4_checksum(ip_bytes(src), ip_bytes(dst), proto, segment)
    if proto == 17 and c == 0:
        c = 0xFFFF
    return segment[:csum_off] + struct.pack(">H", c) + segment[csum_off + 2:]


def ip_frame(src, dst, proto, segment, vlan=None, src_mac=GUEST_MAC, dst_mac=GATEWAY_MAC):
    if ":" in src:
        return eth(ipv6(src, dst, proto, segment), 0x86DD, src_mac, dst_mac, vlan)
    return eth(ipv4(src, dst, proto, segment), 0x0800, src_mac, dst_mac, vlan)


def tcp_segment(src, dst, sport, dport, seq, ack, flags, payload=b""):
    seg = struct.pack(">HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
    return transport(src, dst, 6, seg, 16)


def tcp_frame(src, dst, sport, dport, seq=1000, ack=0, flags=0x02, payload=b"", vlan=None):
    return ip_frame(src, dst, 6, tcp_segment(src, dst, sport, dport, seq, ack, flags, payload), vlan)


def udp_segment(src, dst, sport, dport, payload):
    seg = struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload
    return transport(src, dst, 17, seg, 6)


def udp_frame(src, dst, sport, dport, payload, vlan=None):
    return ip_frame(src, dst, 17, udp_segment(src, dst, sport, dport, payload), vlan)


def icmp_echo_frame(src, dst, ident=0x77, seq=1, payload=b"ping"):
    if ":" in dst:
        body = struct.pack(">BBHHH", 128, 0, 0, ident, seq) + payload
        return ip_frame(src, dst, 58, transport(src, dst, 58, body, 2))
    body = struct.pack(">BBHHH", 8, 0, 0, ident, seq) + payload
    body = body[:2] + struct.pack(">H", checksum(body)) + body[4:]
    return ip_frame(src, dst, 1, body)


def dns_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


def dns_query(qid, name, qtype=1, rd=True):
    return struct.pack(">HHHHHH", qid, 0x0100 if rd else 0, 1, 0, 0, 0) + \
        dns_name(name) + struct.pack(">HH", qtype, 1)


def dns_response(qid, name, records, qtype=1, rcode=0, authority=(), additional=()):
    """RECORDS: (owner, type, rdata) with owner None meaning a pointer to the
    question's name (offset 12)."""
    def rr(owner, rtype, rdata):
        o = b"\xc0\x0c" if owner is None else owner
        return o + struct.pack(">HHIH", rtype, 1, 300, len(rdata)) + rdata
    msg = struct.pack(">HHHHHH", qid, 0x8180 | rcode, 1, len(records), len(authority),
                      len(additional))
    msg += dns_name(name) + struct.pack(">HH", qtype, 1)
    for section in (records, authority, additional):
        for r in section:
            msg += rr(*r)
    return msg


# ---- parsing -----------------------------------------------------------------

class Bad(Exception):
    pass


class Frame:
    """A parsed frame; raises Bad when a length or a checksum is wrong."""

    def __init__(self, raw):
        self.raw = raw
        if len(raw) < 14:
            raise Bad("short frame")
        self.dst_mac, self.src_mac = raw[0:6], raw[6:12]
        off = 12
        self.vlan = None
        ethertype = struct.unpack(">H", raw[off:off + 2])[0]
        off += 2
        if ethertype == 0x8100:
            self.vlan = struct.unpack(">H", raw[off:off + 2])[0]
            ethertype = struct.unpack(">H", raw[off + 2:off + 4])[0]
            off += 4
        self.ethertype = ethertype
        self.l3 = off
        self.proto = None
        if ethertype == 0x0800:
            ip = raw[off:]
            ihl = (ip[0] & 15) * 4
            total = struct.unpack(">H", ip[2:4])[0]
            if total > len(ip) or ihl < 20:
                raise Bad("IPv4 length")
            if checksum(ip[:ihl]) != 0:
                raise Bad("IPv4 header checksum")
            self.version, self.proto = 4, ip[9]
            self.src, self.dst = ip[12:16], ip[16:20]
            self.ttl = ip[8]
            self.payload = ip[ihl:total]
        elif ethertype == 0x86DD:
            ip = raw[off:]
            plen = struct.unpack(">H", ip[4:6])[0]
            if 40 + plen > len(ip):
                raise Bad("IPv6 length")
            self.version, self.proto = 6, ip[6]
            self.src, self.dst = ip[8:24], ip[24:40]
            self.payload = ip[40:40 + plen]
        else:
            return
        p = self.payload
        if self.proto in (6, 17, 58):
            if l4_checksum(self.src, self.dst, self.proto, p) not in (0, 0xFFFF) and \
                    not (self.proto == 17 and p[6:8] == b"\x00\x00"):
                raise Bad(f"protocol {self.proto} checksum")
        if self.proto == 1 and checksum(p) != 0:
            raise Bad("ICMP checksum")
        if self.proto == 6:
            (self.sport, self.dport, self.seq, self.ack, doff, self.flags, self.window, _,
             _) = struct.unpack(">HHIIBBHHH", p[:20])
            self.data = p[(doff >> 4) * 4:]
        elif self.proto == 17:
            self.sport, self.dport, ulen, _ = struct.unpack(">HHHH", p[:8])
            if ulen != len(p):
                raise Bad(f"UDP length {ulen} != {len(p)}")
            self.data = p[8:]
        elif self.proto in (1, 58):
            self.icmp_type, self.icmp_code = p[0], p[1]
            self.data = p[8:]

    def is_tcp(self, flags=None):
        return self.proto == 6 and (flags is None or self.flags == flags)


def dns_read_name(msg, off):
    labels, jumped, end, hops = [], False, None, 0
    while True:
        n = msg[off]
        if n & 0xC0 == 0xC0:
            if not jumped:
                end = off + 2
            off = ((n & 0x3F) << 8) | msg[off + 1]
            jumped = True
            hops += 1
            if hops > 50:
                raise Bad("pointer loop")
            continue
        if n == 0:
            return ".".join(labels), (end if jumped else off + 1)
        labels.append(msg[off + 1:off + 1 + n].decode("ascii", "replace"))
        off += 1 + n


def dns_parse(msg):
    """(header dict, question name, [(section, name, type, rdata)])."""
    qid, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", msg[:12])
    off = 12
    qname = None
    for _ in range(qd):
        qname, off = dns_read_name(msg, off)
        off += 4
    records = []
    for section, count in (("an", an), ("ns", ns), ("ar", ar)):
        for _ in range(count):
            name, off = dns_read_name(msg, off)
            rtype, _, _, rdlen = struct.unpack(">HHIH", msg[off:off + 10])
            off += 10
            rdata = msg[off:off + rdlen]
            if len(rdata) != rdlen:
                raise Bad("truncated record")
            off += rdlen
            records.append((section, name, rtype, rdata))
    if off != len(msg):
        raise Bad(f"{len(msg) - off} bytes after the last record")
    return {"id": qid, "flags": flags, "rcode": flags & 15, "qd": qd, "an": an, "ns": ns,
            "ar": ar}, qname, records


# ---- tshark --------------------------------------------------------------------

def tshark_available():
    return shutil.which("tshark") is not None


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", i, 0, len(fr), len(fr)) + fr)


def tshark(frames, fields=None):
    """Decodes FRAMES with tshark, checksum validation on. Returns
    (problems, output): problems lists every line that reports a bad
    checksum or a malformed packet."""
    with tempfile.TemporaryDirectory(prefix="policy-tshark-") as d:
        path = os.path.join(d, "frames.pcap")
        write_pcap(path, frames)
        args = ["tshark", "-n", "-r", path, "-o", "ip.check_checksum:TRUE",
                "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"]
        if fields:
            args += ["-T", "fields"] + sum((["-e", f] for f in fields), [])
        else:
            args += ["-V"]
        p = subprocess.run(args, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        out = p.stdout.decode(errors="replace")
        problems = [ln for ln in out.splitlines()
                    if "Checksum Status: Bad" in ln or "Malformed" in ln or "[Bad" in ln
                    or "incorrect" in ln.lower()]
        if p.returncode != 0:
            problems.append("tshark exited %d: %s" % (p.returncode, p.stderr.decode()[-500:]))
        return problems, out
