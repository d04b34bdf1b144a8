"""``lablink launch`` (issue 16): the cost of tracking a job, against running it directly.

Prints figures and ratios against references measured in the same run; never asserts.

    python benchmarks/launch.py                    # 10 s at about 10 MB/s, 3 repeats
    python benchmarks/launch.py --seconds 3 --repeat 1

1. overhead of output capture: a job that prints ``--rate`` bytes a second of
   100-byte lines for ``--seconds`` (paced, so a slowed job shows as a longer run)
   and one that prints as fast as it can, each run directly (output to /dev/null)
   and through ``lablink launch --detach`` on an embedded store; wall time of both
   and their ratio;
2. start-up: ``lablink launch -- python -c pass`` against ``python -c pass``.

The launch runs the real ``lablink`` command in a child process, so its time includes
starting Python and creating the run (git state, packages) as a user would see it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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

FAST = """
import sys
line = b"x" * 99 + b"\\n"
out = sys.stdout.buffer
for _ in range(int(sys.argv[1])):
    out.write(line * 100)
out.flush()
"""


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
    )
    return time.perf_counter() - start


def best_of(n: int, cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    return statistics.median(timed(cmd, env, cwd) for _ in range(n))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=10e6, help="bytes a second (paced job)")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long the paced job prints")
    parser.add_argument("--fast-mb", type=int, default=200, help="MB the fast job prints")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="lablink-bench-") as tmp:
        cwd = Path(tmp)
        (cwd / "paced.py").write_text(PACED)
        (cwd / "fast.py").write_text(FAST)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LABLINK_")}
        env["LABLINK_HOME"] = str(cwd / "home")
        launch = [py, "-m", "lablink.cli", "launch", "--detach", "-p", "bench", "--"]
        jobs = {
            f"paced {args.rate / 1e6:.0f} MB/s for {args.seconds:.0f} s": [
                py,
                "paced.py",
                str(args.rate),
                str(args.seconds),
            ],
            f"as fast as it can, {args.fast_mb} MB": [py, "fast.py", str(args.fast_mb * 100)],
            "python -c pass (start-up)": [py, "-c", "pass"],
        }
        timed([*launch, py, "-c", "pass"], env, cwd)  # create the store once, outside the figures
        print(f"{'job':<36} {'direct s':>9} {'launch s':>9} {'ratio':>7} {'extra s':>8}")
        for label, cmd in jobs.items():
            direct = best_of(args.repeat, cmd, env, cwd)
            launched = best_of(args.repeat, [*launch, *cmd], env, cwd)
            print(
                f"{label:<36} {direct:>9.2f} {launched:>9.2f} {launched / direct:>7.2f} "
                f"{launched - direct:>8.2f}"
            )


if __name__ == "__main__":
    main()
