"""The gate's options: command-line flags over the ``[gate]`` table of ``lablink.toml``.

A team writes its policy once::

    [gate]
    baseline = "tags.main"                      # filter or run id
    metrics = ["val/acc:max", "val/loss:min"]
    margin = 0.5                                # the drop you accept, in metric units
    alpha = 0.05
    test = "welch"                              # or "mwu"
    project = "vision"
    power = 0.8                                 # for "how many seeds would decide it"

    [gate.margins]                              # per-metric margins win over `margin`
    "val/loss" = 0.02

and CI runs ``lablink gate --candidate tags.pr-42``. A flag wins over the file; a
``--margin`` flag applies to every metric.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

from lablink.checks.stats import TESTS
from lablink.errors import InvalidInput

DIRECTIONS = ("max", "min")


@dataclasses.dataclass(frozen=True)
class MetricSpec:
    """A gated metric: its key, which way is better, and the drop accepted (its units)."""

    key: str
    direction: str = "max"
    margin: float = 0.0
    explicit: bool = True  # False when the direction was left to the predictions' header


@dataclasses.dataclass(frozen=True)
class GateOptions:
    """Everything ``run_gate`` needs, resolved."""

    baseline: str
    candidate: str
    metrics: tuple[MetricSpec, ...]
    alpha: float = 0.05
    test: str = "welch"
    project: str | None = None
    per_example: bool = False
    power: float = 0.8


def check_margin(margin: Any, where: str = "margin") -> float:
    """A margin is a finite number >= 0 in the metric's units."""
    if isinstance(margin, bool) or not isinstance(margin, int | float):
        raise InvalidInput(f"{where} must be a number, not {margin!r}")
    if not math.isfinite(margin) or margin < 0:
        raise InvalidInput(
            f"{where} must be a finite number >= 0, not {margin}",
            "the margin is the drop you accept, in the metric's units (e.g. 0.5 points)",
        )
    return float(margin)


def parse_metric(text: str, margin: float = 0.0, require_direction: bool = True) -> MetricSpec:
    """``val/acc:max`` or ``val/loss:min`` (the last ``:`` splits; keys may hold ``:``).

    Raises:
        InvalidInput: no key, or no direction where one is required.
    """
    key, sep, direction = text.rpartition(":")
    if not sep or direction not in DIRECTIONS:
        if require_direction:
            raise InvalidInput(
                f"metric {text!r} needs a direction",
                f"write {text.rpartition(':')[0] or text}:max if larger is better, "
                f"or {text.rpartition(':')[0] or text}:min if smaller is (e.g. a loss)",
            )
        key, direction = text, "max"
        explicit = False
    else:
        explicit = True
    if not key.strip():
        raise InvalidInput(f"metric {text!r} has no key", "e.g. val/acc:max")
    return MetricSpec(key, direction, check_margin(margin), explicit)


def resolve_options(
    project_config: Mapping[str, Any],
    *,
    baseline: str | None = None,
    candidate: str | None = None,
    metrics: Sequence[str] = (),
    margin: float | None = None,
    alpha: float | None = None,
    test: str | None = None,
    project: str | None = None,
    per_example: bool = False,
) -> GateOptions:
    """Merge flags (the keyword arguments) over ``project_config["gate"]``.

    Raises:
        InvalidInput: a missing selector or metric, or a bad value in flags or file.
    """
    table = project_config.get("gate", {})
    if not isinstance(table, Mapping):
        raise InvalidInput("[gate] in lablink.toml must be a table")
    margins = table.get("margins", {})
    if not isinstance(margins, Mapping):
        raise InvalidInput("[gate.margins] in lablink.toml must be a table of metric = margin")
    default_margin = check_margin(table.get("margin", 0.0), "[gate] margin")
    if margin is not None:
        margin = check_margin(margin, "--margin")
    baseline = baseline or table.get("baseline")
    candidate = candidate or table.get("candidate")
    for name, value in (("baseline", baseline), ("candidate", candidate)):
        if not value or not isinstance(value, str):
            raise InvalidInput(
                f"no {name} selector",
                f"pass --{name} (a filter like tags.main, or a run id) "
                f"or set {name} in the [gate] table of lablink.toml",
            )
    texts = list(metrics) or table.get("metrics", [])
    if isinstance(texts, str):
        texts = [texts]
    if not texts or not all(isinstance(t, str) for t in texts):
        raise InvalidInput(
            "no metric to gate",
            "pass --metric val/acc:max (repeatable) or set metrics in [gate] of lablink.toml",
        )
    specs = []
    for text in texts:
        spec = parse_metric(text, 0.0, require_direction=not per_example)
        chosen = margin if margin is not None else margins.get(spec.key, default_margin)
        specs.append(dataclasses.replace(spec, margin=check_margin(chosen, f"margin of {text}")))
    keys = [s.key for s in specs]
    if len(set(keys)) != len(keys):
        raise InvalidInput("a metric is named twice", ", ".join(keys))
    alpha = alpha if alpha is not None else table.get("alpha", 0.05)
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 0.5:
        raise InvalidInput(f"alpha must be a number between 0 and 0.5, not {alpha!r}")
    test = test or table.get("test", "welch")
    if test not in TESTS:
        raise InvalidInput(f"unknown test {test!r}", "use welch or mwu")
    power = table.get("power", 0.8)
    if isinstance(power, bool) or not isinstance(power, int | float) or not 0.5 <= power < 1:
        raise InvalidInput(f"[gate] power must be between 0.5 and 1, not {power!r}")
    project = project or table.get("project")
    return GateOptions(
        baseline=baseline,  # type: ignore[arg-type]
        candidate=candidate,  # type: ignore[arg-type]
        metrics=tuple(specs),
        alpha=float(alpha),
        test=str(test),
        project=str(project) if project else None,
        per_example=per_example,
        power=float(power),
    )
