"""Which project the gate reads: one, always.

A filter such as ``tags.main`` matches runs of every project, and a baseline drawn
from two projects compares unrelated models. The gate therefore reads the project
named by ``--project`` or ``[gate] project`` in ``lablink.toml``; without one it reads
the only project when there is one, and otherwise refuses a selection that spans
projects, naming them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Protocol

from lablink.errors import InvalidInput
from lablink.models import Project, RunRecord

SHOWN_PROJECTS = 5


class ProjectSource(Protocol):
    """What the gate lists projects through: a ``Transport``."""

    def list_projects(self) -> list[Project]: ...


def current_project(source: ProjectSource, project: str | None) -> str | None:
    """The project to read: ``project`` as given, else the only one; None when several."""
    if project:
        return project
    names = [p.name for p in source.list_projects()]
    return names[0] if len(names) == 1 else None


def check_one_project(
    project: str | None, sides: Sequence[tuple[str, Sequence[RunRecord]]]
) -> None:
    """Refuse runs from another project than ``project``, or from several when it is None.

    ``sides`` are ``(name, runs)`` pairs such as ``("baseline", [...])``.

    Raises:
        InvalidInput: the runs span projects; the hint says how to pick one.
    """
    counts = Counter(r.project for _, runs in sides for r in runs)
    if project is not None:
        strays = sorted(name for name in counts if name != project)
        if not strays:
            return
        wrong = [f"{r.id} ({r.project})" for _, runs in sides for r in runs if r.project != project]
        raise InvalidInput(
            f"the gate reads project {project!r}, but run(s) {', '.join(wrong[:SHOWN_PROJECTS])} "
            "belong to another project",
            f"name runs of {project!r}, or pass --project {strays[0]} to gate that project",
        )
    if len(counts) <= 1:
        return
    for side, runs in sides:
        mine = Counter(r.project for r in runs)
        if len(mine) > 1:
            what = f"the {side} runs come from {len(mine)} projects: {_counted(mine)}"
            break
    else:
        what = "the " + " and the ".join(
            f"{side} runs come from project {runs[0].project}" for side, runs in sides if runs
        )
    raise InvalidInput(
        what,
        f"pass --project NAME (e.g. --project {counts.most_common(1)[0][0]}) or set project "
        "in the [gate] table of lablink.toml, so both sides come from one project",
    )


def _counted(counts: Counter[str]) -> str:
    return ", ".join(f"{name} ({n} runs)" for name, n in sorted(counts.items())[:SHOWN_PROJECTS])
