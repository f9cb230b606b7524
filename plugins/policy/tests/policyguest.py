"""policyguest — real Linux kernels as guests for the policy tests.

The same set-up as tests/guest/test_l2_guest.py: a guest is a network
namespace with a TAP device, bridged by a second aero-netd (transport-ws in
client mode with the tap stack) to the aero-netd under test. Here the
bridge may dial any path (each path is a transport-ws instance with its
own policy), and everything runs inside a private namespace that has only
a loopback interface: see `isolated()`. Whatever the policy
let through could reach nothing but that namespace.

Needs root, /dev/net/tun, ip and busybox; `requirements()` names what is
missing. Every wait has a deadline; namespaces and processes are removed
in `close()` and by the `isolated()` runner's finally block.
"""
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import threading

import aerotest
import guestnet

PROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guestprobe.py")
PYTHON = "/usr/bin/python3"


def run(cmd, timeout=30, check=False, **kw):
    return subprocess.run(cmd, capture_output=True, timeout=timeout, check=check,
                          stdin=subprocess.DEVNULL, **kw)


def requirements(plugins):
    """None when guests can be made here, or why not."""
    if os.geteuid() != 0:
        return "needs root (network namespaces and TAP devices)"
    if not os.path.exists("/dev/net/tun"):
        return "needs /dev/net/tun"
    for tool in ("ip", "busybox"):
        if shutil.which(tool) is None:
            return f"needs {tool} (iproute2, busybox)"
    for plugin in plugins:
        if aerotest.find_plugin_file(plugin) is None:
            return f"plugin {plugin} not built"
    probe = f"aeropolprobe{os.getpid()}"
    r = run(["ip", "netns", "add", probe])
    if r.returncode != 0:
        return "cannot create network namespaces: " + r.stderr.decode().strip()
    run(["ip", "netns", "del", probe])
    return None


def _terminate(signum, frame):
    raise SystemExit(128 + signum)


def isolated(prefix, host_address, inner_args):
    """Runs this script again (with INNER_ARGS) inside a new namespace that
    has nothing but lo, which also holds HOST_ADDRESS, streaming its TAP
    output; removes the namespace and any namespace named PREFIX* after.
    Returns the inner run's exit status."""
    signal.signal(signal.SIGTERM, _terminate)
    ns = prefix + "s"
    try:
        run(["ip", "netns", "add", ns], check=True)
        for cmd in (["ip", "link", "set", "lo", "up"],
                    ["ip", "addr", "add", host_address + "/32", "dev", "lo"]):
            run(["ip", "netns", "exec", ns] + cmd, check=True)
        env = dict(os.environ, POLICY_GUEST_PREFIX=prefix, POLICY_HOST_ADDRESS=host_address)
        p = subprocess.Popen(["ip", "netns", "exec", ns, PYTHON, sys.argv[0]] + inner_args,
                             env=env, stdin=subprocess.DEVNULL)
        try:
            return p.wait(timeout=540)
        finally:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
    finally:
        names = run(["ip", "netns", "list"]).stdout.decode().split("\n")
        for line in names:
            name = line.split(" ")[0]
            if name.startswith(prefix):
                run(["ip", "netns", "del", name])
                shutil.rmtree(f"/etc/netns/{name}", ignore_errors=True)


class Guest(guestnet.Guest):
    """A network namespace joined through a bridge aero-netd to the server's
    transport at URL."""

    def __init__(self, tmp, prefix, index, url):
        super().__init__(tmp, f"{prefix}g{index}", f"aerop{index}", index, url,
                         uplink_keys={"reconnect-min": "200ms", "reconnect-max": "1s"})

    def probe(self, *args, timeout=60):
        """Runs guestprobe.py in the namespace; returns its JSON lines."""
        r = self.exec([PYTHON, PROBE] + [str(a) for a in args], timeout=timeout)
        lines = [ln for ln in r.stdout.decode().splitlines() if ln.startswith("{")]
        if not lines:
            raise RuntimeError(f"guestprobe {args} printed nothing: {r.stderr.decode()}")
        return [json.loads(ln) for ln in lines]


def guarded(tap, name, server, func, *args):
    """Runs FUNC(*ARGS); an exception becomes one failed test named NAME,
    with its traceback and the end of the server's log."""
    try:
        func(*args)
    except Exception:  # noqa: BLE001 - one failed test with its traceback
        import traceback
        tap.ok(False, name, traceback.format_exc() + server.stderr()[-3000:])


def main(inner, ns_prefix, host_address):
    """A guest test's entry point: INNER runs inside a private namespace
    named NS_PREFIX + pid (re-executed with --inner); skips (TAP) without
    what it needs."""
    if len(sys.argv) > 1 and sys.argv[1] == "--inner":
        inner()
        return
    why = requirements(("policy", "transport-ws", "stack-slirp", "tap"))
    if why:
        print("1..0 # SKIP " + why, flush=True)
        return
    sys.exit(isolated(f"{ns_prefix}{os.getpid()}", host_address, ["--inner"]))


class HoldServer:
    """Accepts TCP connections on 127.0.0.1 and keeps them open until the
    other end closes them; counts how many are open, the most at once, and
    how many closed."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.open = 0
        self.most = 0
        self.closed = 0
        self.running = True
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ)
        while self.running:
            for key, _ in sel.select(timeout=0.2):
                if key.fileobj is self.sock:
                    try:
                        c, _ = self.sock.accept()
                    except OSError:
                        continue
                    sel.register(c, selectors.EVENT_READ)
                    self.open += 1
                    self.most = max(self.most, self.open)
                    continue
                try:
                    data = key.fileobj.recv(4096)
                except OSError:
                    data = b""
                if not data:  # the guest closed: close our side too
                    sel.unregister(key.fileobj)
                    key.fileobj.close()
                    self.open -= 1
                    self.closed += 1
        for key in list(sel.get_map().values()):
            if key.fileobj is not self.sock:
                key.fileobj.close()
        sel.close()

    def close(self):
        self.running = False
        self.thread.join(timeout=2)
        self.sock.close()
