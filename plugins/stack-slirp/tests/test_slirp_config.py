#!/usr/bin/python3
"""test_slirp_config — stack-slirp refuses bad configuration at start.

Each case runs `aero-netd --check-config`; it must exit with status 2 and
name the group, the key and what is wrong. A complete good configuration
passes with status 0.
"""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import slirptest as st  # noqa: E402

CASES = [
    # (description, lan keys, [lan.dns], [lan.services], group, key, text regex)
    ("host bits in network", {"network": "10.0.2.1/24"}, None, None, "lan", "network",
     r"10\.0\.2\.1/24"),
    ("network without prefix", {"network": "10.0.2.0"}, None, None, "lan", "network", r"prefix"),
    ("prefix too long", {"network": "10.0.2.0/30"}, None, None, "lan", "network", r"/30"),
    ("gateway outside the network", {"gateway": "10.0.3.2"}, None, None, "lan", "gateway",
     r"outside"),
    ("gateway is the broadcast address", {"gateway": "10.0.2.255"}, None, None, "lan",
     "gateway", r"broadcast"),
    ("dns equals gateway", {"dns": "10.0.2.2"}, None, None, "lan", "dns", r"differ"),
    ("dns not an address", {"dns": "dns.example"}, None, None, "lan", "dns", r"IPv4"),
    ("DHCP pool past the broadcast address", {"dhcp-start": "10.0.2.250"}, None, None, "lan",
     "dhcp-start", r"broadcast"),
    ("DHCP pool over the gateway", {"gateway": "10.0.2.20"}, None, None, "lan", "dhcp-start",
     r"gateway"),
    ("mtu too small", {"mtu": "60"}, None, None, "lan", "mtu", r""),
    ("mtu too large", {"mtu": "65521"}, None, None, "lan", "mtu", r""),
    ("IPv6 with a small mtu", {"ipv6": "true", "mtu": "1000"}, None, None, "lan", "mtu",
     r"1280"),
    ("IPv6 prefix not /64", {"ipv6-prefix": "fd00::/48"}, None, None, "lan", "ipv6-prefix",
     r"/64"),
    ("IPv6 DNS outside the prefix", {"ipv6-dns": "fd01::3"}, None, None, "lan", "ipv6-dns",
     r"inside"),
    ("bad domain", {"domain": "bad domain"}, None, None, "lan", "domain", r"bad domain"),
    ("bad search domain", {"search": "ok.example, -bad.example"}, None, None, "lan", "search",
     r"-bad\.example"),
    ("dns-timeout out of range", {"dns-timeout": "0"}, None, None, "lan", "dns-timeout", r""),
    ("dns-cache-entries out of range", {"dns-cache-entries": "-1"}, None, None, "lan",
     "dns-cache-entries", r""),
    ("dns-max-lookups out of range", {"dns-max-lookups": "0"}, None, None, "lan",
     "dns-max-lookups", r""),
    ("dns-max-lookups too large", {"dns-max-lookups": "4097"}, None, None, "lan",
     "dns-max-lookups", r""),
    ("bad static name", {}, {"bad..name": "10.0.2.50"}, None, "lan.dns", "bad..name",
     r"not a valid host name"),
    ("static name listed twice", {}, {"a.example": "10.0.2.50", "A.EXAMPLE": "10.0.2.51"}, None,
     "lan.dns", "A.EXAMPLE", r"twice"),
    ("static address not numeric", {}, {"a.example": "somewhere"}, None, "lan.dns", "a.example",
     r"somewhere"),
    ("service key without port", {}, None, {"tcp:10.0.2.100": "127.0.0.1:80"}, "lan.services",
     "tcp:10.0.2.100", r"tcp:ADDRESS:PORT"),
    ("service with unknown protocol", {}, None, {"sctp:10.0.2.100:80": "127.0.0.1:80"},
     "lan.services", "sctp:10.0.2.100:80", r"tcp:ADDRESS:PORT"),
    ("service on the gateway", {}, None, {"tcp:10.0.2.2:80": "127.0.0.1:80"}, "lan.services",
     "tcp:10.0.2.2:80", r"gateway"),
    ("service outside the network", {}, None, {"tcp:192.0.2.1:80": "127.0.0.1:80"},
     "lan.services", "tcp:192.0.2.1:80", r"inside"),
    ("service to an IPv6 host", {}, None, {"tcp:10.0.2.100:80": "[::1]:80"}, "lan.services",
     "tcp:10.0.2.100:80", r"IPv4"),
    ("service without host port", {}, None, {"tcp:10.0.2.100:80": "127.0.0.1"}, "lan.services",
     "tcp:10.0.2.100:80", r""),
    ("two services on one host endpoint", {}, None,
     {"tcp:10.0.2.100:80": "127.0.0.1:8080", "tcp:10.0.2.101:80": "127.0.0.1:8080"},
     "lan.services", "tcp:10.0.2.101:80", r"same host"),
    ("unknown key", {"nosuchkey": "1"}, None, None, "lan", "nosuchkey", r""),
]


def check(tmp, name, lan, dns, services):
    config = st.slirp_config(18080, 18081, lan=lan, dns=dns, services=services)
    path = tmp.file(re.sub(r"\W+", "-", name) + ".ini", config)
    env = dict(os.environ, AERO_NETD_PLUGIN_PATH=st.PLUGIN_PATH, LC_ALL="C.UTF-8")
    p = subprocess.run([st.AERO_NETD, "--check-config", "--config", path],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30, env=env)
    return p.returncode, p.stderr.decode(errors="replace")


def main():
    tap = st.Tap()
    with st.TempDir() as tmp:
        for name, lan, dns, services, group, key, text in CASES:
            rc, err = check(tmp, name, lan, dns, services)
            shape = re.search(rf"\[{re.escape(group)}\] {re.escape(key)}: .*{text}", err)
            tap.ok(rc == 2 and shape, f"{name}: status 2 naming [{group}] {key}",
                   f"status {rc}, stderr:\n{err}")
        rc, err = check(tmp, "good", {
            "network": "192.168.77.0/24", "mtu": "9000", "domain": "lan.example",
            "search": "lan.example, example", "hostname": "guest", "ipv6": "true",
            "ipv6-prefix": "fd12:3456::/64", "host-loopback": "false", "dns-cache-entries": "0",
            "dns-cache-ttl": "5min", "dns-timeout": "2s", "dns-max-pending": "8",
            "dns-max-lookups": "32"},
            {"printer.lan.example": "192.168.77.50, fd12:3456::50"},
            {"tcp:192.168.77.100:80": "127.0.0.1:8080", "udp:192.168.77.100:53": "127.0.0.1:53"})
        tap.ok(rc == 0, "a complete good configuration passes --check-config", err)
    tap.done()


if __name__ == "__main__":
    main()
