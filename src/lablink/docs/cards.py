"""Model cards (Mitchell et al. 2019) and datasheets (Gebru et al. 2021).

What the store knows is filled in; what only a person can say (intended use, ethical
considerations, motivation) sits in kept blocks that survive every rebuild.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lablink.docs.experiments import metric_values, settings
from lablink.docs.facts import LabFacts, run_data
from lablink.docs.markdown import date, fmt_value, slug, spread, table
from lablink.models import Artifact, DatasetVersion, RunRecord
from lablink.settings import format_size


def model_path(run: RunRecord, artifact: Artifact) -> str:
    """Where a model's card goes, relative to the docs folder."""
    return f"models/{slug(run.project)}/{slug(run.name)}-{run.id[:8]}-{slug(artifact.name)}.md"


def datasheet_path(dataset: str) -> str:
    """Where a dataset's datasheet goes, relative to the docs folder."""
    return f"datasets/{slug(dataset)}.md"


def _seed_metrics(run: RunRecord, runs: Sequence[RunRecord]) -> str:
    """This run's metrics beside their spread and the 95 % interval of their mean over
    the seeds of the same settings (the gate's Student-t interval)."""
    mine = settings(run)
    seeds = [other for other in runs if other.project == run.project and settings(other) == mine]
    own = metric_values(run)
    rows = []
    for key in sorted(own):
        values = [metric_values(other)[key] for other in seeds if key in metric_values(other)]
        rows.append([key, fmt_value(own[key]), spread(values), interval(values)])
    if not rows:
        return "_No metrics logged._"
    return table(["metric", "this model", "over seeds (mean ± sd)", "95 % CI of the mean"], rows)


def interval(values: Sequence[float]) -> str:
    """The 95 % Student-t interval of the mean, or ``-`` below two seeds."""
    if len(values) < 2:
        return "-"
    import numpy as np

    from lablink.checks.stats import mean_ci

    low, high = mean_ci(np.asarray(values, dtype=float), 0.95)
    return f"[{fmt_value(low)}, {fmt_value(high)}]"


def _gates(run: RunRecord) -> str:
    """The gate verdicts kept on the run by ``lablink gate --record``."""
    rows = []
    for key in sorted(k for k in run.summary if k.startswith("gate/")):
        entry = run.summary[key]
        if not isinstance(entry, dict):
            continue
        ci = entry.get("diff_ci")
        diff = fmt_value(entry.get("diff"))
        if isinstance(ci, list) and len(ci) == 2:
            diff += f" [{fmt_value(ci[0])}, {fmt_value(ci[1])}]"
        rows.append(
            [
                key.removeprefix("gate/"),
                str(entry.get("verdict", "-")),
                str(entry.get("baseline", "-")),
                diff,
                fmt_value(entry.get("p_drop")),
                f"{entry.get('n_cand', '-')} vs {entry.get('n_base', '-')}",
                date(entry.get("at") if isinstance(entry.get("at"), float) else None),
            ]
        )
    if not rows:
        return "_No gate verdict recorded (`lablink gate --record` keeps them on the runs)._"
    header = ["metric", "verdict", "baseline", "difference [CI]", "p (drop)", "seeds", "when"]
    return table(header, rows)


def _subgroups(run: RunRecord) -> str:
    """Metrics logged per group (``val/acc/<group>``: three or more parts)."""
    rows = [[key, fmt_value(value)] for key, value in sorted(metric_values(run).items())]
    rows = [row for row in rows if row[0].count("/") >= 2]
    if not rows:
        return "_No per-group metrics logged (log e.g. `val/acc/<group>` to fill this in)._"
    return table(["metric", "value"], rows)


def _data_links(run: RunRecord) -> str:
    refs = run_data(run)
    if not refs:
        return "_The run recorded no dataset (`lablink.dataset(...)` records one)._"
    reviewed = {
        str(i.get("ref")): str(i.get("digest")) for i in run.inputs if i.get("kind") == "review"
    }
    return "\n".join(
        f"- [{ref}](../../{datasheet_path(ref.split('@')[0])}) ({_review_words(reviewed.get(ref))})"
        for ref in refs
    )


def _review_words(state: str | None) -> str:
    """What the card says of a version's data review, as the run recorded it."""
    if state is None:
        return "no data review recorded"
    if state == "approved":
        return "review: approved when trained on"
    if state == "unreviewed":
        return "review: **not reviewed** when trained on"
    return f"review: **{state}** when trained on"


def model_card(run: RunRecord, artifact: Artifact, facts: LabFacts) -> dict[str, Any]:
    """The context of ``model_card.md.j2`` for one ``model`` artifact."""
    config = run.params or run.config
    details = table(
        ["field", "value"],
        [
            ["artifact", artifact.name],
            ["run", f"{run.name} `{run.id}`"],
            ["project", run.project],
            ["trained by", run.user],
            ["date", date(run.created_at)],
            ["commit", run.git.commit or "-"],
            ["digest", artifact.digest],
            ["size", format_size(artifact.size)],
            *[[f"config `{k}`", fmt_value(config[k])] for k in sorted(config)],
        ],
    )
    return {
        "run": run,
        "artifact": artifact,
        "details": details,
        "metrics": _seed_metrics(run, facts.project_runs(run.project)),
        "gates": _gates(run),
        "data": _data_links(run),
        "subgroups": _subgroups(run),
    }


def datasheet(name: str, versions: Sequence[DatasetVersion], facts: LabFacts) -> dict[str, Any]:
    """The context of ``datasheet.md.j2`` for one dataset, over all its versions."""
    latest = versions[-1]
    composition = table(
        ["version", "files", "size", "schema", "digest"],
        [[v.ref, v.files, format_size(v.size), v.schema_ref or "-", v.digest] for v in versions],
    )
    collection = table(
        ["version", "made from", "by", "created", "source run", "message"],
        [
            [
                v.ref,
                ", ".join(v.parents) or "raw",
                v.created_by,
                date(v.created_at),
                v.source_run or "-",
                v.message or "",
            ]
            for v in versions
        ],
    )
    reviews = table(
        ["version", "review", "automated report", "requested by"],
        [
            [
                v.ref,
                facts.review_words(v.ref),
                str(facts.reviews[v.ref].get("summary") or "-"),
                str(facts.reviews[v.ref].get("requested_by") or "-"),
            ]
            for v in versions
            if v.ref in facts.reviews
        ],
    )
    refs = {v.ref for v in versions}
    readers = {run.id: run for ref in sorted(refs) for run in facts.readers.get(ref, ())}
    users = sorted(readers.values(), key=lambda run: (run.created_at, run.id))
    uses = (
        "\n".join(
            f"- {run.project}: {run.name} `{run.id[:8]}` read "
            + ", ".join(r for r in run_data(run) if r in refs)
            for run in users
        )
        or "_No run has read this dataset yet._"
    )
    return {
        "name": name,
        "versions": list(versions),
        "latest": latest,
        "composition": composition,
        "collection": collection,
        "uses": uses,
        "reviews": reviews if any(v.ref in facts.reviews for v in versions) else "",
    }
