"""Which runs the gate compares, and which value of each run counts.

A selector is a run id or a filter (``tags.main``); every matching run counts, read
page by page. Only finished runs are compared; the others are named in the notes.

**Which value of a run counts.** For ``val/acc:max`` a run contributes its summary
value if it set one (``run.summary["val/acc"] = ...``: the number the team chose to
report, e.g. the score of the checkpoint it keeps), else its best logged value in the
metric's direction (``max_value`` for ``:max``, ``min_value`` for ``:min``), else its
last one. The best value is what early stopping would keep; it is optimistic for a
single run, but the same rule on both sides keeps the comparison fair.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from lablink.checks.names import is_run_id
from lablink.core.gate.predictions import ArtifactSource
from lablink.core.gate.scope import ProjectSource
from lablink.errors import InvalidInput, NotFound
from lablink.models import RunRecord

PAGE = 1000


class RunSource(ArtifactSource, ProjectSource, Protocol):
    """What the gate reads runs through: a ``Transport`` (``lablink.gate`` passes a ``Client``'s)."""

    def search_runs(
        self,
        project: str | None,
        filter: str | None,
        sort: str | None,
        descending: bool,
        limit: int,
        offset: int,
    ) -> tuple[list[RunRecord], int]: ...


def run_value(run: RunRecord, key: str, direction: str) -> float | None:
    """The value a run contributes for a metric (see the module docstring)."""
    m = run.metrics.get(key)
    if m is not None:
        for value in (m.summary_value, m.max_value if direction == "max" else m.min_value):
            if value is not None:
                return float(value)
        if m.last_value is not None:
            return float(m.last_value)
    raw = run.summary.get(key)
    return float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None


def select_runs(source: RunSource, selector: str, project: str | None) -> list[RunRecord]:
    """All runs a selector names: a run id, or a filter such as ``tags.main``."""
    if is_run_id(selector):
        try:
            return [source.get_run(selector)]
        except NotFound:
            pass
    runs: list[RunRecord] = []
    while True:
        page, total = source.search_runs(project, selector, "created_at", False, PAGE, len(runs))
        runs += page
        if not page or len(runs) >= total:
            return runs


def finished_runs(runs: Sequence[RunRecord], side: str, notes: list[str]) -> list[RunRecord]:
    """The finished runs; the others are named in ``notes``. Raises InvalidInput if none."""
    done = [r for r in runs if r.status == "finished"]
    others = [r for r in runs if r.status != "finished"]
    if others:
        notes.append(
            f"left out {len(others)} {side} run(s) that did not finish: "
            + ", ".join(f"{r.id} ({r.status})" for r in others[:10])
        )
    if not done:
        raise InvalidInput(
            f"none of the {len(runs)} {side} run(s) finished",
            "the gate compares finished runs; wait for them or check their status",
        )
    return done
