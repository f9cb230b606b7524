#!/usr/bin/python3
"""test_probe_failures — aero-probe against servers that refuse or
misbehave, and its command line: exit status 1 with the failing step
named (and the steps after it reported as skipped), exit status 2 for
usage errors, bounded run times, and no crash on hostile input.

The servers here are scripted in Python on loopback (probetest.FakeServer);
no aero-netd is needed.
"""

import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import probetest as pt  # noqa: E402
from probetest import aerotest, l2  # noqa: E402

FAST = ["--timeout", "2"]


def expect_connect_failure(tap, run, what, status=None, text=None):
    c = run.step("connect")
    ok = (run.returncode == 1 and run.report is not None and c is not None
          and c["status"] == "failed" and not run.report["ok"])
    tap.ok(ok, f"{what}: exit status 1, connect failed", run.diag())
    if not ok:
        return
    if status is not None:
        tap.ok(c["details"].get("http_status") == status,
               f"{what}: the report gives HTTP status {status}", run.diag())
    if text is not None:
        tap.ok(text in c["summary"], f"{what}: the reason mentions \"{text}\"", c["summary"])
    later = [run.step(n) for n in ("tunnel-ping", "dhcp", "arp", "dns", "icmp", "close")]
    tap.ok(all(s and s["status"] == "skipped" and not s["ok"] for s in later),
           f"{what}: the steps after connect are skipped and count as failures", run.diag())
    tcp = [run.step(n) for n in ("tcp-connect", "tcp-echo", "tcp-bulk", "tcp-close")]
    tap.ok(all(s and s["status"] == "skipped" and s["ok"] for s in tcp),
           f"{what}: without --tcp the TCP steps are skipped without counting as failures",
           run.diag())
    tap.ok(run.report["exit_code"] == 1 and run.report["counts"]["failed"] == 1,
           f"{what}: the JSON summary agrees (exit_code 1, one failed step)")


def test_nothing_listening(tap):
    port = aerotest.free_port()
    run = pt.run_probe("--json", *FAST, f"ws://127.0.0.1:{port}/l2")
    expect_connect_failure(tap, run, "nothing listening")
    if run.report:
        tap.ok("http_status" not in run.step("connect")["details"],
               "nothing listening: no HTTP status is reported")
    text = pt.run_probe(*FAST, f"ws://127.0.0.1:{port}/l2")
    tap.ok(text.returncode == 1 and "FAIL  connect" in text.stdout
           and "result: FAIL" in text.stdout,
           "nothing listening: the text report names the failed step and the result", text.diag())


def test_refusals(tap):
    for status, reason in ((400, "Bad Request"), (401, "Unauthorized"), (403, "Forbidden"),
                           (429, "Too Many Requests")):
        with pt.FakeServer(pt.http_refusal(status, reason)) as srv:
            run = pt.run_probe("--json", *FAST, srv.url())
            expect_connect_failure(tap, run, f"HTTP {status}", status=status,
                                   text=f"HTTP {status}")


def no_subprotocol(peer, line, headers, server):
    pt.upgrade(peer, headers, None)
    while True:
        opcode, payload = peer.read_frame()
        if opcode == 8:
            server.seen["close_payload"] = payload
            return


def test_no_subprotocol(tap):
    with pt.FakeServer(no_subprotocol) as srv:
        run = pt.run_probe("--json", *FAST, srv.url())
        expect_connect_failure(tap, run, "upgrade without a subprotocol", status=101,
                               text="no subprotocol")
        offered = srv.seen.get("headers", {}).get("sec-websocket-protocol", "")
        tap.ok(offered == "aero-l2-tunnel-v1",
               "the probe offers exactly aero-l2-tunnel-v1 without --token", offered)


def silent(peer, line, headers, server):
    # Reads the request and never answers.
    time.sleep(8)


def test_silent_server(tap):
    with pt.FakeServer(silent, deadline_s=10) as srv:
        run = pt.run_probe("--json", "--timeout", "1", srv.url())
        expect_connect_failure(tap, run, "a server that never answers the upgrade")
        tap.ok(run.elapsed < 6, f"a silent server costs about one step timeout "
               f"({run.elapsed:.1f}s with --timeout 1)")


def hostile_lan(peer, line, headers, server):
    """Completes the upgrade, sends junk and a PING, answers PINGs, ignores
    every frame (so DHCP gets nothing), answers the close."""
    seen = server.seen
    pt.upgrade(peer, headers, "aero-l2-tunnel-v1")
    peer.send_frame(1, b"text is not a tunnel message")
    peer.send_frame(2, l2(0, b"\x00" * 60, magic=0xA1))
    peer.send_frame(2, l2(0, b"\x00" * 60, version=0x02))
    peer.send_frame(2, b"\xa2\x03")
    peer.send_frame(2, l2(1, b"x" * 300))  # PING above the control limit
    peer.send_frame(2, l2(0x10, b"unknown type"))
    peer.send_frame(2, l2(0, b"\x01\x02\x03"))  # runt Ethernet frame
    msg = b"backpressure test"
    peer.send_frame(2, l2(0x7F, struct.pack("!HH", 9, len(msg)) + msg))
    peer.send_frame(2, l2(1, b"srvping1"))
    seen["discovers"] = 0
    while True:
        opcode, payload = peer.read_frame()
        if opcode == 8:
            seen["close_code"] = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
            peer.send_frame(8, struct.pack("!H", 1000))
            return
        if opcode == 9:
            peer.send_frame(10, payload)
            continue
        if opcode != 2 or len(payload) < 4 or payload[0] != 0xA2 or payload[1] != 0x03:
            seen.setdefault("bad_client_messages", 0)
            seen["bad_client_messages"] += 1
            continue
        kind, body = payload[2], payload[4:]
        if kind == 1:
            peer.send_frame(2, l2(2, body))
        elif kind == 2:
            seen["pong"] = body
        elif kind == 0 and pt.is_dhcp_discover(body):
            seen["discovers"] += 1


def test_hostile_lan(tap):
    with pt.FakeServer(hostile_lan) as srv:
        run = pt.run_probe("--json", *FAST, "--token", "s3cret", "--origin",
                           "https://example.test", "--mac", "02:00:00:aa:bb:cc", srv.url())
        r = run.report
        tap.ok(run.returncode == 1 and r is not None, "hostile LAN: exit status 1 with a report",
               run.diag())
        if r is None:
            return
        headers = srv.seen.get("headers", {})
        tap.ok(headers.get("sec-websocket-protocol") == "aero-l2-tunnel-v1, aero-l2-token.s3cret",
               "--token is offered as a second subprotocol entry",
               headers.get("sec-websocket-protocol"))
        tap.ok(headers.get("origin") == "https://example.test", "--origin sets the Origin header",
               headers.get("origin"))
        tap.ok("s3cret" not in run.stdout and r["options"]["token"] is True,
               "the report says a token was given but never shows it")
        tap.ok(run.step("connect")["status"] == "passed", "hostile LAN: connect passed")
        tap.ok(run.step("tunnel-ping")["status"] == "passed"
               and run.step("tunnel-ping")["details"]["rtt_ms"] >= 0,
               "hostile LAN: the probe's PING got its PONG, with an RTT")
        dhcp = run.step("dhcp")
        tap.ok(dhcp["status"] == "failed" and "DHCPOFFER" in dhcp["summary"],
               "hostile LAN: dhcp failed for want of an OFFER", dhcp)
        tap.ok(1500 <= dhcp["ms"] <= 4000, f"hostile LAN: dhcp gave up at its deadline "
               f"({dhcp['ms']:.0f} ms with --timeout 2)")
        tap.ok(srv.seen.get("discovers", 0) >= 2,
               f"hostile LAN: DISCOVER was retransmitted ({srv.seen.get('discovers')} seen)")
        tap.ok(all(run.step(n)["status"] == "skipped" and not run.step(n)["ok"]
                   for n in ("arp", "dns", "icmp")),
               "hostile LAN: arp, dns and icmp are skipped as failures")
        tap.ok(run.step("close")["status"] == "passed"
               and run.step("close")["details"].get("code") == 1000
               and srv.seen.get("close_code") == 1000,
               "hostile LAN: the WebSocket is closed with 1000 both ways", run.step("close"))
        t = r["tunnel"]
        tap.ok(srv.seen.get("pong") == b"srvping1" and t["pings_answered"] == 1,
               "hostile LAN: the server's PING was answered with an exact PONG",
               f"{srv.seen.get('pong')!r} {t['pings_answered']}")
        tap.ok(t["messages_dropped"] >= 5,
               f"hostile LAN: text, bad magic, bad version, short and oversized messages "
               f"dropped ({t['messages_dropped']})")
        tap.ok(t["unknown_types"] == 1, "hostile LAN: the unknown type was ignored")
        tap.ok(t["packets_invalid"] >= 1, "hostile LAN: the runt frame was counted as invalid")
        tap.ok(t["server_errors"] == [{"code": 9, "message": "backpressure test"}],
               "hostile LAN: the structured ERROR is reported", t["server_errors"])
        tap.ok(r["options"]["mac"] == "02:00:00:aa:bb:cc", "--mac is used and reported")
        tap.ok(not srv.seen.get("bad_client_messages") and not srv.errors,
               "hostile LAN: every message the probe sent was a valid tunnel message",
               f"{srv.seen.get('bad_client_messages')} {srv.errors}")


def policy_close(peer, line, headers, server):
    pt.upgrade(peer, headers, "aero-l2-tunnel-v1")
    msg = b"quota exceeded"
    peer.send_frame(2, l2(0x7F, struct.pack("!HH", 6, len(msg)) + msg))
    peer.send_frame(8, struct.pack("!H", 1008) + b"quota")
    while True:
        opcode, _ = peer.read_frame()
        if opcode == 8:
            return


def test_policy_close(tap):
    with pt.FakeServer(policy_close) as srv:
        run = pt.run_probe("--json", "--timeout", "10", srv.url())
        r = run.report
        tap.ok(run.returncode == 1 and r is not None,
               "server closes with 1008: exit status 1 with a report", run.diag())
        if r is None:
            return
        failed = [s for s in r["steps"] if s["status"] == "failed"]
        tap.ok(failed and any("1008" in s["summary"] for s in failed),
               "server closes with 1008: a failed step names the close code",
               "\n".join(s["summary"] for s in failed))
        tap.ok(run.step("close")["status"] == "failed"
               and "closed first" in run.step("close")["summary"],
               "server closes with 1008: the close step says the server closed first",
               run.step("close"))
        tap.ok({"code": 6, "message": "quota exceeded"} in r["tunnel"]["server_errors"]
               and r["tunnel"]["server_close_code"] == 1008,
               "server closes with 1008: the ERROR and the close code are in the report",
               r["tunnel"])
        tap.ok(run.elapsed < 8, f"server closes with 1008: no step waits for its timeout "
               f"(10 s) once the tunnel is closed ({run.elapsed:.1f}s)")


def test_usage(tap):
    url = "ws://127.0.0.1:9/l2"
    cases = [
        ([], "no URL"),
        ([url, url], "two URLs"),
        (["http://127.0.0.1:9/l2"], "an http:// URL"),
        (["--tcp", "10.0.2.100", url], "--tcp without a port"),
        (["--tcp", "10.0.2.100:0", url], "--tcp with port 0"),
        (["--tcp", "bad name!:7", url], "--tcp with an invalid host"),
        (["--bulk", "lots", url], "--bulk that is not a number"),
        (["--timeout", "0", url], "--timeout 0"),
        (["--mac", "01:00:5e:00:00:01", url], "a multicast --mac"),
        (["--mac", "02:00:00:00:00", url], "a short --mac"),
        (["--ping", "example", url], "--ping with a name"),
        (["--token", "has space", url], "--token with a space"),
        (["--dns-name", "a..b", url], "--dns-name with an empty label"),
        (["--no-such-option", url], "an unknown option"),
    ]
    for args, what in cases:
        run = pt.run_probe(*args, timeout=20)
        tap.ok(run.returncode == 2 and run.stdout == "" and "aero-probe:" in run.stderr,
               f"usage error ({what}): exit status 2 and a message on stderr", run.diag())
    run = pt.run_probe("--help", timeout=20)
    tap.ok(run.returncode == 0 and "--tcp" in run.stdout and "--json" in run.stdout,
           "--help lists the options", run.diag())
    run = pt.run_probe("--version", timeout=20)
    tap.ok(run.returncode == 0 and run.stdout.startswith("aero-probe "), "--version", run.diag())


def main():
    tap = aerotest.Tap()
    for func in (test_usage, test_nothing_listening, test_refusals, test_no_subprotocol,
                 test_silent_server, test_hostile_lan, test_policy_close):
        pt.check(tap, func.__name__, func, tap)
    tap.done()


if __name__ == "__main__":
    main()
