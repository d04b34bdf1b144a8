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
