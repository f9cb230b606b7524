#!/usr/bin/python3
"""test_out_of_tree — a third-party plugin built against the installed SDK.

1. `meson install --destdir TMP` puts the project into a temporary tree.
2. tests/out-of-tree/echo-plugin.c is compiled with only what was
   installed: `cc -shared -fPIC ... $(pkg-config --cflags --libs aero-net)`
   with PKG_CONFIG_PATH pointing into TMP. The installed aero-net.pc says
   prefix=/usr/local (or whatever the build's prefix is), so its own paths
   are moved into TMP with PKG_CONFIG_SYSROOT_DIR; since pkg-config applies
   a sysroot to every package it traverses, aero-net's flags are asked for
   with the traversal limited to aero-net itself, and the flags of the
   packages it requires (read from the .pc file) come from a second,
   unrelocated call. The source and build trees must not appear in any flag.
3. The installed aero-netd (LD_LIBRARY_PATH=TMP's libdir) lists the echo
   plugin, and runs it as the stack behind a test-stream transport: a frame
   sent comes back unchanged. /proc/PID/maps shows that the libaero-net in
   use is the installed one.

Environment (from meson): AERO_BUILD_ROOT, AERO_SOURCE_ROOT, MESON,
AERO_TEST_PLUGIN_DIR, ECHO_PLUGIN_SOURCE.
"""

import glob
import os
import shlex
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aerotest  # noqa: E402
from aerotest import ini  # noqa: E402

BUILD_ROOT = os.environ.get("AERO_BUILD_ROOT", "")
SOURCE_ROOT = os.environ.get("AERO_SOURCE_ROOT", "")
MESON = os.environ.get("MESON") or shutil.which("meson")
TEST_PLUGIN_DIR = os.environ.get("AERO_TEST_PLUGIN_DIR", "")
ECHO_SOURCE = os.environ.get("ECHO_PLUGIN_SOURCE", "")


def run(cmd, env=None, timeout=300):
    p = subprocess.run(cmd, capture_output=True, env=env, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def clean_env():
    env = dict(os.environ)
    for var in ("CPATH", "C_INCLUDE_PATH", "LIBRARY_PATH", "LD_LIBRARY_PATH",
                "PKG_CONFIG_PATH", "PKG_CONFIG_LIBDIR", "PKG_CONFIG_SYSROOT_DIR",
                "AERO_NETD_PLUGIN_PATH", "CFLAGS", "LDFLAGS"):
        env.pop(var, None)
    env["LC_ALL"] = "C.UTF-8"
    return env


def pkg_config_flags(destdir, pcdir):
    """(flags list, description) for building against the installed aero-net."""
    env = clean_env()
    env["PKG_CONFIG_PATH"] = pcdir
    own = None
    sysroot_env = dict(env, PKG_CONFIG_SYSROOT_DIR=destdir)
    # pkgconf and pkg-config count the traversal depth differently: take
    # the smallest depth that yields aero-net's own flags.
    for depth in (1, 2):
        rc, out, err = run(["pkg-config", f"--maximum-traverse-depth={depth}",
                            "--cflags", "--libs", "aero-net"], env=sysroot_env)
        if rc != 0:
            raise RuntimeError(f"pkg-config failed: {err}")
        if "-laero-net" in out:
            own = shlex.split(out)
            break
    if own is None:
        raise RuntimeError("pkg-config gives no flags for aero-net")
    rc, out, err = run(["pkg-config", "--print-requires", "aero-net"], env=env)
    if rc != 0:
        raise RuntimeError(f"pkg-config --print-requires failed: {err}")
    requires = [ln.strip() for ln in out.splitlines() if ln.strip()]
    rc, out, err = run(["pkg-config", "--cflags", "--libs"] + requires, env=env)
    if rc != 0:
        raise RuntimeError(f"pkg-config for {requires} failed: {err}")
    return own + shlex.split(out), own


def leaks_tree(flag):
    """Whether a compiler flag points into the source or build tree."""
    if not flag.startswith(("-I", "-L")):
        return False
    path = os.path.realpath(flag[2:])
    return any(root and (path + "/").startswith(os.path.realpath(root) + "/")
               for root in (SOURCE_ROOT, BUILD_ROOT))


def main():
    tap = aerotest.Tap()
    missing = [n for n, v in (("AERO_BUILD_ROOT", BUILD_ROOT), ("meson", MESON),
                              ("AERO_TEST_PLUGIN_DIR", TEST_PLUGIN_DIR),
                              ("ECHO_PLUGIN_SOURCE", ECHO_SOURCE)) if not v]
    cc = shutil.which("cc")
    if missing or not cc or not shutil.which("pkg-config"):
        tap.skip("out-of-tree plugin build", f"missing: {missing or 'cc or pkg-config'}")
        tap.done()

    with aerotest.TempDir("aero-oot-") as tmp:
        destdir = os.path.join(tmp.path, "destdir")
        rc, out, err = run([MESON, "install", "-C", BUILD_ROOT, "--destdir", destdir,
                            "--no-rebuild", "--quiet"])
        if not tap.ok(rc == 0, "meson install --destdir succeeds", f"rc={rc}\n{out}\n{err}"):
            tap.done()

        pcs = glob.glob(os.path.join(destdir, "**", "pkgconfig", "aero-net.pc"), recursive=True)
        daemons = glob.glob(os.path.join(destdir, "**", "bin", "aero-netd"), recursive=True)
        libs = glob.glob(os.path.join(destdir, "**", "libaero-net.so.*"), recursive=True)
        headers = glob.glob(os.path.join(destdir, "**", "aero-net", "aero-version.h"),
                            recursive=True)
        tap.ok(len(pcs) == 1 and len(daemons) == 1 and libs and len(headers) == 1,
               "the install has aero-net.pc, aero-netd, libaero-net.so.* and the headers",
               f"pc={pcs} bin={daemons} libs={libs} headers={headers}")
        if not (pcs and daemons and libs):
            tap.done()
        pcdir = os.path.dirname(pcs[0])
        libdir = os.path.dirname(libs[0])
        installed_netd = daemons[0]

        env = clean_env()
        env["PKG_CONFIG_PATH"] = pcdir
        rc, out, _ = run(["pkg-config", "--modversion", "aero-net"], env=env)
        rc2, abi, _ = run(["pkg-config", "--variable=abi_version", "aero-net"], env=env)
        tap.ok(out.strip() == "0.1.0" and abi.strip() == "1",
               "aero-net.pc: version 0.1.0, abi_version 1", f"{out!r} {abi!r}")

        # Build the plugin with the installed SDK only.
        ootdir = os.path.join(tmp.path, "plugins")
        os.makedirs(ootdir)
        echo_so = os.path.join(ootdir, "echo.so")
        try:
            flags, own = pkg_config_flags(destdir, pcdir)
        except RuntimeError as e:
            tap.ok(False, "pkg-config gives the flags of the installed aero-net", str(e))
            tap.done()
        leaks = [f for f in flags if leaks_tree(f)]
        incs = [f[2:] for f in own if f.startswith("-I")]
        tap.ok(not leaks and incs and all(i.startswith(destdir) and os.path.isdir(i)
                                          for i in incs),
               "aero-net's include path is inside the install; no source or build tree path",
               f"flags: {flags}\nleaks: {leaks}")
        cmd = [cc, "-shared", "-fPIC", "-Wall", "-Werror", "-o", echo_so, ECHO_SOURCE] + flags
        rc, out, err = run(cmd, env=clean_env())
        if not tap.ok(rc == 0 and os.path.exists(echo_so),
                      "echo-plugin.c builds out of tree with -Wall -Werror",
                      f"{' '.join(cmd)}\n{out}\n{err}"):
            tap.done()

        # The installed daemon, with the installed library.
        run_env = clean_env()
        run_env["LD_LIBRARY_PATH"] = libdir
        config_list = tmp.file("list.ini", ini([("core", {"plugin-path": ootdir})]))
        rc, out, err = aerotest.run_netd(["--list-plugins", "--config", config_list],
                                         env=run_env, binary=installed_netd)
        lines = [ln.split(None, 3) for ln in out.splitlines()]
        tap.ok(rc == 0 and ["stack", "echo", "1.0.0", echo_so] in lines,
               "installed aero-netd --list-plugins shows 'stack echo 1.0.0 FILE'",
               f"rc={rc}\nstdout:\n{out}\nstderr:\n{err}")

        http_port, stream_port = aerotest.free_port(), aerotest.free_port()
        config = tmp.file("echo.ini", ini([
            ("core", {"plugin-path": f"{ootdir};{TEST_PLUGIN_DIR}", "shutdown-timeout": "5s"}),
            ("http", {"listen": f"127.0.0.1:{http_port}"}),
            ("lan", {"plugin": "echo"}),
            ("guest", {"plugin": "test-stream", "listen": f"127.0.0.1:{stream_port}"}),
        ]))
        with aerotest.Daemon(config, tmp.path, http_port=http_port, env=run_env,
                             binary=installed_netd) as d:
            try:
                d.wait_ready()
                ready = True
            except RuntimeError as e:
                ready = str(e)
            if tap.ok(ready is True, "installed aero-netd starts with the echo stack", ready):
                with open(f"/proc/{d.pid}/maps", encoding="utf-8") as f:
                    maps = {ln.split()[-1] for ln in f if "libaero-net.so" in ln}
                tap.ok(len(maps) == 1 and all(m.startswith(destdir) for m in maps),
                       "the running daemon uses the installed libaero-net only", str(maps))
                frame = aerotest.udp_frame("52:54:00:12:34:56", "52:55:0a:00:02:02",
                                           "10.0.2.15", "10.0.2.2", 1234, 7, b"echo me")
                try:
                    with aerotest.StreamClient(stream_port) as c:
                        c.send_frame(frame)
                        back = c.recv_frame()
                except (OSError, EOFError) as e:
                    back = repr(e)
                tap.ok(back == frame, "a frame sent through test-stream comes back from echo",
                       f"got {back!r}")
            tap.ok(d.stop() == 0, "installed aero-netd exits 0 on SIGTERM", d.stderr())
    tap.done()


if __name__ == "__main__":
    main()
