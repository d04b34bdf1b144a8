"""Data lineage as a Mermaid flowchart: raw versions → derived versions → runs → models."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from lablink.docs.facts import LabFacts, run_data
from lablink.docs.markdown import date, table


def node_id(kind: str, name: str) -> str:
    """A Mermaid node id: letters, digits and underscores only."""
    return f"{kind}_" + re.sub(r"[^A-Za-z0-9]", "_", name)


def label(*lines: str) -> str:
    """A quoted Mermaid label; quotes and brackets become entities so it always parses."""
    text = "<br/>".join(lines)
    for char, entity in (('"', "#quot;"), ("[", "#91;"), ("]", "#93;")):
        text = text.replace(char, entity)
    return f'"{text}"'


def mermaid(facts: LabFacts, projects: Sequence[str]) -> str:
    """The lineage graph of the datasets and of the runs of ``projects``."""
    lines = ["flowchart LR"]
    known = {v.ref for v in facts.versions}
    for version in facts.versions:
        extra = [f"schema {version.schema_ref}"] if version.schema_ref else []
        if version.ref in facts.reviews:
            extra.append(f"review: {facts.review_words(version.ref)}")
        lines.append(f"  {node_id('d', version.ref)}[({label(version.ref, *extra)})]")
    for version in facts.versions:
        for parent in version.parents:
            if parent in known:
                lines.append(f"  {node_id('d', parent)} --> {node_id('d', version.ref)}")
    models: dict[str, list[str]] = {run.id: [] for run in facts.runs}
    for run, artifact in facts.models():
        models[run.id].append(artifact.name)
    for run in facts.runs:
        data = [ref for ref in run_data(run) if ref in known]
        if run.project not in projects or not (data or models[run.id]):
            continue
        rid = node_id("r", run.id)
        lines.append(f"  {rid}[{label(run.name, run.project + ' ' + run.id[:8])}]")
        for ref in data:
            lines.append(f"  {node_id('d', ref)} --> {rid}")
        for name in models[run.id]:
            mid = node_id("m", f"{run.id}_{name}")
            lines.append(f"  {mid}{{{{{label(name)}}}}}")
            lines.append(f"  {rid} --> {mid}")
    return "```mermaid\n" + "\n".join(lines) + "\n```"


def _versions_table(facts: LabFacts) -> str:
    rows = [
        [
            v.ref,
            ", ".join(v.parents) or "raw",
            v.schema_ref or "-",
            facts.review_words(v.ref),
            v.message or "",
            v.created_by,
            date(v.created_at),
        ]
        for v in facts.versions
    ]
    return table(["version", "made from", "schema", "review", "message", "by", "created"], rows)


def lineage_page(facts: LabFacts, projects: Sequence[str]) -> dict[str, Any]:
    """The context of ``lineage.md.j2``: the graph, then every version's origin."""
    return {
        "versions": list(facts.versions),
        "graph": mermaid(facts, projects),
        "versions_table": _versions_table(facts) if facts.versions else "",
    }
