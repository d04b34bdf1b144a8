"""``HISTORY.md`` (decisions, dead ends, open hypotheses) and the index page."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lablink.docs.facts import Decision, LabFacts
from lablink.docs.markdown import date


def _decisions(decisions: Sequence[Decision]) -> str:
    if not decisions:
        return '_None yet: `lablink decision add "Title" --why "..."`._'
    superseded_by: dict[str, list[str]] = {}
    for decision in decisions:
        for old in decision.supersedes:
            superseded_by.setdefault(old, []).append(decision.id)
    blocks = []
    for d in decisions:
        lines = [f"### {d.id}: {d.title}", "", f"{d.date}, {d.author or 'unknown'}."]
        if d.id in superseded_by:
            lines[0] += " (superseded)"
            lines.append(f"Superseded by {', '.join(superseded_by[d.id])}.")
        if d.supersedes:
            lines.append(f"Supersedes {', '.join(d.supersedes)}.")
        if d.runs:
            lines.append("Runs: " + ", ".join(f"`{r}`" for r in d.runs) + ".")
        lines += ["", d.why, "", f"[{d.id}](decisions/{d.id}.md)"]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _notes(facts: LabFacts, outcome: str, empty: str) -> str:
    lines = [
        f"- {date(note.created_at)} · {run.project} · **{run.name}** `{run.id[:8]}`: "
        + note.text.strip().replace("\n", "\n  ")  # continuation lines stay in the item
        for run in facts.runs
        for note in run.notes
        if note.outcome == outcome
    ]
    return "\n".join(sorted(lines)) or empty


def history_page(facts: LabFacts) -> dict[str, Any]:
    """The context of ``HISTORY.md.j2``: what a new teammate reads first."""
    return {
        "decisions": list(facts.decisions),
        "decisions_text": _decisions(facts.decisions),
        "dead_ends": _notes(facts, "negative", "_None recorded._"),
        "open_hypotheses": _notes(facts, "inconclusive", "_None recorded._"),
        "findings": _notes(facts, "positive", "_None recorded._"),
    }


def index_page(projects: Sequence[str], paths: Sequence[str]) -> dict[str, Any]:
    """The context of ``index.md.j2``: a link to every generated page, by kind."""
    sections: dict[str, list[str]] = {"experiments/": [], "models/": [], "datasets/": []}
    for path in paths:
        for prefix, found in sections.items():
            if path.startswith(prefix):
                found.append(f"- [{path[len(prefix) : -3]}]({path})")
    return {
        "projects": list(projects),
        "experiments": "\n".join(sections["experiments/"]) or "_None._",
        "models": "\n".join(sections["models/"]) or "_None._",
        "datasets": "\n".join(sections["datasets/"]) or "_None._",
    }
