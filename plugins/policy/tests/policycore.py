"""policycore — core configuration the policy tests add when the core
knows it: the tests exercise the policy, so the core's own admission
checks (Origin, authentication) are told to stand aside when the running
aero-netd has them, and left out when it does not."""
import aerotest

_known = {}


def admission(**keys):
    """[("admission", KEYS)] when this aero-netd accepts those keys on a
    loopback listener, else []."""
    keys = {k.replace("_", "-"): v for k, v in keys.items()}
    cache_key = tuple(sorted(keys.items()))
    if cache_key not in _known:
        with aerotest.TempDir("policy-probe-") as tmp:
            groups = [("http", {"listen": "127.0.0.1:%d" % aerotest.free_port()}),
                      ("admission", keys)]
            path = tmp.file("probe.ini", aerotest.ini(groups))
            ok = aerotest.run_netd(["--config", path, "--check-config"])[0] == 0
        _known[cache_key] = [("admission", keys)] if ok else []
    return list(_known[cache_key])
