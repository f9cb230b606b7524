#!/usr/bin/python3
"""test_slirp_idle — idle sessions do not wake the daemon.

Several hundred guests each open a session and get a DHCP lease, then stay
silent. libslirp has nothing time-driven to do for them (no sockets, no
TCP connections, no fragments, IPv6 and its router advertisements off),
so the daemon's main thread must stay asleep in poll(): over five seconds
it may wake at most twice, and use almost no CPU. A loop that hands
libslirp's one-second timeout cap to GLib wakes the daemon once a second
and then polls every session (the sessions' timeouts all restart at each
iteration, so they come due together): five wakeups here. Then the
sessions must still work: they all still exist, and a few of them get
their echo replies and a DHCP renewal answered.

The bounds are loose: this checks a property ("idle sessions do not wake
the daemon"), not a performance figure. The main thread only sleeps or
runs, so a busy machine adds no context switches to it.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netframes as nf  # noqa: E402
import slirptest as st  # noqa: E402
from slirptest import GATEWAY, GATEWAY_MAC, GUEST_IP  # noqa: E402

SESSIONS = 300
SETTLE = 1.5           # seconds after the last lease before measuring
WINDOW = 5.0           # seconds measured
MAX_WAKEUPS = 2        # context switches of the main thread in WINDOW (expected: 0)
MAX_CPU = 0.25         # seconds of CPU (user + system, all threads) in WINDOW

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of the whole process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def context_switches(pid):
    """Voluntary and involuntary context switches of the main thread, which
    runs the main loop: each sleep in poll() that ends is one."""
    counts = {}
    with open(f"/proc/{pid}/task/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"):
                counts[key] = int(value)
    return counts["voluntary_ctxt_switches"], counts["nonvoluntary_ctxt_switches"]


def is_dhcp_reply(f):
    return f.proto == nf.PROTO_UDP and f.sport == 67 and f.dport == 68


def dhcp_send(g, msg_type, xid, **kw):
    g.send(nf.udp_frame(g.mac, nf.BROADCAST, "0.0.0.0", "255.255.255.255", 68, 67,
                        nf.dhcp(msg_type, xid, g.mac, **kw)))


def lease(g, xid):
    """DISCOVER/OFFER, REQUEST/ACK; True when the ACK leases GUEST_IP."""
    dhcp_send(g, nf.DHCP_DISCOVER, xid)
    yiaddr, opts = nf.dhcp_parse(g.expect(is_dhcp_reply).payload)
    if opts.get(53) != bytes([nf.DHCP_OFFER]) or yiaddr != GUEST_IP:
        return False
    dhcp_send(g, nf.DHCP_REQUEST, xid, requested=GUEST_IP, server=GATEWAY)
    yiaddr, opts = nf.dhcp_parse(g.expect(is_dhcp_reply).payload)
    return opts.get(53) == bytes([nf.DHCP_ACK]) and yiaddr == GUEST_IP


def open_sessions(tap, stream_port, guests):
    """SESSIONS guests, one after the other (the test-stream listener has a
    short backlog), each with its lease. True when all got one."""
    leased = 0
    for i in range(SESSIONS):
        g = st.Guest(stream_port, mac=f"52:54:00:12:{i >> 8:02x}:{i & 0xff:02x}")
        guests.append(g)
        leased += lease(g, 0x1000 + i)
    return tap.ok(leased == SESSIONS, f"every guest got a DHCP lease ({leased}/{SESSIONS})")


def still_usable(tap, g, which):
    g.send(nf.eth(GATEWAY_MAC, g.mac, nf.ETH_IP4,
                  nf.ipv4(GUEST_IP, GATEWAY, nf.PROTO_ICMP, nf.icmp_echo(0x1D, 7, b"idle"))))
    f = g.expect(lambda f: f.proto == nf.PROTO_ICMP and f.src_ip == GATEWAY)
    tap.ok(f.icmp_type == 0 and f.payload.endswith(b"idle"),
           f"after the idle period, the {which} session's echo request to the gateway is "
           "answered")
    dhcp_send(g, nf.DHCP_REQUEST, 0xBEEF, requested=GUEST_IP, server=GATEWAY)
    yiaddr, opts = nf.dhcp_parse(g.expect(is_dhcp_reply).payload)
    tap.ok(opts.get(53) == bytes([nf.DHCP_ACK]) and yiaddr == GUEST_IP,
           "and its lease renewal is acknowledged")


def main():
    tap = st.Tap()
    with st.TempDir() as tmp:
        http_port, stream_port = st.free_port(), st.free_port()
        config = st.slirp_config(http_port, stream_port, lan={"ipv6": "false"})
        # Quieter than slirptest's debug level: hundreds of sessions.
        config = config.replace("level = debug", "level = info")
        with st.Daemon(tmp, config, http_port) as d:
            guests = []
            try:
                if not open_sessions(tap, stream_port, guests):
                    tap.done()
                    return
                tap.ok(st.poll_until(lambda: d.metric("aero_slirp_sessions") == SESSIONS, 10.0),
                       f"{SESSIONS} sessions open")

                time.sleep(SETTLE)
                cpu0, (vol0, invol0) = cpu_seconds(d.pid), context_switches(d.pid)
                t0 = time.monotonic()
                time.sleep(WINDOW)
                cpu1, (vol1, invol1) = cpu_seconds(d.pid), context_switches(d.pid)
                elapsed = time.monotonic() - t0
                wakeups = (vol1 - vol0) + (invol1 - invol0)
                cpu = cpu1 - cpu0
                tap.diag(f"over {elapsed:.2f} s with {SESSIONS} idle sessions: {wakeups} "
                         f"context switches of the main thread ({vol1 - vol0} voluntary), "
                         f"{cpu:.3f} s CPU")
                tap.ok(d.proc.poll() is None, "the daemon is still running")
                tap.ok(wakeups <= MAX_WAKEUPS,
                       f"idle sessions do not wake the daemon ({wakeups} context switches in "
                       f"{elapsed:.1f} s, at most {MAX_WAKEUPS})")
                tap.ok(cpu <= MAX_CPU,
                       f"idle sessions cost (almost) no CPU ({cpu:.3f} s in {elapsed:.1f} s, "
                       f"at most {MAX_CPU})")

                tap.ok(d.metric("aero_slirp_sessions") == SESSIONS,
                       f"all {SESSIONS} sessions still exist")
                for which, g in (("first", guests[0]), ("middle", guests[SESSIONS // 2]),
                                 ("last", guests[-1])):
                    tap.run(f"the {which} session still works", still_usable, tap, g, which)
            finally:
                for g in guests:
                    g.close()
            tap.ok(st.poll_until(lambda: d.metric("aero_slirp_sessions") == 0, 15.0),
                   "all sessions are torn down")
            rc = d.stop()
            tap.ok(rc == 0, f"aero-netd exits 0 on SIGTERM (status {rc})", d.stderr()[-3000:])
    tap.done()


if __name__ == "__main__":
    main()
