"""aerotest — helpers shared by the aero-netd integration tests.

TAP output, free loopback ports, temporary configuration files, starting
aero-netd with its stderr captured to a file, waiting on /readyz, stopping
the daemon by PID (SIGTERM, then SIGKILL after a bound), and a client for
the test-stream transport's wire format (4-byte big-endian length, frame).

Every wait in here has a deadline: nothing may hang a test run.

Environment (set by tests/daemon/meson.build):
  AERO_NETD              path of the aero-netd executable
  AERO_NETD_PLUGIN_PATH  ':'-separated plugin build directories
  AERO_BAD_PLUGIN_DIR    directory with not-a-plugin.so and garbage.so
"""

import http.client
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback

AERO_NETD = os.environ.get("AERO_NETD", "aero-netd")
PLUGIN_PATH = os.environ.get("AERO_NETD_PLUGIN_PATH", "")
BAD_PLUGIN_DIR = os.environ.get("AERO_BAD_PLUGIN_DIR", "")

# Bounds for every wait, in seconds.
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
KILL_TIMEOUT = 5.0
HTTP_TIMEOUT = 5.0
IO_TIMEOUT = 5.0


def plugin_dirs():
    """The plugin build directories, in search order."""
    return [d for d in PLUGIN_PATH.split(":") if d]


def find_plugin_file(name):
    """Where the test environment's search path finds NAME.so, or None."""
    for d in plugin_dirs():
        path = os.path.join(d, name + ".so")
        if os.path.exists(path):
            return path
    return None


# ---- TAP ------------------------------------------------------------------

class Tap:
    """Prints TAP version 13 results; the plan is printed at the end so a
    crash part-way through shows up as a missing plan."""

    def __init__(self):
        self.n = 0
        self.failed = 0
        print("TAP version 13", flush=True)

    def ok(self, cond, desc, diag=None):
        self.n += 1
        desc = desc.replace("#", "\\#")
        if cond:
            print(f"ok {self.n} - {desc}", flush=True)
        else:
            self.failed += 1
            print(f"not ok {self.n} - {desc}", flush=True)
            if diag:
                self.diag(diag)
        return bool(cond)

    def skip(self, desc, reason):
        self.n += 1
        print(f"ok {self.n} - {desc} # SKIP {reason}", flush=True)

    def diag(self, text):
        for line in str(text).splitlines() or [""]:
            print(f"# {line}", flush=True)

    def check(self, desc, func, *args, **kwargs):
        """Runs FUNC; an exception becomes a failure with its traceback, a
        returned boolean becomes one result, None reports nothing more."""
        try:
            result = func(*args, **kwargs)
        except Exception:  # noqa: BLE001 - reported as a failure, not raised
            self.ok(False, desc, traceback.format_exc())
            return None
        if result is not None:
            self.ok(result is not False, desc)
        return result

    def done(self):
        print(f"1..{self.n}", flush=True)
        sys.exit(1 if self.failed else 0)


# ---- ports, files -------------------------------------------------------

_handed_out = set()


def free_port(host="127.0.0.1"):
    """A TCP port that nothing listens on right now (and that this process
    has not handed out before). Ports come at random from below the kernel's
    ephemeral range, so that neither another test process asking the kernel
    for a port nor an outgoing connection can be handed the same one before
    the daemon binds it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(10000, 32768)
        if port in _handed_out:
            continue
        with socket.socket(family, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port found")


def ipv6_loopback_works():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class TempDir:
    """A temporary directory removed on exit (context manager)."""

    def __init__(self, prefix="aerotest-"):
        self.path = tempfile.mkdtemp(prefix=prefix)

    def file(self, name, text):
        path = os.path.join(self.path, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)


def make_certificate(directory):
    """Writes a self-signed certificate for 127.0.0.1/localhost and its key
    into DIRECTORY; returns (cert, key), or None when openssl is missing or
    fails."""
    openssl = shutil.which("openssl")
    if not openssl:
        return None
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    try:
        p = subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-subj", "/CN=localhost", "-days", "1",
                            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                            "-keyout", key, "-out", cert], capture_output=True, timeout=60,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None
    if p.returncode != 0 or not os.path.exists(cert) or not os.path.exists(key):
        return None
    return cert, key


def daemon_env(extra=None):
    env = dict(os.environ)
    env["AERO_NETD_PLUGIN_PATH"] = PLUGIN_PATH
    # The daemon's own output must not depend on the caller's locale.
    env["LC_ALL"] = "C.UTF-8"
    env.pop("G_MESSAGES_DEBUG", None)
    if extra:
        env.update(extra)
    return env


def run_netd(args, timeout=20.0, env=None, binary=None):
    """Runs aero-netd to completion; returns (returncode, stdout, stderr).
    A run that exceeds TIMEOUT is killed and reported as returncode None."""
    try:
        p = subprocess.run([binary or AERO_NETD] + list(args), stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=timeout,
                           env=env or daemon_env())
    except subprocess.TimeoutExpired as e:
        return None, (e.stdout or b"").decode(errors="replace"), \
            (e.stderr or b"").decode(errors="replace") + "\n[killed after timeout]"
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


# ---- HTTP ---------------------------------------------------------------

def http_get(host, port, path, timeout=HTTP_TIMEOUT, tls_context=None):
    """GET http(s)://HOST:PORT/PATH; returns (status, headers dict, body str)."""
    if tls_context is not None:
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=tls_context)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        resp = conn.getresponse()
        body = resp.read().decode("utf-8", errors="replace")
        headers = {k.lower(): v for k, v in resp.getheaders()}
        return resp.status, headers, body
    finally:
        conn.close()


def http_status(host, port, path, timeout=2.0):
    """The status of GET PATH, or None when the server cannot be reached."""
    try:
        return http_get(host, port, path, timeout=timeout)[0]
    except (OSError, http.client.HTTPException):
        return None


# ---- the daemon ---------------------------------------------------------

class Daemon:
    """One aero-netd process running CONFIG, with stdout and stderr captured
    to files in WORKDIR. Use as a context manager: the process is always
    stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(self, config, workdir, http_host="127.0.0.1", http_port=None,
                 env=None, binary=None, args=()):
        self.config = config
        self.http_host = http_host
        self.http_port = http_port
        self.stderr_path = os.path.join(workdir, f"aero-netd-{id(self)}.stderr")
        self.stdout_path = os.path.join(workdir, f"aero-netd-{id(self)}.stdout")
        self._stderr = open(self.stderr_path, "wb")
        self._stdout = open(self.stdout_path, "wb")
        self.proc = subprocess.Popen([binary or AERO_NETD, "--config", config] + list(args),
                                     stdin=subprocess.DEVNULL, stdout=self._stdout,
                                     stderr=self._stderr, env=env or daemon_env())
        self.pid = self.proc.pid
        self.returncode = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill_if_running()
        self._stderr.close()
        self._stdout.close()

    def stderr(self):
        self._stderr.flush()
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", errors="replace")

    def running(self):
        return self.poll() is None

    def criticals(self):
        """stderr lines logged at critical or error level (a GLib critical
        is a programming error somewhere)."""
        return [ln for ln in self.stderr().splitlines()
                if re.search(r"^\S+ (CRITICAL|ERROR) |\"level\": *\"(critical|error)\"|"
                             r"-CRITICAL \*\*|-ERROR \*\*", ln)]

    def poll(self):
        if self.returncode is None:
            self.returncode = self.proc.poll()
        return self.returncode

    def wait_ready(self, timeout=START_TIMEOUT, path="/readyz", tls_context=None):
        """Polls /readyz until it answers 200. Raises with the daemon's
        stderr if the process exits or the deadline passes."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if not self.running():
                raise RuntimeError(f"aero-netd exited with {self.returncode} before ready:\n"
                                   + self.stderr())
            try:
                last = http_get(self.http_host, self.http_port, path, timeout=1.0,
                                tls_context=tls_context)[0]
                if last == 200:
                    return
            except (OSError, http.client.HTTPException) as e:
                last = repr(e)
            time.sleep(0.05)
        raise RuntimeError(f"aero-netd not ready after {timeout}s (last: {last}):\n"
                           + self.stderr())

    def send_signal(self, signum=signal.SIGTERM):
        if self.running():
            os.kill(self.pid, signum)

    def wait(self, timeout):
        """Waits up to TIMEOUT for the process to exit; returns its status or
        None if it is still running."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def stop(self, signum=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Sends SIGNUM and waits up to TIMEOUT; returns the exit status, or
        None when it had to be killed."""
        self.send_signal(signum)
        rc = self.wait(timeout)
        if rc is None:
            self.kill_if_running()
        return rc

    def kill_if_running(self):
        if self.running():
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            if self.wait(STOP_TIMEOUT) is None:
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.wait(KILL_TIMEOUT)

    def get(self, path, **kw):
        return http_get(self.http_host, self.http_port, path, **kw)

    def metrics(self):
        """The parsed /metrics samples as {(name, frozenset(labels)): value}."""
        import promparse
        status, _, body = self.get("/metrics")
        if status != 200:
            raise RuntimeError(f"/metrics answered {status}")
        return promparse.parse(body).samples


def metric(samples, name, **labels):
    """The value of one series in a metrics() result, or None."""
    return samples.get((name, frozenset(labels.items())))


def poll_until(func, timeout, interval=0.05):
    """Calls FUNC until it returns a true value or TIMEOUT passes; returns
    the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = func()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


# ---- configuration --------------------------------------------------------

def ini(groups):
    """Renders [(group, {key: value})] as an ini file."""
    out = []
    for group, keys in groups:
        out.append(f"[{group}]")
        for k, v in keys.items():
            out.append(f"{k} = {v}")
        out.append("")
    return "\n".join(out)


def stream_config(http_port, stream_port, stack_plugin="test-reflect", stack_keys=None,
                  stream_keys=None, core=None, log=None, http=None, extra=()):
    """A configuration with one test-stream transport `guest` in front of
    one stack instance `lan`."""
    groups = []
    groups.append(("core", dict(core or {"shutdown-timeout": "5s"})))
    h = {"listen": f"127.0.0.1:{http_port}"}
    h.update(http or {})
    groups.append(("http", h))
    groups.append(("log", dict(log or {"level": "debug"})))
    groups.append(("lan", dict({"plugin": stack_plugin}, **(stack_keys or {}))))
    s = {"plugin": "test-stream", "listen": f"127.0.0.1:{stream_port}", "stack": "lan"}
    s.update(stream_keys or {})
    groups.append(("guest", s))
    groups.extend(extra)
    return ini(groups)


# ---- the test-stream wire format --------------------------------------------

class StreamClient:
    """A client of the test-stream transport."""

    def __init__(self, port, host="127.0.0.1", timeout=IO_TIMEOUT, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.buf = b""
        self.eof = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send_frame(self, frame):
        self.sock.sendall(struct.pack(">I", len(frame)) + frame)

    def send_raw(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("deadline passed")
        self.sock.settimeout(remaining)
        data = self.sock.recv(65536)
        if not data:
            self.eof = True
            raise EOFError("connection closed by the server")
        self.buf += data

    def recv_frame(self, timeout=IO_TIMEOUT):
        """The next frame; raises socket.timeout or EOFError."""
        deadline = time.monotonic() + timeout
        while len(self.buf) < 4:
            self._fill(deadline)
        (length,) = struct.unpack(">I", self.buf[:4])
        while len(self.buf) < 4 + length:
            self._fill(deadline)
        frame = self.buf[4:4 + length]
        self.buf = self.buf[4 + length:]
        return frame

    def recv_nothing(self, timeout):
        """True if no frame (and no close) arrives within TIMEOUT."""
        try:
            self.recv_frame(timeout)
        except socket.timeout:
            return True
        except EOFError:
            return False
        return False

    def wait_closed(self, timeout):
        """True once the server closed the connection (EOF or reset) within
        TIMEOUT; frames arriving meanwhile are discarded."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self._fill(deadline)
                self.buf = b""
        except EOFError:
            return True
        except ConnectionError:
            return True
        except socket.timeout:
            return False


# ---- frames -------------------------------------------------------------

def mac(text):
    return bytes.fromhex(text.replace(":", ""))


def ip4(text):
    return socket.inet_aton(text)


def arp_request(sender_mac, sender_ip, target_ip, op=1):
    eth = b"\xff" * 6 + mac(sender_mac) + b"\x08\x06"
    arp = struct.pack(">HHBBH", 1, 0x0800, 6, 4, op)
    arp += mac(sender_mac) + ip4(sender_ip) + b"\x00" * 6 + ip4(target_ip)
    return eth + arp


def ipv4_checksum(header):
    if len(header) % 2:
        header += b"\x00"
    total = sum(struct.unpack(f">{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


def udp_frame(src_mac, dst_mac, src_ip, dst_ip, sport, dport, payload):
    udp = struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload
    hdr = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0x1234, 0x4000, 64, 17, 0,
                      ip4(src_ip), ip4(dst_ip))
    hdr = hdr[:10] + struct.pack(">H", ipv4_checksum(hdr)) + hdr[12:]
    return mac(dst_mac) + mac(src_mac) + b"\x08\x00" + hdr + udp


def swap_macs(frame):
    return frame[6:12] + frame[0:6] + frame[12:]
