#!/usr/bin/python3
"""test_cli — aero-netd's command line: --version, --help, --list-plugins.

--list-plugins prints one `KIND NAME VERSION FILE` line per plugin found
on the search path (first file of each name wins) and exits 0; files that
look like plugins but cannot be loaded are reported on stderr and do not
stop the listing.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aerotest  # noqa: E402
from aerotest import ini  # noqa: E402

KINDS = {"transport", "stack", "filter", "policy", "nic"}
EXPECTED = {
    "test-reflect": ("stack", "1.0.0"),
    "test-arp": ("stack", "1.1.0"),
    "test-stream": ("transport", "1.2.0"),
}


def parse_listing(out):
    """{name: (kind, version, file)}; raises on a malformed line."""
    plugins = {}
    for line in out.splitlines():
        # Fields are separated by blanks (columns may be padded).
        fields = line.split(None, 3)
        if len(fields) != 4 or fields[0] not in KINDS or not all(fields):
            raise ValueError(f"malformed --list-plugins line: {line!r}")
        kind, name, version, path = fields
        if name in plugins:
            raise ValueError(f"plugin {name} listed twice")
        plugins[name] = (kind, version, path)
    return plugins


def check_listing(tap, label, rc, out, err):
    tap.ok(rc == 0, f"{label}: exit status 0", f"rc={rc}\nstderr:\n{err}")
    try:
        plugins = parse_listing(out)
    except ValueError as e:
        tap.ok(False, f"{label}: every line is KIND NAME VERSION FILE", f"{e}\n{out}")
        return {}
    tap.ok(True, f"{label}: every line is KIND NAME VERSION FILE")
    for name, (kind, version) in EXPECTED.items():
        expected_file = aerotest.find_plugin_file(name)
        got = plugins.get(name)
        good = (got is not None and got[0] == kind and got[1] == version
                and expected_file is not None
                and os.path.realpath(got[2]) == os.path.realpath(expected_file))
        tap.ok(good, f"{label}: {name} listed as {kind} {version} from its build dir",
               f"got {got}, expected file {expected_file}\nstdout:\n{out}")
    tap.ok("test-badabi" not in plugins, f"{label}: test-badabi (ABI 999) is not listed", out)
    return plugins


def main():
    tap = aerotest.Tap()

    rc, out, err = aerotest.run_netd(["--version"])
    first = out.splitlines()[0] if out else ""
    tap.ok(rc == 0 and first.split()[:2] == ["aero-netd", "0.1.0"],
           "--version prints 'aero-netd 0.1.0' and exits 0", f"rc={rc} out={out!r} err={err!r}")

    rc, out, err = aerotest.run_netd(["--help"])
    text = out + err
    tap.ok(rc == 0 and all(opt in text for opt in
                           ("--config", "--check-config", "--list-plugins", "--version")),
           "--help exits 0 and names the options", f"rc={rc}\n{text}")

    rc, out, err = aerotest.run_netd(["--no-such-option"])
    tap.ok(rc is not None and rc > 0 and "--no-such-option" in err,
           "an unknown option fails with a message naming it", f"rc={rc}\n{err}")

    rc, out, err = aerotest.run_netd(["--check-config"])
    tap.ok(rc is not None and rc > 0 and err.strip() != "",
           "--check-config without --config fails with a message", f"rc={rc}\n{err}")

    # The search path from AERO_NETD_PLUGIN_PATH alone.
    rc, out, err = aerotest.run_netd(["--list-plugins"])
    check_listing(tap, "--list-plugins", rc, out, err)
    badabi = aerotest.find_plugin_file("test-badabi")
    tap.ok(badabi is not None and badabi in err and "999" in err,
           "--list-plugins reports test-badabi's ABI on stderr", err)

    with aerotest.TempDir() as tmp:
        # With the directory of broken files first on the path.
        bad = aerotest.BAD_PLUGIN_DIR
        config = tmp.file("bad-path.ini", ini([("core", {"plugin-path": bad})]))
        rc, out, err = aerotest.run_netd(["--list-plugins", "--config", config])
        plugins = check_listing(tap, "--list-plugins with the bad dir", rc, out, err)
        for name in ("not-a-plugin", "garbage"):
            path = os.path.join(bad, name + ".so")
            tap.ok(path in err and name not in plugins,
                   f"--list-plugins reports {name}.so as a problem on stderr, not as a plugin",
                   f"stdout:\n{out}\nstderr:\n{err}")

        # The first file of a name wins: a directory earlier on the path
        # shadows the build dir.
        shadow = os.path.join(tmp.path, "shadow")
        os.makedirs(shadow)
        reflect = aerotest.find_plugin_file("test-reflect")
        shadow_file = os.path.join(shadow, "test-reflect.so")
        if reflect:
            os.symlink(reflect, shadow_file)
        config = tmp.file("shadow.ini", ini([("core", {"plugin-path": shadow})]))
        rc, out, err = aerotest.run_netd(["--list-plugins", "--config", config])
        try:
            got = parse_listing(out).get("test-reflect")
        except ValueError:
            got = None
        tap.ok(rc == 0 and got is not None and got[2] == shadow_file,
               "[core] plugin-path comes before AERO_NETD_PLUGIN_PATH",
               f"rc={rc} got={got}\nstdout:\n{out}\nstderr:\n{err}")

        # A broken config is still an error for --list-plugins.
        config = tmp.file("broken.ini", "[core\n")
        rc, out, err = aerotest.run_netd(["--list-plugins", "--config", config])
        tap.ok(rc == 2 and config in err,
               "--list-plugins with an unreadable config exits 2", f"rc={rc}\n{err}")
    tap.done()


if __name__ == "__main__":
    main()
