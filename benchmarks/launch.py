"""``lablink launch`` (issue 16): the cost of tracking a job, against running it directly.

Prints figures and ratios against references measured in the same run; never asserts.

    python benchmarks/launch.py                    # about two minutes
    python benchmarks/launch.py --repeat 3 --fast-mb 50 --seconds 3

1. start-up: from starting ``lablink launch -- python -c "print(time.time())"`` to that
   first line running, against the same command started bare (the issue's target:
   at most 0.5 s more);
2. output capture: a job that prints as fast as it can (``--fast-mb`` of 100-byte
   lines) times itself, run directly with its output to /dev/null and through
   ``lablink launch --detach`` (captured, timestamped, stored): the job's own time,
   and the ratio (target: at most 5 % slower); and a job paced at ``--rate`` bytes a
   second for ``--seconds`` (a slowed job shows as a longer run), wall time of both;
3. restart: a job that crashes on its first attempt; the time from the crash (the
   last thing the first attempt does) to the second attempt's first line, less the
   configured backoff (target: at most 2 s).

Every launch runs the real ``lablink`` command in a child process on an embedded store,
so its time includes starting Python and creating the run (git state, packages) as a
user would see it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

FIRST_LINE = "import time; print(repr(time.time()), flush=True)"

PACED = """
import sys, time
rate, seconds = float(sys.argv[1]), float(sys.argv[2])
line = b"x" * 99 + b"\\n"
per_tick = max(1, int(rate / 100 / 100))   # lines per 10 ms tick
out = sys.stdout.buffer
start = time.monotonic()
tick = 0
while time.monotonic() - start < seconds:
    out.write(line * per_tick)
    tick += 1
    pause = start + tick * 0.01 - time.monotonic()
    if pause > 0:
        time.sleep(pause)
out.flush()
"""

# Times itself, so the figure is what the job sees, not the launcher's start-up.
FAST = """
import sys, time
line = b"x" * 99 + b"\\n"
out = sys.stdout.buffer
start = time.perf_counter()
for _ in range(int(sys.argv[1])):
    out.write(line * 100)
out.flush()
open(sys.argv[2], "w").write(repr(time.perf_counter() - start))
"""

CRASH = """
import os, sys, time
if os.environ.get("LABLINK_ATTEMPT") == "1":
    open("crashed.txt", "w").write(repr(time.time()))
    sys.exit(1)
open("second.txt", "w").write(repr(time.time()))
"""


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
    )
    return time.perf_counter() - start


def first_line(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    """Seconds from starting ``cmd`` to the time its child printed on its first line."""
    start = time.time()
    done = subprocess.run(
        cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False, timeout=120
    )
    return float(done.stdout.split()[0]) - start


def fast_job(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    """The fast printer's own time (it writes it to ``took.txt``)."""
    (cwd / "took.txt").unlink(missing_ok=True)
    timed(cmd, env, cwd)
    return float((cwd / "took.txt").read_text())


def restart_gap(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    """Seconds from the first attempt's crash to the second attempt's first line."""
    for name in ("crashed.txt", "second.txt"):
        (cwd / name).unlink(missing_ok=True)
    timed(cmd, env, cwd)
    return float((cwd / "second.txt").read_text()) - float((cwd / "crashed.txt").read_text())


def median(n: int, measure: Callable[..., float], *args: object) -> float:
    return statistics.median(measure(*args) for _ in range(n))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=10e6, help="bytes a second (paced job)")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long the paced job prints")
    parser.add_argument("--fast-mb", type=int, default=200, help="MB the fast job prints")
    parser.add_argument("--backoff", type=float, default=0.5, help="seconds before a restart")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="lablink-bench-") as tmp:
        cwd = Path(tmp)
        (cwd / "paced.py").write_text(PACED)
        (cwd / "fast.py").write_text(FAST)
        (cwd / "crash.py").write_text(CRASH)
        (cwd / "lablink.toml").write_text(f'[launch]\nbackoff = "{args.backoff}s"\n')
        env = {k: v for k, v in os.environ.items() if not k.startswith("LABLINK_")}
        env["LABLINK_HOME"] = str(cwd / "home")
        lablink = [py, "-m", "lablink.cli", "launch", "-p", "bench"]
        timed([*lablink, "-d", "--", py, "-c", "pass"], env, cwd)  # make the store first
        n = args.repeat

        print(f"1. launch to the command's first line (median of {n})")
        bare = median(n, first_line, [py, "-c", FIRST_LINE], env, cwd)
        launched = median(n, first_line, [*lablink, "--", py, "-c", FIRST_LINE], env, cwd)
        print(f"   bare python -c:   {bare:6.3f} s")
        print(f"   lablink launch:   {launched:6.3f} s   (+{launched - bare:.3f} s; target +0.5 s)")

        print(f"2. output capture (median of {n})")
        took = cwd / "took.txt"
        fast = [py, "fast.py", str(args.fast_mb * 100), str(took)]
        direct = median(n, fast_job, fast, env, cwd)
        captured = median(n, fast_job, [*lablink, "-d", "--", *fast], env, cwd)
        print(
            f"   as fast as it can, {args.fast_mb} MB: job's own time direct {direct:.3f} s "
            f"({args.fast_mb / direct:.0f} MB/s), launched {captured:.3f} s "
            f"({args.fast_mb / captured:.0f} MB/s): {100 * (captured / direct - 1):+.1f} % "
            "(target +5 %)"
        )
        paced = [py, "paced.py", str(args.rate), str(args.seconds)]
        direct = median(n, timed, paced, env, cwd)
        launched = median(n, timed, [*lablink, "-d", "--", *paced], env, cwd)
        print(
            f"   paced {args.rate / 1e6:.0f} MB/s for {args.seconds:.0f} s: wall direct "
            f"{direct:.2f} s, launched {launched:.2f} s (+{launched - direct:.2f} s, start-up "
            "included)"
        )

        print(f"3. restart, crash to the next attempt's first line (median of {n})")
        crash = [*lablink, "-d", "--restarts", "1", "--", py, "crash.py"]
        gap = median(n, restart_gap, crash, env, cwd)
        print(
            f"   {gap:.3f} s with a backoff of {args.backoff:g} s: {gap - args.backoff:.3f} s "
            "over the backoff (target 2 s)"
        )


if __name__ == "__main__":
    main()
