"""The bus factor of a repository: who authors what, and how many people it hangs on.

``analyse`` reads the history once (``gitlog.py``), merges the aliases of one person,
and answers with the truck factor of the whole path and of each folder below it, the
knowledge silos (folders one person authors alone), the factor at points in time, and
each file's authors. The arithmetic is ``checks/truckfactor.py``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lablink.checks.truckfactor import TruckFactor, silos, truck_factor
from lablink.errors import InvalidInput
from lablink.team.gitlog import Commit, Replay, commits, repo_root, tree_files

TIMELINE_POINTS = 8


class Identities:
    """One name per person: git's ``.mailmap`` first, then the same e-mail address or
    the same full name (case and spacing aside) count as one person."""

    def __init__(self) -> None:
        self._by_email: dict[str, str] = {}
        self._by_name: dict[str, str] = {}
        self.aliases: dict[str, set[str]] = {}

    def who(self, name: str, email: str) -> str:
        """The person behind a commit's author, as ``Name <email>`` of their first commit."""
        mail = email.strip().lower()
        key = re.sub(r"\s+", " ", name).strip().casefold()
        found = self._by_email.get(mail) or (self._by_name.get(key) if " " in key else None)
        if found is None:
            found = f"{name.strip()} <{email.strip()}>"
            self.aliases[found] = set()
        else:
            alias = f"{name.strip()} <{email.strip()}>"
            if alias != found:
                self.aliases[found].add(alias)
        self._by_email.setdefault(mail, found)
        self._by_name.setdefault(key, found)
        return found


@dataclasses.dataclass(frozen=True)
class Point:
    """The truck factor at one time: ``at`` is the last commit's time taken into account."""

    at: int
    factor: int
    files: int


@dataclasses.dataclass(frozen=True)
class Report:
    """The bus factor of ``path`` in the repository at ``root``."""

    root: Path
    path: str
    commits: int
    overall: TruckFactor
    folders: dict[str, TruckFactor]
    silos: dict[str, str]
    timeline: list[Point]
    authors: dict[str, list[str]]  # file -> its authors
    aliases: dict[str, list[str]]  # person -> the other names and e-mails they used

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""

        def factor(tf: TruckFactor) -> dict[str, Any]:
            return {
                "truck_factor": tf.factor,
                "files": tf.files,
                "removed": [{"person": who, "files": n} for who, n in tf.removed],
                "coverage": list(tf.coverage),
            }

        return {
            "root": str(self.root),
            "path": self.path,
            "commits": self.commits,
            **factor(self.overall),
            "folders": {name: factor(tf) for name, tf in self.folders.items()},
            "silos": self.silos,
            "timeline": [dataclasses.asdict(p) for p in self.timeline],
            "aliases": self.aliases,
            "authors": self.authors,
        }


def analyse(
    start: Path,
    path: str = "",
    since: str | None = None,
    points: int = TIMELINE_POINTS,
) -> Report:
    """The bus factor of ``path`` (a folder relative to the repository root; all of it
    when empty), from the commits since ``since`` (git's date syntax, e.g. ``2 years
    ago``; all when None).

    Raises:
        InvalidInput: ``start`` is not in a git repository, or ``path`` holds no file.
    """
    root = repo_root(start)
    prefix = _prefix(path)
    people = Identities()
    replay = Replay()
    timeline: list[Point] = []
    history = list(commits(root, since=since))
    if not history:
        raise InvalidInput(
            f"no commits in {root}" + (f" since {since}" if since else ""),
            "commit some work first, or widen --since",
        )
    cuts = _cuts(history, points)
    for i, commit in enumerate(history):
        replay.apply(commit, people.who(commit.name, commit.email))
        if i in cuts:
            files = _under(tree_files(root, commit.sha), prefix)
            if files:
                tf = truck_factor(_authors(replay, files))
                timeline.append(Point(commit.time, tf.factor, tf.files))
    files = _under(tree_files(root, history[-1].sha), prefix)
    if not files:
        raise InvalidInput(f"no files under {path!r} in {root}", "pass a folder that has files")
    authors = _authors(replay, files)
    folders = sorted(
        {prefix + f[len(prefix) :].split("/")[0] + "/" for f in files if "/" in f[len(prefix) :]}
    )
    return Report(
        root=root,
        path=prefix,
        commits=len(history),
        overall=truck_factor(authors),
        folders={
            folder: truck_factor({f: a for f, a in authors.items() if f.startswith(folder)})
            for folder in folders
        },
        silos=silos(authors, folders),
        timeline=timeline,
        authors={f: sorted(a) for f, a in sorted(authors.items())},
        aliases={who: sorted(names) for who, names in people.aliases.items() if names},
    )


def _prefix(path: str) -> str:
    clean = path.strip().strip("/")
    if clean.startswith("..") or Path(clean).is_absolute():
        raise InvalidInput(f"--path {path!r} is outside the repository", "give a folder in it")
    return clean + "/" if clean and clean != "." else ""


def _under(files: Iterable[str], prefix: str) -> list[str]:
    return [f for f in files if f.startswith(prefix)]


def _authors(replay: Replay, files: Iterable[str]) -> dict[str, set[str]]:
    return {f: replay.files[f].authors() if f in replay.files else set() for f in files}


def _cuts(history: list[Commit], points: int) -> set[int]:
    """Indexes of the commits closing ``points`` equal spans of time (the last included)."""
    if points <= 0:
        return set()
    first, last = history[0].time, history[-1].time
    span = max(last - first, 1)
    edges = [first + span * (k + 1) / points for k in range(points)]
    cuts, k = set(), 0
    for i in range(len(history)):
        nxt = history[i + 1].time if i + 1 < len(history) else None
        while k < len(edges) and (nxt is None or nxt > edges[k]):
            cuts.add(i)
            k += 1
    return cuts


def when(timestamp: int) -> str:
    """A commit time as a UTC date."""
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d")


@dataclasses.dataclass(frozen=True)
class Holding:
    """Knowledge git does not hold: who made, who last used, or who runs a lab asset."""

    kind: str  # "dataset" or "project"
    name: str
    people: dict[str, int]  # person -> how many versions / runs
    last_user: str | None = None  # datasets: who ran the last run that read it
    baseline_owners: tuple[str, ...] = ()  # projects: who owns the baseline runs

    @property
    def silo(self) -> bool:
        """One person made every version, or ran every run."""
        return len(self.people) == 1


def holdings(runs: Iterable[Any], versions: Iterable[Any]) -> list[Holding]:
    """Datasets (their versions' authors and last reader) and projects (who ran their
    runs, who owns their baselines), from the store's records (``RunRecord``,
    ``DatasetVersion``), oldest first."""
    runs = sorted(runs, key=lambda r: (r.created_at, r.id))
    found: list[Holding] = []
    by_dataset: dict[str, dict[str, int]] = {}
    for v in versions:
        people = by_dataset.setdefault(v.dataset, {})
        people[v.created_by] = people.get(v.created_by, 0) + 1
    last_reader: dict[str, str] = {}
    for run in runs:
        for item in run.inputs:
            ref = str(item.get("ref", ""))
            if item.get("kind", "dataset") == "dataset" and "@" in ref:
                last_reader[ref.split("@")[0]] = run.user
    for name in sorted(by_dataset):
        found.append(Holding("dataset", name, by_dataset[name], last_reader.get(name)))
    by_project: dict[str, dict[str, int]] = {}
    baselines: dict[str, set[str]] = {}
    for run in runs:
        people = by_project.setdefault(run.project, {})
        people[run.user] = people.get(run.user, 0) + 1
        if "baseline" in run.tags:
            baselines.setdefault(run.project, set()).add(run.user)
    for name in sorted(by_project):
        owners = tuple(sorted(baselines.get(name, ())))
        found.append(Holding("project", name, by_project[name], baseline_owners=owners))
    return found
