"""Degree of authorship and the truck factor (Avelino et al., ICPC 2016).

For each file and each developer who changed it::

    DOA = 3.293 + 1.098 * FA + 0.164 * DL - 0.321 * ln(1 + AC)

FA is 1 when the developer created the file, DL the number of changes they made to it,
AC the number of changes others made to it. A developer *authors* a file when their DOA
is at least 3.293 and at least 0.75 of the file's highest DOA. The truck factor is found
greedily: remove the developer who authors the most files, again and again, until fewer
than half of the files have an author left; it is the number removed. Pure functions,
no I/O: ``team/gitlog.py`` reads the history from git.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence

BASE = 3.293
FIRST_AUTHORSHIP = 1.098
DELIVERIES = 0.164
ACCEPTANCES = 0.321
NORMALISED_THRESHOLD = 0.75
ABSOLUTE_THRESHOLD = BASE
COVERAGE = 0.5


def doa(first_author: bool, own_changes: int, others_changes: int) -> float:
    """The degree of authorship of one developer over one file."""
    return (
        BASE
        + FIRST_AUTHORSHIP * first_author
        + DELIVERIES * own_changes
        - ACCEPTANCES * math.log1p(others_changes)
    )


@dataclasses.dataclass
class FileHistory:
    """Who created a file and how many changes each developer made to it."""

    creator: str | None = None
    changes: dict[str, int] = dataclasses.field(default_factory=dict)

    def authors(self) -> set[str]:
        """The developers who author this file (DOA thresholds of the paper)."""
        total = sum(self.changes.values())
        scores = {dev: doa(dev == self.creator, n, total - n) for dev, n in self.changes.items()}
        if not scores:
            return set()
        top = max(scores.values())
        return {
            dev
            for dev, score in scores.items()
            if score >= ABSOLUTE_THRESHOLD and score / top > NORMALISED_THRESHOLD
        }


@dataclasses.dataclass(frozen=True)
class TruckFactor:
    """The truck factor of a set of files and the developers whose loss reaches it."""

    factor: int
    removed: tuple[tuple[str, int], ...]  # (developer, files they authored), in order
    coverage: tuple[float, ...]  # share of files with an author before each removal
    files: int


def truck_factor(authors: Mapping[str, Iterable[str]]) -> TruckFactor:
    """The greedy truck factor over ``authors`` (file -> its authors).

    Files without any author count in the total, as in the paper: they are already
    uncovered. Ties between developers with as many files go to the name that sorts
    first, so the answer does not depend on dictionary order.
    """
    files = list(authors)
    by_dev: dict[str, set[str]] = {}
    for path, devs in authors.items():
        for dev in devs:
            by_dev.setdefault(dev, set()).add(path)
    coverage: list[float] = []
    removed: list[tuple[str, int]] = []
    while by_dev:
        covered = set().union(*by_dev.values())
        share = len(covered) / len(files)
        coverage.append(share)
        if share < COVERAGE:
            break
        dev = min(by_dev, key=lambda d: (-len(by_dev[d]), d))
        removed.append((dev, len(by_dev.pop(dev))))
    else:
        coverage.append(0.0)
    return TruckFactor(len(removed), tuple(removed), tuple(coverage), len(files))


def silos(authors: Mapping[str, Iterable[str]], folders: Sequence[str]) -> dict[str, str]:
    """Folders whose every file is authored by one and the same developer: folder -> dev.

    ``folders`` are path prefixes ending in ``/`` (``src/data/``); a folder with a file
    no one authors is not a silo but worse, and is reported by the truck factor instead.
    """
    found = {}
    for folder in folders:
        owners = [set(devs) for path, devs in authors.items() if path.startswith(folder)]
        if owners and all(len(o) == 1 for o in owners):
            names = set().union(*owners)
            if len(names) == 1:
                found[folder] = names.pop()
    return found
