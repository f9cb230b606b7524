#!/usr/bin/python3
"""test_slirp_merge — a guest's consecutive TCP segments reach libslirp as
one segment (merge = true, the default).

A guest on the test-stream transport opens TCP connections through the
gateway to sinks on the host's loopback (host-loopback = true) and sends
runs of 16 segments of 1000 bytes, each run in one write, so that
aero-netd reads it in one go:

  * with merge = true libslirp acknowledges a run once (its fast path
    acknowledges every segment it is given at once, so one ACK means one
    segment), aero_slirp_merged_frames_total grows by 16, and the sink
    receives the 16,000 bytes in order;
  * two flows interleaved segment by segment in one write, and two
    sessions writing at once (one buffer serves every session), arrive
    whole at their sinks;
  * over IPv6 a run is not merged (libslirp 4.7 answers an IPv6 packet
    longer than its MTU with "packet too big"), and arrives whole;
  * with merge = false the same run is acknowledged segment by segment and
    nothing is counted as merged: the control that lets the first check
    fail.
"""

import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netframes as nf  # noqa: E402
import slirptest as st  # noqa: E402
from slirptest import GATEWAY  # noqa: E402

GUEST6 = "fd00::5054:ff:fe12:3456"
GATEWAY6 = "fd00::2"
GATEWAY6_MAC = "52:56:00:00:00:02"

SEGMENTS = 16
SEGMENT = 1000
ACK_WINDOW = 1.0  # seconds to collect a run's acknowledgements


class Sink:
    """Accepts one connection on loopback and keeps what it reads."""

    def __init__(self, family=socket.AF_INET):
        self.sock = socket.socket(family)
        self.sock.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
        self.sock.listen(1)
        self.sock.settimeout(10)
        self.port = self.sock.getsockname()[1]
        self.data = b""
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        conn.settimeout(10)
        with conn:
            while True:
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                self.data += chunk

    def wait_for(self, n, timeout=5.0):
        deadline = time.monotonic() + timeout
        while len(self.data) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.data

    def close(self):
        self.sock.close()


def pattern(tag, n):
    return bytes((tag * 31 + i * 7) & 0xff for i in range(n))


def run_frames(flow, data):
    """The stream records of DATA as consecutive segments of FLOW, ACK
    only but for PSH on the last; advances the flow's sequence number."""
    out = b""
    for off in range(0, len(data), SEGMENT):
        piece = data[off:off + SEGMENT]
        last = off + SEGMENT >= len(data)
        flags = nf.TCP_ACK | (nf.TCP_PSH if last else 0)
        frame = nf.tcp_frame(flow.g.mac, flow.dst_mac, flow.src, flow.dst, flow.sport, flow.dport,
                             flow.seq + off, flow.ack, flags, piece)
        out += struct.pack(">I", len(frame)) + frame
    flow.seq += len(data)
    return out


def acks_for(flow, first, last):
    """The ACKs the stack sends FLOW for sequence numbers in (FIRST, LAST],
    until LAST is acknowledged or ACK_WINDOW passes, and a little after."""
    seen = []
    deadline = time.monotonic() + ACK_WINDOW
    while time.monotonic() < deadline:
        try:
            f = flow.g.expect(flow._mine, max(deadline - time.monotonic(), 0.01))
        except socket.timeout:
            break
        if f.flags & nf.TCP_ACK and first < f.ack <= last:
            seen.append(f.ack)
            if f.ack == last:
                deadline = min(deadline, time.monotonic() + 0.2)
    return seen


def connect(tap, g, sink, what, dst=GATEWAY, dst_mac=st.GATEWAY_MAC):
    flow = st.TcpFlow(g, dst, sink.port, dst_mac=dst_mac)
    answer = flow.connect()
    tap.ok(answer == "connected", f"{what}: the guest connects to a loopback sink ({answer})")
    return flow if answer == "connected" else None


def send_run(d, g, flow, sink, tag):
    """Sends a run of SEGMENTS segments of FLOW in one write; returns the
    data, what the sink got, the ACKs for it and how many frames were
    counted as merged meanwhile."""
    data = pattern(tag, SEGMENTS * SEGMENT)
    before = d.metric("aero_slirp_merged_frames_total")
    first = flow.seq
    g.sock.sendall(run_frames(flow, data))
    acks = acks_for(flow, first, flow.seq)
    got = sink.wait_for(len(data))
    return data, got, acks, d.metric("aero_slirp_merged_frames_total") - before


def one_run(tap, d, g, merge):
    what = "merge" if merge else "merge = false"
    sink = Sink()
    try:
        flow = connect(tap, g, sink, what)
        if flow is None:
            return
        data, got, acks, merged = send_run(d, g, flow, sink, 1)
        tap.ok(got == data, f"{what}: the sink receives the {len(data)} bytes in order "
               f"({len(got)})")
        tap.ok(acks and acks[-1] == flow.seq, f"{what}: libslirp acknowledges the whole run",
               f"acks {acks}")
        if merge:
            tap.ok(len(acks) == 1, f"{what}: one ACK for {SEGMENTS} segments ({len(acks)})",
                   f"acks {acks}")
            tap.ok(merged == SEGMENTS, f"{what}: aero_slirp_merged_frames_total grows by "
                   f"{SEGMENTS} ({merged})")
        else:
            tap.ok(len(acks) >= SEGMENTS // 2,
                   f"{what}: the run is acknowledged segment by segment ({len(acks)} ACKs)",
                   f"acks {acks}")
            tap.ok(merged == 0, f"{what}: nothing counted as merged ({merged})")
    finally:
        sink.close()


def ipv6_run(tap, d, g):
    sink = Sink(socket.AF_INET6)
    try:
        flow = connect(tap, g, sink, "IPv6", GATEWAY6, GATEWAY6_MAC)
        if flow is None:
            return
        data, got, acks, merged = send_run(d, g, flow, sink, 6)
        tap.ok(got == data, f"IPv6: the sink on ::1 receives the {len(data)} bytes in order "
               f"({len(got)})")
        tap.ok(merged == 0 and len(acks) >= SEGMENTS // 2,
               f"IPv6: not merged ({merged}), acknowledged segment by segment ({len(acks)} ACKs)")
    finally:
        sink.close()


def check_whole(tap, sinks, datas, what):
    for i, (sink, data) in enumerate(zip(sinks, datas)):
        got = sink.wait_for(len(data))
        tap.ok(got == data, f"{what} {i}: its data arrives whole ({len(got)} of {len(data)})")


def interleaved(tap, d, g):
    sinks = [Sink(), Sink()]
    try:
        flows = [connect(tap, g, s, f"interleaved flow {i}") for i, s in enumerate(sinks)]
        if None in flows:
            return
        datas = [pattern(2 + i, SEGMENTS * SEGMENT) for i in range(2)]
        runs = []
        for flow, data in zip(flows, datas):
            records, rest = [], run_frames(flow, data)
            while rest:
                (n,) = struct.unpack(">I", rest[:4])
                records.append(rest[:4 + n])
                rest = rest[4 + n:]
            runs.append(records)
        g.sock.sendall(b"".join(a + b for a, b in zip(*runs)))
        check_whole(tap, sinks, datas, "two flows interleaved in one write: flow")
    finally:
        for s in sinks:
            s.close()


def two_sessions(tap, d, stream_port):
    sinks = [Sink(), Sink()]
    guests = [st.Guest(stream_port), st.Guest(stream_port)]
    try:
        flows = [connect(tap, g, s, f"session {i}")
                 for i, (g, s) in enumerate(zip(guests, sinks))]
        if None in flows:
            return
        datas = [pattern(4 + i, SEGMENTS * SEGMENT) for i in range(2)]
        writes = [run_frames(f, data) for f, data in zip(flows, datas)]
        for g, w in zip(guests, writes):
            g.sock.sendall(w)
        check_whole(tap, sinks, datas, "two sessions writing at once: session")
    finally:
        for g in guests:
            g.close()
        for s in sinks:
            s.close()


def daemon(tap, tmp, merge):
    http_port, stream_port = st.free_port(), st.free_port()
    lan = {"host-loopback": "true", "ipv6": "true"}
    if not merge:
        lan["merge"] = "false"
    config = st.slirp_config(http_port, stream_port, lan=lan)
    with st.Daemon(tmp, config, http_port) as d:
        with st.Guest(stream_port, ip6=GUEST6) as g:
            g.arp(GATEWAY)
            tap.run(f"one run (merge = {str(merge).lower()})", one_run, tap, d, g, merge)
            if merge:
                tap.run("interleaved flows", interleaved, tap, d, g)
                tap.run("IPv6", ipv6_run, tap, d, g)
        if merge:
            tap.run("two sessions", two_sessions, tap, d, stream_port)
        rc = d.stop()
        tap.ok(rc == 0, f"aero-netd (merge = {str(merge).lower()}) exits 0 on SIGTERM "
               f"(status {rc})", d.stderr()[-3000:])


def main():
    tap = st.Tap()
    with st.TempDir() as tmp:
        daemon(tap, tmp, True)
        daemon(tap, tmp, False)
    tap.done()


if __name__ == "__main__":
    main()
