#!/usr/bin/env python3
"""test_shipped_configs — every configuration shipped in data/ passes
`aero-netd --check-config` with the plugins built in this tree."""
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aerotest  # noqa: E402

DATA_DIR = os.environ["AERO_DATA_DIR"]


def main():
    tap = aerotest.Tap()
    configs = sorted(glob.glob(os.path.join(DATA_DIR, "*.ini")))
    tap.ok(any(c.endswith("/aero.ini") for c in configs), "data/aero.ini is shipped")
    for config in configs:
        code, out, err = aerotest.run_netd(["--config", config, "--check-config"])
        tap.ok(code == 0, f"{os.path.basename(config)} passes --check-config", out + err)
    tap.done()


if __name__ == "__main__":
    main()
