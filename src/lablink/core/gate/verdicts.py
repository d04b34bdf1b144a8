"""The gate's verdicts: compare two samples per metric, adjust for several metrics.

``compare`` reads one value per run and metric (``selection.run_value``), compares the
two samples (``checks/stats.py``), adjusts for several metrics with Holm-Bonferroni
and gives each metric one of four verdicts:

* FAIL: a significant drop that is not shown to lie within the margin (exit 1);
* WARN: a significant drop, but the whole interval lies within the margin (exit 0);
* PASS: no significant drop, and shown to be no worse than the margin (exit 0);
* INCONCLUSIVE: neither can be shown, or too few runs (exit 2, with how many seeds
  would decide it).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import numpy as np

from lablink.checks.ranksum import fewest_seeds
from lablink.checks.stats import (
    TESTS,
    Comparison,
    SeedPlan,
    Verdict,
    compare_samples,
    decide,
    holm,
    seeds_needed,
)
from lablink.core.gate.options import MetricSpec, parse_metric
from lablink.core.gate.report import explain
from lablink.core.gate.results import GateResult, MetricResult, SeedValue
from lablink.core.gate.selection import run_value
from lablink.errors import InvalidInput
from lablink.models import RunRecord


def _values(
    runs: Sequence[RunRecord], spec: MetricSpec, side: str, notes: list[str]
) -> tuple[SeedValue, ...]:
    found, missing, bad = [], [], []
    for run in runs:
        value = run_value(run, spec.key, spec.direction)
        if value is None:
            missing.append(run.id)
        elif not math.isfinite(value):
            bad.append(run.id)
        else:
            found.append(SeedValue(run.id, run.name, value))
    if not found:
        keys = sorted({k for r in runs for k in r.metrics if not k.startswith("sys/")})
        raise InvalidInput(
            f"no {side} run has a finite value of metric {spec.key!r} ({len(runs)} runs matched)",
            "their metrics are: " + (", ".join(keys[:20]) or "none")
            if keys
            else "log the metric, or check the key with `lablink runs show RUN`",
        )
    if missing:
        notes.append(f"{len(missing)} {side} run(s) lack {spec.key}: {', '.join(missing[:10])}")
    if bad:
        notes.append(
            f"{len(bad)} {side} run(s) have a non-finite {spec.key} (NaN or inf; left out, "
            f"look at them): {', '.join(bad[:10])}"
        )
    return tuple(found)


def compare(
    baseline_runs: Sequence[RunRecord],
    candidate_runs: Sequence[RunRecord],
    metrics: Mapping[str, str] | Sequence[MetricSpec],
    margin: float | Mapping[str, float] = 0.0,
    alpha: float = 0.05,
    test: str = "welch",
    power: float = 0.8,
) -> GateResult:
    """Compare runs metric by metric: the gate without run selection.

    Args:
        baseline_runs: runs of the reference (several seeds; all are used).
        candidate_runs: runs of the change under test.
        metrics: ``{"val/acc": "max", "val/loss": "min"}`` or ``MetricSpec`` objects.
        margin: the drop you accept, in the metric's units (one for all, or per key).
        alpha: the significance level (family-wise over the metrics, Holm-Bonferroni).
        test: ``welch`` (default) or ``mwu`` (Mann-Whitney U).
        power: wanted power when saying how many seeds would decide an open question.

    Raises:
        InvalidInput: bad arguments, or a metric no run on a side has.
    """
    if isinstance(metrics, Mapping):
        specs = [
            parse_metric(f"{k}:{d}", margin.get(k, 0.0) if isinstance(margin, Mapping) else margin)
            for k, d in metrics.items()
        ]
    else:
        specs = list(metrics)
    check_args(specs, alpha, test)
    results: list[tuple[MetricSpec, tuple[SeedValue, ...], tuple[SeedValue, ...], list[str]]] = []
    for spec in specs:
        notes: list[str] = []
        base = _values(baseline_runs, spec, "baseline", notes)
        cand = _values(candidate_runs, spec, "candidate", notes)
        results.append((spec, base, cand, notes))
    comparisons = [
        compare_samples(
            [v.value for v in b],
            [v.value for v in c],
            higher_is_better=s.direction == "max",
            margin=s.margin,
            alpha=alpha,
            test=test,
        )
        if len(b) >= 2 and len(c) >= 2
        else None
        for s, b, c, _ in results
    ]
    adjusted = _holm_where(comparisons)
    out = []
    for (spec, base, cand, notes), comparison, p_adj in zip(
        results, comparisons, adjusted, strict=True
    ):
        sigma = float(np.std([v.value for v in base], ddof=1)) if len(base) >= 2 else math.nan
        plan = seeds_needed(sigma, len(base), spec.margin, alpha, power)
        if test == "mwu":
            plan = _reachable(plan, alpha, len(base))
        if comparison is None or p_adj is None:
            verdict = Verdict.INCONCLUSIVE
        else:
            verdict = decide(p_adj, comparison.p_noninferior, alpha)
        text = explain(
            spec, verdict, comparison, p_adj, len(base), len(cand), plan, len(specs), alpha
        )
        can_fail = comparison is not None and comparison.p_min < alpha
        out.append(
            MetricResult(
                spec,
                base,
                cand,
                comparison,
                p_adj,
                verdict,
                text,
                plan,
                None,
                tuple(notes),
                can_fail,
            )
        )
    return GateResult(tuple(out), alpha, test)


def _reachable(plan: SeedPlan | None, alpha: float, n_base: int) -> SeedPlan | None:
    # The power calculation is Welch's; the rank test also has a floor below which no
    # p-value exists (3 vs 3 seeds cannot give p < 0.05), so never suggest fewer seeds.
    if plan is None:
        return None
    candidate, per_side = plan.candidate, plan.per_side
    if candidate is not None:
        floor = fewest_seeds(alpha, n_base)
        if floor is None:  # no candidate count reaches alpha against so few baseline seeds
            candidate, per_side = None, candidate
        else:
            candidate = max(candidate, floor)
    if per_side is not None:
        floor = fewest_seeds(alpha)
        per_side = None if floor is None else max(per_side, floor)
    return dataclasses.replace(plan, candidate=candidate, per_side=per_side)


def _holm_where(comparisons: Sequence[Comparison | None]) -> list[float | None]:
    present = [c.p_drop for c in comparisons if c is not None]
    adjusted = iter(holm(present))
    return [next(adjusted) if c is not None else None for c in comparisons]


def check_args(specs: Sequence[MetricSpec], alpha: float, test: str) -> None:
    """Raise InvalidInput for no metric, an alpha outside (0, 0.5) or an unknown test."""
    if not specs:
        raise InvalidInput("no metric to gate", "pass --metric val/acc:max (repeatable)")
    if not 0 < alpha < 0.5:
        raise InvalidInput(f"alpha must be between 0 and 0.5, not {alpha}")
    if test not in TESTS:
        raise InvalidInput(f"unknown test {test!r}", "use welch or mwu")
