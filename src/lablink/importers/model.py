"""What an importer reads from a source, and what it reports, in lablink's units."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# {key: {"steps": [...], "times": [seconds...], "values": [...]}}: one batch of points.
Series = dict[str, dict[str, list[Any]]]
# The tag that marks an imported run whose points, params, tags and artifacts are stored.
COMPLETE_TAG = "import.complete"
# Points per batch the engine sends (lablink ingests each numbered batch once).
BATCH_POINTS = 50_000
# MLflow statuses a sink may end a run with; a run still open at the source ends as KILLED.
END_STATUSES = ("FINISHED", "FAILED", "KILLED")


@dataclasses.dataclass(frozen=True)
class SourceArtifact:
    """A file of a source run: its name under the run and how to fetch it to a folder."""

    name: str
    size: int | None
    fetch: Callable[[Path], Path]  # writes the file under the folder, answers its path


@dataclasses.dataclass
class SourceRun:
    """One run as a source recorded it, read lazily (points and files on demand)."""

    origin: str  # the run's id at the source, kept in the run's origin tag
    experiment: str  # the experiment (project) name at the source
    name: str | None
    status: str  # one of END_STATUSES, or RUNNING
    start_ms: int | None
    end_ms: int | None
    user: str | None
    params: dict[str, str]
    tags: dict[str, str]
    batches: Callable[[], Iterator[Series]]  # the points, always in the same order
    artifacts: Callable[[], Iterator[SourceArtifact]]
    warnings: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Tally:
    """What an import did for one project."""

    project: str
    imported: int = 0  # runs imported whole in this pass
    completed: int = 0  # runs a previous, interrupted pass had started
    skipped: int = 0  # runs already imported
    failed: int = 0
    params: int = 0
    tags: int = 0
    points: int = 0
    artifacts: int = 0
    bytes: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The counts as JSON."""
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Summary:
    """What an import did: counts per project, and the problems met (none fatal)."""

    tallies: dict[str, Tally] = dataclasses.field(default_factory=dict)
    problems: list[str] = dataclasses.field(default_factory=list)

    def tally(self, project: str) -> Tally:
        """The counts of ``project`` (made on first use)."""
        return self.tallies.setdefault(project, Tally(project))

    def as_dict(self) -> dict[str, Any]:
        """The summary as JSON."""
        return {
            "projects": [t.as_dict() for t in self.tallies.values()],
            "problems": list(self.problems),
        }
