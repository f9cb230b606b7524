#!/usr/bin/python3
"""test_bad_config — configuration errors fail at start, clearly, with status 2.

Each bad configuration runs through `aero-netd --check-config --config FILE`
and must exit with status 2 and one stderr message of the shape

    aero-netd: FILE: [GROUP] KEY: TEXT      (an error about one key)
    aero-netd: FILE: [GROUP]: TEXT          (an error about a whole group)
    aero-netd: FILE: TEXT                   (the file itself)

where TEXT matches the case's expected fragments (the offending value, or
what the specification says the message names: the plugin, every file
tried and the search path; the ABI versions; ...).

Good configurations must pass --check-config with status 0 while this test
itself listens on every port they name: --check-config opens no socket.
"""

import os
import re
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aerotest  # noqa: E402
from aerotest import ini  # noqa: E402

STREAM = "127.0.0.1:18091"


def stack(plugin="test-reflect", name="lan", **keys):
    return (name, dict({"plugin": plugin}, **{k.replace("_", "-"): v for k, v in keys.items()}))


def transport(name="guest", **keys):
    g = {"plugin": "test-stream", "listen": STREAM}
    g.update({k.replace("_", "-"): v for k, v in keys.items()})
    return (name, g)


def cases(tmp):
    """[(description, config text or None for a missing file, group, key
    regex or None, [fragment regexes])]."""
    bad = aerotest.BAD_PLUGIN_DIR
    empty_dir = os.path.join(tmp.path, "no-plugins-here")
    os.makedirs(empty_dir, exist_ok=True)
    search = [empty_dir] + aerotest.plugin_dirs()
    tried = ", ".join(os.path.join(d, "nosuch.so") for d in search)
    not_pem = tmp.file("not-pem.txt", "this is neither a certificate nor a key\n")
    missing = os.path.join(tmp.path, "missing.pem")
    pair = aerotest.make_certificate(tmp.path)

    return [
        # The file itself.
        ("missing file", None, None, None, [r"(?i)no such file|not found|does not exist"]),
        ("ini syntax error: unterminated group header",
         "[core\nshutdown-timeout = 1s\n", None, None, []),
        ("ini syntax error: key outside any group",
         "shutdown-timeout = 1s\n[core]\n", None, None, []),
        # Groups and keys nobody knows.
        ("unknown group (no plugin key)",
         ini([("mystery", {"colour": "red"})]), "mystery", None, [r"unknown group"]),
        ("unknown key in [http]",
         ini([("http", {"listen": "127.0.0.1:18090", "port": "80"})]), "http", "port",
         [r"unknown key"]),
        ("unknown key in [core]",
         ini([("core", {"threads": "4"})]), "core", "threads", [r"unknown key"]),
        ("plugin key in [core] is unknown",
         ini([("core", {"plugin": "test-reflect"})]), "core", "plugin", [r"unknown key"]),
        ("unknown key in a stack plugin group",
         ini([stack(colour="red")]), "lan", "colour", [r"unknown key"]),
        ("unknown key in a transport plugin group",
         ini([stack(), transport(colour="red")]), "guest", "colour", [r"unknown key"]),
        # Malformed values of the core groups.
        ("listen with a host name",
         ini([("http", {"listen": "localhost:80"})]), "http", "listen", [r"localhost"]),
        ("listen with port 99999",
         ini([("http", {"listen": "127.0.0.1:99999"})]), "http", "listen", [r"99999"]),
        ("second listen address malformed",
         ini([("http", {"listen": "127.0.0.1:18090;[::1:18090"})]), "http", "listen",
         [r"\[::1:18090"]),
        ("max-connections-per-address negative",
         ini([("http", {"max-connections-per-address": "-1"})]), "http",
         "max-connections-per-address", [r"-1"]),
        ("max-connections-per-address not a number",
         ini([("http", {"max-connections-per-address": "many"})]), "http",
         "max-connections-per-address", [r"many"]),
        ("request-timeout not a duration",
         ini([("http", {"request-timeout": "soon"})]), "http", "request-timeout", [r"soon"]),
        ("idle-timeout above an hour",
         ini([("http", {"idle-timeout": "2h"})]), "http", "idle-timeout", [r"2h"]),
        ("max-sessions not an integer",
         ini([("core", {"max-sessions": "abc"})]), "core", "max-sessions", [r"abc"]),
        ("max-sessions out of range (0)",
         ini([("core", {"max-sessions": "0"})]), "core", "max-sessions", []),
        ("shutdown-timeout out of range (9999s)",
         ini([("core", {"shutdown-timeout": "9999s"})]), "core", "shutdown-timeout", []),
        ("shutdown-timeout not a duration",
         ini([("core", {"shutdown-timeout": "soon"})]), "core", "shutdown-timeout", [r"soon"]),
        ("[log] format not text|json",
         ini([("log", {"format": "xml"})]), "log", "format", [r"xml"]),
        ("[log] level unknown",
         ini([("log", {"level": "loud"})]), "log", "level", [r"loud"]),
        # Values validated by plugins.
        ("test-arp without its required address",
         ini([stack("test-arp")]), "lan", "address", [r"(?i)missing|required"]),
        ("test-arp address 999.1.1.1",
         ini([stack("test-arp", address="999.1.1.1")]), "lan", "address", [r"999\.1\.1\.1"]),
        ("test-arp address is IPv6",
         ini([stack("test-arp", address="::1")]), "lan", "address", [r"::1"]),
        ("test-arp mac malformed",
         ini([stack("test-arp", address="10.0.2.2", mac="52:55:0a:00:02")]), "lan", "mac",
         [r"52:55:0a:00:02"]),
        ("test-arp mac multicast",
         ini([stack("test-arp", address="10.0.2.2", mac="01:00:5e:00:00:01")]), "lan", "mac",
         [r"multicast"]),
        ("test-reflect drop-every negative",
         ini([stack(drop_every="-1")]), "lan", "drop-every", []),
        ("test-stream without its required listen",
         ini([stack(), ("guest", {"plugin": "test-stream"})]), "guest", "listen",
         [r"(?i)missing|required"]),
        ("test-stream close-delay above 60s",
         ini([stack(), transport(close_delay="61s")]), "guest", "close-delay", []),
        ("test-stream queue-frames zero",
         ini([stack(), transport(queue_frames="0")]), "guest", "queue-frames", []),
        # Plugins that cannot be loaded.
        ("plugin not found: names plugin, files tried, search path",
         ini([("core", {"plugin-path": empty_dir}), stack("nosuch")]), "lan", "plugin",
         [r"plugin 'nosuch' not found", r"tried " + re.escape(tried),
          r"search path: " + re.escape(":".join(search))]),
        ("empty plugin name",
         ini([stack("")]), "lan", "plugin", []),
        ("not a plugin: shared library without descriptor",
         ini([("core", {"plugin-path": bad}), stack("not-a-plugin")]), "lan", "plugin",
         [re.escape(os.path.join(bad, "not-a-plugin.so")), r"is not an aero-net plugin"]),
        ("not a plugin: garbage file",
         ini([("core", {"plugin-path": bad}), stack("garbage")]), "lan", "plugin",
         [re.escape(os.path.join(bad, "garbage.so")), r"is not an aero-net plugin"]),
        ("plugin built for ABI 999",
         ini([stack("test-badabi")]), "lan", "plugin",
         [r"test-badabi\.so",
          r"was built for plugin ABI 999, this aero-netd has ABI 1"]),
        # Wiring between instances.
        ("transport stack names an absent instance",
         ini([stack(), transport(stack="nothere")]), "guest", "stack", [r"nothere"]),
        ("transport stack names another transport",
         ini([stack(), transport(stack="lan"),
              transport("other", listen="127.0.0.1:18092", stack="guest")]),
         "other", "stack", [r"guest", r"transport"]),
        ("transport without stack while two stacks exist",
         ini([stack(), stack("test-arp", "lan2", address="10.0.2.2"), transport()]),
         "guest", "stack", []),
        ("transport without stack while no stack exists",
         ini([transport()]), "guest", "stack", []),
        ("filters names an absent instance",
         ini([stack(), transport(filters="nothere")]), "guest", "filters", [r"nothere"]),
        ("filters names a stack",
         ini([stack(), transport(filters="lan")]), "guest", "filters", [r"lan"]),
        # TLS.
        ("tls-key without tls-certificate",
         ini([("http", {"tls-key": not_pem})]), "http", r"tls-(?:certificate|key)",
         [r"tls-certificate"]),
        ("tls-certificate without tls-key, no key in the file",
         ini([("http", {"tls-certificate": not_pem})]), "http", r"tls-(?:certificate|key)",
         [r"(?i)tls-key|private key"]),
    ] + tls_cases(pair, not_pem, missing)


def tls_cases(pair, not_pem, missing):
    """Certificate and key files that are missing or not PEM, each next to
    a valid other half so that the message must be about the bad one."""
    if pair is None:
        return [("tls-certificate file missing",
                 ini([("http", {"tls-certificate": missing, "tls-key": not_pem})]),
                 "http", r"tls-(?:certificate|key)", [])]
    cert, key = pair
    return [
        ("tls-certificate file missing",
         ini([("http", {"tls-certificate": missing, "tls-key": key})]),
         "http", r"tls-certificate", [re.escape(missing), r"(?i)no such file"]),
        ("tls-key file missing",
         ini([("http", {"tls-certificate": cert, "tls-key": missing})]),
         "http", r"tls-(?:certificate|key)", [re.escape(missing), r"(?i)no such file"]),
        ("tls-certificate not a certificate",
         ini([("http", {"tls-certificate": not_pem, "tls-key": key})]),
         "http", r"tls-certificate", [re.escape(not_pem), r"(?i)certificate"]),
        ("tls-key not a key",
         ini([("http", {"tls-certificate": cert, "tls-key": not_pem})]),
         "http", r"tls-(?:certificate|key)", [re.escape(not_pem), r"(?i)key"]),
    ]


def message_re(path, group, key):
    prefix = r"aero-netd: " + re.escape(path) + r": "
    if group is None:
        return prefix
    if key is None:
        return prefix + r"\[" + re.escape(group) + r"\]:? "
    return prefix + r"\[" + re.escape(group) + r"\] (?:" + key + r"): "


def check_bad(tap, tmp, index, desc, text, group, key, fragments):
    if text is None:
        path = os.path.join(tmp.path, "does-not-exist.ini")
    else:
        path = tmp.file(f"bad-{index:02d}.ini", text)
    rc, out, err = aerotest.run_netd(["--check-config", "--config", path])
    problems = []
    if rc != 2:
        problems.append(f"exit status {rc}, expected 2")
    shape = message_re(path, group, key)
    line = next((ln for ln in err.splitlines() if re.search(shape, ln)), None)
    if line is None:
        problems.append(f"no stderr line matches {shape!r}")
    else:
        for frag in fragments:
            if not re.search(frag, line):
                problems.append(f"message lacks {frag!r}")
    diag = None
    if problems:
        diag = "\n".join(problems) + "\nconfig:\n" + (text or "(missing)") + "\nstderr:\n" + err
    tap.ok(not problems, f"bad config rejected: {desc}", diag)


def hold(port, host="127.0.0.1"):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.bind((host, port))
    s.listen(1)
    return s


def good_configs(tmp):
    """[(description, config, [(host, port) the config listens on])]."""
    http_port = aerotest.free_port()
    stream_port = aerotest.free_port()
    stream2_port = aerotest.free_port()
    ports = [("127.0.0.1", http_port), ("127.0.0.1", stream_port)]
    full = ini([
        ("core", {"plugin-path": aerotest.BAD_PLUGIN_DIR + ";" + tmp.path,
                  "shutdown-timeout": "1500ms", "max-sessions": "10"}),
        ("http", {"listen": f"127.0.0.1:{http_port}"}),
        ("log", {"format": "json", "level": "warning"}),
        stack(drop_every="3"),
        transport(listen=f"127.0.0.1:{stream_port}", close_delay="250ms", queue_frames="16"),
    ])
    two = ini([
        ("core", {"shutdown-timeout": "2min"}),
        ("http", {"listen": f"127.0.0.1:{http_port}"}),
        stack(),
        stack("test-arp", "lan2", address="10.0.2.2", mac="52:55:0A:00:02:03"),
        transport(listen=f"127.0.0.1:{stream_port}", stack="lan"),
        transport("guest2", listen=f"127.0.0.1:{stream2_port}", stack="lan2"),
    ])
    result = [
        ("empty file", "", []),
        ("all core keys, reflect stack, implicit stack wiring", full, ports),
        ("two stacks, two transports, explicit wiring", two,
         ports + [("127.0.0.1", stream2_port)]),
        ("bare-number duration and comma-separated list",
         ini([("core", {"shutdown-timeout": "30", "plugin-path": tmp.path + "," + tmp.path}),
              ("http", {"listen": f"127.0.0.1:{http_port}"})]), ports[:1]),
    ]
    if aerotest.ipv6_loopback_works():
        port6 = aerotest.free_port("::1")
        result.append(("IPv4 and IPv6 listen addresses",
                       ini([("http", {"listen": f"127.0.0.1:{http_port};[::1]:{port6}"})]),
                       ports[:1] + [("::1", port6)]))
    return result


def check_good(tap, tmp, index, desc, text, listens):
    path = tmp.file(f"good-{index:02d}.ini", text)
    held = []
    try:
        for host, port in listens:
            held.append(hold(port, host))
        rc, out, err = aerotest.run_netd(["--check-config", "--config", path])
    finally:
        for s in held:
            s.close()
    tap.ok(rc == 0, f"good config passes --check-config without opening sockets: {desc}",
           f"exit status {rc}\nconfig:\n{text}\nstderr:\n{err}")


def main():
    tap = aerotest.Tap()
    with aerotest.TempDir() as tmp:
        all_cases = cases(tmp)
        for i, (desc, text, group, key, fragments) in enumerate(all_cases):
            check_bad(tap, tmp, i, desc, text, group, key, fragments)

        # Without --check-config the same errors stop start-up, also with 2.
        path = tmp.file("bad-run.ini", ini([("http", {"listen": "127.0.0.1:18090",
                                                      "port": "80"})]))
        rc, _, err = aerotest.run_netd(["--config", path])
        tap.ok(rc == 2 and re.search(message_re(path, "http", "port"), err),
               "a bad config stops a normal start with status 2", f"rc={rc}\n{err}")

        for i, (desc, text, listens) in enumerate(good_configs(tmp)):
            check_good(tap, tmp, i, desc, text, listens)
    tap.done()


if __name__ == "__main__":
    main()
