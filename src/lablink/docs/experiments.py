"""The experiment log of a project: runs grouped by question, and its negative results."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from lablink.docs.facts import run_data
from lablink.docs.markdown import cell, date, fmt_value, spread, table
from lablink.models import RunRecord

SEED_KEYS = frozenset({"seed", "random_seed", "rng_seed"})


def settings(run: RunRecord) -> dict[str, Any]:
    """A run's flattened config without its seed: what makes runs repeats of each other."""
    params = run.params or run.config
    return {k: v for k, v in params.items() if k.split(".")[-1] not in SEED_KEYS}


def baseline(runs: Sequence[RunRecord]) -> RunRecord | None:
    """The first run tagged ``baseline``, else the first run."""
    tagged = [run for run in runs if "baseline" in run.tags]
    candidates = tagged or list(runs)
    return candidates[0] if candidates else None


def config_diff(config: Mapping[str, Any], base: Mapping[str, Any]) -> str:
    """``key: old → new`` for each setting that differs from the baseline's."""
    changes = []
    for key in sorted(set(config) | set(base)):
        if key not in config:
            changes.append(f"without {key}")
        elif key not in base:
            changes.append(f"{key}={fmt_value(config[key])}")
        elif config[key] != base[key]:
            changes.append(f"{key}: {fmt_value(base[key])} → {fmt_value(config[key])}")
    return ", ".join(changes) or "(baseline)"


def metric_values(run: RunRecord) -> dict[str, float]:
    """Key metrics of a run: its summary value, else its last value (``sys/*`` left out)."""
    found = {}
    for key, summary in run.metrics.items():
        if key.startswith("sys/"):
            continue
        value = summary.summary_value if summary.summary_value is not None else summary.last_value
        if value is not None and math.isfinite(value):
            found[key] = value
    return found


def metric_spread(runs: Sequence[RunRecord]) -> str:
    """Each key metric as mean ± sd over the runs (the seeds of one setting)."""
    values: dict[str, list[float]] = {}
    for run in runs:
        for key, value in metric_values(run).items():
            values.setdefault(key, []).append(value)
    return "; ".join(f"{key} {spread(values[key])}" for key in sorted(values)) or "-"


def question(run: RunRecord) -> str:
    """The question a run answers: its first tag, alphabetically."""
    return sorted(run.tags)[0] if run.tags else "untagged"


def _repeats(runs: Sequence[RunRecord]) -> list[list[RunRecord]]:
    """Runs grouped by their settings (seeds of one setting together), in first-seen order."""
    groups: dict[str, list[RunRecord]] = {}
    for run in runs:
        key = repr(sorted(settings(run).items()))
        groups.setdefault(key, []).append(run)
    return list(groups.values())


def _notes(runs: Sequence[RunRecord]) -> str:
    texts = [
        f"{note.text} ({note.outcome})" if note.outcome else note.text
        for run in runs
        for note in run.notes
    ]
    return "; ".join(texts) or ""


def _row(runs: Sequence[RunRecord], base: Mapping[str, Any]) -> list[str]:
    data = sorted({ref for run in runs for ref in run_data(run)})
    commits = sorted({(run.git.commit or "")[:8] for run in runs} - {""})
    return [
        ", ".join(f"{run.name} `{run.id[:8]}`" for run in runs),
        config_diff(settings(runs[0]), base),
        metric_spread(runs),
        ", ".join(data) or "-",
        ", ".join(commits) or "-",
        _notes(runs),
    ]


def negative_results(runs: Sequence[RunRecord], base: Mapping[str, Any]) -> str:
    """Each negative result: what was tried (its difference from baseline) and why it failed."""
    lines = []
    for run in runs:
        for note in run.notes:
            if note.outcome != "negative":
                continue
            text = note.text.strip().replace("\n", "\n  ")  # continuation lines stay in the item
            lines.append(
                f"- **{cell(run.name)}** (`{run.id[:8]}`, {date(note.created_at)}): {text}  \n"
                f"  tried: {config_diff(settings(run), base)}; result: {metric_spread([run])}"
            )
    return (
        "\n".join(lines) or "_None recorded yet: `lablink runs note RUN TEXT --outcome negative`._"
    )


def experiment_log(project: str, runs: Sequence[RunRecord]) -> dict[str, Any]:
    """The context of ``experiments.md.j2``, the experiment log of one project."""
    base_run = baseline(runs)
    base = settings(base_run) if base_run else {}
    questions: dict[str, list[RunRecord]] = {}
    for run in runs:
        questions.setdefault(question(run), []).append(run)
    header = ["runs", "config vs baseline", "metrics (mean ± sd over seeds)", "data", "commit"]
    tables = {
        name: table([*header, "notes"], [_row(group, base) for group in _repeats(questions[name])])
        for name in sorted(questions)
    }
    return {
        "project": project,
        "runs": list(runs),
        "baseline": base_run,
        "negative_results": negative_results(runs, base),
        "questions": tables,
    }
