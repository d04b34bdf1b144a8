"""The watchdog's checks, without I/O: each takes plain values and returns a ``Finding``.

Metric checks (NaN/inf, divergence) run on every ingested batch of a watched metric;
timer checks (lost heartbeat, max runtime, stall, idle GPU) run on the watchdog's tick.
``core/watchdog.py`` turns findings into incidents and actions; the policy they read
is parsed in ``checks/watch_policy.py``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lablink.checks.nonfinite import json_float
from lablink.checks.watch_policy import GpuRule, MetricRule, Policy

if TYPE_CHECKING:  # numpy loads with the first checked batch, not with every CLI command
    import numpy as np


@dataclasses.dataclass(frozen=True)
class Finding:
    """A rule that fired: what, where, how bad, what to do, and the evidence."""

    kind: str  # nan, diverged, lost_heartbeat, stalled, gpu_idle, timeout
    rule: str
    severity: str
    action: str  # stop, alert or crash
    repeat: str
    message: str
    evidence: dict[str, Any]


# -- metric checks (on ingestion) ---------------------------------------------------------
WINDOW_POINTS = 60  # evidence: at most this many points before the trigger


def _window(steps: np.ndarray, values: np.ndarray, upto: int) -> dict[str, list[Any]]:
    lo = max(0, upto + 1 - WINDOW_POINTS)
    return {
        "steps": [int(s) for s in steps[lo : upto + 1]],
        "values": [json_float(float(v), "text") for v in values[lo : upto + 1]],
    }


def check_nan(rule: MetricRule, steps: np.ndarray, values: np.ndarray) -> Finding | None:
    """The first NaN or ±inf of a batch (steps and values in logging order)."""
    import numpy as np

    if not rule.nan or bool(np.isfinite(values).all()):
        return None
    i = int(np.flatnonzero(~np.isfinite(values))[0])
    value = float(values[i])
    word = "NaN" if math.isnan(value) else ("+inf" if value > 0 else "-inf")
    return Finding(
        "nan",
        rule.name,
        rule.severity,
        rule.action,
        rule.repeat,
        f"{rule.metric} is {word} at step {int(steps[i])}: the run diverged",
        {
            "metric": rule.metric,
            "step": int(steps[i]),
            "value": word,
            "window": _window(steps, values, i),
        },
    )


def divergence_threshold(
    rule: MetricRule, prior_min: float | None, values: np.ndarray
) -> float | None:
    """``diverge_factor`` x the running minimum, or None (rule off, no positive minimum)."""
    import numpy as np

    if rule.diverge_factor is None:
        return None
    finite = values[np.isfinite(values)]
    low = min(
        [x for x in (prior_min, float(finite.min()) if len(finite) else None) if x is not None],
        default=None,
    )
    if low is None or not low > 0:
        return None  # a ratio to a minimum at or below zero says nothing
    return rule.diverge_factor * low


def streak_start(steps: np.ndarray, values: np.ndarray, threshold: float) -> int | None:
    """Index where the trailing run of points above ``threshold`` starts (None: none).

    NaN counts as above: a loss that became NaN has certainly not come back down.
    """
    import numpy as np

    if not len(values):
        return None
    above = ~(values <= threshold)
    if not above[-1]:
        return None
    below = np.flatnonzero(~above)
    return int(below[-1]) + 1 if len(below) else 0


def check_divergence(
    rule: MetricRule,
    steps: np.ndarray,
    values: np.ndarray,
    threshold: float,
    since_step: int,
    minimum: float,
) -> Finding | None:
    """Diverged when the points have stayed above ``threshold`` from ``since_step`` on
    for at least ``diverge_steps`` steps (``since_step`` may lie before this batch)."""
    last = int(steps[-1])
    if last - since_step + 1 < rule.diverge_steps:
        return None
    return Finding(
        "diverged",
        rule.name,
        rule.severity,
        rule.action,
        rule.repeat,
        f"{rule.metric} = {float(values[-1]):.4g} at step {last} has stayed above "
        f"{rule.diverge_factor:g}x its running minimum ({minimum:.4g}) since step {since_step}",
        {
            "metric": rule.metric,
            "step": last,
            "value": json_float(float(values[-1]), "text"),
            "minimum": minimum,
            "threshold": threshold,
            "since_step": since_step,
            "window": _window(steps, values, len(steps) - 1),
        },
    )


# -- timer checks ---------------------------------------------------------------------------
def check_heartbeat(policy: Policy, now: float, last_seen: float) -> Finding | None:
    """No heartbeat (nor batch) for longer than ``heartbeat_timeout`` → crashed."""
    timeout = policy.heartbeat_timeout
    if timeout is None or now - last_seen <= timeout:
        return None
    silent = now - last_seen
    return Finding(
        "lost_heartbeat",
        "heartbeat",
        "high",
        "crash",
        policy.repeat,
        f"no heartbeat for {silent:.1f}s (heartbeat_timeout {timeout:g}s): the process died, "
        "was killed (SIGKILL, out of memory) or is frozen",
        {"last_seen": last_seen, "silent_seconds": round(silent, 3), "timeout": timeout},
    )


def check_runtime(policy: Policy, now: float, created_at: float) -> Finding | None:
    """Running longer than ``max_runtime`` → asked to stop, then timed out."""
    limit = policy.max_runtime
    if limit is None or now - created_at <= limit:
        return None
    return Finding(
        "timeout",
        "max_runtime",
        "warning",
        "stop",
        policy.repeat,
        f"ran {now - created_at:.1f}s, over max_runtime {limit:g}s: asked to stop",
        {"runtime_seconds": round(now - created_at, 3), "max_runtime": limit},
    )


def check_stall(policy: Policy, now: float, last_point: float) -> Finding | None:
    """Heartbeats arrive but no (non-``sys/``) metric advanced for ``stall`` seconds."""
    limit = policy.stall
    if limit is None or now - last_point <= limit:
        return None
    return Finding(
        "stalled",
        "stall",
        "high",
        "alert",
        policy.repeat,
        f"alive but no metric logged for {now - last_point:.1f}s (stall {limit:g}s): "
        "a hang (deadlock, NCCL, data loader) or an endless evaluation",
        {"last_point_at": last_point, "quiet_seconds": round(now - last_point, 3), "stall": limit},
    )


GpuSeries = Mapping[int, tuple[Sequence[float], Sequence[float]]]  # gpu -> (times, utils)


def check_gpu(rule: GpuRule, now: float, series: GpuSeries) -> Finding | None:
    """Utilisation below ``rule.below`` for the whole window on a GPU the run uses.

    ``series`` holds, per GPU the run uses, the samples of the last ``rule.window``
    seconds. A GPU counts only if its samples cover the window (the first at most a
    fifth of the window after its start) and every one is below the threshold.
    """
    start = now - rule.window
    idle: dict[str, Any] = {}
    for gpu, (times, utils) in sorted(series.items()):
        pairs = [(t, u) for t, u in zip(times, utils, strict=True) if t >= start]
        if len(pairs) < 2 or pairs[0][0] > start + rule.window / 5:
            continue
        values = [u for _, u in pairs]
        if max(values) < rule.below:
            idle[str(gpu)] = {
                "mean": round(sum(values) / len(values), 2),
                "max": max(values),
                "samples": len(values),
                "window": {
                    "times": [t for t, _ in pairs][-WINDOW_POINTS:],
                    "values": values[-WINDOW_POINTS:],
                },
            }
    if not idle:
        return None
    names = ", ".join(f"gpu{g}" for g in idle)
    return Finding(
        "gpu_idle",
        rule.name,
        rule.severity,
        rule.action,
        rule.repeat,
        f"{names} below {rule.below:g}% utilisation for {rule.window:g}s: the run holds GPUs it does not use",
        {"below": rule.below, "window_seconds": rule.window, "gpus": idle},
    )
