#!/usr/bin/env python3
"""test_l2_guest — a real Linux kernel as the guest of the L2 tunnel.

Each guest is a network namespace with a TAP device. A second aero-netd (the
bridge: transport-ws in client mode with the tap stack) carries the TAP's
frames over a WebSocket to the aero-netd under test (transport-ws server,
stack-slirp). Inside the namespace, busybox udhcpc gets a lease, ping reaches
the gateway, a static DNS name resolves, wget fetches a page from an HTTP
server on the host's loopback (a virtual service), and a 64 MiB transfer
arrives with the same SHA-256. Two guests at once stay isolated.

Needs root, /dev/net/tun, ip and busybox: skips (TAP `1..0 # SKIP`) without.
"""
import hashlib
import http.server
import os
import socketserver
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "daemon"))
import aerotest  # noqa: E402
import guestnet  # noqa: E402

BLOB_SIZE = 64 * 1024 * 1024
GUEST_NAME = "web.aero.test"
SERVICE_IP = "10.0.2.100"


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class ThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def guest(tmp, index, server_port):
    """Guest INDEX bridged to the server's /l2."""
    return guestnet.Guest(tmp, f"aerog{os.getpid()}x{index}", f"aerot{index}", index,
                          f"ws://127.0.0.1:{server_port}/l2")


def main():
    guestnet.check_requirements()
    tap = aerotest.Tap()
    guests = []
    httpd = None
    with aerotest.TempDir("aero-guest-") as tmp:
        try:
            www = os.path.join(tmp.path, "www")
            os.makedirs(www)
            with open(os.path.join(www, "index.html"), "w") as f:
                f.write("<h1>hello from the host's loopback</h1>\n")
            digest = hashlib.sha256()
            with open(os.path.join(www, "blob"), "wb") as f:
                chunk = os.urandom(1024 * 1024)
                for i in range(BLOB_SIZE // len(chunk)):
                    piece = bytes([i & 0xff]) + chunk[1:]
                    digest.update(piece)
                    f.write(piece)
            blob_sha = digest.hexdigest()

            http_port = aerotest.free_port()
            handler = lambda *a, **kw: Handler(*a, directory=www, **kw)  # noqa: E731
            httpd = ThreadingServer(("127.0.0.1", http_port), handler)
            threading.Thread(target=httpd.serve_forever, daemon=True).start()

            server_http = aerotest.free_port()
            config = tmp.file("server.ini", aerotest.ini([
                ("core", {"shutdown-timeout": "2s"}),
                ("http", {"listen": f"127.0.0.1:{server_http}"}),
                # The bridges send no Origin: they are not browsers.
                ("admission", {"open": "true"}),
                ("tunnel", {"plugin": "transport-ws", "stack": "lan"}),
                ("lan", {"plugin": "stack-slirp"}),
                ("lan.dns", {GUEST_NAME: SERVICE_IP}),
                ("lan.services", {f"tcp:{SERVICE_IP}:80": f"127.0.0.1:{http_port}"}),
            ]))
            with aerotest.Daemon(config, tmp.path, http_port=server_http) as server:
                server.wait_ready()
                g1 = guest(tmp, 1, server_http)
                guests.append(g1)
                tap.ok(True, "guest 1: namespace with a TAP bridged to /l2")

                r, lease = g1.dhcp()
                tap.ok(lease == "10.0.2.15", f"guest 1: udhcpc got a lease ({lease})",
                       r.stdout.decode() + r.stderr.decode() + g1.bridge.stderr())
                r = g1.exec(["ping", "-c", "2", "-W", "2", "10.0.2.2"])
                tap.ok(r.returncode == 0, "guest 1: ping reaches the gateway", r.stdout.decode())
                r = g1.exec(["busybox", "nslookup", GUEST_NAME, "10.0.2.3"])
                tap.ok(r.returncode == 0 and SERVICE_IP in r.stdout.decode(),
                       f"guest 1: {GUEST_NAME} resolves to {SERVICE_IP}", r.stdout.decode())
                r = g1.exec(["busybox", "wget", "-q", "-O", "-", f"http://{GUEST_NAME}/index.html"])
                tap.ok(b"hello from the host's loopback" in r.stdout,
                       "guest 1: wget fetches a page from a loopback HTTP server",
                       r.stderr.decode())

                start = time.monotonic()
                r = g1.exec(["sh", "-c", f"busybox wget -q -O - http://{GUEST_NAME}/blob | sha256sum"],
                            timeout=180)
                elapsed = time.monotonic() - start
                got = r.stdout.decode().split()[0] if r.stdout else ""
                tap.ok(got == blob_sha, "guest 1: 64 MiB arrive with the same SHA-256",
                       f"want {blob_sha} got {got!r} {r.stderr.decode()}")
                tap.diag(f"64 MiB in {elapsed:.2f} s ({BLOB_SIZE * 8 / elapsed / 1e6:.0f} Mbit/s)")

                g2 = guest(tmp, 2, server_http)
                guests.append(g2)
                r, lease2 = g2.dhcp()
                tap.ok(lease2 == "10.0.2.15", f"guest 2: its own LAN gives it a lease too ({lease2})",
                       r.stdout.decode() + r.stderr.decode())
                samples = server.metrics()
                tap.ok(aerotest.metric(samples, "aero_sessions_active") == 2,
                       "two sessions are open at once")

                # Isolation: a broadcast from guest 1 never reaches guest 2.
                listener = subprocess.Popen(
                    ["ip", "netns", "exec", g2.ns, "/usr/bin/python3", "-c",
                     "import socket,sys\n"
                     "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                     "s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
                     "s.bind(('',9999)); s.settimeout(3)\n"
                     "try:\n  print(s.recvfrom(100)[0].decode())\n"
                     "except socket.timeout:\n  print('nothing')\n"],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                try:
                    time.sleep(0.5)
                    for dst in ("10.0.2.255", "255.255.255.255", "10.0.2.15"):
                        g1.exec(["/usr/bin/python3", "-c",
                                 "import socket\n"
                                 "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                                 "s.setsockopt(socket.SOL_SOCKET,socket.SO_BROADCAST,1)\n"
                                 f"s.sendto(b'from-guest-1',('{dst}',9999))\n"])
                    out, _ = listener.communicate(timeout=10)
                finally:
                    if listener.poll() is None:
                        listener.kill()
                        listener.wait()
                tap.ok(out.decode().strip() == "nothing",
                       "guest 2 receives nothing that guest 1 sends", out.decode())
                r = g2.exec(["busybox", "wget", "-q", "-O", "-", f"http://{GUEST_NAME}/index.html"])
                tap.ok(b"hello" in r.stdout, "guest 2 works independently")
            jumbo_upload(tap, tmp, guests)
        finally:
            for g in guests:
                g.close()
            if httpd:
                httpd.shutdown()
    tap.done()


UPLOAD_STREAMS = 4
UPLOAD_PER_STREAM = 16 * 1024 * 1024


def jumbo_upload(tap, tmp, guests):
    """Large frames end to end: a client that is not a browser can carry
    65,535-byte frames; the guest (MTU 65,520) uploads on several
    connections at once, which keeps the bridge's send queue full: its TAP
    reading must pause and resume without stalling the transfer."""
    sink = guestnet.CountingSink(("127.0.0.1", 0), guestnet.CountingSink.Handler)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    try:
        server_http = aerotest.free_port()
        config = tmp.file("server-jumbo.ini", aerotest.ini([
            ("core", {"shutdown-timeout": "2s"}),
            ("http", {"listen": f"127.0.0.1:{server_http}"}),
            ("admission", {"open": "true"}),
            ("tunnel", {"plugin": "transport-ws", "stack": "lan", "max-frame-payload": "65535"}),
            ("lan", {"plugin": "stack-slirp", "mtu": "65520"}),
            ("lan.services", {f"tcp:{SERVICE_IP}:9000": f"127.0.0.1:{sink.server_address[1]}"}),
        ]))
        with aerotest.Daemon(config, tmp.path, http_port=server_http) as server:
            server.wait_ready()
            g = guestnet.Guest(tmp, f"aerog{os.getpid()}x3", "aerot3", 3,
                               f"ws://127.0.0.1:{server_http}/l2",
                               uplink_keys={"max-frame-payload": "65535"},
                               tap_keys={"mtu": "65520"})
            guests.append(g)
            r, lease = g.dhcp()
            tap.ok(lease is not None, f"large frames: the guest got a lease ({lease})",
                   r.stdout.decode() + r.stderr.decode() + g.bridge.stderr())
            start = time.monotonic()
            try:
                r = g.exec(["/usr/bin/python3", "-c", guestnet.UPLOAD_CLIENT, SERVICE_IP, "9000",
                            str(UPLOAD_STREAMS), str(UPLOAD_PER_STREAM)], timeout=90)
                out = r.stdout.decode().strip()
                err = r.stderr.decode()
            except subprocess.TimeoutExpired:
                out, err = "", "timed out after 90 s"
            elapsed = time.monotonic() - start
            want = " ".join(sorted(f"{i}:{UPLOAD_PER_STREAM}" for i in range(UPLOAD_STREAMS)))
            tap.ok(out == want,
                   f"large frames: {UPLOAD_STREAMS} x {UPLOAD_PER_STREAM >> 20} MiB uploaded at once "
                   "arrive whole",
                   f"want {want!r} got {out!r} {err[-500:]} bridge: {g.bridge.stderr()[-1000:]}")
            if out == want:
                total = UPLOAD_STREAMS * UPLOAD_PER_STREAM
                tap.diag(f"large-frame upload: {total >> 20} MiB in {elapsed:.2f} s "
                         f"({total * 8 / elapsed / 1e6:.0f} Mbit/s)")
    finally:
        sink.shutdown()
        sink.server_close()


if __name__ == "__main__":
    main()
