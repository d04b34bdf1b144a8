"""The statistical regression gate: is the candidate significantly worse?

``run_gate`` selects baseline and candidate runs by filter, reads one value per run and
metric, compares the two samples (``checks/stats.py``), adjusts for several metrics
with Holm-Bonferroni and gives each metric one of four verdicts:

* FAIL: a significant drop that is not shown to lie within the margin (exit 1);
* WARN: a significant drop, but the whole interval lies within the margin (exit 0);
* PASS: no significant drop, and shown to be no worse than the margin (exit 0);
* INCONCLUSIVE: neither can be shown, or too few runs (exit 2, with how many seeds
  would decide it).

**Which value of a run counts.** For ``val/acc:max`` a run contributes its summary
value if it set one (``run.summary["val/acc"] = ...``: the number the team chose to
report, e.g. the score of the checkpoint it keeps), else its best logged value in the
metric's direction (``max_value`` for ``:max``, ``min_value`` for ``:min``), else its
last one. The best value is what early stopping would keep; it is optimistic for a
single run, but the same rule on both sides keeps the comparison fair.

Only finished runs count; others are listed in the result's notes. The Python API is
``lablink.gate`` (``src/lablink/gate.py``): ``lablink.gate.compare(base_runs, cand_runs,
metrics={"val/acc": "max"}, margin=0.5)``.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from lablink.checks.nonfinite import scrub
from lablink.checks.ranksum import fewest_seeds
from lablink.checks.stats import (
    TESTS,
    Comparison,
    SeedPlan,
    Verdict,
    compare_paired,
    compare_samples,
    decide,
    holm,
    seeds_needed,
)
from lablink.core.gate_options import GateOptions, MetricSpec, parse_metric, resolve_options
from lablink.core.gate_predictions import (
    ArtifactSource,
    align,
    log_predictions,
    read_predictions,
)
from lablink.core.gate_report import explain
from lablink.core.gate_scope import ProjectSource, check_one_project, current_project
from lablink.errors import InvalidInput, NotFound
from lablink.models import RunRecord

_RUN_ID = re.compile(r"[A-Za-z0-9_-]{4,32}")
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


@dataclasses.dataclass(frozen=True)
class SeedValue:
    """One run's value for a metric."""

    run_id: str
    name: str
    value: float


@dataclasses.dataclass(frozen=True)
class MetricResult:
    """The verdict on one metric and everything the report shows about it."""

    spec: MetricSpec
    baseline: tuple[SeedValue, ...]
    candidate: tuple[SeedValue, ...]
    comparison: Comparison | None
    p_drop_adjusted: float | None
    verdict: Verdict
    explanation: str
    seeds: SeedPlan | None = None
    discordant: tuple[int, int] | None = None
    notes: tuple[str, ...] = ()
    can_fail: bool = True  # False: no data of this shape could give p_drop < alpha

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (non-finite numbers become None)."""
        data: dict[str, Any] = scrub(
            {
                "metric": self.spec.key,
                "direction": self.spec.direction,
                "margin": self.spec.margin,
                "verdict": str(self.verdict),
                "can_fail": self.can_fail,
                "explanation": self.explanation,
                "baseline": [dataclasses.asdict(v) for v in self.baseline],
                "candidate": [dataclasses.asdict(v) for v in self.candidate],
                "comparison": dataclasses.asdict(self.comparison) if self.comparison else None,
                "p_drop_adjusted": self.p_drop_adjusted,
                "seeds_needed": dataclasses.asdict(self.seeds) if self.seeds else None,
                "discordant": list(self.discordant) if self.discordant else None,
                "notes": list(self.notes),
            }
        )
        return data


@dataclasses.dataclass(frozen=True)
class GateResult:
    """The gate's answer: one result per metric and the overall verdict."""

    metrics: tuple[MetricResult, ...]
    alpha: float
    test: str
    mode: str = "seeds"
    baseline: str = ""
    candidate: str = ""
    dataset: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def verdict(self) -> Verdict:
        """FAIL if any metric fails, else INCONCLUSIVE if any is, else WARN, else PASS."""
        found = {m.verdict for m in self.metrics}
        for verdict in (Verdict.FAIL, Verdict.INCONCLUSIVE, Verdict.WARN):
            if verdict in found:
                return verdict
        return Verdict.PASS

    @property
    def exit_code(self) -> int:
        """0 for PASS or WARN, 1 for FAIL, 2 for INCONCLUSIVE."""
        return {Verdict.FAIL: 1, Verdict.INCONCLUSIVE: 2}.get(self.verdict, 0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "verdict": str(self.verdict),
            "exit_code": self.exit_code,
            "mode": self.mode,
            "alpha": self.alpha,
            "test": self.test,
            "baseline": self.baseline,
            "candidate": self.candidate,
            "dataset": self.dataset,
            "notes": list(self.notes),
            "metrics": [m.to_dict() for m in self.metrics],
        }


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
    if _RUN_ID.fullmatch(selector):
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
    _check_args(specs, alpha, test)
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


def _check_args(specs: Sequence[MetricSpec], alpha: float, test: str) -> None:
    if not specs:
        raise InvalidInput("no metric to gate", "pass --metric val/acc:max (repeatable)")
    if not 0 < alpha < 0.5:
        raise InvalidInput(f"alpha must be between 0 and 0.5, not {alpha}")
    if test not in TESTS:
        raise InvalidInput(f"unknown test {test!r}", "use welch or mwu")


def run_gate(source: RunSource, options: GateOptions) -> GateResult:
    """Select the runs ``options`` name and gate them (seed or per-example mode).

    Raises:
        InvalidInput: no runs match, the runs span projects (``core/gate_scope.py``),
            the selectors overlap, a metric is missing, or (per-example) the two sides
            are not comparable.
    """
    project = current_project(source, options.project)
    base_all = select_runs(source, options.baseline, project)
    cand_all = select_runs(source, options.candidate, project)
    for side, runs, selector in (
        ("baseline", base_all, options.baseline),
        ("candidate", cand_all, options.candidate),
    ):
        if not runs:
            where = f" in project {project}" if project else ""
            raise InvalidInput(
                f"no {side} runs match {selector!r}{where}",
                "check the filter with `lablink runs ls --filter ...`",
            )
    check_one_project(project, [("baseline", base_all), ("candidate", cand_all)])
    shared = {r.id for r in base_all} & {r.id for r in cand_all}
    if shared:
        raise InvalidInput(
            f"{len(shared)} run(s) match both the baseline and the candidate selector: "
            + ", ".join(sorted(shared)[:5]),
            "make the selectors disjoint, e.g. tags.main vs tags.pr-42",
        )
    notes: list[str] = []
    base = _finished(base_all, "baseline", notes)
    cand = _finished(cand_all, "candidate", notes)
    if options.per_example:
        result = _per_example(source, base, cand, options)
    else:
        result = compare(
            base, cand, options.metrics, 0.0, options.alpha, options.test, options.power
        )
    return dataclasses.replace(
        result,
        baseline=options.baseline,
        candidate=options.candidate,
        notes=tuple(notes) + result.notes,
    )


def _finished(runs: Sequence[RunRecord], side: str, notes: list[str]) -> list[RunRecord]:
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


def _per_example(
    source: ArtifactSource,
    base: Sequence[RunRecord],
    cand: Sequence[RunRecord],
    options: GateOptions,
) -> GateResult:
    for side, runs in (("baseline", base), ("candidate", cand)):
        if len(runs) != 1:
            raise InvalidInput(
                f"--per-example compares one checkpoint per side, but the {side} "
                f"selector matched {len(runs)} finished runs",
                "name one run id on each side",
            )
    _check_args(options.metrics, options.alpha, "welch")
    rows = []
    dataset: str | None = None
    for spec in options.metrics:
        b = read_predictions(source, base[0].id, spec.key)
        c = read_predictions(source, cand[0].id, spec.key)
        b_values, c_values, _ = align(b, c)
        dataset = b.dataset
        direction = spec.direction if spec.explicit else (b.direction or spec.direction)
        spec = dataclasses.replace(spec, direction=direction)
        comparison, counts = compare_paired(
            b_values,
            c_values,
            higher_is_better=direction == "max",
            margin=spec.margin,
            alpha=options.alpha,
        )
        rows.append((spec, comparison, counts))
    adjusted = holm([c.p_drop for _, c, _ in rows])
    out = []
    for (spec, comparison, counts), p_adj in zip(rows, adjusted, strict=True):
        verdict = decide(p_adj, comparison.p_noninferior, options.alpha)
        text = explain(spec, verdict, comparison, p_adj, 1, 1, None, len(rows), options.alpha)
        b_seed = (SeedValue(base[0].id, base[0].name, comparison.mean_base),)
        c_seed = (SeedValue(cand[0].id, cand[0].name, comparison.mean_cand),)
        can_fail = comparison.p_min < options.alpha
        out.append(
            MetricResult(
                spec, b_seed, c_seed, comparison, p_adj, verdict, text, None, counts, (), can_fail
            )
        )
    notes = () if dataset else ("neither side recorded its dataset version",)
    return GateResult(
        tuple(out), options.alpha, "paired", "per-example", dataset=dataset, notes=notes
    )


__all__ = [
    "GateOptions",
    "GateResult",
    "MetricResult",
    "MetricSpec",
    "SeedValue",
    "Verdict",
    "compare",
    "log_predictions",
    "parse_metric",
    "read_predictions",
    "resolve_options",
    "run_gate",
    "run_value",
    "select_runs",
]
