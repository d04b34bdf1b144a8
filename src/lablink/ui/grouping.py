"""Grouping runs on the compare page: runs that differ only by their seed form one group.

``/compare?run=...&group=seed&band=std`` draws each group as its mean line with a
mean ± std band (``band=minmax``: a min-max band) and adds a table of each metric's
final value per group. The grouping key is the run's params without any param whose
name holds ``seed``, the usual way repeated trials of one configuration differ.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from typing import Any

from lablink.models import RunRecord

GROUPINGS = {"": "no grouping", "seed": "config without the seed"}
BANDS = {"std": "mean ± std", "minmax": "min to max"}


def config_key(run: RunRecord) -> str:
    """The run's params without its seeds, as a stable string."""
    kept = {k: v for k, v in run.params.items() if "seed" not in k.lower()}
    return json.dumps(kept, sort_keys=True, default=str)


def group_runs(runs: Sequence[RunRecord], palette: Sequence[str]) -> list[dict[str, Any]]:
    """Runs with equal ``config_key``, in first-seen order, named by what differs."""
    found: dict[str, list[RunRecord]] = {}
    for run in runs:
        found.setdefault(config_key(run), []).append(run)
    varying = sorted(
        {
            k
            for r in runs
            for k in r.params
            if "seed" not in k.lower() and len({repr(x.params.get(k)) for x in runs}) > 1
        }
    )
    out = []
    for i, members in enumerate(found.values()):
        first = members[0].params
        name = ", ".join(f"{k}={first.get(k)}" for k in varying) or "all runs"
        out.append(
            {
                "name": f"{name} ({len(members)} run{'' if len(members) == 1 else 's'})",
                "runs": [r.id for r in members],
                "color": palette[i % len(palette)],
            }
        )
    return out


def spread(values: Sequence[float], band: str) -> dict[str, float] | None:
    """Mean and the band's low and high ends of finite ``values``; None when none."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return None
    mean = statistics.fmean(finite)
    if band == "minmax":
        return {"mean": mean, "lo": min(finite), "hi": max(finite)}
    std = statistics.pstdev(finite) if len(finite) > 1 else 0.0
    return {"mean": mean, "lo": mean - std, "hi": mean + std, "std": std}


def group_table(
    runs: Sequence[RunRecord], groups: Sequence[dict[str, Any]], keys: Sequence[str], band: str
) -> list[tuple[str, list[dict[str, float] | None]]]:
    """Per metric, the spread of the final values (summary or last) in each group."""
    by_id = {r.id: r for r in runs}
    rows = []
    for key in keys:
        cells = []
        for g in groups:
            values = [
                m.value
                for rid in g["runs"]
                if (m := by_id[rid].metrics.get(key)) is not None and m.value is not None
            ]
            cells.append(spread(values, band))
        rows.append((key, cells))
    return rows
