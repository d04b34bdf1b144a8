"""``run_gate``: select the runs, then gate them by seeds or per example.

Seed mode hands the finished runs to ``verdicts.compare``. Per-example mode compares
one checkpoint per side on the predictions each stored (``predictions.py``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from lablink.checks.stats import compare_paired, decide, holm
from lablink.core.gate.options import GateOptions
from lablink.core.gate.predictions import ArtifactSource, align, read_predictions
from lablink.core.gate.report import explain
from lablink.core.gate.results import GateResult, MetricResult, SeedValue
from lablink.core.gate.scope import check_one_project, current_project
from lablink.core.gate.selection import RunSource, finished_runs, select_runs
from lablink.core.gate.verdicts import check_args, compare
from lablink.errors import InvalidInput
from lablink.models import RunRecord


def run_gate(source: RunSource, options: GateOptions) -> GateResult:
    """Select the runs ``options`` name and gate them (seed or per-example mode).

    Raises:
        InvalidInput: no runs match, the runs span projects (``scope.py``),
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
    base = finished_runs(base_all, "baseline", notes)
    cand = finished_runs(cand_all, "candidate", notes)
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
    check_args(options.metrics, options.alpha, "welch")
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
