#!/usr/bin/python3
"""test_descriptors — the descriptor table is sized for the configured
capacity at start, so that it does not grow under a burst.

Linux grows a process's descriptor table by doubling as descriptors are
opened; in a process with more than one thread, each doubling waits for
an RCU grace period (10-25 ms on a VM), and the daemon's whole main loop
waits with it. aero-netd reserves the table at start:

  * with max-sessions = 3000 the table holds at least 2 x 3000 + 1024
    descriptors once the daemon is ready (FDSize in /proc/PID/status), and
    the debug log says so;
  * 600 connections accepted at once (more than the table of a process
    that has not reserved one) leave the table's size unchanged;
  * under an open files limit of 600 the reservation stays within the
    limit, and the daemon starts and serves as usual.
"""

import os
import resource
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aerotest  # noqa: E402

MAX_SESSIONS = 3000
BURST = 600


def fd_size(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("FDSize:"):
                return int(line.split()[1])
    raise RuntimeError("no FDSize line")


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def config(tmp, http_port, stream_port, name):
    return tmp.file(name, aerotest.stream_config(
        http_port, stream_port, "test-arp", {"address": "10.0.2.2"},
        core={"shutdown-timeout": "5s", "max-sessions": str(MAX_SESSIONS)},
        http={"max-connections-per-address": "0", "request-timeout": "30s"}))


def run_reserved(tap, tmp):
    http_port, stream_port = aerotest.free_port(), aerotest.free_port()
    want = MAX_SESSIONS * 2 + 1024
    with aerotest.Daemon(config(tmp, http_port, stream_port, "reserved.ini"), tmp.path,
                         http_port=http_port) as d:
        d.wait_ready()
        size = fd_size(d.pid)
        tap.ok(size >= want, f"with max-sessions = {MAX_SESSIONS} the table holds >= {want}",
               f"FDSize {size}")
        tap.ok(f"descriptor table reserved for {want} descriptors" in d.stderr(),
               "the debug log names the reservation", d.stderr()[-2000:])

        socks = []
        try:
            for _ in range(BURST):
                socks.append(socket.create_connection(("127.0.0.1", http_port), timeout=5))
            accepted = aerotest.poll_until(lambda: open_fds(d.pid) >= BURST, 10.0)
            after = fd_size(d.pid)
            tap.ok(accepted and after == size,
                   f"{BURST} connections accepted at once: the table did not grow",
                   f"open {open_fds(d.pid)}, FDSize {size} -> {after}")
        finally:
            for s in socks:
                s.close()
        tap.ok(d.stop() == 0, "the daemon exits 0")


def run_limited(tap, tmp):
    http_port, stream_port = aerotest.free_port(), aerotest.free_port()
    path = config(tmp, http_port, stream_port, "limited.ini")
    err_path = os.path.join(tmp.path, "limited.stderr")
    limit = 600

    def lower_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    with open(err_path, "wb") as err:
        proc = subprocess.Popen([aerotest.AERO_NETD, "--config", path], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err,
                                env=aerotest.daemon_env(), preexec_fn=lower_limit)
    try:
        ready = aerotest.poll_until(
            lambda: aerotest.http_status("127.0.0.1", http_port, "/readyz") == 200, 20.0)
        with open(err_path) as f:
            text = f.read()
        tap.ok(ready, f"under an open files limit of {limit} the daemon starts", text[-2000:])
        size = fd_size(proc.pid) if proc.poll() is None else 0
        tap.ok(0 < size <= 1024, f"the reservation stays within the limit ({limit}, rounded up)",
               f"FDSize {size}")
        tap.ok(f"descriptor table reserved for {limit} descriptors" in text,
               "the debug log names the bounded reservation", text[-2000:])
        c = aerotest.StreamClient(stream_port)
        c.send_frame(aerotest.arp_request("52:54:00:12:34:56", "10.0.2.15", "10.0.2.2"))
        tap.ok(len(c.recv_frame()) >= 42, "the daemon serves: an ARP request is answered")
        c.close()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    tap = aerotest.Tap()
    with aerotest.TempDir() as tmp:
        tap.check("table reserved at start, unchanged by a burst", run_reserved, tap, tmp)
        tap.check("reservation within the open files limit", run_limited, tap, tmp)
    tap.done()


if __name__ == "__main__":
    main()
