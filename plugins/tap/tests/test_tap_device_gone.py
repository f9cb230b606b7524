#!/usr/bin/env python3
"""test_tap_device_gone — the TAP device disappears under a running bridge
(deleted with `ip link del`): read() then fails with EBADFD and poll()
reports POLLERR for good. The bridge must stop reading, say so once in the
log and count it, not spin on the dead fd. TAP output; skips without root
or /dev/net/tun."""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "tests", "daemon"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "tests", "guest"))
import aerotest  # noqa: E402
import guestnet  # noqa: E402


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    guestnet.check_requirements()
    tap = aerotest.Tap()
    ns, dev = f"aerogone{os.getpid()}", "aerogone0"
    with aerotest.TempDir("aero-tap-gone-") as tmp:
        subprocess.run(["ip", "netns", "add", ns], check=True, timeout=10)
        port = aerotest.free_port()
        # Nothing listens at the uplink's URL: the bridge keeps retrying,
        # which is beside the point here.
        cfg = tmp.file("bridge.ini", aerotest.ini([
            ("core", {"shutdown-timeout": "2s"}),
            ("http", {"listen": f"127.0.0.1:{port}"}),
            ("uplink", {"plugin": "transport-ws", "mode": "client", "stack": "guest",
                        "url": f"ws://127.0.0.1:{aerotest.free_port()}/l2"}),
            ("guest", {"plugin": "tap", "device": dev, "netns": ns})]))
        d = None
        try:
            d = aerotest.Daemon(cfg, tmp.path, http_port=port)
            d.wait_ready()
            r = subprocess.run(["ip", "-n", ns, "link", "del", dev], capture_output=True,
                               timeout=10)
            tap.ok(r.returncode == 0, "TAP device deleted under the bridge", r.stderr.decode())
            time.sleep(0.5)
            c0 = cpu_seconds(d.pid)
            time.sleep(2.0)
            used = cpu_seconds(d.pid) - c0
            tap.ok(used < 0.4, f"the bridge is idle afterwards ({used:.2f} s of CPU in 2 s)")
            lost = d.stderr().count(f"TAP device {dev} lost")
            tap.ok(lost == 1, f"the loss is logged once ({lost} lines)", d.stderr()[-1500:])
            errors = aerotest.metric(d.metrics(), "aero_tap_read_errors_total")
            tap.ok(errors == 1, f"aero_tap_read_errors_total = 1 ({errors})")
            tap.ok(d.running(), "the bridge is still running")
        finally:
            if d is not None:
                d.kill_if_running()
                d.__exit__(None, None, None)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)
    tap.done()


if __name__ == "__main__":
    main()
