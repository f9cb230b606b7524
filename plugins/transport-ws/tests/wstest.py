"""wstest — configurations and daemon start-up for the transport-ws tests,
on top of tests/daemon/aerotest.py (TAP, Daemon, metrics)."""

import os
import socket
import sys
import time

import aerotest

SUBPROTOCOL = "aero-l2-tunnel-v1"


Tap = aerotest.Tap


def ws_config(http_port, ws=None, stack="test-reflect", stack_keys=None, core=None, log=None,
              extra=(), admission=None, http=None):
    """One transport-ws instance `ws` in front of one stack instance `lan`.
    The tests' raw clients send no Origin, so admission is in open mode
    unless ADMISSION gives the [admission] group."""
    groups = [
        ("core", dict(core or {"shutdown-timeout": "5s"})),
        ("http", dict({"listen": f"127.0.0.1:{http_port}"}, **(http or {}))),
        ("log", dict(log or {"level": "info"})),
        ("admission", dict(admission if admission is not None else {"open": "true"})),
        ("lan", dict({"plugin": stack}, **(stack_keys or {}))),
        ("ws", dict({"plugin": "transport-ws", "stack": "lan"}, **(ws or {}))),
    ]
    groups.extend(extra)
    return aerotest.ini(groups)


def start_daemon(tmp, name, text, http_port):
    """Writes TEXT as NAME.ini in TMP and starts aero-netd on it, ready."""
    path = tmp.file(name + ".ini", text)
    d = aerotest.Daemon(path, tmp.path, http_port=http_port)
    try:
        d.wait_ready()
    except Exception:
        d.kill_if_running()
        raise
    return d


def m(d, name, **labels):
    """One metric of daemon D (0 when the series is absent)."""
    value = aerotest.metric(d.metrics(), name, **labels)
    return 0 if value is None else value


def ws_m(d, name, instance="ws", **labels):
    return m(d, name, instance=instance, **labels)


def healthy(d):
    return aerotest.http_status(d.http_host, d.http_port, "/healthz") == 200


def wait_for(func, timeout, interval=0.05):
    return aerotest.poll_until(func, timeout, interval)


def mac_swapped(frame):
    return frame[6:12] + frame[0:6] + frame[12:]


def eth_frame(payload_len, marker=b""):
    """A unicast Ethernet frame of 14 + payload_len bytes."""
    body = (marker + bytes(range(256)) * (payload_len // 256 + 1))[:payload_len]
    return bytes.fromhex("020000000001020000000002") + b"\x88\xb5" + body


def port_is_closed(port, timeout=5.0):
    """True once nothing accepts on 127.0.0.1:PORT."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                pass
        except OSError:
            return True
        time.sleep(0.05)
    return False


def stderr_mentions(d, text):
    return text in d.stderr()


def env_flag(name):
    return os.environ.get(name, "") not in ("", "0")


def criticals(d):
    """Critical or error lines in the daemon's log (GLib criticals are bugs)."""
    import re
    return [ln for ln in d.stderr().splitlines()
            if re.search(r"^\S+ (CRITICAL|ERROR) |-CRITICAL \*\*|-ERROR \*\*", ln)]
