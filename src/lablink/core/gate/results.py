"""What the gate answers: one ``MetricResult`` per metric inside a ``GateResult``.

Plain records with their JSON form (``to_dict``); ``report.py`` turns them into words
and Markdown, ``verdicts.py`` and ``run.py`` make them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lablink.checks.nonfinite import scrub
from lablink.checks.stats import Comparison, SeedPlan, Verdict
from lablink.core.gate.options import MetricSpec


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

    def records(self, at: float) -> dict[str, dict[str, Any]]:
        """Candidate run id -> the summary entries ``lablink gate --record`` writes on it.

        One ``gate/<metric>`` entry per metric: the verdict, what it was compared with,
        and the difference with its confidence interval, so a model card can say which
        gates its run passed. ``at`` is when the gate ran (seconds since the epoch).
        """
        found: dict[str, dict[str, Any]] = {}
        for m in self.metrics:
            c = m.comparison
            entry = scrub(
                {
                    "verdict": str(m.verdict),
                    "baseline": self.baseline,
                    "direction": m.spec.direction,
                    "margin": m.spec.margin,
                    "diff": c.diff if c else None,
                    "diff_ci": list(c.diff_ci) if c else None,
                    "confidence": c.confidence if c else None,
                    "p_drop": m.p_drop_adjusted,
                    "n_base": len(m.baseline),
                    "n_cand": len(m.candidate),
                    "at": at,
                }
            )
            for seed in m.candidate:
                found.setdefault(seed.run_id, {})[f"gate/{m.spec.key}"] = entry
        return found
