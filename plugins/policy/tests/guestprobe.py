#!/usr/bin/env python3
"""guestprobe — run inside a guest network namespace by the policy's guest
tests; prints one JSON object per command on stdout.

  connect HOST PORT [TIMEOUT]        one TCP connect: ok, errno, ms
  udp HOST PORT [TIMEOUT]            a connected UDP send + receive: errno, ms
  udpfrom SPORT HOST PORT [TIMEOUT]  the same from local port SPORT
  resolve NAME                       getaddrinfo: the IPv4 addresses, or the error
  burst HOST PORT N [TIMEOUT]        N connects in a row, each closed at once
  hold HOST PORT N SECONDS           N connects kept open for SECONDS
  idle HOST PORT N SECONDS           N connects left idle for SECONDS, then the
                                     state of each: open, reset or closed
  dnsflood SERVER NAME N             N DNS queries sent back to back (no reading)
  rawsyn DEV DST PORT [TIMEOUT]      a SYN built by hand on an AF_PACKET socket
                                     (for destinations the kernel will not
                                     route, such as 127.0.0.1): the answer's
                                     TCP flags and ms

Every operation has a timeout; nothing here waits forever.
"""
import errno as errno_mod
import json
import os
import socket
import struct
import sys
import time


def out(obj):
    print(json.dumps(obj), flush=True)


def connect_once(host, port, timeout):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    start = time.monotonic()
    try:
        s.connect((host, port))
        return {"ok": True, "errno": 0, "error": "", "ms": (time.monotonic() - start) * 1000}, s
    except socket.timeout:
        s.close()
        return {"ok": False, "errno": "timeout", "error": "timeout",
                "ms": (time.monotonic() - start) * 1000}, None
    except OSError as e:
        s.close()
        return {"ok": False, "errno": errno_mod.errorcode.get(e.errno, str(e.errno)),
                "error": str(e), "ms": (time.monotonic() - start) * 1000}, None


def cmd_connect(host, port, timeout="5"):
    r, s = connect_once(host, int(port), float(timeout))
    if s:
        s.close()
    out(r)


def cmd_udp(host, port, timeout="3", sport=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if sport is not None:
        s.bind(("0.0.0.0", int(sport)))
    s.settimeout(float(timeout))
    start = time.monotonic()
    try:
        s.connect((host, int(port)))
        s.send(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01a\x00\x00\x01\x00\x01")
        s.recv(2048)
        r = {"ok": True, "errno": 0}
    except socket.timeout:
        r = {"ok": False, "errno": "timeout"}
    except OSError as e:
        r = {"ok": False, "errno": errno_mod.errorcode.get(e.errno, str(e.errno))}
    r["ms"] = (time.monotonic() - start) * 1000
    s.close()
    out(r)


def cmd_udpfrom(sport, host, port, timeout="3"):
    cmd_udp(host, port, timeout, sport)


def cmd_resolve(name):
    start = time.monotonic()
    try:
        infos = socket.getaddrinfo(name, 80, socket.AF_INET, socket.SOCK_STREAM)
        out({"ok": True, "addresses": sorted({i[4][0] for i in infos}),
             "ms": (time.monotonic() - start) * 1000})
    except socket.gaierror as e:
        out({"ok": False, "addresses": [], "error": str(e), "ms": (time.monotonic() - start) * 1000})


def cmd_burst(host, port, n, timeout="3"):
    results = []
    for _ in range(int(n)):
        r, s = connect_once(host, int(port), float(timeout))
        if s:
            s.close()
        results.append(r)
    out({"results": results})


def connect_many(host, port, n):
    """N connections to HOST:PORT: their results and the open sockets."""
    results, socks = [], []
    for _ in range(int(n)):
        r, s = connect_once(host, int(port), 3.0)
        results.append(r)
        if s:
            socks.append(s)
    return results, socks


def cmd_hold(host, port, n, seconds):
    results, socks = connect_many(host, port, n)
    out({"results": results})
    time.sleep(float(seconds))
    for s in socks:
        s.close()


def cmd_idle(host, port, n, seconds):
    results, socks = connect_many(host, port, n)
    time.sleep(float(seconds))
    states = []
    for s in socks:
        s.setblocking(False)
        try:
            states.append("closed" if s.recv(1) == b"" else "data")
        except BlockingIOError:
            states.append("open")
        except ConnectionResetError:
            states.append("reset")
        except OSError as e:
            states.append(errno_mod.errorcode.get(e.errno, str(e.errno)))
        s.close()
    out({"results": results, "states": states})


def cmd_dnsflood(server, name, n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"
    sent = 0
    start = time.monotonic()
    for i in range(int(n)):
        msg = struct.pack(">HHHHHH", i & 0xFFFF, 0x0100, 1, 0, 0, 0) + qname + b"\x00\x01\x00\x01"
        try:
            s.sendto(msg, (server, 53))
            sent += 1
        except OSError:
            break
    out({"sent": sent, "ms": (time.monotonic() - start) * 1000})


def checksum(data):
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f">{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


def gateway_mac(gateway):
    try:
        with open("/proc/net/arp") as f:
            for line in f.readlines()[1:]:
                parts = line.split()
                if parts[0] == gateway and parts[3] != "00:00:00:00:00:00":
                    return bytes.fromhex(parts[3].replace(":", ""))
    except OSError:
        pass
    return bytes.fromhex("52550a000202")


def cmd_rawsyn(dev, dst, port, timeout="3"):
    port = int(port)
    with open(f"/sys/class/net/{dev}/address") as f:
        my_mac = bytes.fromhex(f.read().strip().replace(":", ""))
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.connect(("10.0.2.2", 9))
    src = probe.getsockname()[0]
    probe.close()
    sport = 40000 + os.getpid() % 20000
    seq = 0x01020304
    sip, dip = socket.inet_aton(src), socket.inet_aton(dst)
    tcp = struct.pack(">HHIIBBHHH", sport, port, seq, 0, 5 << 4, 0x02, 64240, 0, 0)
    csum = checksum(sip + dip + struct.pack(">BBH", 0, 6, len(tcp)) + tcp)
    tcp = tcp[:16] + struct.pack(">H", csum) + tcp[18:]
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0, sip, dip)
    ip = ip[:10] + struct.pack(">H", checksum(ip)) + ip[12:]
    frame = gateway_mac("10.0.2.2") + my_mac + b"\x08\x00" + ip + tcp
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    s.bind((dev, 0))
    start = time.monotonic()
    s.send(frame)
    deadline = start + float(timeout)
    result = {"flags": None, "ack_ok": False}
    while time.monotonic() < deadline:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            raw = s.recv(65535)
        except socket.timeout:
            break
        if len(raw) < 54 or raw[23] != 6 or raw[26:30] != dip:
            continue
        ihl = (raw[14] & 15) * 4
        t = raw[14 + ihl:]
        rsport, rdport, _, rack, _, flags = struct.unpack(">HHIIBB", t[:14])
        if rsport == port and rdport == sport:
            result = {"flags": flags, "ack_ok": rack == seq + 1}
            break
    result["ms"] = (time.monotonic() - start) * 1000
    s.close()
    out(result)


COMMANDS = {"connect": cmd_connect, "udp": cmd_udp, "udpfrom": cmd_udpfrom,
            "resolve": cmd_resolve, "burst": cmd_burst, "hold": cmd_hold, "idle": cmd_idle,
            "dnsflood": cmd_dnsflood, "rawsyn": cmd_rawsyn}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])
