#!/usr/bin/env python3
"""test_tap_offload — a real guest kernel behind a TAP opened with
offload = true (IFF_VNET_HDR, TSO4/TSO6, partial checksums), and behind
one that merges what the tunnel delivers (merge = true).

A network namespace with a TAP device is bridged by a second aero-netd
(transport-ws client, tap stack with offload = true and segment-size =
16384) to the aero-netd under test (transport-ws server, stack-slirp with
offload = true). Both tunnels allow 65,535-byte frames. The guest keeps its
MTU of 1500, yet:

  * it uploads 4 x 16 MiB at once to a counting sink on the host's loopback
    (a virtual service) and everything arrives whole, while the bridge reads
    TSO segments from the TAP (more than 1514 bytes per frame read);
  * it downloads 32 MiB of a per-connection pattern from a source on the
    host's loopback with the same SHA-256, while the bridge writes large
    segments with a GSO header for the guest's kernel to split;
  * no offload error on the bridge, no oversize drop on the server.

A second guest without offload (same large tunnel frames) is the negative
control: its uploads show no TSO segment and at most 1514 bytes per frame,
so the counters above can fail.

Merging: a second aero-netd under test whose stack-slirp has no offload,
so that the tunnel carries frames of at most 1514 bytes, as it does for a
browser. A guest behind a bridge with merge = true (the default) downloads
two 32 MiB patterns at once, both with the right SHA-256, while the bridge
merges frames (aero_tap_tx_merged_frames_total > 0, large segments written
with GSO) and the guest's kernel counts at most 3/4 as many packets
received on its TAP as frames came through the tunnel; it uploads, the
server's stack-slirp merges the upload's segments for libslirp, and the
empty virtio-net header on what the bridge reads costs no error. A guest
behind merge = false is the control: nothing merged, and its kernel
receives at least as many packets as frames crossed the tunnel.

Needs root, /dev/net/tun, ip and busybox: skips (TAP `1..0 # SKIP`) without.
"""
import hashlib
import json
import os
import random
import re
import shutil
import socket
import socketserver
import struct
import subprocess
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "tests", "daemon"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "tests", "guest"))
import aerotest  # noqa: E402
import guestnet  # noqa: E402

SERVICE_IP = "10.0.2.100"
SINK_PORT = 9000
SOURCE_PORT = 9001
SEGMENT_SIZE = 16384
GUEST_MTU = 1500
MAX_FRAME = 1514  # a 1500-byte packet in an Ethernet frame, no virtio-net header

UPLOAD_STREAMS = 4
UPLOAD_PER_STREAM = 16 * 1024 * 1024
DOWNLOAD_SIZE = 32 * 1024 * 1024
CONTROL_STREAMS = 1
CONTROL_PER_STREAM = 4 * 1024 * 1024
# Each transfer takes a few seconds; the bounds keep a stalled run well within
# meson's 300 s, so that the finally blocks always get to clean up.
TRANSFER_TIMEOUT = 60
CONTROL_TIMEOUT = 30
CHUNK = 1024 * 1024


# ---- the host side: a counting sink and a pattern source -------------------

def pattern_chunks(seed, size):
    """SIZE bytes (a multiple of CHUNK) of a pattern that depends on SEED:
    one pseudo-random MiB, each copy stamped with the seed and its index, so
    that corruption, loss, duplication or reordering all change the digest."""
    base = random.Random(seed).randbytes(CHUNK)
    for i in range(size // CHUNK):
        yield struct.pack(">QQ", seed, i) + base[16:]


def pattern_sha256(seed, size):
    digest = hashlib.sha256()
    for chunk in pattern_chunks(seed, size):
        digest.update(chunk)
    return digest.hexdigest()


class PatternSource(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """Reads a decimal seed line, sends DOWNLOAD_SIZE bytes of the pattern
    of that seed, then closes."""
    daemon_threads = True
    allow_reuse_address = True

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.settimeout(60)
            line = b""
            while not line.endswith(b"\n") and len(line) < 64:
                data = self.request.recv(64 - len(line))
                if not data:
                    return
                line += data
            try:
                seed = int(line.strip())
            except ValueError:
                return
            for chunk in pattern_chunks(seed, DOWNLOAD_SIZE):
                self.request.sendall(chunk)
            self.request.shutdown(socket.SHUT_WR)


def serve(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# ---- the guest side ----------------------------------------------------------

# One connection per seed, all at once: sends the seed, hashes everything
# until the source closes; prints the digest and the byte count of each, in
# the order of the seeds.
DOWNLOAD_CLIENT = """
import hashlib, socket, sys, threading
host, port, seeds = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
results = [None] * len(seeds)
def fetch(i):
    s = socket.create_connection((host, port), timeout=20)
    s.sendall((seeds[i] + "\\n").encode())
    h = hashlib.sha256()
    n = 0
    while True:
        data = s.recv(1 << 20)
        if not data:
            break
        h.update(data)
        n += len(data)
    s.close()
    results[i] = "%s %d" % (h.hexdigest(), n)
threads = [threading.Thread(target=fetch, args=(i,)) for i in range(len(seeds))]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(" ".join(str(r) for r in results))
"""


def start_guest(guests, tmp, index, server_port, tap_keys):
    """Guest INDEX bridged to the server's /l2 with 65,535-byte tunnel frames.
    The object is listed in GUESTS before its constructor runs, so that a
    bridge that fails to start still has its namespace and process cleaned
    up by close()."""
    g = guestnet.Guest.__new__(guestnet.Guest)
    guests.append(g)
    g.__init__(tmp, f"aeroo{os.getpid()}x{index}", f"aerot{index}", index,
               f"ws://127.0.0.1:{server_port}/l2",
               uplink_keys={"max-frame-payload": "65535"}, tap_keys=tap_keys)
    return g


def exec_bounded(g, cmd, timeout=TRANSFER_TIMEOUT):
    """Runs CMD in the guest; returns (stdout, stderr, elapsed seconds),
    never raising on a timeout."""
    start = time.monotonic()
    try:
        r = g.exec(cmd, timeout=timeout)
        out, err = r.stdout.decode().strip(), r.stderr.decode()
    except subprocess.TimeoutExpired:
        out, err = "", f"timed out after {timeout} s"
    return out, err, time.monotonic() - start


def upload(g, streams, per_stream, timeout=TRANSFER_TIMEOUT):
    cmd = ["/usr/bin/python3", "-c", guestnet.UPLOAD_CLIENT, SERVICE_IP, str(SINK_PORT),
           str(streams), str(per_stream)]
    out, err, elapsed = exec_bounded(g, cmd, timeout=timeout)
    want = " ".join(sorted(f"{i}:{per_stream}" for i in range(streams)))
    return out == want, f"want {want!r} got {out!r} {err[-500:]}", elapsed


def mbit(size, elapsed):
    return size * 8 / max(elapsed, 1e-6) / 1e6


def value(samples, name, **labels):
    return aerotest.metric(samples, name, **labels)


def fmt(v):
    """A metric value for messages: '1025' rather than '1025.0'."""
    return "missing" if v is None else f"{v:.0f}"


def series(samples, name):
    return [(dict(k[1]), v) for k, v in samples.items() if k[0] == name]


def delta(after, before, name):
    a, b = value(after, name), value(before, name)
    if a is None or b is None:
        return None
    return a - b


def bytes_per_frame(after, before):
    frames = delta(after, before, "aero_tap_rx_frames_total")
    nbytes = delta(after, before, "aero_tap_rx_bytes_total")
    if not frames or nbytes is None:
        return None
    return nbytes / frames


def link_mtu(g):
    r = g.exec(["ip", "-o", "link", "show", "dev", g.dev])
    m = re.search(r"\bmtu (\d+)", r.stdout.decode())
    return (int(m.group(1)) if m else None), r.stdout.decode() + r.stderr.decode()


def guest_rx_packets(g):
    """Packets the guest's kernel received on its TAP (what the bridge wrote)."""
    r = g.exec(["ip", "-j", "-s", "link", "show", "dev", g.dev])
    try:
        return json.loads(r.stdout.decode())[0]["stats64"]["rx"]["packets"]
    except (ValueError, LookupError):
        return None


def download(g, seeds):
    """Downloads the pattern of each seed at once; returns (ok, diag, elapsed)."""
    want = " ".join(f"{pattern_sha256(seed, DOWNLOAD_SIZE)} {DOWNLOAD_SIZE}" for seed in seeds)
    out, err, elapsed = exec_bounded(g, ["/usr/bin/python3", "-c", DOWNLOAD_CLIENT, SERVICE_IP,
                                         str(SOURCE_PORT)] + [str(s) for s in seeds])
    return out == want, f"seeds {seeds}: want {want} got {out!r} {err[-500:]}", elapsed


def bridge_tail(g):
    return "bridge: " + (g.bridge.stderr()[-1500:] if g.bridge else "(not started)")


# ---- the test -------------------------------------------------------------------

def offload_guest(tap, tmp, guests, server, server_http):
    g = start_guest(guests, tmp, 1, server_http,
                    {"offload": "true", "segment-size": str(SEGMENT_SIZE)})
    tap.ok(True, "offload guest: namespace with a TAP (offload = true) bridged to /l2")

    mtu, text = link_mtu(g)
    tap.ok(mtu == GUEST_MTU, f"offload guest: the TAP keeps MTU {GUEST_MTU} ({mtu})", text)
    if shutil.which("ethtool"):
        r = g.exec(["ethtool", "-k", g.dev])
        features = r.stdout.decode()
        tap.ok(re.search(r"^tcp-segmentation-offload: on", features, re.M) is not None,
               "offload guest: ethtool -k shows TSO on", features + r.stderr.decode())
    else:
        tap.skip("offload guest: ethtool -k shows TSO on", "ethtool not installed")

    r, lease = g.dhcp()
    if not tap.ok(lease is not None, f"offload guest: udhcpc got a lease ({lease})",
                  r.stdout.decode() + r.stderr.decode() + bridge_tail(g)):
        return

    before = g.bridge.metrics()
    ok, diag, elapsed = upload(g, UPLOAD_STREAMS, UPLOAD_PER_STREAM)
    after_upload = g.bridge.metrics()
    tap.ok(ok, f"offload guest: {UPLOAD_STREAMS} x {UPLOAD_PER_STREAM >> 20} MiB uploaded at once "
           "arrive whole", diag + " " + bridge_tail(g))
    total = UPLOAD_STREAMS * UPLOAD_PER_STREAM
    tap.diag(f"offload upload: {total >> 20} MiB in {elapsed:.2f} s "
             f"({mbit(total, elapsed):.0f} Mbit/s)")

    before_download = g.bridge.metrics()
    ok, diag, elapsed = download(g, [random.SystemRandom().randrange(1, 1 << 62)])
    after_download = g.bridge.metrics()
    tap.ok(ok, f"offload guest: {DOWNLOAD_SIZE >> 20} MiB downloaded with the same SHA-256",
           diag + " " + bridge_tail(g))
    tap.diag(f"offload download: {DOWNLOAD_SIZE >> 20} MiB in {elapsed:.2f} s "
             f"({mbit(DOWNLOAD_SIZE, elapsed):.0f} Mbit/s)")
    written = delta(after_download, before_download, "aero_tap_tx_frames_total")
    gso_written = delta(after_download, before_download, "aero_tap_tx_gso_frames_total")
    nbytes = delta(after_download, before_download, "aero_tap_tx_bytes_total")
    if written and nbytes is not None:
        tap.diag(f"offload download: {fmt(written)} frames written to the TAP, {fmt(gso_written)} with GSO, "
                 f"{nbytes / written:.0f} bytes per frame")
    # The stack's segments are up to 32 KiB: most writes need the kernel to
    # split them for the guest's MTU.
    tap.ok(written and gso_written is not None and gso_written >= written / 2,
           f"offload guest: at least half the download's writes carry GSO fields "
           f"({fmt(gso_written)} of {fmt(written)})")

    # The counters prove the large segments crossed the tunnel.
    final = g.bridge.metrics()
    tso = value(final, "aero_tap_rx_tso_frames_total")
    pieces = value(final, "aero_tap_rx_pieces_total")
    gso = value(final, "aero_tap_tx_gso_frames_total")
    errors = value(final, "aero_tap_rx_offload_errors_total")
    per_frame = bytes_per_frame(after_upload, before)
    tap.diag(f"offload bridge: rx_tso_frames {fmt(tso)}, rx_pieces {fmt(pieces)}, "
             f"tx_gso_frames {fmt(gso)}, rx_offload_errors {fmt(errors)}, "
             f"upload bytes/frame read {fmt(per_frame)}")
    tap.ok(tso is not None and tso > 0,
           f"offload bridge: aero_tap_rx_tso_frames_total > 0 ({fmt(tso)})")
    tap.ok(gso is not None and gso > 0,
           f"offload bridge: aero_tap_tx_gso_frames_total > 0 ({fmt(gso)})")
    tap.ok(errors == 0, f"offload bridge: aero_tap_rx_offload_errors_total == 0 ({fmt(errors)})")
    tap.ok(per_frame is not None and per_frame > MAX_FRAME,
           f"offload bridge: more than {MAX_FRAME} bytes per frame read from the TAP during the "
           f"upload ({fmt(per_frame)})")

    s = server.metrics()
    oversize = value(s, "aero_slirp_dropped_total", instance="lan", reason="oversize")
    tap.diag("server: aero_slirp_dropped_total "
             + ", ".join(f"{labels.get('reason')}={fmt(v)}"
                         for labels, v in sorted(series(s, "aero_slirp_dropped_total"),
                                                 key=lambda lv: str(lv[0].get("reason")))))
    tap.ok(oversize == 0,
           f"server: aero_slirp_dropped_total{{reason=\"oversize\"}} == 0 ({fmt(oversize)})")


def control_guest(tap, tmp, guests, server_http):
    """The same tunnel without offload: the counters must show no TSO."""
    g = start_guest(guests, tmp, 2, server_http, None)
    r, lease = g.dhcp()
    if not tap.ok(lease is not None, f"control guest (offload = false): udhcpc got a lease "
                  f"({lease})", r.stdout.decode() + r.stderr.decode() + bridge_tail(g)):
        return
    before = g.bridge.metrics()
    ok, diag, elapsed = upload(g, CONTROL_STREAMS, CONTROL_PER_STREAM, CONTROL_TIMEOUT)
    after = g.bridge.metrics()
    total = CONTROL_STREAMS * CONTROL_PER_STREAM
    tap.ok(ok, f"control guest: {total >> 20} MiB uploaded arrive whole",
           diag + " " + bridge_tail(g))
    tap.diag(f"control upload (no offload): {total >> 20} MiB in {elapsed:.2f} s "
             f"({mbit(total, elapsed):.0f} Mbit/s)")
    tso = value(after, "aero_tap_rx_tso_frames_total")
    per_frame = bytes_per_frame(after, before)
    tap.ok(tso == 0, f"control guest: aero_tap_rx_tso_frames_total stays 0 ({fmt(tso)})")
    tap.ok(per_frame is not None and per_frame <= MAX_FRAME,
           f"control guest: at most {MAX_FRAME} bytes per frame read from the TAP "
           f"({fmt(per_frame)})")


def merge_guest(tap, tmp, guests, server, server_http, merge):
    """A guest behind a bridge with merge = MERGE, on a server whose tunnel
    carries frames of at most 1514 bytes."""
    what = "merge guest" if merge else "merge control (merge = false)"
    g = start_guest(guests, tmp, 3 if merge else 4, server_http,
                    None if merge else {"merge": "false"})
    r, lease = g.dhcp()
    if not tap.ok(lease is not None, f"{what}: udhcpc got a lease ({lease})",
                  r.stdout.decode() + r.stderr.decode() + bridge_tail(g)):
        return
    rng = random.SystemRandom()
    seeds = [rng.randrange(1, 1 << 62) for _ in range(2)]
    before, rx_before = g.bridge.metrics(), guest_rx_packets(g)
    ok, diag, elapsed = download(g, seeds)
    after, rx_after = g.bridge.metrics(), guest_rx_packets(g)
    tap.ok(ok, f"{what}: 2 x {DOWNLOAD_SIZE >> 20} MiB downloaded at once with the same SHA-256",
           diag + " " + bridge_tail(g))
    frames = delta(after, before, "aero_tap_tx_frames_total")
    merged = delta(after, before, "aero_tap_tx_merged_frames_total")
    gso = delta(after, before, "aero_tap_tx_gso_frames_total")
    received = None if rx_before is None or rx_after is None else rx_after - rx_before
    tap.diag(f"{what}: {2 * DOWNLOAD_SIZE >> 20} MiB in {elapsed:.2f} s "
             f"({mbit(2 * DOWNLOAD_SIZE, elapsed):.0f} Mbit/s); {fmt(frames)} frames from the "
             f"tunnel, {fmt(merged)} merged into {fmt(gso)} segments; the guest received "
             f"{fmt(received)} packets")
    if merge:
        tap.ok(merged is not None and merged > 0 and gso is not None and gso > 0,
               f"{what}: frames merged ({fmt(merged)}) and written with GSO ({fmt(gso)})")
        tap.ok(received is not None and frames and received <= frames * 3 / 4,
               f"{what}: the guest's kernel received at most 3/4 as many packets as frames "
               f"came through the tunnel ({fmt(received)} for {fmt(frames)})")
        merged_before = value(server.metrics(), "aero_slirp_merged_frames_total", instance="lan")
        ok, diag, elapsed = upload(g, CONTROL_STREAMS, CONTROL_PER_STREAM, CONTROL_TIMEOUT)
        tap.ok(ok, f"{what}: {CONTROL_PER_STREAM >> 20} MiB uploaded arrive whole",
               diag + " " + bridge_tail(g))
        merged_up = value(server.metrics(), "aero_slirp_merged_frames_total", instance="lan")
        merged_up = None if merged_up is None or merged_before is None else merged_up - merged_before
        tap.ok(merged_up is not None and merged_up > 0,
               f"{what}: the server's stack-slirp merged the upload's segments for libslirp "
               f"({fmt(merged_up)})")
        errors = value(g.bridge.metrics(), "aero_tap_rx_offload_errors_total")
        tap.ok(errors == 0, f"{what}: aero_tap_rx_offload_errors_total == 0 ({fmt(errors)})")
    else:
        tap.ok(merged == 0, f"{what}: nothing merged ({fmt(merged)})")
        tap.ok(received is not None and frames and received >= frames,
               f"{what}: the guest's kernel received as many packets as frames came through "
               f"the tunnel ({fmt(received)} for {fmt(frames)})")


def with_server(tap, tmp, guests, name, tunnel, lan, services, steps):
    """Runs STEPS, functions of (server, its HTTP port), against an
    aero-netd under test with the tunnel group's extra keys TUNNEL, the
    stack group LAN and the virtual SERVICES; then checks the logs of the
    server and of every bridge in GUESTS, and closes the guests."""
    server_http = aerotest.free_port()
    config = tmp.file(f"{name}.ini", aerotest.ini([
        ("core", {"shutdown-timeout": "2s"}),
        ("http", {"listen": f"127.0.0.1:{server_http}"}),
        # The bridges send no Origin: they are not browsers.
        ("admission", {"open": "true"}),
        ("tunnel", dict({"plugin": "transport-ws", "stack": "lan"}, **tunnel)),
        ("lan", dict({"plugin": "stack-slirp"}, **lan)),
        ("lan.services", services),
    ]))
    with aerotest.Daemon(config, tmp.path, http_port=server_http) as server:
        try:
            server.wait_ready()
            for step in steps:
                step(server, server_http)
            criticals = server.criticals() + [c for g in guests if g.bridge
                                              for c in g.bridge.criticals()]
            tap.ok(not criticals, f"{name}: no critical or error messages in the daemons' logs",
                   "\n".join(criticals[-20:]))
        except Exception:  # noqa: BLE001 - reported, then cleaned up
            tap.ok(False, f"{name}: the test ran to the end",
                   traceback.format_exc() + "\nserver: " + server.stderr()[-1500:])
        finally:
            for g in guests:
                g.close()
            guests.clear()


def main():
    guestnet.check_requirements()
    tap = aerotest.Tap()
    guests = []
    servers = []
    with aerotest.TempDir("aero-tap-offload-") as tmp:
        try:
            sink = serve(guestnet.CountingSink(("127.0.0.1", 0), guestnet.CountingSink.Handler))
            servers.append(sink)
            source = serve(PatternSource(("127.0.0.1", 0), PatternSource.Handler))
            servers.append(source)

            services = {
                f"tcp:{SERVICE_IP}:{SINK_PORT}": f"127.0.0.1:{sink.server_address[1]}",
                f"tcp:{SERVICE_IP}:{SOURCE_PORT}": f"127.0.0.1:{source.server_address[1]}",
            }
            # Offload: both tunnel ends take 65,535-byte frames.
            with_server(tap, tmp, guests, "offload", {"max-frame-payload": "65535"},
                        {"offload": "true"}, services, [
                            lambda server, port: offload_guest(tap, tmp, guests, server, port),
                            lambda server, port: control_guest(tap, tmp, guests, port)])
            # Merging: frames of at most 1514 bytes in the tunnel.
            with_server(tap, tmp, guests, "merging", {}, {}, services, [
                lambda server, port: merge_guest(tap, tmp, guests, server, port, True),
                lambda server, port: merge_guest(tap, tmp, guests, server, port, False)])
        finally:
            for g in guests:
                g.close()
            for s in servers:
                s.shutdown()
                s.server_close()
    tap.done()


if __name__ == "__main__":
    main()
