"""The gate's words: a plain-language explanation per verdict, and the Markdown report.

``render_markdown(result)`` gives a report ready to post as a pull-request comment:
a summary table, then per metric every per-seed value on each side, means with
confidence intervals, the difference with its interval, p-values, the effect size,
P(candidate > baseline) and a unicode dot plot (it renders in any Markdown viewer).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from lablink.checks.ranksum import SEED_LIMIT, fewest_seeds, smallest_p
from lablink.checks.stats import Comparison, SeedPlan, Verdict

if TYPE_CHECKING:
    from lablink.core.gate.options import MetricSpec
    from lablink.core.gate.results import GateResult, MetricResult

SIGMA = "\N{GREEK SMALL LETTER SIGMA}"
ALPHA = "\N{GREEK SMALL LETTER ALPHA}"
ICONS = {
    Verdict.PASS: "✅",
    Verdict.WARN: "⚠️",
    Verdict.FAIL: "❌",
    Verdict.INCONCLUSIVE: "❔",
}
TEST_NAMES = {
    "welch": "one-sided Welch t-test",
    "mwu": "one-sided Mann-Whitney U test",
    "mcnemar": "exact McNemar test, paired by example",
    "bootstrap": "paired bootstrap by example",
    "paired": "per-example paired tests",
}


def fmt(value: float | None, digits: int = 4) -> str:
    """A number with ``digits`` significant digits; ``n/a`` for None or NaN."""
    if value is None or math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return f"{value:.{digits}g}"


def p_phrase(p: float | None) -> str:
    """``p = 0.032`` or ``p < 0.0001``."""
    text = fmt_p(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def fmt_p(p: float | None) -> str:
    """A p-value: three significant digits, or ``< 0.0001``."""
    if p is None:
        return "n/a"
    return "< 0.0001" if p < 1e-4 else f"{p:.3g}"


def _seeds_text(plan: SeedPlan | None, n_cand: int, n_base: int) -> str:
    if plan is None:
        return ""
    sigma = f"{SIGMA} ≈ {fmt(plan.sigma, 3)} estimated from the {n_base} baseline runs"
    if plan.candidate is not None:
        more = max(1, plan.candidate - n_cand)
        return (
            f" With {sigma}, about {max(plan.candidate, n_cand + 1)} candidate seeds "
            f"({more} more) would decide it with {plan.power:.0%} power."
        )
    if plan.per_side is not None:
        return (
            f" With {sigma}, the baseline is too small as well: about {plan.per_side} "
            f"seeds on each side would decide it with {plan.power:.0%} power."
        )
    return (
        f" With {sigma}, even {SEED_LIMIT} seeds would not decide it: "
        f"the margin is tiny next to {SIGMA}."
    )


def too_small_text(c: Comparison, alpha: float) -> str:
    """Why no p-value below ``alpha`` can come out of this comparison ("" if one can).

    The exact tests have a floor: with 3 vs 3 seeds the smallest one-sided
    Mann-Whitney p-value is 1/20, so at alpha = 0.05 the gate could never fail (or
    pass) whatever the seeds scored. The verdict should say so, not just "no drop".
    """
    if c.p_min < alpha:
        return ""
    floor = f"{ALPHA} = {alpha:g} (the smallest p it can give is {fmt_p(c.p_min)})"
    if c.test == "mwu" and smallest_p(c.n_cand, c.n_base) >= alpha:
        per_side, cand = fewest_seeds(alpha), fewest_seeds(alpha, c.n_base)
        need = (
            f"more than {SEED_LIMIT} seeds per side"
            if per_side is None
            else f"at least {per_side} seeds per side"
        )
        if cand is not None and cand != per_side:
            need += f" (or {cand} candidate seeds against these {c.n_base} baseline seeds)"
        return (
            f"The sample is too small to ever reach {ALPHA}: with {c.n_base} baseline and "
            f"{c.n_cand} candidate seeds the Mann-Whitney test can never go below {floor}, "
            f"so this comparison can neither fail nor pass. It takes {need} to reach "
            f"{ALPHA} = {alpha:g} at all; the Welch test (--test welch) has no such floor."
        )
    if c.test == "mwu":
        return (
            f"These values tie so much that the Mann-Whitney test cannot go below {floor}: "
            "no drop can be shown from them."
        )
    if c.test == "mcnemar":
        return (
            f"Too few examples differ between the checkpoints: McNemar's exact test cannot "
            f"go below {floor}, so no drop can be shown from them."
        )
    return f"The {TEST_NAMES.get(c.test, c.test)} cannot go below {floor} here."


def explain(
    spec: MetricSpec,
    verdict: Verdict,
    c: Comparison | None,
    p_adj: float | None,
    n_base: int,
    n_cand: int,
    plan: SeedPlan | None,
    n_metrics: int,
    alpha: float = 0.05,
) -> str:
    """One paragraph saying what the verdict means for this metric, in plain words."""
    text = _explain(spec, verdict, c, p_adj, n_base, n_cand, plan, n_metrics)
    floor = too_small_text(c, alpha) if c is not None else ""
    if not floor:
        return text
    # an open question is open because of the floor: say that first
    return f"{floor} {text}" if verdict is Verdict.INCONCLUSIVE else f"{text} {floor}"


def _explain(
    spec: MetricSpec,
    verdict: Verdict,
    c: Comparison | None,
    p_adj: float | None,
    n_base: int,
    n_cand: int,
    plan: SeedPlan | None,
    n_metrics: int,
) -> str:
    if c is None:
        return (
            f"Too few runs to compare: {n_base} baseline and {n_cand} candidate run(s) "
            "have this metric; each side needs at least 2 seeds, and more give a sharper "
            "answer." + _seeds_text(plan, n_cand, n_base)
        )
    worse = "lower" if spec.direction == "max" else "higher"
    low, high = c.diff_ci
    sign = 1 if spec.direction == "max" else -1
    worst_drop = max(0.0, -sign * (low if sign > 0 else high))
    interval = f"{c.confidence:.0%} CI of the difference {fmt(low)} to {fmt(high)}"
    holm = f" after Holm-Bonferroni over {n_metrics} metrics" if n_metrics > 1 else ""
    p = f"one-sided {p_phrase(p_adj)}{holm}"
    margin = fmt(spec.margin)
    size = fmt(abs(c.diff))
    if verdict is Verdict.FAIL:
        return (
            f"Significant regression: the candidate's {spec.key} is {size} {worse} than the "
            f"baseline's ({interval}; {p}). The data do not show the drop to be within the "
            f"accepted margin of {margin}, so the gate fails."
        )
    if verdict is Verdict.WARN:
        return (
            f"A small but real drop: the candidate's {spec.key} is {size} {worse} ({interval}; "
            f"{p}), but even the worst case, {fmt(worst_drop)}, lies within the accepted "
            f"margin of {margin}. Passing with a warning."
        )
    if verdict is Verdict.PASS:
        if sign * (low if sign > 0 else high) > 0:
            return f"The candidate is significantly better on {spec.key} ({interval})."
        return (
            f"No significant drop ({p}), and the candidate is shown to be no worse than the "
            f"margin: the worst case in the interval, a drop of {fmt(worst_drop)}, is within "
            f"{margin} ({interval})."
        )
    if spec.margin == 0:
        return (
            f"No significant drop ({p}), but with a margin of 0 a candidate passes only when "
            f"it is significantly better. Set --margin to the drop you can accept, in "
            f"{spec.key}'s units ({interval})."
        )
    return (
        f"Can't tell yet: no significant drop ({p}), but the interval ({fmt(low)} to "
        f"{fmt(high)}) still allows a drop larger than the margin of {margin}."
        + _seeds_text(plan, n_cand, n_base)
    )


def dot_plot(base: Sequence[float], cand: Sequence[float], width: int = 44) -> str:
    """A unicode dot plot of both sides on one axis (digits where seeds pile up)."""
    values = [*base, *cand]
    low, high = min(values), max(values)
    span = high - low

    def column(v: float) -> int:
        return width // 2 if span == 0 else round((v - low) / span * (width - 1))

    def row(label: str, side: Sequence[float]) -> list[str]:
        counts = [0] * width
        for v in side:
            counts[column(v)] += 1
        dots = "".join(
            "·" if n == 0 else "●" if n == 1 else str(n) if n < 10 else "+" for n in counts
        )
        mean = sum(side) / len(side)
        marker = " " * column(mean) + f"▲ mean {fmt(mean)}"
        return [f"{label:<10} {dots}", f"{'':<10} {marker}"]

    axis_low, axis_high = fmt(low), fmt(high)
    axis = axis_low + " " * max(1, width - len(axis_low) - len(axis_high)) + axis_high
    return "\n".join([*row("baseline", base), *row("candidate", cand), f"{'':<10} {axis}"])


def _values(side: Sequence[float]) -> str:
    return ", ".join(fmt(v) for v in sorted(side))


def _metric_section(m: MetricResult, per_example: bool) -> list[str]:
    c = m.comparison
    icon = ICONS[m.verdict]
    arrow = "higher is better" if m.spec.direction == "max" else "lower is better"
    lines = [f"### `{m.spec.key}` ({arrow}): {icon} {m.verdict}", "", m.explanation, ""]
    b = [v.value for v in m.baseline]
    cv = [v.value for v in m.candidate]
    unit = "examples" if per_example else "runs"
    if c is None:
        lines += [
            "| | baseline | candidate |",
            "|---|---|---|",
            f"| {unit} (n) | {len(b)} | {len(cv)} |",
            f"| per-seed values | {_values(b)} | {_values(cv)} |",
            "",
        ]
        return lines
    level = f"{c.confidence:.0%} CI"
    lines += [
        "| | baseline | candidate |",
        "|---|---|---|",
        f"| {unit} (n) | {c.n_base} | {c.n_cand} |",
        f"| mean [{level}] | {fmt(c.mean_base)} [{fmt(c.ci_base[0])}, {fmt(c.ci_base[1])}] "
        f"| {fmt(c.mean_cand)} [{fmt(c.ci_cand[0])}, {fmt(c.ci_cand[1])}] |",
    ]
    if not per_example:
        lines.append(f"| per-seed values | {_values(b)} | {_values(cv)} |")
    lines += ["", "| statistic | value |", "|---|---|"]
    diff_name = "shift (Hodges-Lehmann)" if c.test == "mwu" else "difference of means"
    lines.append(
        f"| {diff_name}, candidate - baseline [{level}] | {fmt(c.diff)} "
        f"[{fmt(c.diff_ci[0])}, {fmt(c.diff_ci[1])}] |"
    )
    lines.append(
        f"| one-sided p, drop ({TEST_NAMES.get(c.test, c.test)}, {c.p_method}) "
        f"| {fmt_p(c.p_drop)} |"
    )
    if c.p_min > 0:
        lines.append(f"| smallest p this test can give here | {fmt_p(c.p_min)} |")
    if m.p_drop_adjusted is not None and m.p_drop_adjusted != c.p_drop:
        lines.append(f"| … after Holm-Bonferroni | {fmt_p(m.p_drop_adjusted)} |")
    lines.append(f"| one-sided p, within margin {fmt(m.spec.margin)} | {fmt_p(c.p_noninferior)} |")
    effect = "Cohen's d_z of the paired differences" if per_example else "Hedges' g"
    lines.append(f"| effect size ({effect}, > 0 = candidate better) | {fmt(c.effect_size, 3)} |")
    better = f"{c.p_better:.2f}"
    if c.p_better_ci is not None:
        better += f" [{c.p_better_ci[0]:.2f}, {c.p_better_ci[1]:.2f}]"
    what = (
        "P(candidate better on an example), ties count half"
        if per_example
        else "P(candidate > baseline)"
    )
    lines.append(f"| {what} | {better} |")
    if m.discordant is not None:
        lines.append(
            f"| examples only the candidate / only the baseline gets right | "
            f"{m.discordant[0]} / {m.discordant[1]} |"
        )
    lines.append("")
    if not per_example:
        lines += ["```text", dot_plot(b, cv), "```", ""]
        lines += _runs_table(m)
    return lines


def _runs_table(m: MetricResult) -> list[str]:
    rows = [f"| baseline | `{v.run_id}` | {v.name} | {fmt(v.value, 6)} |" for v in m.baseline]
    rows += [f"| candidate | `{v.run_id}` | {v.name} | {fmt(v.value, 6)} |" for v in m.candidate]
    return [
        "<details><summary>every run</summary>",
        "",
        "| side | run | name | value |",
        "|---|---|---|---|",
        *rows,
        "",
        "</details>",
        "",
    ]


def render_markdown(result: GateResult) -> str:
    """The whole report as Markdown."""
    per_example = result.mode == "per-example"
    icon = ICONS[result.verdict]
    holm = (
        f", Holm-Bonferroni over {len(result.metrics)} metrics" if len(result.metrics) > 1 else ""
    )
    lines = [
        f"## lablink gate: {icon} {result.verdict}",
        "",
        f"Baseline `{result.baseline}` vs candidate `{result.candidate}` · "
        f"{TEST_NAMES.get(result.test, result.test)} · {ALPHA} = {result.alpha}{holm} · "
        f"exit code {result.exit_code}",
    ]
    if result.dataset:
        lines[-1] += f" · dataset `{result.dataset}`"
    lines += [
        "",
        "| metric | baseline (n) | candidate (n) | difference [CI] | margin | p | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in result.metrics:
        c = m.comparison
        diff = f"{fmt(c.diff)} [{fmt(c.diff_ci[0])}, {fmt(c.diff_ci[1])}]" if c else "n/a"
        base = f"{fmt(c.mean_base)} ({c.n_base})" if c else f"({len(m.baseline)})"
        cand = f"{fmt(c.mean_cand)} ({c.n_cand})" if c else f"({len(m.candidate)})"
        direction = "↑" if m.spec.direction == "max" else "↓"
        lines.append(
            f"| `{m.spec.key}` {direction} | {base} | {cand} | {diff} | {fmt(m.spec.margin)} "
            f"| {fmt_p(m.p_drop_adjusted)} | {ICONS[m.verdict]} {m.verdict} |"
        )
    lines.append("")
    for m in result.metrics:
        lines += _metric_section(m, per_example)
    notes = [*result.notes, *(n for m in result.metrics for n in m.notes)]
    if notes:
        lines += ["**Notes**", "", *(f"- {n}" for n in notes), ""]
    lines.append(
        "<sub>FAIL: significant drop not shown to be within the margin · WARN: significant "
        "drop within the margin · PASS: shown no worse than the margin · INCONCLUSIVE: "
        "neither can be shown yet. Generated by `lablink gate`.</sub>"
    )
    return "\n".join(lines) + "\n"
