#!/usr/bin/python3
"""test_swap — the same aero-netd binary, a different stack by configuration.

Two configurations differ only in the stack instance's plugin: test-reflect
or test-arp, both behind a test-stream transport. Driving the transport from
here:

  * test-reflect returns every frame with its MAC addresses swapped and
    otherwise byte-identical; test-arp answers an ARP request for its
    address with a correct reply and stays silent for everything else;
  * two simultaneous connections are separate sessions and only see their
    own frames;
  * /metrics counts what was sent and received (sessions opened and closed,
    frames and bytes in both directions, drops) and aero_sessions_active
    returns to 0 once the clients have gone;
  * the stream framing: a frame split into single bytes still arrives, and a
    length outside 14..65535 ends the connection as a protocol error;
  * a client that does not read: the transport's queue bound drops frames
    (counted) instead of growing, and the daemon stays healthy.
"""

import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aerotest  # noqa: E402
from aerotest import StreamClient, metric, swap_macs  # noqa: E402

GUEST_MAC = "52:54:00:12:34:56"
GUEST_IP = "10.0.2.15"
STACK_IP = "10.0.2.2"
STACK_MAC = "52:55:0a:00:02:02"
SILENCE = 0.3   # how long "nothing comes back" is waited for


def udp(marker, src_mac=GUEST_MAC):
    return aerotest.udp_frame(src_mac, STACK_MAC, GUEST_IP, STACK_IP, 40000, 53,
                              b"aero-test " + marker.encode())


def session_metrics_settle(d, opened, timeout=5.0):
    """Waits until every session is closed; returns the last samples."""
    def settled():
        s = d.metrics()
        if metric(s, "aero_sessions_active") == 0 and \
                metric(s, "aero_sessions_opened_total") == opened:
            return s
        return None
    return aerotest.poll_until(settled, timeout) or d.metrics()


def run_reflect(tap, tmp):
    http_port, stream_port = aerotest.free_port(), aerotest.free_port()
    config = tmp.file("reflect.ini", aerotest.stream_config(http_port, stream_port,
                                                             "test-reflect"))
    sent = received = 0
    sent_bytes = received_bytes = 0
    with aerotest.Daemon(config, tmp.path, http_port=http_port) as d:
        d.wait_ready()

        # One client: an ARP request and a UDP frame come back swapped.
        with StreamClient(stream_port) as c:
            for desc, frame in (("ARP request", aerotest.arp_request(GUEST_MAC, GUEST_IP,
                                                                       STACK_IP)),
                                ("IPv4/UDP frame", udp("one"))):
                c.send_frame(frame)
                sent += 1
                sent_bytes += len(frame)
                try:
                    back = c.recv_frame()
                except (socket.timeout, EOFError) as e:
                    tap.ok(False, f"test-reflect: {desc} comes back", repr(e))
                    continue
                received += 1
                received_bytes += len(back)
                tap.ok(back == swap_macs(frame),
                       f"test-reflect: {desc} comes back MAC-swapped, otherwise identical",
                       f"sent {frame.hex()}\ngot  {back.hex()}")

            # A frame written one byte at a time is reassembled.
            frame = udp("split")
            data = struct.pack(">I", len(frame)) + frame
            for i in range(len(data)):
                c.send_raw(data[i:i + 1])
                if i % 16 == 0:
                    time.sleep(0.001)
            sent += 1
            sent_bytes += len(frame)
            try:
                back = c.recv_frame()
                received += 1
                received_bytes += len(back)
            except (socket.timeout, EOFError) as e:
                back = repr(e)
            tap.ok(back == swap_macs(frame), "test-stream: a frame sent byte by byte arrives whole")

            # Largest and smallest frames the wire allows.
            for size in (14, 65535):
                frame = bytes.fromhex(GUEST_MAC.replace(":", "")) + b"\x02" * 6 + b"\x88\xb5" \
                    + bytes(i % 251 for i in range(size - 14))
                c.send_frame(frame)
                sent += 1
                sent_bytes += len(frame)
                try:
                    back = c.recv_frame()
                    received += 1
                    received_bytes += len(back)
                except (socket.timeout, EOFError) as e:
                    back = repr(e)
                tap.ok(back == swap_macs(frame), f"test-stream: a {size}-byte frame round-trips")

        # Two simultaneous clients only see their own frames.
        with StreamClient(stream_port) as a, StreamClient(stream_port) as b:
            n = 20
            frames_a = [udp(f"A{i}", "02:00:00:00:00:0a") for i in range(n)]
            frames_b = [udp(f"B{i}", "02:00:00:00:00:0b") for i in range(n)]
            for fa, fb in zip(frames_a, frames_b):
                a.send_frame(fa)
                b.send_frame(fb)
            sent += 2 * n
            sent_bytes += sum(map(len, frames_a + frames_b))
            got_a, got_b = [], []
            try:
                for _ in range(n):
                    got_a.append(a.recv_frame())
                    got_b.append(b.recv_frame())
            except (socket.timeout, EOFError):
                pass
            received += len(got_a) + len(got_b)
            received_bytes += sum(map(len, got_a + got_b))
            tap.ok(got_a == [swap_macs(f) for f in frames_a] and a.recv_nothing(SILENCE),
                   "isolation: client A gets exactly its own frames, in order",
                   f"A got {len(got_a)} frames")
            tap.ok(got_b == [swap_macs(f) for f in frames_b] and b.recv_nothing(SILENCE),
                   "isolation: client B gets exactly its own frames, in order",
                   f"B got {len(got_b)} frames")
            s = d.metrics()
            tap.ok(metric(s, "aero_sessions_active") == 2,
                   "aero_sessions_active is 2 with two clients connected",
                   f"aero_sessions_active = {metric(s, 'aero_sessions_active')}")

        s = session_metrics_settle(d, 3)
        check_counters(tap, "test-reflect", s, opened=3, closed_normal=3,
                       frames_in=sent, frames_out=received, bytes_in=sent_bytes,
                       bytes_out=received_bytes, drops_in=0, drops_out=0)
        tap.ok(metric(s, "aero_test_stream_connections_total", instance="guest") == 3,
               "aero_test_stream_connections_total{instance=\"guest\"} counts 3 connections",
               str(s.get(("aero_test_stream_connections_total",
                          frozenset({("instance", "guest")})))))

        # Framing errors end the connection.
        for desc, raw in (("length 5 (below 14)", struct.pack(">I", 5) + b"x" * 5),
                          ("length 70000 (above 65535)", struct.pack(">I", 70000))):
            with StreamClient(stream_port) as c:
                c.send_raw(raw)
                tap.ok(c.wait_closed(5.0), f"test-stream: {desc} closes the connection")
        s = session_metrics_settle(d, 5)
        tap.ok(metric(s, "aero_sessions_closed_total", reason="protocol_error") == 2,
               "aero_sessions_closed_total{reason=\"protocol_error\"} counts the 2 framing errors",
               str(aerotest_series(s, "aero_sessions_closed_total")))
        tap.ok(d.running() and d.get("/healthz")[0] == 200,
               "the daemon is healthy after the framing errors")
        tap.ok(d.stop() == 0, "test-reflect daemon exits 0 on SIGTERM", d.stderr())
        tap.ok(not d.criticals(), "test-reflect: no critical log lines", "\n".join(d.criticals()))


def aerotest_series(samples, name):
    return {tuple(sorted(k[1])): v for k, v in samples.items() if k[0] == name}


def check_counters(tap, label, s, opened, closed_normal, frames_in, frames_out, bytes_in,
                   bytes_out, drops_in, drops_out):
    def eq(desc, name, expected, **labels):
        got = metric(s, name, **labels)
        tap.ok(got == expected, f"{label}: {desc} = {expected}",
               f"{name}{labels} = {got}\n{aerotest_series(s, name)}")
    eq("aero_sessions_opened_total", "aero_sessions_opened_total", opened)
    eq("aero_sessions_active after the clients closed", "aero_sessions_active", 0)
    eq("aero_sessions_closed_total{reason=normal}", "aero_sessions_closed_total",
       closed_normal, reason="normal")
    eq("frames from the guest", "aero_session_frames_total", frames_in, direction="from_guest")
    eq("frames to the guest", "aero_session_frames_total", frames_out, direction="to_guest")
    eq("bytes from the guest", "aero_session_bytes_total", bytes_in, direction="from_guest")
    eq("bytes to the guest", "aero_session_bytes_total", bytes_out, direction="to_guest")
    eq("drops from the guest", "aero_session_drops_total", drops_in, direction="from_guest")
    eq("drops to the guest", "aero_session_drops_total", drops_out, direction="to_guest")


def run_arp(tap, tmp):
    http_port, stream_port = aerotest.free_port(), aerotest.free_port()
    config = tmp.file("arp.ini", aerotest.stream_config(http_port, stream_port, "test-arp",
                                                         {"address": STACK_IP}))
    sent = sent_bytes = received = received_bytes = 0
    with aerotest.Daemon(config, tmp.path, http_port=http_port) as d:
        d.wait_ready()
        with StreamClient(stream_port) as c:
            request = aerotest.arp_request(GUEST_MAC, GUEST_IP, STACK_IP)
            c.send_frame(request)
            sent += 1
            sent_bytes += len(request)
            try:
                reply = c.recv_frame()
                received += 1
                received_bytes += len(reply)
            except (socket.timeout, EOFError) as e:
                reply = b""
                tap.diag(repr(e))
            tap.ok(len(reply) >= 42, "test-arp: an ARP request for its address gets an answer",
                   f"reply {reply.hex()}")
            if len(reply) >= 42:
                check_arp_reply(tap, reply)

            silent = [
                ("an IPv4/UDP frame", udp("nothing")),
                ("an ARP request for another address",
                 aerotest.arp_request(GUEST_MAC, GUEST_IP, "10.0.2.3")),
                ("an ARP reply (op 2) for its address",
                 aerotest.arp_request(GUEST_MAC, GUEST_IP, STACK_IP, op=2)),
                ("a truncated ARP request", request[:41]),
            ]
            for desc, frame in silent:
                c.send_frame(frame)
                sent += 1
                sent_bytes += len(frame)
                tap.ok(c.recv_nothing(SILENCE), f"test-arp: {desc} gets nothing back")

            # Still answering after the silence.
            c.send_frame(request)
            sent += 1
            sent_bytes += len(request)
            try:
                again = c.recv_frame()
                received += 1
                received_bytes += len(again)
            except (socket.timeout, EOFError):
                again = b""
            tap.ok(again == reply, "test-arp: a second request gets the same reply")

        s = session_metrics_settle(d, 1)
        check_counters(tap, "test-arp", s, opened=1, closed_normal=1, frames_in=sent,
                       frames_out=received, bytes_in=sent_bytes, bytes_out=received_bytes,
                       drops_in=0, drops_out=0)
        tap.ok(d.stop() == 0, "test-arp daemon exits 0 on SIGTERM", d.stderr())
        tap.ok(not d.criticals(), "test-arp: no critical log lines", "\n".join(d.criticals()))


def check_arp_reply(tap, r):
    eth_dst, eth_src, eth_type = r[0:6], r[6:12], struct.unpack(">H", r[12:14])[0]
    htype, ptype, hlen, plen, op = struct.unpack(">HHBBH", r[14:22])
    sha, spa, tha, tpa = r[22:28], r[28:32], r[32:38], r[38:42]
    m, ip = aerotest.mac, aerotest.ip4
    fields = [
        ("Ethernet destination is the requester", eth_dst == m(GUEST_MAC)),
        ("Ethernet source is the configured MAC", eth_src == m(STACK_MAC)),
        ("Ethernet type 0x0806", eth_type == 0x0806),
        ("htype 1, ptype 0x0800, hlen 6, plen 4",
         (htype, ptype, hlen, plen) == (1, 0x0800, 6, 4)),
        ("op 2 (reply)", op == 2),
        ("sender MAC/IP are the stack's", sha == m(STACK_MAC) and spa == ip(STACK_IP)),
        ("target MAC/IP are the requester's", tha == m(GUEST_MAC) and tpa == ip(GUEST_IP)),
    ]
    for desc, good in fields:
        tap.ok(good, f"test-arp reply: {desc}", r.hex())


def run_drops(tap, tmp):
    """drop-every = 3: every third frame from the guest is refused by the
    stack and counted as a drop from the guest."""
    http_port, stream_port = aerotest.free_port(), aerotest.free_port()
    config = tmp.file("drops.ini", aerotest.stream_config(
        http_port, stream_port, "test-reflect", {"drop-every": "3"}))
    with aerotest.Daemon(config, tmp.path, http_port=http_port) as d:
        d.wait_ready()
        frames = [udp(f"d{i}") for i in range(9)]
        got = []
        with StreamClient(stream_port) as c:
            for f in frames:
                c.send_frame(f)
            try:
                while len(got) < 6:
                    got.append(c.recv_frame())
            except (socket.timeout, EOFError):
                pass
            quiet = c.recv_nothing(SILENCE)
        expected = [swap_macs(f) for i, f in enumerate(frames) if (i + 1) % 3 != 0]
        tap.ok(got == expected and quiet,
               "drop-every=3: frames 3, 6 and 9 are dropped, the rest come back",
               f"got {len(got)} frames")
        s = session_metrics_settle(d, 1)
        check_counters(tap, "drop-every=3", s, opened=1, closed_normal=1, frames_in=9,
                       frames_out=6, bytes_in=sum(map(len, frames)),
                       bytes_out=sum(map(len, expected)), drops_in=3, drops_out=0)
        tap.ok(d.stop() == 0 and not d.criticals(), "drop-every=3: exits 0, no critical log lines",
               d.stderr())


def run_backpressure(tap, tmp):
    """A client that sends much more than it reads: the frames the
    transport cannot queue are dropped and counted, none is lost
    unaccounted, and the daemon keeps answering."""
    http_port, stream_port = aerotest.free_port(), aerotest.free_port()
    config = tmp.file("backpressure.ini", aerotest.stream_config(
        http_port, stream_port, "test-reflect", stream_keys={"queue-frames": "4"}))
    n, size = 4000, 1500
    with aerotest.Daemon(config, tmp.path, http_port=http_port) as d:
        d.wait_ready()
        frame = udp("x" * (size - 60))
        got = 0
        with StreamClient(stream_port, rcvbuf=4096, timeout=20.0) as c:
            c.sock.sendall((struct.pack(">I", len(frame)) + frame) * n)
            health = d.get("/healthz")[0]
            try:
                while True:
                    c.recv_frame(timeout=1.0)
                    got += 1
            except (socket.timeout, EOFError):
                pass
        s = session_metrics_settle(d, 1)
        drops = metric(s, "aero_session_drops_total", direction="to_guest")
        to_guest = metric(s, "aero_session_frames_total", direction="to_guest")
        from_guest = metric(s, "aero_session_frames_total", direction="from_guest")
        tap.ok(health == 200, "backpressure: /healthz answers while a client does not read")
        tap.ok(drops is not None and drops > 0,
               f"backpressure: a full send queue drops frames (drops to guest: {drops})")
        tap.ok(from_guest == n and to_guest == got and to_guest + drops == n,
               "backpressure: every frame is either delivered or counted as dropped",
               f"sent {n}, received {got}, from_guest {from_guest}, to_guest {to_guest}, "
               f"drops {drops}")
        tap.ok(d.stop() == 0, "backpressure: the daemon exits 0 afterwards", d.stderr())
        tap.ok(not d.criticals(), "backpressure: no critical log lines", "\n".join(d.criticals()))


def run_max_sessions(tap, tmp):
    """[core] max-sessions = 1: a second simultaneous client is refused (its
    connection closed) and the first one is not disturbed."""
    http_port, stream_port = aerotest.free_port(), aerotest.free_port()
    config = tmp.file("max-sessions.ini", aerotest.stream_config(
        http_port, stream_port, "test-reflect", core={"max-sessions": "1"}))
    with aerotest.Daemon(config, tmp.path, http_port=http_port) as d:
        d.wait_ready()
        with StreamClient(stream_port) as first:
            f1 = udp("first")
            first.send_frame(f1)
            tap.ok(first.recv_frame() == swap_macs(f1),
                   "max-sessions=1: the first client is served")
            with StreamClient(stream_port) as second:
                try:
                    second.send_frame(udp("second"))
                except OSError:
                    pass
                tap.ok(second.wait_closed(5.0),
                       "max-sessions=1: a second client's connection is closed")
            first.send_frame(f1)
            tap.ok(first.recv_frame() == swap_macs(f1),
                   "max-sessions=1: the first client still works after the refusal")
            s = d.metrics()
            tap.ok(metric(s, "aero_sessions_active") == 1
                   and metric(s, "aero_sessions_opened_total") == 1,
                   "max-sessions=1: one session open, one opened in total",
                   str(aerotest_series(s, "aero_sessions_opened_total")))
        s = session_metrics_settle(d, 1)
        with StreamClient(stream_port) as third:
            third.send_frame(f1)
            tap.ok(third.recv_frame() == swap_macs(f1),
                   "max-sessions=1: once the first client left a new one is served")
        tap.ok(d.stop() == 0 and not d.criticals(), "max-sessions=1: exits 0, no critical lines",
               d.stderr())


def main():
    tap = aerotest.Tap()
    with aerotest.TempDir() as tmp:
        for func in (run_reflect, run_arp, run_drops, run_backpressure, run_max_sessions):
            try:
                func(tap, tmp)
            except Exception:  # noqa: BLE001 - report and go on with the next part
                import traceback
                tap.ok(False, f"{func.__name__} ran to completion", traceback.format_exc())
    tap.done()


if __name__ == "__main__":
    main()
