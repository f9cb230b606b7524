#!/usr/bin/env python3
"""test_policy_config — the policy's configuration as aero-netd sees it.

The shipped data/aero-production.ini is safe by default and passes
--check-config; open mode with a non-loopback listen address is refused
with exit status 2 and a message naming the file, group, key and the way
out (also at start-up, not only with --check-config), unless
allow-open-on-public says so; open mode on loopback starts with a loud
warning; malformed keys stop start-up with status 2; the plugin lists as
kind policy; its metric families are on /metrics once it runs.
"""
import os
import re

import aerotest
import policycore

SOURCE_ROOT = os.environ.get("AERO_SOURCE_ROOT", os.path.join(os.path.dirname(__file__),
                                                              "..", "..", ".."))
PRODUCTION = os.path.join(SOURCE_ROOT, "data", "aero-production.ini")


def config(http_listen, policy_keys, tunnel=True):
    groups = [("core", {"shutdown-timeout": "2s"}),
              ("http", {"listen": http_listen}),
              ("log", {"level": "info"})] + policycore.admission(allow_none_on_public="true") + [
              ("lan", {"plugin": "test-reflect"}),
              ("egress", dict({"plugin": "policy"}, **policy_keys))]
    if tunnel:
        groups.append(("tunnel", {"plugin": "test-stream", "listen": "127.0.0.1:%d" %
                                  aerotest.free_port(), "stack": "lan", "filters": "egress"}))
    return aerotest.ini(groups)


def main():
    tap = aerotest.Tap()
    for plugin in ("policy", "test-stream", "test-reflect", "transport-ws", "stack-slirp"):
        if aerotest.find_plugin_file(plugin) is None:
            print(f"1..0 # SKIP plugin {plugin} not built")
            return

    rc, out, err = aerotest.run_netd(["--config", PRODUCTION, "--check-config"])
    tap.ok(rc == 0, "data/aero-production.ini passes --check-config", out + err)
    text = open(PRODUCTION).read()
    tap.ok(re.search(r"^listen = 0\.0\.0\.0:", text, re.M) and
           re.search(r"^filters = egress", text, re.M) and re.search(r"^mode = safe", text, re.M),
           "it listens on a public address with every session behind the policy in safe mode")

    rc, out, err = aerotest.run_netd(["--list-plugins"])
    tap.ok(rc == 0 and re.search(r"policy\s.*policy", out), "--list-plugins shows policy, kind policy",
           out + err)

    with aerotest.TempDir("policy-config-") as tmp:
        port = aerotest.free_port()
        path = tmp.file("open-public.ini", config(f"0.0.0.0:{port}", {"mode": "open"}))
        rc, out, err = aerotest.run_netd(["--config", path, "--check-config"])
        want = (f"{path}: [egress] mode: open mode allows every destination, but [http] listen "
                f"has the non-loopback address 0.0.0.0:{port}")
        tap.ok(rc == 2 and want in err and "allow-open-on-public = true" in err,
               "open mode with a non-loopback listen address: --check-config exits 2 and says why",
               f"rc={rc}\n{err}")
        rc, out, err = aerotest.run_netd(["--config", path], timeout=10)
        tap.ok(rc == 2 and want in err, "... and so does a normal start, before opening a socket",
               f"rc={rc}\n{err}")

        path = tmp.file("open-public-v6.ini", config(f"127.0.0.1:{port};[::]:{port}",
                                                     {"mode": "open"}))
        rc, out, err = aerotest.run_netd(["--config", path, "--check-config"])
        tap.ok(rc == 2 and f"non-loopback address [::]:{port}" in err,
               "one public address among several is enough to refuse open mode", err)

        path = tmp.file("open-twice.ini", config(f"0.0.0.0:{port}",
                                                 {"mode": "open", "allow-open-on-public": "true"}))
        rc, out, err = aerotest.run_netd(["--config", path, "--check-config"])
        tap.ok(rc == 0, "open mode on a public address passes when allow-open-on-public = true",
               err)

        http_port = aerotest.free_port()
        path = tmp.file("open-loopback.ini", config(f"127.0.0.1:{http_port}", {"mode": "open"}))
        with aerotest.Daemon(path, tmp.path, http_port=http_port) as d:
            d.wait_ready()
            log = d.stderr()
            tap.ok(re.search(r"WARNING egress: OPEN MODE: guests may reach every destination", log),
                   "open mode on loopback starts with a loud warning", log)

        http_port = aerotest.free_port()
        prod = open(PRODUCTION).read().replace("listen = 0.0.0.0:8090",
                                               f"listen = 127.0.0.1:{http_port}")
        path = tmp.file("production-loopback.ini", prod)
        with aerotest.Daemon(path, tmp.path, http_port=http_port) as d:
            d.wait_ready()
            status, _, body = d.get("/metrics")
            names = set(re.findall(r"^# TYPE (aero_policy_\w+)", body, re.M))
            tap.ok(status == 200 and {"aero_policy_denials_total", "aero_policy_flows_total",
                                      "aero_policy_flows_active", "aero_policy_dns_answers_total",
                                      "aero_policy_quota_closes_total",
                                      "aero_policy_rate_drops_total",
                                      "aero_policy_log_suppressed_total"} <= names,
                   "the production config runs and /metrics has every aero_policy_ family",
                   repr(names))
            tap.ok(re.search(r'"message": *"safe mode: ', d.stderr()), "it logs that it is in safe mode",
                   d.stderr())
            tap.ok(not d.criticals(), "no criticals", "\n".join(d.criticals()))

        for keys, message in [
                ({"allow": "10.0.0.1/8"}, "[egress] allow: expected ADDRESS, CIDR or *"),
                ({"deny": "[::1]:0"}, "[egress] deny: expected ADDRESS"),
                ({"ports": "http"}, "[egress] ports: expected a list of ports"),
                ({"deny-names": "*bad.com"}, "[egress] deny-names: expected host names"),
                ({"mode": "permissive"}, "[egress] mode:"),
                ({"log-rate": "lots"}, "[egress] log-rate: expected N/s"),
                ({"frames-burst": "10"}, "[egress] frames-burst: expected no value"),
                ({"colour": "blue"}, "[egress] colour:")]:
            http_port = aerotest.free_port()
            path = tmp.file("bad.ini", config(f"127.0.0.1:{http_port}", keys))
            rc, out, err = aerotest.run_netd(["--config", path], timeout=10)
            tap.ok(rc == 2 and f"{path}: {message}" in err,
                   f"{keys}: start-up stops with status 2: {message}", f"rc={rc}\n{err}")
    tap.done()


if __name__ == "__main__":
    main()
