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
import shutil
import signal
import subprocess
import sys

import aerotest

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


class Guest:
    """A network namespace joined through a bridge aero-netd to the server's
    transport at URL."""

    def __init__(self, tmp, prefix, index, url):
        self.ns = f"{prefix}g{index}"
        self.dev = f"aerop{index}"
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
        # udhcpc's own hook script would rewrite the machine's resolv.conf:
        # this one only sets the address and the default route.
        self.script = tmp.file(f"udhcpc-{index}.sh", """#!/bin/sh
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    for r in $router; do ip route replace default via "$r" dev "$interface"; done
    echo "$ip" > "$LEASE_FILE"
    ;;
esac
exit 0
""")
        os.chmod(self.script, 0o755)
        http_port = aerotest.free_port()
        config = tmp.file(f"bridge-{index}.ini", aerotest.ini([
            ("core", {"shutdown-timeout": "2s"}),
            ("http", {"listen": f"127.0.0.1:{http_port}"}),
            ("uplink", {"plugin": "transport-ws", "mode": "client", "url": url, "stack": "guest",
                        "reconnect-min": "200ms", "reconnect-max": "1s"}),
            ("guest", {"plugin": "tap", "device": self.dev, "netns": self.ns}),
        ]))
        self.bridge = aerotest.Daemon(config, tmp.path, http_port=http_port)
        self.bridge.wait_ready()

    def exec(self, cmd, timeout=30, env=None):
        return run(["ip", "netns", "exec", self.ns] + cmd, timeout=timeout, env=env)

    def dhcp(self):
        lease_file = os.path.join(self.tmp.path, f"lease-{self.index}")
        env = dict(os.environ, LEASE_FILE=lease_file)
        r = self.exec(["busybox", "udhcpc", "-i", self.dev, "-n", "-q", "-f", "-t", "5", "-T", "2",
                       "-s", self.script], timeout=40, env=env)
        lease = open(lease_file).read().strip() if os.path.exists(lease_file) else None
        return r, lease

    def probe(self, *args, timeout=60):
        """Runs guestprobe.py in the namespace; returns its JSON lines."""
        r = self.exec([PYTHON, PROBE] + [str(a) for a in args], timeout=timeout)
        lines = [ln for ln in r.stdout.decode().splitlines() if ln.startswith("{")]
        if not lines:
            raise RuntimeError(f"guestprobe {args} printed nothing: {r.stderr.decode()}")
        return [json.loads(ln) for ln in lines]

    def close(self):
        if self.bridge:
            self.bridge.kill_if_running()
            self.bridge.__exit__(None, None, None)
        run(["ip", "netns", "del", self.ns])
        shutil.rmtree(self.etc, ignore_errors=True)
