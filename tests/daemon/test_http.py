#!/usr/bin/python3
"""test_http — the core's HTTP server: /healthz, /readyz, /metrics, TLS,
several listen addresses, request bodies (bounded), and the log formats.

/metrics is checked twice: by `promtool check metrics` when it is installed
and by promparse, a strict parser of the text format 0.0.4 (see
promparse.py), which also enforces this project's conventions.

promtool's exit status: 1 with "error while linting: ..." is a parse error
and fails the test. 3 means the exposition parsed and promlint has style
findings (printed one per line as `NAME: TEXT`); those are shown as
diagnostics but do not fail the test, because the style rules this project
commits to (HELP and TYPE on every family, counters named *_total) are
enforced by promparse, and the other promlint rules are advice. Any other
non-zero status fails.
"""

import json
import os
import re
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aerotest  # noqa: E402
import promparse  # noqa: E402
from aerotest import ini  # noqa: E402

PROMTOOL = "/usr/bin/promtool"

CORE_FAMILIES = {
    "aero_build_info": "gauge",
    "aero_ready": "gauge",
    "aero_plugin_info": "gauge",
    "aero_sessions_active": "gauge",
    "aero_sessions_opened_total": "counter",
    "aero_sessions_closed_total": "counter",
    "aero_session_frames_total": "counter",
    "aero_session_bytes_total": "counter",
    "aero_session_drops_total": "counter",
    "aero_http_bodies_refused_total": "counter",
    "aero_http_connections_open": "gauge",
    "aero_http_connections_accepted_total": "counter",
    "aero_http_connections_refused_total": "counter",
    "aero_http_accept_errors_total": "counter",
    "aero_http_requests_timed_out_total": "counter",
    "process_cpu_seconds_total": "counter",
    "process_resident_memory_bytes": "gauge",
    "process_virtual_memory_bytes": "gauge",
    "process_start_time_seconds": "gauge",
    "process_open_fds": "gauge",
    "process_max_fds": "gauge",
}


def check_parser_self_test(tap):
    rejected = []
    for desc, text in promparse.BAD_EXAMPLES:
        try:
            promparse.parse(text)
        except promparse.ParseError:
            rejected.append(desc)
    missed = [d for d, _ in promparse.BAD_EXAMPLES if d not in rejected]
    tap.ok(not missed, "promparse rejects every known-bad exposition", f"accepted: {missed}")
    try:
        promparse.parse(promparse.GOOD_EXAMPLE)
        good = True
    except promparse.ParseError as e:
        good = str(e)
    tap.ok(good is True, "promparse accepts a valid exposition with escapes, NaN and Inf",
           str(good))


def check_promtool(tap, body):
    if not os.path.exists(PROMTOOL):
        tap.skip("promtool check metrics", f"{PROMTOOL} not installed")
        return
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=body.encode(),
                       capture_output=True, timeout=30)
    output = (p.stdout + p.stderr).decode(errors="replace")
    if p.returncode == 3 and "error while linting" not in output:
        tap.diag("promtool lint findings (advice, not failures):")
        tap.diag(output)
        tap.ok(True, "promtool check metrics parses /metrics (lint findings shown above)")
    else:
        tap.ok(p.returncode == 0, "promtool check metrics accepts /metrics",
               f"exit {p.returncode}\n{output}")


def check_metrics(tap, d, instances):
    status, headers, body = d.get("/metrics")
    tap.ok(status == 200, "/metrics answers 200")
    ctype = headers.get("content-type", "")
    tap.ok(ctype.startswith("text/plain") and "version=0.0.4" in ctype,
           "/metrics Content-Type is text/plain; version=0.0.4", ctype)
    check_promtool(tap, body)
    try:
        expo = promparse.parse(body)
    except promparse.ParseError as e:
        tap.ok(False, "/metrics passes the strict text-format 0.0.4 parser", f"{e}\n{body}")
        return
    tap.ok(True, "/metrics passes the strict text-format 0.0.4 parser")

    missing = [f"{n} ({t})" for n, t in CORE_FAMILIES.items()
               if n not in expo.families or expo.families[n].type != t]
    tap.ok(not missing, "every core metric family is present with its type",
           f"missing or mistyped: {missing}")

    build = expo.series("aero_build_info")
    tap.ok(build == [({"version": "0.1.0"}, 1.0)], "aero_build_info{version=\"0.1.0\"} 1",
           str(build))
    tap.ok(expo.value("aero_ready") == 1, "aero_ready is 1 once started",
           str(expo.value("aero_ready")))
    infos = {s[0]["instance"]: s for s in expo.series("aero_plugin_info")}
    for name, (plugin, kind, version) in instances.items():
        got = infos.get(name)
        want = ({"instance": name, "plugin": plugin, "kind": kind, "version": version}, 1.0)
        tap.ok(got == want, f"aero_plugin_info for instance {name}", f"got {got}, want {want}")
    tap.ok(set(infos) == set(instances), "aero_plugin_info has exactly the configured instances",
           str(sorted(infos)))
    rss = expo.value("process_resident_memory_bytes")
    tap.ok(rss is not None and rss > 0, f"process_resident_memory_bytes > 0 ({rss})")
    vsz = expo.value("process_virtual_memory_bytes")
    tap.ok(vsz is not None and rss is not None and vsz >= rss,
           "process_virtual_memory_bytes >= resident")
    fds, max_fds = expo.value("process_open_fds"), expo.value("process_max_fds")
    tap.ok(fds is not None and max_fds is not None and 0 < fds <= max_fds,
           f"0 < process_open_fds ({fds}) <= process_max_fds ({max_fds})")
    start = expo.value("process_start_time_seconds")
    tap.ok(start is not None and time.time() - 600 < start <= time.time() + 1,
           f"process_start_time_seconds is a recent Unix time ({start})")
    tap.ok(expo.value("aero_sessions_active") == 0, "aero_sessions_active is 0 without clients")


def run_plain(tap, tmp):
    http_port, stream_port = aerotest.free_port(), aerotest.free_port()
    listen = [f"127.0.0.1:{http_port}"]
    port6 = None
    if aerotest.ipv6_loopback_works():
        port6 = aerotest.free_port("::1")
        listen.append(f"[::1]:{port6}")
    config = tmp.file("http.ini", aerotest.stream_config(
        http_port, stream_port, "test-arp", {"address": "10.0.2.2"},
        http={"listen": ";".join(listen)}))
    with aerotest.Daemon(config, tmp.path, http_port=http_port) as d:
        d.wait_ready()
        status, headers, body = d.get("/healthz")
        tap.ok(status == 200 and body.strip() == "ok", "/healthz answers 200 ok",
               f"{status} {body!r}")
        status, headers, body = d.get("/readyz")
        tap.ok(status == 200 and body.strip() == "ready", "/readyz answers 200 ready once started",
               f"{status} {body!r}")
        status = d.get("/no-such-path")[0]
        tap.ok(status == 404, f"an unknown path answers 404 ({status})")

        check_metrics(tap, d, {"lan": ("test-arp", "stack", "1.1.0"),
                               "guest": ("test-stream", "transport", "1.2.0")})
        check_bodies(tap, d, http_port)

        if port6 is None:
            tap.skip("/healthz answers on [::1] too", "IPv6 loopback unavailable")
        else:
            try:
                status = aerotest.http_get("::1", port6, "/healthz")[0]
            except OSError as e:
                status = repr(e)
            tap.ok(status == 200, "/healthz answers on the second listen address [::1]",
                   str(status))
        tap.ok(d.stop() == 0, "exits 0 on SIGTERM", d.stderr())
        check_text_log(tap, d.stderr())


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def send_request(port, head, body_chunks, timeout=20.0):
    """Sends HEAD then the body chunks; returns the status line's code and
    whether the server then closed the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head.encode())
        for chunk in body_chunks:
            s.sendall(chunk)
        data = b""
        while b"\r\n\r\n" not in data:
            got = s.recv(65536)
            if not got:
                break
            data += got
        code = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else None
        s.settimeout(5.0)
        try:
            while s.recv(65536):
                pass
            closed = True
        except OSError:
            closed = False
        return code, closed


def check_bodies(tap, d, port):
    """libsoup reads a request's whole body into memory before any handler
    runs: the core refuses bodies above 1 MiB, or of unknown length, with
    413, reads them into nothing and closes the connection."""
    mib = b"A" * (1 << 20)
    before = rss_kib(d.pid)
    code, closed = send_request(port, "GET /healthz HTTP/1.1\r\nHost: h\r\n"
                                      f"Content-Length: {64 << 20}\r\n\r\n", [mib] * 64)
    grown = (rss_kib(d.pid) - before) // 1024
    tap.ok(code == 413 and closed, f"a 64 MiB body is answered 413 and closed ({code}, {closed})")
    with open(f"/proc/{d.pid}/maps", encoding="ascii", errors="replace") as f:
        sanitized = "libasan" in f.read()
    if sanitized:
        # AddressSanitizer's quarantine keeps freed memory: RSS is no bound there.
        tap.skip("... and the daemon did not keep it", "AddressSanitizer build")
    else:
        tap.ok(grown < 16, f"... and the daemon did not keep it ({grown} MiB more RSS)")
    code, closed = send_request(port, "POST /no-such-path HTTP/1.1\r\nHost: h\r\n"
                                      "Transfer-Encoding: chunked\r\n\r\n",
                                [b"10\r\n" + b"B" * 16 + b"\r\n", b"0\r\n\r\n"])
    tap.ok(code == 413 and closed, f"a chunked body is answered 413 and closed ({code}, {closed})")
    code, _ = send_request(port, "GET /healthz HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
                                 "Content-Length: 1024\r\n\r\n", [b"C" * 1024])
    tap.ok(code == 200, f"a 1 KiB body is read and the request answered ({code})")
    refused = aerotest.metric(d.metrics(), "aero_http_bodies_refused_total")
    tap.ok(refused == 2, f"aero_http_bodies_refused_total = 2 ({refused})")


TEXT_LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z [A-Z]+ [^ :]+: .*\Z")


def check_text_log(tap, stderr):
    lines = [ln for ln in stderr.splitlines() if ln]
    bad = [ln for ln in lines if not TEXT_LINE.match(ln)]
    tap.ok(lines and not bad, "text log: every stderr line is 'TIME LEVEL component: message'",
           "\n".join(bad[:10]) or "(no lines)")


def run_json_log(tap, tmp):
    http_port, stream_port = aerotest.free_port(), aerotest.free_port()
    config = tmp.file("json.ini", aerotest.stream_config(
        http_port, stream_port, "test-reflect", log={"format": "json", "level": "debug"}))
    with aerotest.Daemon(config, tmp.path, http_port=http_port) as d:
        d.wait_ready()
        with aerotest.StreamClient(stream_port) as c:
            c.send_frame(aerotest.udp_frame("52:54:00:12:34:56", "52:55:0a:00:02:02",
                                            "10.0.2.15", "10.0.2.2", 1, 2, b"x"))
            c.recv_frame()
        d.get("/metrics")
        rc = d.stop()
        stderr = d.stderr()
    tap.ok(rc == 0, "json log: daemon exits 0", stderr)
    lines = [ln for ln in stderr.splitlines() if ln]
    problems = []
    for ln in lines:
        try:
            rec = json.loads(ln)
        except ValueError as e:
            problems.append(f"not JSON ({e}): {ln}")
            continue
        if not isinstance(rec, dict):
            problems.append(f"not an object: {ln}")
            continue
        for key in ("time", "level", "component", "message"):
            if not isinstance(rec.get(key), str):
                problems.append(f"no string {key}: {ln}")
        if isinstance(rec.get("time"), str) and \
                not re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z\Z", rec["time"]):
            problems.append(f"time not RFC 3339 UTC: {ln}")
    tap.ok(lines and not problems,
           f"json log: all {len(lines)} stderr lines are JSON objects with time, level, "
           "component, message", "\n".join(problems[:10]) or "(no lines)")
    tap.ok(any('"peer"' in ln for ln in lines),
           "json log: structured fields (peer) appear as JSON members")


def run_tls(tap, tmp):
    pair = aerotest.make_certificate(tmp.path)
    if pair is None:
        tap.skip("TLS: /healthz over https", "openssl missing or failed")
        return
    cert, key = pair
    http_port, stream_port = aerotest.free_port(), aerotest.free_port()
    config = tmp.file("tls.ini", aerotest.stream_config(
        http_port, stream_port, "test-reflect",
        http={"tls-certificate": cert, "tls-key": key}))
    ctx = ssl.create_default_context(cafile=cert)
    # LeakSanitizer's tracer crashes in processes that loaded GnuTLS through
    # glib-networking; AddressSanitizer and UBSan stay on.
    asan = os.environ.get("ASAN_OPTIONS", "")
    env = aerotest.daemon_env({"ASAN_OPTIONS": (asan + ":" if asan else "") + "detect_leaks=0"})
    with aerotest.Daemon(config, tmp.path, http_port=http_port, env=env) as d:
        d.wait_ready(tls_context=ctx)
        status, _, body = d.get("/healthz", tls_context=ctx)
        tap.ok(status == 200 and body.strip() == "ok",
               "TLS: https://127.0.0.1/healthz answers 200, certificate verified")
        status, _, body = d.get("/metrics", tls_context=ctx)
        tap.ok(status == 200 and "aero_build_info" in body, "TLS: /metrics over https")
        try:
            status = aerotest.http_get("127.0.0.1", http_port, "/healthz", timeout=3.0)[0]
        except (OSError, Exception):  # noqa: BLE001 - any failure means plain HTTP is not served
            status = None
        tap.ok(status != 200, "TLS: plain HTTP on the TLS port does not get /healthz",
               str(status))
        tap.ok(d.stop() == 0, "TLS: exits 0 on SIGTERM", d.stderr())


def run_default_listen(tap, tmp):
    """Without [http] listen the server is on 127.0.0.1:8090."""
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 8090))
    except OSError:
        tap.skip("default listen address 127.0.0.1:8090", "port 8090 is in use")
        return
    config = tmp.file("default.ini", ini([("log", {"level": "warning"})]))
    with aerotest.Daemon(config, tmp.path, http_port=8090) as d:
        d.wait_ready()
        tap.ok(d.get("/healthz")[0] == 200, "default listen address is 127.0.0.1:8090")
        tap.ok(d.stop() == 0, "default config: exits 0 on SIGTERM", d.stderr())


def run_log_level(tap, tmp):
    """[log] level = warning: nothing below warning is printed."""
    http_port, stream_port = aerotest.free_port(), aerotest.free_port()
    config = tmp.file("level.ini", aerotest.stream_config(
        http_port, stream_port, "test-reflect", log={"level": "warning"}))
    with aerotest.Daemon(config, tmp.path, http_port=http_port) as d:
        d.wait_ready()
        with aerotest.StreamClient(stream_port) as c:
            c.send_frame(aerotest.udp_frame("52:54:00:12:34:56", "52:55:0a:00:02:02",
                                            "10.0.2.15", "10.0.2.2", 1, 2, b"x"))
            c.recv_frame()
        rc = d.stop()
        low = [ln for ln in d.stderr().splitlines()
               if re.match(r"\S+ (DEBUG|INFO|NOTICE|MESSAGE) ", ln)]
    tap.ok(rc == 0 and not low, "[log] level = warning: no debug, info or notice lines",
           "\n".join(low))


def run_fd_exhaustion(tap, tmp):
    """Out of file descriptors (many idle connections), accept() fails: the
    core's accept loop rests and takes the waiting connections once
    descriptors are free again (libsoup 3.2's own listener stopped for
    good)."""
    import resource
    http_port, stream_port = aerotest.free_port(), aerotest.free_port()
    config = tmp.file("fds.ini", aerotest.stream_config(
        http_port, stream_port, "test-arp", {"address": "10.0.2.2"}))
    with aerotest.Daemon(config, tmp.path, http_port=http_port) as d:
        d.wait_ready()
        resource.prlimit(d.pid, resource.RLIMIT_NOFILE, (128, 128))
        socks = []
        try:
            for _ in range(200):
                socks.append(socket.create_connection(("127.0.0.1", http_port), timeout=5))
            time.sleep(2.0)
        finally:
            for s in socks:
                s.close()

        def healthy():
            try:
                return aerotest.http_get("127.0.0.1", http_port, "/healthz", timeout=1.0)[0] == 200
            except OSError:
                return False
        ok = aerotest.poll_until(healthy, 10.0, interval=0.2)
        tap.ok(ok, "after running out of descriptors the daemon accepts again")
        errors = aerotest.metric(d.metrics(), "aero_http_accept_errors_total") if ok else None
        tap.ok((errors or 0) >= 1, f"aero_http_accept_errors_total counts it ({errors})")
        tap.ok("accept() failed: Too many open files" in d.stderr(), "the log says so",
               d.stderr()[-1500:])
        tap.ok(d.stop() == 0, "exits 0 on SIGTERM")


def closed_by_server(sock, within):
    """Whether the server closes SOCK (EOF or reset) within WITHIN seconds
    without answering anything."""
    sock.settimeout(within)
    try:
        return sock.recv(100) == b""
    except ConnectionResetError:
        return True
    except OSError:
        return False


def read_to_eof(sock):
    """Everything SOCK receives until the peer closes."""
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def connect_from(source, port):
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    return s


def run_http_limits(tap, tmp):
    """[http] max-connections-per-address, request-timeout, idle-timeout."""
    http_port, stream_port = aerotest.free_port(), aerotest.free_port()
    listen = [f"127.0.0.1:{http_port}"]
    port6 = aerotest.free_port("::1") if aerotest.ipv6_loopback_works() else None
    if port6:
        listen.append(f"[::1]:{port6}")
    config = tmp.file("limits.ini", aerotest.stream_config(
        http_port, stream_port, "test-arp", {"address": "10.0.2.2"},
        http={"listen": ";".join(listen), "max-connections-per-address": "6",
              "request-timeout": "2s", "idle-timeout": "5s"}))
    with aerotest.Daemon(config, tmp.path, http_port=http_port) as d:
        d.wait_ready()

        def m(name, source="127.0.0.1"):
            with connect_from(source, http_port) as c:
                c.sendall(b"GET /metrics HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
                data = read_to_eof(c)
            body = data.partition(b"\r\n\r\n")[2].decode()
            return aerotest.metric(promparse.parse(body).samples, name) or 0

        # A request trickled a header line every 0.4 s never falls silent
        # for the idle timeout, but does not finish within request-timeout.
        with socket.create_connection(("127.0.0.1", http_port), timeout=5) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: h\r\n")
            start, closed = time.monotonic(), False
            while time.monotonic() - start < 4.5 and not closed:
                time.sleep(0.4)
                try:
                    s.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    closed = True
                    break
                s.settimeout(0.01)
                try:
                    closed = s.recv(100) == b""
                except socket.timeout:
                    pass
                except OSError:
                    closed = True
            took = time.monotonic() - start
        tap.ok(closed and took < 4.5, "a request trickled a line at a time is closed after "
               f"request-timeout (2 s), before idle-timeout (5 s) ({took:.1f} s)")
        tap.ok(m("aero_http_requests_timed_out_total") == 1,
               "aero_http_requests_timed_out_total counts it")

        # One request per connection: the response says so and the server
        # closes its end (libsoup 3.2 left a kept-alive connection that the
        # client closed in CLOSE_WAIT for ever).
        with socket.create_connection(("127.0.0.1", http_port), timeout=5) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n")
            s.settimeout(3)
            try:
                data, eof = read_to_eof(s), True
            except OSError:
                data, eof = b"", False
        head = data.partition(b"\r\n\r\n")[0].lower()
        tap.ok(data.startswith(b"HTTP/1.1 200") and b"connection: close" in head and eof,
               "a response says Connection: close and the server closes the connection",
               repr(data[:300]))
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=5)
        statuses = []
        try:
            for _ in range(3):
                conn.request("GET", "/healthz")
                r = conn.getresponse()
                r.read()
                statuses.append(r.status)
        except (OSError, http.client.HTTPException) as e:
            statuses.append(repr(e))
        finally:
            conn.close()
        tap.ok(statuses == [200] * 3, "an HTTP/1.1 client that wanted keep-alive reconnects",
               str(statuses))

        # Per address: six idle connections from 127.0.0.1 are the cap.
        # (Metrics are read from 127.0.0.2 meanwhile.)
        other = "127.0.0.2"
        held = [socket.create_connection(("127.0.0.1", http_port), timeout=5) for _ in range(6)]
        try:
            # The server has accepted all six (and the /metrics request).
            tap.ok(aerotest.poll_until(lambda: m("aero_http_connections_open", other) == 7, 5),
                   "aero_http_connections_open counts the six idle connections",
                   str(m("aero_http_connections_open", other)))
            with socket.create_connection(("127.0.0.1", http_port), timeout=5) as extra:
                extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n")
                tap.ok(closed_by_server(extra, 3), "the seventh connection from 127.0.0.1 is "
                       "closed unanswered (max-connections-per-address = 6)")
            with connect_from(other, http_port) as c:
                c.sendall(b"GET /healthz HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
                answer = c.recv(200)
            tap.ok(answer.startswith(b"HTTP/1.1 200"), "127.0.0.2 is another address: served",
                   repr(answer[:40]))
            refused = m("aero_http_connections_refused_total", other)
            tap.ok(refused == 1, f"aero_http_connections_refused_total is 1 ({refused})")
        finally:
            held.pop().close()
        time.sleep(0.3)
        try:
            status = aerotest.http_get("127.0.0.1", http_port, "/healthz")[0]
        except OSError as e:
            status = repr(e)
        tap.ok(status == 200, "with one of the six closed, 127.0.0.1 is served again", str(status))
        for s in held:
            s.close()
        # IPv6: ::1 is another address (its /64), with a cap of its own.
        if port6 is None:
            tap.skip("IPv6: the cap counts ::1 apart from 127.0.0.1", "IPv6 loopback unavailable")
        else:
            held6 = [socket.create_connection(("::1", port6), timeout=5) for _ in range(6)]
            try:
                with socket.create_connection(("::1", port6), timeout=5) as extra:
                    refused6 = closed_by_server(extra, 3)
                status = aerotest.http_get("127.0.0.1", http_port, "/healthz")[0]
            finally:
                for s in held6:
                    s.close()
            tap.ok(refused6 and status == 200, "IPv6: the seventh connection from ::1 is "
                   "refused while 127.0.0.1 is still served", f"{refused6} {status}")
        # /metrics is read over one more connection: it is the only one open.
        ok = aerotest.poll_until(lambda: m("aero_http_connections_open") == 1, 5)
        tap.ok(ok, "aero_http_connections_open back to 1 (the /metrics request itself)",
               str(m("aero_http_connections_open")))
        tap.ok(m("aero_http_connections_accepted_total") >= 14,
               "aero_http_connections_accepted_total counts every accepted connection")
        tap.ok(d.stop() == 0, "exits 0 on SIGTERM", d.stderr()[-1500:])


def main():
    tap = aerotest.Tap()
    check_parser_self_test(tap)
    with aerotest.TempDir() as tmp:
        for func in (run_plain, run_json_log, run_tls, run_log_level, run_default_listen,
                     run_fd_exhaustion, run_http_limits):
            try:
                func(tap, tmp)
            except Exception:  # noqa: BLE001 - report and go on with the next part
                import traceback
                tap.ok(False, f"{func.__name__} ran to completion", traceback.format_exc())
    tap.done()


if __name__ == "__main__":
    main()
