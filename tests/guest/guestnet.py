"""guestnet — a real Linux guest for end-to-end tests: a network namespace
whose TAP device is bridged, by a second aero-netd (transport-ws in client
mode with the tap stack), to a server's tunnel URL.

Used by tests/guest and by plugin suites that need a guest kernel. Needs
root, /dev/net/tun, ip and busybox; callers check and skip first."""
import os
import shutil
import socketserver
import subprocess
import sys

import aerotest

# udhcpc's own hook script would rewrite the machine's resolv.conf: this one
# only sets the address and the default route, and records the lease.
UDHCPC_SCRIPT = """#!/bin/sh
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    for r in $router; do ip route replace default via "$r" dev "$interface"; done
    echo "$ip" > "$LEASE_FILE"
    ;;
esac
exit 0
"""


def run(cmd, timeout=30, check=False, **kw):
    return subprocess.run(cmd, capture_output=True, timeout=timeout, check=check, **kw)


def skip_all(reason):
    """Ends a TAP test as skipped."""
    print("1..0 # SKIP " + reason, flush=True)
    sys.exit(0)


def check_requirements():
    """Skips the whole test without root, /dev/net/tun, ip, busybox, the
    system python3 (run inside the namespaces), the plugins or namespaces."""
    if os.geteuid() != 0:
        skip_all("needs root (network namespaces and TAP devices)")
    if not os.path.exists("/dev/net/tun"):
        skip_all("needs /dev/net/tun")
    for tool in ("ip", "busybox"):
        if shutil.which(tool) is None:
            skip_all(f"needs {tool} (iproute2, busybox)")
    if not os.path.exists("/usr/bin/python3"):
        skip_all("needs /usr/bin/python3 inside the namespaces")
    for plugin in ("transport-ws", "stack-slirp", "tap"):
        if aerotest.find_plugin_file(plugin) is None:
            skip_all(f"plugin {plugin} not built")
    probe = f"aeroprobe{os.getpid()}"
    r = subprocess.run(["ip", "netns", "add", probe], capture_output=True)
    if r.returncode != 0:
        skip_all("cannot create network namespaces: " + r.stderr.decode().strip())
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)


class Guest:
    """Namespace NS with TAP device DEV, bridged to the tunnel at URL.
    UPLINK_KEYS adds keys to the bridge's transport-ws client group, TAP_KEYS
    to its tap group."""

    def __init__(self, tmp, ns, dev, index, url, uplink_keys=None, tap_keys=None):
        self.ns = ns
        self.dev = dev
        self.tmp = tmp
        self.index = index
        self.bridge = None
        self.etc = f"/etc/netns/{self.ns}"
        run(["ip", "netns", "add", self.ns], check=True)
        os.makedirs(self.etc, exist_ok=True)
        with open(os.path.join(self.etc, "resolv.conf"), "w") as f:
            f.write("nameserver 10.0.2.3\noptions timeout:2 attempts:1\n")
        with open(os.path.join(self.etc, "hosts"), "w") as f:
            f.write("127.0.0.1 localhost\n")
        self.exec(["ip", "link", "set", "lo", "up"])
        self.script = tmp.file(f"udhcpc-{index}.sh", UDHCPC_SCRIPT)
        os.chmod(self.script, 0o755)
        http_port = aerotest.free_port()
        uplink = {"plugin": "transport-ws", "mode": "client", "url": url, "stack": "guest"}
        uplink.update(uplink_keys or {})
        tap_group = {"plugin": "tap", "device": self.dev, "netns": self.ns}
        tap_group.update(tap_keys or {})
        config = tmp.file(f"bridge-{index}.ini", aerotest.ini([
            ("core", {"shutdown-timeout": "2s"}),
            ("http", {"listen": f"127.0.0.1:{http_port}"}),
            ("uplink", uplink),
            ("guest", tap_group),
        ]))
        try:
            self.bridge = aerotest.Daemon(config, tmp.path, http_port=http_port)
            self.bridge.wait_ready()
        except BaseException:
            self.close()
            raise

    def exec(self, cmd, timeout=30, env=None):
        return run(["ip", "netns", "exec", self.ns] + cmd, timeout=timeout, env=env)

    def dhcp(self):
        """Runs udhcpc once; returns (the completed process, the leased address or None)."""
        lease_file = os.path.join(self.tmp.path, f"lease-{self.index}")
        env = dict(os.environ, LEASE_FILE=lease_file)
        r = self.exec(["busybox", "udhcpc", "-i", self.dev, "-n", "-q", "-f", "-t", "5", "-T", "2",
                       "-s", self.script], timeout=40, env=env)
        lease = open(lease_file).read().strip() if os.path.exists(lease_file) else None
        return r, lease

    def close(self):
        if self.bridge:
            self.bridge.kill_if_running()
            self.bridge.__exit__(None, None, None)
        run(["ip", "netns", "del", self.ns])
        shutil.rmtree(self.etc, ignore_errors=True)


# The guest side of a bulk upload (python3 -c UPLOAD_CLIENT host port
# streams per_stream, inside the namespace): STREAMS connections at once,
# each sending PER_STREAM bytes of its own byte value, then waiting for the
# CountingSink's answer; prints the answers, sorted.
UPLOAD_CLIENT = """
import socket, sys, threading
host, port, streams, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
results = []
def one(i):
    s = socket.create_connection((host, port), timeout=20)
    block = bytes([i]) * 65536
    left = size
    while left:
        n = s.send(block[:min(left, len(block))])
        left -= n
    s.shutdown(socket.SHUT_WR)
    results.append(s.recv(64).decode().strip())
    s.close()
ts = [threading.Thread(target=one, args=(i,)) for i in range(streams)]
[t.start() for t in ts]
[t.join() for t in ts]
print(" ".join(sorted(results)))
"""



class CountingSink(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """Counts what each connection sends and checks it is all one byte value;
    answers '<value>:<count>' when the peer has finished sending."""
    daemon_threads = True
    allow_reuse_address = True

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            count, first, clean = 0, None, True
            self.request.settimeout(60)
            while True:
                data = self.request.recv(262144)
                if not data:
                    break
                if first is None:
                    first = data[0]
                clean = clean and data.count(first) == len(data)
                count += len(data)
            tag = first if clean and first is not None else "x"
            self.request.sendall(f"{tag}:{count}\n".encode())
