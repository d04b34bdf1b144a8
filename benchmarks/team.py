"""Team benchmark: ``lablink busfactor`` over a repository with a long history.

Generates a git repository with ``--commits`` commits (default 50,000) by 30 authors
over 3,000 files in 40 folders, with ``git fast-import`` (seconds), then times:

- the reference in the same run: ``git log --name-status -M`` of the whole history
  into /dev/null, the read that the analysis cannot avoid;
- ``analyse``: reading that history, degree of authorship of every file, the truck
  factor of the repository and of each folder, and eight points over time;
- the ``lablink busfactor --json --no-store`` command end to end.

Then, on a SQLite store with 200 people in 20 zones (hours, focus blocks, some away) and
20 rotations of 10 (half follow-the-sun), with overrides:

- the reference in the same run: reading the roster rows from the store;
- the routing decision for one incident (critical and not) on the loaded roster, and
  end to end (store read, parse, decide: what the notifier does per incident);
- ``oncall now`` in-process, and the ``lablink oncall now --json`` command beside
  ``lablink --help`` (the CLI's start-up).

Targets (issue): at most 10 s for 50,000 commits; at most 5 ms per routing decision.
Run with ``python benchmarks/team.py [--commits 50000] [--part busfactor|routing]``.
Prints figures, never asserts.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lablink.team.busfactor import analyse

AUTHORS = 30
FILES = 3000
FOLDERS = 40
T0 = 1_500_000_000


def generate(root: Path, commits: int, seed: int = 7) -> None:
    """A repository of ``commits`` commits made with ``git fast-import``."""
    rng = random.Random(seed)
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    people = [(f"Dev {i}", f"dev{i}@lab.org") for i in range(AUTHORS)]
    # a few people do most of the work, as in real projects
    weights = [1 / (i + 1) for i in range(AUTHORS)]
    paths = [f"pkg{i % FOLDERS}/mod{i}.py" for i in range(FILES)]
    lines = []
    for n in range(commits):
        name, email = rng.choices(people, weights)[0]
        when = T0 + n * 600
        lines.append("commit refs/heads/main")
        lines.append(f"author {name} <{email}> {when} +0000")
        lines.append(f"committer {name} <{email}> {when} +0000")
        message = f"change {n}".encode()
        lines.append(f"data {len(message)}\n{message.decode()}")
        touched = rng.sample(paths[: max(3, min(FILES, n // 10 + 3))], k=rng.randint(1, 3))
        for path in touched:
            body = f"{n} {name}\n".encode()
            lines.append(f"M 100644 inline {path}")
            lines.append(f"data {len(body)}\n{body.decode()}")
        lines.append("")
    stream = "\n".join(lines) + "\n"
    subprocess.run(
        ["git", "-C", str(root), "fast-import", "--quiet"],
        input=stream.encode(),
        check=True,
    )
    subprocess.run(["git", "-C", str(root), "checkout", "-q", "main"], check=True)


def timed(fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=50_000)
    parser.add_argument("--part", choices=("all", "busfactor", "routing"), default="all")
    args = parser.parse_args()
    if args.part in ("all", "busfactor"):
        busfactor(args.commits)
    if args.part in ("all", "routing"):
        routing()


def busfactor(commits: int) -> None:
    """Time the bus factor over a generated history."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        made = timed(lambda: generate(root, commits))
        print(
            f"repository: {commits:,} commits, {AUTHORS} authors, {FILES} files "
            f"(generated in {made:.1f} s)"
        )
        log = ["git", "-C", str(root), "log", "--no-merges", "-M", "--name-status"]
        ref = timed(lambda: subprocess.run(log, stdout=subprocess.DEVNULL, check=True))
        report = None

        def run() -> None:
            nonlocal report
            report = analyse(root)

        took = timed(run)
        cli = [sys.executable, "-m", "lablink.cli", "busfactor", "--repo", str(root)]
        command = timed(
            lambda: subprocess.run(
                [*cli, "--json", "--no-store"], stdout=subprocess.DEVNULL, check=True
            )
        )
        assert report is not None
        print(f"{'what':<44}{'seconds':>10}{'ratio':>14}")
        for name, seconds in (
            ("reference: git log --name-status -M", ref),
            ("analyse (truck factor, folders, timeline)", took),
            ("lablink busfactor --json, end to end", command),
        ):
            print(f"{name:<44}{seconds:>10.2f}{seconds / ref:>14.2f}")
        print(
            f"truck factor {report.overall.factor} over {report.overall.files} files; "
            f"target <= 10 s: {'met' if command <= 10 else 'NOT met'}"
        )


ZONES = (
    "Europe/London", "Europe/Berlin", "Europe/Madrid", "Europe/Helsinki", "Africa/Lagos",
    "Asia/Tokyo", "Asia/Kolkata", "Asia/Shanghai", "Asia/Singapore", "Asia/Dubai",
    "Australia/Sydney", "Pacific/Auckland", "America/Los_Angeles", "America/New_York",
    "America/Chicago", "America/Sao_Paulo", "America/Bogota", "America/Toronto", "UTC",
    "Asia/Seoul",
)  # fmt: skip


def median_ms(fn: object, reps: int) -> float:
    """The median of ``reps`` timings of ``fn`` in milliseconds."""
    times = sorted(timed(fn) for _ in range(reps))
    return 1000 * times[len(times) // 2]


def routing() -> None:
    """Time whom-to-notify decisions and ``oncall now`` with 200 people, 20 rotations."""
    import os

    from lablink.core.team import Team
    from lablink.store import open_store
    from lablink.team.routing import route

    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{tmp}/bench.db"
        store = open_store(db)
        team = Team(store)
        rng = random.Random(3)
        names = [f"p{i:03d}" for i in range(200)]
        for i, name in enumerate(names):
            start = rng.choice((7, 8, 9, 10))
            team.add(
                "bench",
                name,
                ZONES[i % len(ZONES)],
                [f"{start:02d}:00-{start + 8:02d}:30", "Fri 09:00-13:00"],
                [rng.choice(("Tue,Thu 13:00-15:00", "Mon,Wed 10:00-12:00"))],
                ["2026-12-24..2027-01-02"] if i % 7 == 0 else [],
                [f"json://127.0.0.1:9/{name}"],
                email=f"{name}@lab.org",
            )
        for r in range(20):
            members = names[r * 10 : (r + 1) * 10]
            team.create_rotation(
                "bench", f"rot{r:02d}", members, "Mon 09:00", follow_sun=r % 2 == 0,
                fallback=names[(r * 10 + 37) % 200], projects=[] if r < 10 else [f"proj{r}"],
            )  # fmt: skip
            team.override("bench", members[1], "now", _soon(), f"rot{r:02d}")
        now = time.time()
        roster = team.roster(now)
        owner = "p042@lab.org"
        ref = median_ms(lambda: team.sql.members(), 50)
        pure_crit = median_ms(lambda: route("critical", "proj12", owner, roster, now), 200)
        pure_warn = median_ms(lambda: route("warning", "proj12", owner, roster, now), 200)
        full_crit = median_ms(lambda: team.route("critical", "proj12", owner, now), 50)
        full_warn = median_ms(lambda: team.route("warning", "proj12", owner, now), 50)
        oncall = median_ms(lambda: team.now(now), 20)
        store.close()
        env = {**os.environ, "LABLINK_DB": db}
        cli = [sys.executable, "-m", "lablink.cli"]
        help_s = min(timed(lambda: _quiet([*cli, "--help"], env)) for _ in range(3))
        now_s = min(timed(lambda: _quiet([*cli, "oncall", "now", "--json"], env)) for _ in range(3))
        pages = route("critical", "proj12", owner, roster, now)
        print()
        print("routing: 200 people in 20 zones, 20 rotations of 10, an override each")
        print(f"{'what':<52}{'ms':>10}{'ratio':>10}")
        for name, ms in (
            ("reference: read the 200 roster rows", ref),
            ("route a critical incident (roster loaded)", pure_crit),
            ("route a warning (roster loaded)", pure_warn),
            ("route a critical incident, end to end", full_crit),
            ("route a warning, end to end", full_warn),
            ("oncall now, in-process (20 rotations)", oncall),
            ("reference: lablink --help (CLI start-up)", 1000 * help_s),
            ("lablink oncall now --json (20 rotations)", 1000 * now_s),
        ):
            print(f"{name:<52}{ms:>10.2f}{ms / ref:>10.1f}")
        print(
            f"{len(pages)} pages for the critical incident; target <= 5 ms per decision: "
            f"{'met' if max(pure_crit, pure_warn) <= 5 else 'NOT met'} (roster loaded), "
            f"{'met' if max(full_crit, full_warn) <= 5 else 'NOT met'} (end to end)"
        )


def _soon() -> str:
    return time.strftime("%Y-%m-%dT%H:%M", time.localtime(time.time() + 3 * 86400))


def _quiet(command: list[str], env: dict[str, str]) -> None:
    subprocess.run(command, stdout=subprocess.DEVNULL, check=True, env=env)


if __name__ == "__main__":
    main()
