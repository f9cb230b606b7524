#!/usr/bin/python3
"""test_capture — per-session pcapng capture, read back with tshark:

  - every frame both ways is in the session's file, with timestamps inside
    the test's time window, the right lengths and directions, and an
    interface description naming the session;
  - file-size: files rotate, each a complete pcapng file;
  - total-size with on-total-size = delete-oldest: the oldest files are
    deleted and the rest stay under the cap;
  - on-total-size = stop: capture stops at the cap and the rest is counted
    as dropped.

Skips (with the reason) when tshark cannot run here.
"""
import glob
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import admtest  # noqa: E402
import aerotest  # noqa: E402

tap = admtest.Tap()

FIELDS = ["frame.time_epoch", "frame.len", "frame.interface_description",
          "frame.interface_name", "frame.packet_flags_direction"]


def exchange(port, sizes, pause=0.0):
    """Opens a tunnel, sends one frame of each size (14 + n bytes), waits for
    every reflection, closes politely. Returns the number reflected."""
    got = 0
    with admtest.open_tunnel(port) as t:
        for n in sizes:
            if admtest.reflect_roundtrip(t, size=n):
                got += 1
            if pause:
                time.sleep(pause)
        t.send_close(1000)
        t.read_until_close(timeout=3)
    return got


def capture_files(directory):
    return sorted(glob.glob(os.path.join(directory, "*.pcapng")))


def stop_and_wait(d):
    """Stops D; capture files are complete once it has exited."""
    rc = d.stop()
    tap.ok(rc == 0, "daemon exits 0 (capture written out first)", str(rc))


def run_basic(tmp):
    directory = os.path.join(tmp.path, "caps-basic")
    port = aerotest.free_port()
    cfg = admtest.config(port, admission={"open": "true"},
                         capture={"enabled": "true", "directory": directory})
    sizes = [46, 100, 500, 1000, 1486, 60, 64, 200, 300, 400]
    t0 = time.time()
    with admtest.start(tmp, "basic", cfg, port) as d:
        got = exchange(port, sizes)
        tap.ok(got == len(sizes), f"basic: {got} of {len(sizes)} frames reflected")
        tap.ok(admtest.wait_for(lambda: admtest.m(d, "aero_sessions_active") == 0, 5),
               "basic: the session closed")
        packets = (admtest.m(d, "aero_capture_packets_total", direction="from_guest"),
                   admtest.m(d, "aero_capture_packets_total", direction="to_guest"))
        tap.ok(packets == (len(sizes), len(sizes)),
               "basic: aero_capture_packets_total counts both directions", str(packets))
        stop_and_wait(d)
    t1 = time.time()
    files = capture_files(directory)
    tap.ok(len(files) == 1, "basic: one file for the session", str(files))
    if not files:
        return
    session = os.path.basename(files[0]).rsplit("-", 1)[0]
    tap.ok(files[0].endswith(f"{session}-0001.pcapng"), "basic: named SESSION-0001.pcapng",
           files[0])
    tap.ok(oct(os.stat(files[0]).st_mode & 0o777) == oct(0o600), "basic: mode 0600",
           oct(os.stat(files[0]).st_mode))
    rows = admtest.tshark_fields(files[0], FIELDS)
    tap.ok(len(rows) == 2 * len(sizes), f"basic: tshark reads {len(rows)} frames "
           f"(want {2 * len(sizes)})")
    times = [float(r[0]) for r in rows]
    tap.ok(all(t0 - 1 <= t <= t1 + 1 for t in times) and times == sorted(times),
           "basic: timestamps in order and inside the test's time window",
           f"{t0} {times[:3]} {t1}")
    lengths = [int(r[1]) for r in rows]
    want = [14 + n for n in sizes for _ in (0, 1)]
    tap.ok(lengths == want, "basic: frame lengths match, in then out for each frame",
           f"{lengths} vs {want}")
    descs = {r[2] for r in rows}
    tap.ok(len(descs) == 1 and session in descs.pop(),
           "basic: interface description names the session", str({r[2] for r in rows}))
    tap.ok({r[3] for r in rows} == {f"aero-{session}"}, "basic: interface name aero-SESSION",
           str({r[3] for r in rows}))
    try:
        dirs = [int(r[4], 0) for r in rows]
    except ValueError:
        dirs = [r[4] for r in rows]
    tap.ok(dirs == [1, 2] * len(sizes),
           "basic: epb_flags direction inbound (1, from the guest) then outbound (2)",
           str(dirs[:4]))
    blocks = admtest.pcapng_blocks(files[0])
    tap.ok(blocks[0][0] == 0x0A0D0D0A and blocks[1][0] == 1 and
           all(b[0] == 6 for b in blocks[2:]),
           "basic: SHB, IDB, then Enhanced Packet Blocks only", str(blocks[:3]))


def run_rotation(tmp):
    directory = os.path.join(tmp.path, "caps-rotate")
    port = aerotest.free_port()
    cfg = admtest.config(port, admission={"open": "true"},
                         capture={"enabled": "true", "directory": directory,
                                  "file-size": "8k", "total-size": "1M"})
    n = 60
    with admtest.start(tmp, "rotate", cfg, port) as d:
        got = exchange(port, [986] * n)
        tap.ok(got == n, f"rotation: {got} of {n} frames reflected")
        stop_and_wait(d)
    files = capture_files(directory)
    tap.ok(len(files) >= 12, f"rotation: {len(files)} files of at most 8 KiB for ~120 KB")
    sizes = [os.path.getsize(f) for f in files]
    tap.ok(all(s <= 8192 for s in sizes), "rotation: every file within file-size", str(sizes))
    total = 0
    for i, f in enumerate(files):
        rows = admtest.tshark_fields(f, FIELDS[:3])
        total += len(rows)
        if not rows or not f.endswith(f"-{i + 1:04d}.pcapng"):
            tap.ok(False, f"rotation: file {f} is numbered and holds frames", str(len(rows)))
            return
    tap.ok(True, "rotation: files are numbered 0001… and each is a complete pcapng file")
    tap.ok(total == 2 * n, f"rotation: all {2 * n} frames across the files ({total})")


def run_total_delete(tmp):
    directory = os.path.join(tmp.path, "caps-delete")
    port = aerotest.free_port()
    cfg = admtest.config(port, admission={"open": "true"},
                         capture={"enabled": "true", "directory": directory,
                                  "file-size": "8k", "total-size": "24k"})
    n = 60
    with admtest.start(tmp, "delete", cfg, port) as d:
        got = exchange(port, [986] * n, pause=0.01)
        tap.ok(got == n, f"total-size: {got} of {n} frames reflected")
        deleted = admtest.m(d, "aero_capture_files_deleted_total")
        tap.ok(deleted >= 8, f"total-size: the oldest files were deleted ({deleted})")
        stop_and_wait(d)
    files = capture_files(directory)
    total = sum(os.path.getsize(f) for f in files)
    tap.ok(total <= 24 * 1024, f"total-size: {len(files)} files, {total} bytes <= 24 KiB")
    numbers = [int(f.rsplit("-", 1)[1].split(".")[0]) for f in files]
    tap.ok(numbers and numbers == list(range(numbers[0], numbers[0] + len(numbers))) and
           numbers[0] > 1, "total-size: the newest files are kept", str(numbers))
    last = admtest.tshark_fields(files[-1], FIELDS[:2]) if files else []
    tap.ok(len(last) > 0, f"total-size: the last file is readable ({len(last)} frames)")


def run_total_stop(tmp):
    directory = os.path.join(tmp.path, "caps-stop")
    port = aerotest.free_port()
    cfg = admtest.config(port, admission={"open": "true"},
                         capture={"enabled": "true", "directory": directory,
                                  "file-size": "8k", "total-size": "16k",
                                  "on-total-size": "stop"})
    n = 40
    with admtest.start(tmp, "stop", cfg, port) as d:
        got = exchange(port, [986] * n)
        tap.ok(got == n, f"stop: {got} of {n} frames reflected (capture never blocks traffic)")
        dropped = admtest.m(d, "aero_capture_dropped_total", reason="total_size")
        tap.ok(dropped > 0, f"stop: frames past the cap counted as dropped ({dropped})")
        tap.ok("capture stopped" in d.stderr(), "stop: logged once")
        stop_and_wait(d)
    files = capture_files(directory)
    total = sum(os.path.getsize(f) for f in files)
    frames = sum(len(admtest.tshark_fields(f, FIELDS[:1])) for f in files)
    tap.ok(total <= 16 * 1024 and 0 < frames < 2 * n,
           f"stop: {frames} frames in {len(files)} files, {total} bytes <= 16 KiB")


def main():
    problem = admtest.tshark_problem()
    if problem:
        print(f"1..0 # SKIP {problem}")
        sys.exit(0)
    with aerotest.TempDir() as tmp:
        for func in (run_basic, run_rotation, run_total_delete, run_total_stop):
            try:
                func(tmp)
            except Exception:  # noqa: BLE001 - reported, then the next part runs
                import traceback
                tap.ok(False, f"{func.__name__} ran to completion", traceback.format_exc())
    tap.done()


if __name__ == "__main__":
    main()
