#!/usr/bin/python3
"""transport-webrtc with a real browser: headless Chromium (Debian's
package) loads a page this test serves on loopback, opens an `l2`
DataChannel with ordered: false through POST /webrtc/offer, sends an ARP
request for the gateway and a DHCP discover, and must receive stack-slirp's
answers. Chromium is driven through the DevTools protocol over a WebSocket
(standard library only, with transport-ws's minimal client). The daemon
checks Origins: the page's origin is allowed, another is refused.
Skips (exit 77) where Chromium is missing. TAP output."""

import functools
import http.server
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import aerotest
import wsclient

H = "127.0.0.1"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
]
PAGE_TIMEOUT = 30.0


def find_chromium():
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


class PageServer:
    """Serves the test page directory on loopback, in a thread."""

    def __init__(self, directory):
        handler = functools.partial(_QuietHandler, directory=directory)
        self.httpd = http.server.ThreadingHTTPServer((H, 0), handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class Chromium:
    """A headless Chromium with a fresh profile, killed (whole process
    group) on stop."""

    def __init__(self, binary, workdir):
        self.profile = os.path.join(workdir, "chromium-profile")
        os.makedirs(self.profile)
        self.log = open(os.path.join(workdir, "chromium.log"), "wb")
        self.proc = subprocess.Popen([binary] + CHROMIUM_FLAGS +
                                     [f"--user-data-dir={self.profile}", "about:blank"],
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.port = self._devtools_port()

    def _devtools_port(self):
        path = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.proc.returncode}")
            try:
                with open(path) as f:
                    return int(f.readline().strip())
            except (OSError, ValueError):
                time.sleep(0.05)
        raise RuntimeError("chromium wrote no DevToolsActivePort")

    def page_target(self):
        with urllib.request.urlopen(f"http://{H}:{self.port}/json/list", timeout=5) as r:
            targets = json.load(r)
        for t in targets:
            if t.get("type") == "page":
                return t["webSocketDebuggerUrl"]
        raise RuntimeError(f"no page target: {targets}")

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=5)
        self.log.close()


class Cdp:
    """A minimal DevTools protocol session over one page's WebSocket."""

    def __init__(self, ws_url):
        rest = ws_url.split("://", 1)[1]
        hostport, path = rest.split("/", 1)
        host, port = hostport.rsplit(":", 1)
        self.ws = wsclient.WsClient(host, int(port), "/" + path, protocols=())
        self.next_id = 0

    def call(self, method, params=None, timeout=10.0):
        self.next_id += 1
        mine = self.next_id
        self.ws.send_text(json.dumps({"id": mine, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while True:
            op, payload = self.ws.recv_message(max(0.0, deadline - time.monotonic()))
            if op != wsclient.OP_TEXT:
                continue
            message = json.loads(payload)
            if message.get("id") == mine:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return result.get("result", {}).get("value")

    def close(self):
        self.ws.close()


def config(http_port, page_origin):
    return aerotest.ini([
        ("core", {"shutdown-timeout": "3s"}),
        ("http", {"listen": f"{H}:{http_port}"}),
        ("log", {"level": "debug"}),
        ("admission", {"origins": page_origin}),
        ("lan", {"plugin": "stack-slirp"}),
        ("rtc", {"plugin": "transport-webrtc", "stack": "lan"}),
    ])


def post_offer(port, origin):
    req = urllib.request.Request(f"http://{H}:{port}/webrtc/offer", method="POST",
                                 data=b'{"type":"offer","sdp":"v=0"}',
                                 headers={"Content-Type": "application/json", "Origin": origin})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers)


def preflight(port, origin):
    req = urllib.request.Request(f"http://{H}:{port}/webrtc/offer", method="OPTIONS",
                                 headers={"Origin": origin,
                                          "Access-Control-Request-Method": "POST",
                                          "Access-Control-Request-Headers": "content-type"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}


def main():
    tap = aerotest.Tap()
    chromium = find_chromium()
    if chromium is None:
        print("1..0 # SKIP chromium is not installed (Debian package: chromium)")
        raise SystemExit(77)
    page_dir = os.environ.get("RTC_TEST_PAGE_DIR", os.path.dirname(os.path.abspath(__file__)))

    with aerotest.TempDir() as tmp:
        page = PageServer(page_dir)
        page_origin = f"http://{H}:{page.port}"
        http_port = aerotest.free_port()
        browser = None
        cdp = None
        d = aerotest.Daemon(tmp.file("aero.ini", config(http_port, page_origin)), tmp.path,
                            http_port=http_port)
        try:
            d.wait_ready()

            status, headers = preflight(http_port, page_origin)
            tap.ok(status == 204 and headers.get("access-control-allow-origin") == page_origin,
                   "CORS preflight from the page's origin: 204 allowing it", f"{status} {headers}")
            status, _ = preflight(http_port, "http://evil.example")
            tap.ok(status == 403, "preflight from another origin: 403", str(status))
            status, _ = post_offer(http_port, "http://evil.example")
            tap.ok(status == 403, "POST from another origin: 403 (the core's Origin check)",
                   str(status))

            browser = Chromium(chromium, tmp.path)
            cdp = Cdp(browser.page_target())
            cdp.call("Runtime.enable")
            url = (f"{page_origin}/rtc-test-page.html?server="
                   f"{urllib.parse.quote(f'http://{H}:{http_port}', safe='')}")
            cdp.call("Page.navigate", {"url": url})
            deadline = time.monotonic() + PAGE_TIMEOUT
            raw = None
            while time.monotonic() < deadline:
                raw = cdp.evaluate("window.testResult || null")
                if raw:
                    break
                time.sleep(0.2)
            result = json.loads(raw) if raw else {"ok": False, "error": "no result in time"}
            tap.diag(json.dumps(result))
            tap.ok(result.get("ok"), "the page opened an l2 channel and got answers",
                   result.get("error"))
            tap.ok(result.get("ordered") is False and result.get("maxRetransmits") is None,
                   "the channel is reliable and unordered")
            seen = result.get("seen", [])
            tap.ok(any(x.get("arpReplyFrom") == "10.0.2.2" for x in seen),
                   "ARP request for the gateway answered by 10.0.2.2")
            tap.ok(any(x.get("dhcp") == "offer" and x.get("yiaddr") == "10.0.2.15" for x in seen),
                   "DHCP discover answered with an offer of 10.0.2.15")
            tap.ok(result.get("answerMaxMessageSize") == "65536",
                   "the answer advertises a=max-message-size:65536")
            samples = d.metrics()
            tap.ok(aerotest.metric(samples, "aero_webrtc_channels_opened_total", instance="rtc",
                                   label="l2") == 1, "one l2 channel counted")
            tap.ok(aerotest.poll_until(
                lambda: aerotest.metric(d.metrics(), "aero_sessions_active") == 0, 10),
                "the page closed its channel: the session is gone")
            log = d.stderr()
            tap.ok("origin=" + page_origin in log or "origin=\"" + page_origin in log
                   or page_origin in log, "the access log names the page's origin")
        finally:
            if cdp:
                cdp.close()
            if browser:
                browser.stop()
            page.stop()
            rc = d.stop()
        tap.ok(rc == 0, "aero-netd exits 0 on SIGTERM", str(rc))
        tap.ok(not d.criticals(), "no critical log lines", "\n".join(d.criticals()))
    tap.done()


if __name__ == "__main__":
    main()
