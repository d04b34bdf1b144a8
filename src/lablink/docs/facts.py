"""The facts ``docs build`` renders: gathered once, then only read."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping, Sequence
from typing import Any

from lablink.models import Artifact, DatasetVersion, RunRecord


@dataclasses.dataclass(frozen=True)
class Decision:
    """A decision recorded with ``lablink decision add`` (a file in the repository)."""

    id: str  # "D0003"
    title: str
    why: str
    date: str  # "2026-12-06", UTC
    author: str
    runs: tuple[str, ...] = ()
    supersedes: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class LabFacts:
    """Everything the documents are made from, in a stable order."""

    projects: tuple[str, ...]
    runs: Sequence[RunRecord]  # oldest first, then by id
    artifacts: Mapping[str, Sequence[Artifact]]  # run id -> its artifacts
    versions: Sequence[DatasetVersion]  # by dataset, then version
    decisions: Sequence[Decision] = ()
    # version ref (name@vN) -> its data review: state, approvers, summary (sdk/reviews.py)
    reviews: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)

    def project_runs(self, project: str) -> list[RunRecord]:
        """The runs of one project, oldest first."""
        return list(self._by_project.get(project, ()))

    def review_words(self, ref: str) -> str:
        """A version's review as a few words: ``approved by ana``, ``pending``, ``not reviewed``."""
        review = self.reviews.get(ref)
        if review is None:
            return "not reviewed"
        state = str(review.get("state"))
        approvers = ", ".join(str(a) for a in review.get("approvers") or ())
        return f"{state} by {approvers}" if state == "approved" and approvers else state

    @functools.cached_property
    def _by_project(self) -> dict[str, list[RunRecord]]:
        # every model card asks for its project's runs: group them once
        found: dict[str, list[RunRecord]] = {}
        for run in self.runs:
            found.setdefault(run.project, []).append(run)
        return found

    def models(self) -> list[tuple[RunRecord, Artifact]]:
        """Every artifact of kind ``model`` with the run that logged it."""
        return [
            (run, artifact)
            for run in self.runs
            for artifact in self.artifacts.get(run.id, ())
            if artifact.kind == "model"
        ]

    @functools.cached_property
    def readers(self) -> dict[str, list[RunRecord]]:
        """Dataset version (``name@vN``) -> the runs that read it, oldest first.

        Built once: the datasheets and the lineage would otherwise scan every run for
        every dataset.
        """
        found: dict[str, list[RunRecord]] = {}
        for run in self.runs:
            for ref in run_data(run):
                found.setdefault(ref, []).append(run)
        return found

    def datasets(self) -> dict[str, list[DatasetVersion]]:
        """Dataset name -> its versions, oldest first."""
        found: dict[str, list[DatasetVersion]] = {}
        for version in self.versions:
            found.setdefault(version.dataset, []).append(version)
        return found


def run_data(run: RunRecord) -> list[str]:
    """The dataset versions a run read (``name@vN``), in the order it read them."""
    refs = [str(i.get("ref")) for i in run.inputs if i.get("kind", "dataset") == "dataset"]
    return list(dict.fromkeys(r for r in refs if r and r != "None"))
