"""CLI start-up benchmark (issues 18 and 20): each command as a new process.

Every figure is the median of ``--repeat`` runs of a fresh ``python -m lablink.cli``
process, in wall time and in CPU time (user + system of the child: steadier than wall
time when other work shares the machine), beside ``python -c pass`` and
``git status --short`` measured in the same run. On an embedded SQLite store seeded
with a few runs, two teammates and an on-call rotation.

Targets: ``lablink --help`` ≤ 150 ms, ``lablink runs ls`` ≤ 300 ms, ``lablink oncall
now`` well under 1 s. Run with ``python benchmarks/cli_startup.py [--repeat 7]`` or
``python benchmarks/tracking.py --cli-only``. Prints figures, never asserts.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

LABLINK = [sys.executable, "-m", "lablink.cli"]
REPO = Path(__file__).resolve().parent.parent


def run_child(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall and CPU seconds of one child process (output discarded)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=REPO, check=False
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def median_child(
    make: Callable[[int], list[str]], repeat: int, env: dict[str, str] | None = None
) -> tuple[float, float]:
    """Median wall and CPU milliseconds of ``repeat`` runs of ``make(i)``."""
    samples = [run_child(make(i), env) for i in range(repeat)]
    return (
        statistics.median(s[0] for s in samples) * 1000,
        statistics.median(s[1] for s in samples) * 1000,
    )


def seed(home: Path) -> Path:
    """A store with runs in project ``search``, two teammates and a rotation; returns a
    folder of plain (non-table) files for ``data add``."""
    from lablink.core.lab import Lab
    from lablink.settings import Settings

    settings = Settings.load(overrides={"home": str(home)}, environ={}, cwd=home)
    with Lab(settings) as lab:
        for i in range(20):
            run = lab.tracking.create_run("ana@example.org", "search", f"r{i}", {"lr": i}, [])
            lab.tracking.set_summary(run.id, {"val/acc": i / 20})
            lab.tracking.finish_run("ana@example.org", run.id)
    env = {**os.environ, "LABLINK_HOME": str(home)}
    for name, tz in (("ana", "Europe/London"), ("ben", "Asia/Tokyo")):
        add = ["team", "add", name, "--tz", tz, "--hours", "09:00-17:00"]
        subprocess.run(
            [*LABLINK, *add, "--email", f"{name}@example.org"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    rotation = ["oncall", "rotation", "create", "research", "--members", "ana,ben"]
    subprocess.run([*LABLINK, *rotation], env=env, check=True, stdout=subprocess.DEVNULL)
    folder = home.parent / "notes"
    folder.mkdir()
    for i in range(20):
        (folder / f"note-{i}.txt").write_text(f"note {i}\n" * 50)
    return folder


def same(args: list[str]) -> Callable[[int], list[str]]:
    """The same ``lablink ARGS`` on every repetition."""
    return lambda _: [*LABLINK, *args]


def line(name: str, figure: tuple[float, float], reference: str, target: str) -> None:
    wall, cpu = figure
    value = f"{wall:.0f} ms (cpu {cpu:.0f})"
    print(f"{name:<44} {value:>20}   ref: {reference:<46} target: {target}")


def report(home: Path, folder: Path | None = None, repeat: int = 7) -> None:
    """Print the start-up figures of the CLI over the store in ``home``."""
    env = {k: v for k, v in os.environ.items() if k != "LABLINK_SERVER"}
    env["LABLINK_HOME"] = str(home)
    bare = median_child(lambda _: [sys.executable, "-c", "pass"], repeat)
    git = median_child(lambda _: ["git", "status", "--short"], repeat)
    ref = f"python -c pass {bare[0]:.0f} ms, git status {git[0]:.0f} ms"
    figures = [
        ("lablink --help", ["--help"], "≤ 150 ms"),
        ("lablink runs ls (embedded store)", ["runs", "ls", "-p", "search"], "≤ 300 ms"),
        ("lablink oncall now (embedded store)", ["oncall", "now"], "well under 1 s"),
        ("lablink team ls (embedded store)", ["team", "ls"], ""),
        ("lablink jobs ls (embedded store)", ["jobs", "ls"], ""),
        ("lablink data add --help", ["data", "add", "--help"], ""),
    ]
    for name, args, target in figures:
        line(name, median_child(same(args), repeat, env), ref, target)
    if folder is not None:
        figure = median_child(
            lambda i: [*LABLINK, "data", "add", "-n", f"notes-{i}", str(folder)], repeat, env
        )
        line(f"lablink data add ({len(list(folder.iterdir()))} plain files)", figure, ref, "")
    print(f"{'  cpu of python -c pass / git status':<44} {bare[1]:>9.0f} / {git[1]:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        folder = seed(home)
        report(home, folder, args.repeat)


if __name__ == "__main__":
    main()
