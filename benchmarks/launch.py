"""``lablink launch`` (issue 16): the cost of tracking a job, against running it directly.

Prints figures and ratios against references measured in the same run; never asserts.

    python benchmarks/launch.py                    # about two minutes
    python benchmarks/launch.py --repeat 3 --fast-mb 50 --seconds 3
    python benchmarks/launch.py --only startup     # one part (repeatable)
    python benchmarks/launch.py --only capture --how block
    python benchmarks/launch.py --only ray         # needs lablink[ray]; starts a head

1. start-up: from starting ``lablink launch -- python -c "print(time.time())"`` to that
   first line running, against the same command started bare (the issue's target:
   at most 0.5 s more); and the launcher's CPU seconds by the time its command starts;
2. output capture: a job that prints as fast as it can (``--fast-mb`` of 100-byte
   lines, with ``print()`` per line as a training script does, and 100 lines per
   write) times itself, run directly with its output to /dev/null, to a file, into a
   pipe read by ``cat``, and through ``lablink launch --detach`` (captured, timestamped,
   stored), in turn: the job's own time, and the ratio to the file (target: at most 5 %
   slower); and a job paced at ``--rate`` bytes a second for ``--seconds`` (a slowed
   job shows as a longer run), wall time of both;
3. restart: a job that crashes on its first attempt; the time from the crash (the
   last thing the first attempt does) to the second attempt's first line, less the
   configured backoff (target: at most 2 s);
4. Ray (``--only ray``): on a head started on 127.0.0.1, from starting
   ``lablink launch --backend ray`` to the command's first line, against a bare
   ``ray job submit --working-dir .`` of the same command; and each whole job's wall time.

Every launch runs the real ``lablink`` command in a child process on an embedded store,
so its time includes starting Python and creating the run (git state, packages) as a
user would see it. Children run without ``PYTHONDONTWRITEBYTECODE`` (installed packages
have .pyc files; with it set, a source tree's modules are compiled again on every start)
and without ``PYTHONUNBUFFERED`` (whether a job's ``print()`` writes per line is the job's
own choice, not the shell's), after one launch that warms the caches and makes the store.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import resource
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

FIRST_LINE = "import time; print(repr(time.time()), flush=True)"
# The launcher's CPU seconds (user + system, /proc/PPID/stat) when its command starts: a
# figure of what runs before the command that a busy machine inflates far less than wall
# time (Linux; 10 ms ticks).
LAUNCHER_CPU = (
    "import os; f = open(f'/proc/{os.getppid()}/stat').read().rsplit(')', 1)[1].split(); "
    "print((int(f[11]) + int(f[12])) / os.sysconf('SC_CLK_TCK'), flush=True)"
)

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
open(sys.argv[3], "w").write(repr(time.monotonic() - start))
"""

# Times itself, so the figure is what the job sees, not the launcher's start-up.
# "block": 100 lines per write, at memory speed; "print": print() per line, as a
# training script prints.
FAST = """
import sys, time
lines, took, how = int(sys.argv[1]), sys.argv[2], sys.argv[3]
start = time.perf_counter()
if how == "block":
    block = (b"x" * 99 + b"\\n") * 100
    out = sys.stdout.buffer
    for _ in range(lines // 100):
        out.write(block)
    out.flush()
else:
    text = "x" * 99
    for _ in range(lines):
        print(text)
    sys.stdout.flush()
open(took, "w").write(repr(time.perf_counter() - start))
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
    return printed(cmd, env, cwd) - start


def printed(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    """The first line of ``cmd``'s output that is a number (Ray prints its own around it)."""
    done = subprocess.run(
        cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False, timeout=300
    )
    for line in done.stdout.splitlines():
        with contextlib.suppress(ValueError):
            return float(line.strip())
    raise SystemExit(
        f"no number printed by {shlex.join(cmd)}: {done.stdout[-500:]}{done.stderr[-500:]}"
    )


def cpu_seconds(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    """User and system CPU seconds ``cmd`` and the processes it waited for used: a
    figure that a busy machine inflates far less than wall time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    timed(cmd, env, cwd)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


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


def startup(args: argparse.Namespace, ctx: Context) -> None:
    n, py, env, cwd = args.repeat, ctx.py, ctx.env, ctx.cwd
    print(f"1. launch to the command's first line (median of {n})")
    bare = median(n, first_line, [py, "-c", FIRST_LINE], env, cwd)
    launched = median(n, first_line, [*ctx.lablink, "--", py, "-c", FIRST_LINE], env, cwd)
    print(f"   bare python -c:   {bare:6.3f} s")
    print(f"   lablink launch:   {launched:6.3f} s   (+{launched - bare:.3f} s; target +0.5 s)")
    bare = median(n, cpu_seconds, [py, "-c", "pass"], env, cwd)
    launched = median(n, cpu_seconds, [*ctx.lablink, "-d", "--", py, "-c", "pass"], env, cwd)
    print(f"   CPU seconds, python -c pass: bare {bare:.3f} s, launched {launched:.3f} s")
    if Path("/proc/self/stat").exists():
        before = median(n, printed, [*ctx.lablink, "--", py, "-c", LAUNCHER_CPU], env, cwd)
        print(f"   the launcher's CPU seconds by the command's start: {before:.3f} s")


def capture(args: argparse.Namespace, ctx: Context) -> None:
    n, py, env, cwd = args.repeat, ctx.py, ctx.env, ctx.cwd
    print(f"2. output capture: the job's own time (median of {n}; target +5 %)")
    took = cwd / "took.txt"
    fast: list[str] = []
    for how in args.how:
        fast = [py, "fast.py", str(args.fast_mb * 10_000), str(took), how]
        shell = shlex.join(fast)
        ways = {  # measured in turn, n rounds: a busy machine weighs on each alike
            "null": ["bash", "-c", f"{shell} >/dev/null"],
            "file": ["bash", "-c", f"{shell} >out.txt; rm out.txt"],
            "pipe": ["bash", "-c", f"{shell} | cat >/dev/null"],
            "launched": [*ctx.lablink, "-d", "--", *fast],
        }
        took_s = {way: [] for way in ways}
        for _ in range(n):
            for way, cmd in ways.items():
                took_s[way].append(fast_job(cmd, env, cwd))
        t = {way: statistics.median(times) for way, times in took_s.items()}
        label = "print() per line" if how == "print" else "100 lines per write"
        print(
            f"   {label}, {args.fast_mb} MB: to /dev/null {t['null']:.3f} s, to a file "
            f"{t['file']:.3f} s, into `| cat` {t['pipe']:.3f} s, launched {t['launched']:.3f} s: "
            f"{100 * (t['launched'] / t['file'] - 1):+.1f} % over the file (target +5 %), "
            f"{100 * (t['launched'] / t['pipe'] - 1):+.1f} % over the pipe"
        )
    bare = median(n, cpu_seconds, fast, env, cwd)
    launched = median(n, cpu_seconds, [*ctx.lablink, "-d", "--", *fast], env, cwd)
    print(
        f"   CPU seconds of the last, direct {bare:.2f} s, launched {launched:.2f} s: "
        f"{1000 * (launched - bare) / args.fast_mb:.1f} ms a MB captured, start-up included"
    )
    paced = [py, "paced.py", str(args.rate), str(args.seconds), str(took)]
    direct = median(n, fast_job, paced, env, cwd)
    launched = median(n, fast_job, [*ctx.lablink, "-d", "--", *paced], env, cwd)
    print(
        f"   paced {args.rate / 1e6:.0f} MB/s for {args.seconds:g} s: the job's own time "
        f"direct {direct:.2f} s, launched {launched:.2f} s "
        f"({100 * (launched / direct - 1):+.1f} %)"
    )


def restart(args: argparse.Namespace, ctx: Context) -> None:
    print(f"3. restart, crash to the next attempt's first line (median of {args.repeat})")
    crash = [*ctx.lablink, "-d", "--restarts", "1", "--", ctx.py, "crash.py"]
    gap = median(args.repeat, restart_gap, crash, ctx.env, ctx.cwd)
    print(
        f"   {gap:.3f} s with a backoff of {args.backoff:g} s: {gap - args.backoff:.3f} s "
        "over the backoff (target 2 s)"
    )


def ray(args: argparse.Namespace, ctx: Context) -> None:
    n, py, env, cwd = args.repeat, ctx.py, ctx.env, ctx.cwd
    print(f"4. Ray: submission to the command's first line, on a local head (median of {n})")
    with ray_head(py, env) as address:
        bare_cmd = [str(Path(py).parent / "ray"), "job", "submit", "--address", address]
        bare_cmd += ["--working-dir", ".", "--", py, "-c", FIRST_LINE]
        launch = [*ctx.lablink, "--backend", "ray", "--address", address]
        launch += ["--", py, "-c", FIRST_LINE]
        bare = median(n, first_line, bare_cmd, env, cwd)
        launched = median(n, first_line, launch, env, cwd)
        print(f"   ray job submit:             {bare:6.3f} s")
        print(f"   lablink launch --backend ray: {launched:6.3f} s   (+{launched - bare:.3f} s)")
        bare = median(n, timed, bare_cmd, env, cwd)
        launched = median(n, timed, launch, env, cwd)
        print(f"   whole job, wall: ray job submit {bare:.3f} s, lablink launch {launched:.3f} s")


PARTS: dict[str, Callable[[argparse.Namespace, Context], None]] = {
    "startup": startup,
    "capture": capture,
    "restart": restart,
    "ray": ray,
}


@contextlib.contextmanager
def ray_head(py: str, env: dict[str, str]) -> Iterator[str]:
    """A Ray head on 127.0.0.1 in its own process group (as tests/launch/test_ray.py
    starts one); yields its dashboard address, ends the group afterwards."""
    temp = tempfile.mkdtemp(prefix="ll-ray-")  # short: Ray's socket paths are bounded
    dashboard = free_port()
    head = subprocess.Popen(
        [
            str(Path(py).parent / "ray"),
            *("start", "--head", "--block", "--port=0", "--num-cpus=2"),
            "--include-dashboard=true",
            "--node-ip-address=127.0.0.1",
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={dashboard}",
            f"--ray-client-server-port={free_port()}",
            f"--dashboard-agent-listen-port={free_port()}",
            f"--temp-dir={temp}",
        ],
        env={**env, "RAY_USAGE_STATS_ENABLED": "0"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    address = f"http://127.0.0.1:{dashboard}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if head.poll() is not None:
                raise SystemExit("ray start exited: Ray cannot run here")
            try:
                with urllib.request.urlopen(f"{address}/api/version", timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        else:
            raise SystemExit("Ray's dashboard did not come up in 180 s")
        yield address
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(head.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                head.wait(30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclasses.dataclass
class Context:
    py: str
    env: dict[str, str]
    cwd: Path
    lablink: list[str]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=10e6, help="bytes a second (paced job)")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long the paced job prints")
    parser.add_argument("--fast-mb", type=int, default=200, help="MB the fast job prints")
    parser.add_argument("--backoff", type=float, default=0.5, help="seconds before a restart")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(PARTS),
        help="run only this part (repeatable); default: startup, capture, restart",
    )
    parser.add_argument(
        "--how",
        action="append",
        choices=("print", "block"),
        help="capture: which fast printer (repeatable); default: both",
    )
    args = parser.parse_args()
    args.how = args.how or ["print", "block"]
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="lablink-bench-") as tmp:
        cwd = Path(tmp)
        (cwd / "paced.py").write_text(PACED)
        (cwd / "fast.py").write_text(FAST)
        (cwd / "crash.py").write_text(CRASH)
        (cwd / "lablink.toml").write_text(f'[launch]\nbackoff = "{args.backoff}s"\n')
        env = {k: v for k, v in os.environ.items() if not k.startswith("LABLINK_")}
        for name in ("PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"):  # see the docstring
            env.pop(name, None)
        env["LABLINK_HOME"] = str(cwd / "home")
        ctx = Context(py, env, cwd, [py, "-m", "lablink.cli", "launch", "-p", "bench"])
        timed([*ctx.lablink, "-d", "--", py, "-c", "pass"], env, cwd)  # make the store first
        for part in args.only or ["startup", "capture", "restart"]:
            PARTS[part](args, ctx)


if __name__ == "__main__":
    main()
