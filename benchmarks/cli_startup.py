"""CLI start-up benchmark (issues 18 and 20): each command as a new process.

Every figure is the median of ``--repeat`` runs of a fresh ``python -m lablink.cli``
process, in wall time and in CPU time (user + system of the child: steadier than wall
time when other work shares the machine), beside ``python -c pass`` and
``git status --short`` measured in the same run, and the floor of every command that
opens the store: ``import sqlalchemy`` with its SQLite dialect, alone. On an embedded SQLite store seeded
with a few runs, two teammates and an on-call rotation.

Targets: ``lablink --help`` ≤ 150 ms, ``lablink runs ls`` ≤ 300 ms, ``lablink oncall
now`` well under 1 s. Run with ``python benchmarks/cli_startup.py [--repeat 7]`` or
``python benchmarks/tracking.py --cli-only``. Prints figures, never asserts.

The children run with ``PYTHONDONTWRITEBYTECODE`` unset and each command is run once
before it is timed: an installed lablink has ``.pyc`` files, as its dependencies do, so
a child that compiled every lablink module on each start (as it would where the
environment sets that variable, as ours does) measured the compiler, about 60 ms.

``--baseline SRC`` also times the lablink source tree ``SRC`` (e.g. an export of
``main``'s ``src``), interleaved with this one run by run, so both see the same load
on a shared machine; each line then shows both and the ratio.
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
DONT_WRITE = "PYTHONDONTWRITEBYTECODE"
IMPORT_SQLALCHEMY = "import sqlalchemy, sqlalchemy.dialects.sqlite"
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
    return interleaved(make, repeat, [env])[0]


def interleaved(
    make: Callable[[int], list[str]], repeat: int, envs: list[dict[str, str] | None]
) -> list[tuple[float, float]]:
    """Median wall and CPU milliseconds of ``make(i)`` under each of ``envs``, the
    environments taking turns run by run (so a burst of load hits all of them)."""
    samples: list[list[tuple[float, float]]] = [[] for _ in envs]
    for i in range(repeat):
        for env, found in zip(envs, samples, strict=True):
            found.append(run_child(make(i), env))
    return [
        (
            statistics.median(s[0] for s in found) * 1000,
            statistics.median(s[1] for s in found) * 1000,
        )
        for found in samples
    ]


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


def line(name: str, figures: list[tuple[float, float]], reference: str, target: str) -> None:
    """One command's figures: this tree's, then the baseline's and the ratio if timed."""
    wall, cpu = figures[0]
    value = f"{wall:.0f} ms (cpu {cpu:.0f})"
    if len(figures) > 1:
        base_wall, base_cpu = figures[1]
        value += f" vs {base_wall:.0f} ms (cpu {base_cpu:.0f}), cpu x{cpu / base_cpu:.2f}"
    print(f"{name:<44} {value:>20}   ref: {reference:<46} target: {target}")


def child_env(home: Path, src: Path | None = None) -> dict[str, str]:
    """The children's environment: the store in ``home``, ``.pyc`` files written and
    read (see the module docstring), lablink imported from ``src`` when given."""
    env = {k: v for k, v in os.environ.items() if k not in ("LABLINK_SERVER", DONT_WRITE)}
    env["LABLINK_HOME"] = str(home)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    return env


def report(
    home: Path, folder: Path | None = None, repeat: int = 7, baseline: Path | None = None
) -> None:
    """Print the start-up figures of the CLI over the store in ``home`` (beside those of
    the lablink source tree ``baseline``, interleaved, when given)."""
    envs = [child_env(home)]
    if baseline is not None:
        envs.append(child_env(home, baseline))
    plain = child_env(home)
    bare = median_child(lambda _: [sys.executable, "-c", "pass"], repeat, plain)
    git = median_child(lambda _: ["git", "status", "--short"], repeat, plain)
    # The floor of any command that opens the store: SQLAlchemy and its SQLite dialect.
    floor = median_child(lambda _: [sys.executable, "-c", IMPORT_SQLALCHEMY], repeat, plain)
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
        for env in envs:  # warm: the first start writes the .pyc files
            run_child(same(args)(0), env)
        line(name, interleaved(same(args), repeat, envs), ref, target)
    if folder is not None:
        n = len(envs)
        add = ["data", "add", str(folder), "-n"]
        for k, env in enumerate(envs):
            run_child([*LABLINK, *add, f"notes-warm-{k}"], env)
        # Each run adds a version under a new name (the same name twice adds nothing).
        counter = iter(range(repeat * n))
        figures_add = interleaved(
            lambda _: [*LABLINK, *add, f"notes-{next(counter)}"], repeat, envs
        )
        line(f"lablink data add ({len(list(folder.iterdir()))} plain files)", figures_add, ref, "")
    print(f"{'  cpu of python -c pass / git status':<44} {bare[1]:>9.0f} / {git[1]:.0f} ms")
    print(
        f"{'  floor: import sqlalchemy + sqlite dialect':<44} {floor[0]:>9.0f} ms (cpu {floor[1]:.0f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument(
        "--baseline",
        type=Path,
        help="Another lablink source tree (its src folder) to time, interleaved, for a ratio.",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        folder = seed(home)
        report(home, folder, args.repeat, args.baseline)


if __name__ == "__main__":
    main()
