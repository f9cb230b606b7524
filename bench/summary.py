#!/usr/bin/python3
"""summary.py — one line per benchmark run, from bench/results/*.json.

    bench/summary.py                 # markdown tables of every full run
    bench/summary.py --all           # quick runs too
    bench/summary.py FILE.json ...   # these runs only

Each run's figures are compared within that run only (every path was
measured in the same minutes); this prints them side by side so that the
runs can be compared with each other for what they are: runs on a shared
VM, with the steal each recorded. Standard library only; reads nothing but
the JSON files.
"""

import argparse
import glob
import json
import os
import sys

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
TESTS = [("up", 1), ("down", 1), ("up", 4), ("down", 4)]


def load(paths):
    runs = []
    for path in paths:
        try:
            with open(path) as f:
                run = json.load(f)
        except (OSError, ValueError) as e:
            sys.exit(f"summary.py: {path}: {e}")
        if not isinstance(run, dict) or "date" not in run:
            sys.exit(f"summary.py: {path}: not a bench/bench.py result")
        run["_file"] = os.path.basename(path)
        runs.append(run)
    runs.sort(key=lambda r: r["date"])
    return runs


def when(run):
    return run["date"].replace("T", " ")[:16]


def commit(run):
    return ((run.get("machine") or {}).get("versions") or {}).get("aero-netd") or "?"


def tput(run, path, direction, streams, size_class="mtu1500"):
    for e in run.get("throughput") or []:
        if (e.get("size_class"), e.get("path"), e.get("direction"), e.get("streams")) == \
                (size_class, path, direction, streams):
            return e
    return None


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt(x, spec=".2f", suffix=""):
    return "–" if x is None else f"{x:{spec}}{suffix}"


def ratios(run, path, size_class, peer="slirp4netns"):
    """aero PATH / PEER Gbit/s for up ×1, down ×1, up ×4, down ×4."""
    out = []
    for d, n in TESTS:
        a, s = tput(run, path, d, n, size_class), tput(run, peer, d, n, size_class)
        out.append(ratio(a and a.get("gbps"), s and s.get("gbps")))
    return out


def cpu_ratios(run, path, size_class):
    """aero-netd's CPU s/GB over slirp4netns's, for each test that has both."""
    out = []
    for d, n in TESTS:
        a, s = tput(run, path, d, n, size_class), tput(run, "slirp4netns", d, n, size_class)
        if a and s:
            out.append(ratio((a.get("cpu_s_per_gb") or {}).get("aero-netd"),
                             (s.get("cpu_s_per_gb") or {}).get("slirp4netns")))
    out = [x for x in out if x is not None]
    return (min(out), max(out)) if out else None


def added(run, path, pinned):
    lat = run.get("latency") or []
    base = next((e for e in lat if e.get("path") == "loopback" and e.get("pinned") == pinned), None)
    e = next((e for e in lat if e.get("path") == path and e.get("pinned") == pinned), None)
    if not base or not e:
        return None
    return e["p50_us"] - base["p50_us"]


def setup_p99(run, server, scenario):
    for e in run.get("setup") or []:
        if e.get("server", "aero-netd") == server and e.get("scenario") == scenario \
                and e.get("setup_ms"):
            return e["setup_ms"]["p99"]
    return None


def steal(run):
    s = run.get("steal_pct")
    if not s:
        return "–"
    names = {"throughput": "tput", "jumbo": "jumbo", "latency": "lat", "scale": "scale",
             "setup": "set-up"}
    return ", ".join(f"{names.get(k, k)} {v:.0f}" for k, v in s.items() if k != "profile")


def row(cells):
    return "| " + " | ".join(cells) + " |"


def marked(x, good):
    """A ratio, bold when it meets its target."""
    if x is None:
        return "–"
    text = f"{x:.2f}×"
    return f"**{text}**" if good(x) else text


def tables(runs):
    lines = []
    ge1 = lambda x: x >= 1.0
    le1 = lambda x: x <= 1.0

    lines.append("Throughput, aero ÷ slirp4netns in the same run (up ×1 / down ×1 / up ×4 / "
                 "down ×4; **bold**: target met; large frames have no target), and aero-netd's "
                 "CPU s/GB ÷ slirp4netns's (lowest–highest of the four tests):")
    lines.append("")
    lines.append(row(["run (UTC)", "aero-netd", "MTU 1500", "MTU 1500, TAP offload",
                      "MTU 65520", "CPU/GB 1500", "CPU/GB 65520", "steal % by section"]))
    lines.append(row(["---"] * 8))
    for run in runs:
        if not run.get("throughput"):
            continue
        cells = [when(run), f"`{commit(run)}`"]
        # The throughput target is for MTU 1500; large frames have none.
        for path, sc, good in (("aero", "mtu1500", ge1), ("aero-tso", "mtu1500", ge1),
                               ("aero", "jumbo", lambda x: False)):
            rs = ratios(run, path, sc)
            cells.append("–" if all(r is None for r in rs)
                         else " / ".join(marked(r, good) for r in rs))
        for sc in ("mtu1500", "jumbo"):
            c = cpu_ratios(run, "aero", sc)
            cells.append("–" if c is None else f"{marked(c[0], le1)}–{marked(c[1], le1)}")
        cells.append(steal(run))
        lines.append(row(cells))

    lines.append("")
    lines.append("Latency (p50 added to loopback, µs, pinned: aero / slirp4netns / the floor, "
                 "and aero ÷ slirp4netns; target ≤ 1.2×), idle memory (KiB RSS per session, "
                 "largest N), set-up p99 (ms; aero-netd, and the floor in brackets; target < 20), "
                 "and what a set-up costs aero-netd, counted (callgrind, strace; runs that "
                 "have the count; the floor's in brackets):")
    lines.append("")
    lines.append(row(["run (UTC)", "aero-netd", "added latency", "÷ slirp4netns",
                      "KiB/session", "sessions", "set-up p99, 100 at once",
                      "set-up p99, 100 in flight", "instructions / syscalls per set-up"]))
    lines.append(row(["---"] * 9))
    for run in runs:
        if not (run.get("latency") or run.get("scale") or run.get("setup") or run.get("count")):
            continue
        a, s, f = (added(run, p, True) for p in ("aero", "slirp4netns", "slirp4netns+relay"))
        scale = run.get("scale") or []
        kib = [e["kib_per_session"].get("VmRSS") for e in scale
               if (e.get("kib_per_session") or {}).get("VmRSS") is not None]
        top = max(scale, key=lambda e: e.get("n", 0)) if scale else None
        cells = [when(run), f"`{commit(run)}`",
                 "–" if a is None else f"{fmt(a, '.1f')} / {fmt(s, '.1f')} / {fmt(f, '.1f')}",
                 marked(ratio(a, s), lambda x: x <= 1.2),
                 "–" if not kib else f"{max(kib):.1f}",
                 "–" if top is None else f"{top.get('opened', 0):,} of {top['n']:,}"]
        for scenario in ("100 at once", "100 in flight"):
            p = setup_p99(run, "aero-netd", scenario)
            fl = setup_p99(run, "floor", scenario)
            cells.append("–" if p is None else
                         (f"**{p:.1f}**" if p < 20 else f"{p:.1f}")
                         + ("" if fl is None else f" ({fl:.1f})"))
        count = run.get("count") or {}
        ins, sc = count.get("instructions_per_setup"), count.get("syscalls_per_setup")
        fl = count.get("floor_instructions_per_setup")
        cells.append("–" if ins is None and sc is None else
                     f"{fmt(ins, ',.0f')} / {fmt(sc, '.0f')}"
                     + ("" if fl is None else f" ({fl:,} instructions)"))
        lines.append(row(cells))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="*", help="result files (default: bench/results/*.json)")
    ap.add_argument("--all", action="store_true", help="include quick runs")
    args = ap.parse_args()
    files = args.files or sorted(glob.glob(os.path.join(RESULTS, "*.json")))
    runs = load(files)
    if not args.all and not args.files:
        runs = [r for r in runs if not (r.get("conditions") or {}).get("quick")]
    if not runs:
        sys.exit("summary.py: no results")
    print(tables(runs))


if __name__ == "__main__":
    main()
