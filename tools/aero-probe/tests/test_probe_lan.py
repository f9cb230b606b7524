#!/usr/bin/python3
"""test_probe_lan — aero-probe against the real aero-netd: transport-ws
serving /l2 in front of stack-slirp, with a static DNS name and a virtual
TCP service that leads to an echo server on loopback.

Checks that every step passes (DHCP lease, ARP, DNS, ICMP, TCP echo and a
verified bulk transfer, both closes), that the report's values match the
configuration, the text report, --verbose, and failures the LAN itself
produces: NXDOMAIN, a refused TCP connection (RST), an address nobody
answers ARP for. Skips when the plugins are not built.
"""

import os
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import probetest as pt  # noqa: E402
from probetest import aerotest  # noqa: E402

SERVICE_ADDR = "10.0.2.100"
ECHO_NAME = "echo.aero.test"


def config(http_port, echo_port, refused_port, http_extra=None):
    return aerotest.ini([
        ("core", {"shutdown-timeout": "5s"}),
        ("http", dict({"listen": f"127.0.0.1:{http_port}"}, **(http_extra or {}))),
        ("log", {"level": "info"}),
        # The probe sends no Origin unless told to.
        ("admission", {"open": "true"}),
        ("lan", {"plugin": "stack-slirp"}),
        ("lan.dns", {ECHO_NAME: SERVICE_ADDR}),
        ("lan.services", {
            f"tcp:{SERVICE_ADDR}:7": f"127.0.0.1:{echo_port}",
            f"tcp:{SERVICE_ADDR}:9": f"127.0.0.1:{refused_port}",
        }),
        ("ws", {"plugin": "transport-ws", "stack": "lan", "mode": "server", "paths": "/l2"}),
    ])


def test_full_lan(tap, url, echo):
    before = echo.echoed
    run = pt.run_probe("--json", "--dns-name", ECHO_NAME, "--tcp", f"{ECHO_NAME}:7", url)
    r = run.report
    tap.ok(run.returncode == 0 and r is not None and r["ok"],
           "full LAN: exit status 0 and ok", run.diag())
    if r is None:
        return
    tap.ok([s["name"] for s in r["steps"]] == pt.STEPS, "full LAN: every step is reported, in order",
           [s["name"] for s in r["steps"]])
    failed = [s for s in r["steps"] if s["status"] != "passed"]
    tap.ok(not failed, "full LAN: every step passed",
           "\n".join(f"{s['name']}: {s['status']}: {s['summary']}" for s in failed))
    tap.ok(all(isinstance(s["ms"], (int, float)) and s["ms"] >= 0 for s in r["steps"]),
           "full LAN: every step has a duration in ms")
    tap.ok(run.step("connect")["details"].get("protocol") == "aero-l2-tunnel-v1"
           and run.step("connect")["details"].get("http_status") == 101,
           "full LAN: the upgrade selected aero-l2-tunnel-v1")
    d = run.step("dhcp")["details"]
    tap.ok(d.get("ip", "").startswith("10.0.2.") and d.get("netmask") == "255.255.255.0"
           and d.get("router") == "10.0.2.2" and d.get("dns") == ["10.0.2.3"]
           and isinstance(d.get("lease_time_s"), int),
           "full LAN: the lease gives an address in 10.0.2.0/24, router 10.0.2.2, DNS 10.0.2.3 "
           "and a lease time", d)
    a = run.step("arp")["details"]
    tap.ok(a.get("address") == "10.0.2.2" and len(a.get("mac", "")) == 17,
           "full LAN: ARP found the router's MAC", a)
    dns = run.step("dns")["details"]
    tap.ok(dns.get("addresses") == [SERVICE_ADDR] and dns.get("rcode") == "NOERROR",
           f"full LAN: DNS resolved {ECHO_NAME} to {SERVICE_ADDR} (static name)", dns)
    icmp = run.step("icmp")["details"]
    tap.ok(icmp.get("target") == "10.0.2.2" and icmp.get("rtt_ms", -1) >= 0,
           "full LAN: the router answered the ICMP echo, with an RTT", icmp)
    tc = run.step("tcp-connect")["details"]
    tap.ok(tc.get("address") == SERVICE_ADDR and tc.get("port") == 7 and tc.get("mss", 0) > 0
           and "resolve_ms" in tc,
           "full LAN: the TCP target was resolved through DNS and connected", tc)
    te = run.step("tcp-echo")["details"]
    tap.ok(te.get("bytes", 0) > 0 and te.get("rtt_ms", -1) >= 0,
           "full LAN: the echo round trip came back, with an RTT", te)
    b = run.step("tcp-bulk")["details"]
    tap.ok(b.get("bytes") == 1048576 and b.get("received") == 1048576 and b.get("verified") is True
           and b.get("mbit_s", 0) > 0,
           "full LAN: 1 MiB echoed back and verified byte for byte, with a throughput", b)
    tap.ok(echo.echoed - before >= 1048576,
           f"full LAN: the echo server on loopback carried the bulk ({echo.echoed - before} bytes)")
    c = run.step("tcp-close")["details"]
    tap.ok(c.get("fin_acked") is True and c.get("fin_received") is True,
           "full LAN: the TCP connection closed in both directions", c)
    tap.ok(run.step("close")["details"].get("code") == 1000,
           "full LAN: the WebSocket closed with 1000")
    tap.ok(r["tunnel"]["server_errors"] == [] and r["tunnel"]["messages_dropped"] == 0,
           "full LAN: no ERROR message and nothing dropped", r["tunnel"])
    tap.ok(run.stderr == "", "full LAN: nothing on stderr without --verbose", run.stderr[-2000:])


def test_text_defaults(tap, url):
    run = pt.run_probe(url)
    tap.ok(run.returncode == 0 and "result: PASS" in run.stdout,
           "defaults: the text report ends in PASS", run.diag())
    tap.ok(run.stdout.count("skipped (no --tcp given)") == 4,
           "defaults: without --tcp the four TCP steps say why they were skipped", run.stdout)
    tap.ok("localhost A 127.0.0.1" in run.stdout,
           "defaults: the default DNS name resolves through the host resolver", run.stdout)


def test_verbose(tap, url):
    run = pt.run_probe("--verbose", "--bulk", "0", "--tcp", f"{SERVICE_ADDR}:7", url)
    tap.ok(run.returncode == 0, "--verbose: exit status 0", run.diag())
    tap.ok("UDP 0.0.0.0:68 > 255.255.255.255:67" in run.stderr
           and "ARP who-has 10.0.2.2" in run.stderr and "[S]" in run.stderr,
           "--verbose: frames are logged on stderr (DHCP, ARP, TCP SYN)", run.stderr[-3000:])
    tap.ok("skipped (--bulk 0)" in run.stdout, "--bulk 0 skips the bulk transfer", run.stdout)


def test_nxdomain(tap, url):
    run = pt.run_probe("--json", "--dns-name", "no-such-name.invalid", "--tcp", f"{ECHO_NAME}:7",
                       url)
    r = run.report
    tap.ok(run.returncode == 1 and r is not None, "NXDOMAIN: exit status 1", run.diag())
    if r is None:
        return
    dns = run.step("dns")
    tap.ok(dns["status"] == "failed" and "NXDOMAIN" in dns["summary"]
           and dns["details"].get("rcode") == "NXDOMAIN",
           "NXDOMAIN: the dns step failed with NXDOMAIN", dns)
    tap.ok(run.step("icmp")["status"] == "passed" and run.step("close")["status"] == "passed",
           "NXDOMAIN: the steps that do not need DNS still ran and passed")
    tc = run.step("tcp-connect")
    tap.ok(tc["status"] == "skipped" and not tc["ok"] and "dns" in tc["summary"],
           "NXDOMAIN: TCP to a name is skipped (as a failure) when DNS failed", tc)


def test_refused(tap, url):
    run = pt.run_probe("--json", "--tcp", f"{SERVICE_ADDR}:9", url)
    r = run.report
    tap.ok(run.returncode == 1 and r is not None, "refused: exit status 1", run.diag())
    if r is None:
        return
    tc = run.step("tcp-connect")
    tap.ok(tc["status"] == "failed" and ("refused" in tc["summary"] or "reset" in tc["summary"]),
           "refused: tcp-connect failed with the peer's RST", tc)
    tap.ok(tc["ms"] < 4000, f"refused: the RST ends the handshake at once ({tc['ms']:.0f} ms)")
    tap.ok(all(run.step(n)["status"] == "skipped" and not run.step(n)["ok"]
               for n in ("tcp-echo", "tcp-bulk", "tcp-close")),
           "refused: the later TCP steps are skipped as failures")
    tap.ok(run.step("close")["status"] == "passed", "refused: the WebSocket still closes cleanly")


def test_unanswered_arp(tap, url):
    run = pt.run_probe("--json", "--timeout", "1.5", "--ping", "10.0.2.99", url)
    r = run.report
    tap.ok(run.returncode == 1 and r is not None, "unanswered ARP: exit status 1", run.diag())
    if r is None:
        return
    icmp = run.step("icmp")
    tap.ok(icmp["status"] == "failed" and "no ARP reply for 10.0.2.99" in icmp["summary"],
           "unanswered ARP: the icmp step names the address nobody answered for", icmp)
    tap.ok(1400 <= icmp["ms"] <= 3500,
           f"unanswered ARP: the step ended at its deadline ({icmp['ms']:.0f} ms)")


def no_leak_check_env():
    """LeakSanitizer's tracer crashes in processes that loaded GnuTLS through
    glib-networking; AddressSanitizer and UBSan stay on."""
    asan = os.environ.get("ASAN_OPTIONS", "")
    return {"ASAN_OPTIONS": (asan + ":" if asan else "") + "detect_leaks=0"}


def test_wss(tap, tmp, echo):
    pair = aerotest.make_certificate(tmp.path)
    if pair is None:
        tap.skip("wss:// with --insecure", "openssl missing or failed")
        return
    cert, key = pair
    http_port = aerotest.free_port()
    cfg = tmp.file("tls.ini", config(http_port, echo.port, aerotest.free_port(),
                                     {"tls-certificate": cert, "tls-key": key}))
    env = aerotest.daemon_env(no_leak_check_env())
    ctx = ssl.create_default_context(cafile=cert)
    with aerotest.Daemon(cfg, tmp.path, http_port=http_port, env=env) as d:
        d.wait_ready(tls_context=ctx)
        url = f"wss://127.0.0.1:{http_port}/l2"
        run = pt.run_probe("--json", "--insecure", "--dns-name", ECHO_NAME, "--tcp",
                           f"{ECHO_NAME}:7", "--bulk", "256K", url, env=no_leak_check_env())
        tap.ok(run.returncode == 0 and run.report and run.report["ok"],
               "wss:// with --insecure: every step passed over TLS", run.diag())
        run = pt.run_probe("--json", "--timeout", "3", url, env=no_leak_check_env())
        c = run.step("connect")
        tap.ok(run.returncode == 1 and c is not None and c["status"] == "failed",
               "wss:// without --insecure: a self-signed certificate fails the connect step",
               run.diag())


def main():
    tap = aerotest.Tap()
    missing = [p for p in ("transport-ws", "stack-slirp") if not aerotest.find_plugin_file(p)]
    if missing:
        print(f"1..0 # SKIP plugins not built: {', '.join(missing)}", flush=True)
        return
    with aerotest.TempDir("aero-probe-") as tmp, pt.EchoServer() as echo:
        http_port, refused_port = aerotest.free_port(), aerotest.free_port()
        cfg = tmp.file("aero.ini", config(http_port, echo.port, refused_port))
        with aerotest.Daemon(cfg, tmp.path, http_port=http_port) as d:
            d.wait_ready()
            url = f"ws://127.0.0.1:{http_port}/l2"
            for func, args in ((test_full_lan, (url, echo)), (test_text_defaults, (url,)),
                               (test_verbose, (url,)), (test_nxdomain, (url,)),
                               (test_refused, (url,)), (test_unanswered_arp, (url,))):
                pt.check(tap, func.__name__, func, tap, *args)
            tap.ok(d.running(), "aero-netd is still running after every probe", d.stderr()[-3000:])
        pt.check(tap, "test_wss", test_wss, tap, tmp, echo)
    tap.done()


if __name__ == "__main__":
    main()
