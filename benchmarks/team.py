"""Team benchmark: ``lablink busfactor`` over a repository with a long history.

Generates a git repository with ``--commits`` commits (default 50,000) by 30 authors
over 3,000 files in 40 folders, with ``git fast-import`` (seconds), then times:

- the reference in the same run: ``git log --name-status -M`` of the whole history
  into /dev/null, the read that the analysis cannot avoid;
- ``analyse``: reading that history, degree of authorship of every file, the truck
  factor of the repository and of each folder, and eight points over time;
- the ``lablink busfactor --json --no-store`` command end to end.

Target (issue): at most 10 s for 50,000 commits. Run with ``python benchmarks/team.py
[--commits 50000]``. Prints figures, never asserts.
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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        made = timed(lambda: generate(root, args.commits))
        print(
            f"repository: {args.commits:,} commits, {AUTHORS} authors, {FILES} files "
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


if __name__ == "__main__":
    main()
