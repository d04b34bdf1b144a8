"""The watchdog policy, without I/O: durations, rules and their defaults.

A policy comes from the ``[watch]`` table of ``lablink.toml`` and from
``lablink.init(..., watch={...})``, in the same shape::

    heartbeat_timeout = "2m"   # no heartbeat for this long → crashed
    max_runtime = "12h"        # asked to stop, then timed out
    stall = "15m"              # heartbeats arrive but no metric advances
    stop_grace = "2m"          # a run asked to stop that keeps running is ended after this
    repeat = "reopen"          # a resolved incident that comes back: "reopen" or "new"
    [rules.loss]
    metric = "train/loss"
    nan = true                 # NaN or ±inf → diverged
    diverge_factor = 3.0       # above 3x its running minimum ...
    diverge_steps = 50         # ... for 50 steps → diverged
    [rules.gpu]
    gpu_util_below = 10        # percent, on any GPU the run uses ...
    for = "10m"                # ... for this long → gpu_idle

Rules may also set ``severity`` (info, warning, high, critical), ``action`` ("stop"
asks the run to stop, "alert" only opens an incident, "restart" asks the launcher of a
``lablink launch`` job to end the attempt and start the next one, and stops a run that
was not launched) and ``repeat``. The checks themselves are in ``checks/watch_rules.py``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from lablink.checks.durations import parse_duration
from lablink.errors import InvalidInput

SEVERITIES = ("info", "warning", "high", "critical")
ACTIONS = ("stop", "alert", "restart")
# Runs started by ``lablink launch`` carry this tag: only they have a launcher that can
# honour a "restart" (``lablink.launch.job`` tags them with it).
LAUNCHED_TAG = "launched"
REPEATS = ("reopen", "new")
DEFAULTS: dict[str, Any] = {"heartbeat_timeout": "2m", "stop_grace": "2m", "repeat": "reopen"}
_POLICY_KEYS = {"heartbeat_timeout", "max_runtime", "stall", "stop_grace", "repeat", "rules"}
_RULE_KEYS = {"metric", "nan", "diverge_factor", "diverge_steps", "gpu_util_below", "for"}
_RULE_KEYS |= {"severity", "action", "repeat"}


@dataclasses.dataclass(frozen=True)
class MetricRule:
    """NaN/inf and divergence checks on one metric, run on every ingested batch."""

    name: str
    metric: str
    nan: bool = True
    diverge_factor: float | None = None
    diverge_steps: int = 50
    severity: str = "high"
    action: str = "stop"
    repeat: str = "reopen"


@dataclasses.dataclass(frozen=True)
class GpuRule:
    """Utilisation below ``below`` percent for ``window`` seconds on a GPU the run uses."""

    name: str
    below: float
    window: float
    severity: str = "warning"
    action: str = "alert"
    repeat: str = "reopen"


@dataclasses.dataclass(frozen=True)
class Policy:
    """A run's resolved watch policy (durations in seconds, None when off)."""

    heartbeat_timeout: float | None = 120.0
    max_runtime: float | None = None
    stall: float | None = None
    stop_grace: float = 120.0
    repeat: str = "reopen"
    metric_rules: tuple[MetricRule, ...] = ()
    gpu_rules: tuple[GpuRule, ...] = ()

    @property
    def metric_keys(self) -> frozenset[str]:
        """The metrics some rule watches on ingestion."""
        return frozenset(rule.metric for rule in self.metric_rules)


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge two raw policy tables; ``override`` wins, rule by rule and key by key."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def _choice(raw: Mapping[str, Any], key: str, default: str, choices: Sequence[str], at: str) -> str:
    value = raw.get(key, default)
    if value not in choices:
        raise InvalidInput(f"{at}.{key} must be one of {', '.join(choices)}, not {value!r}")
    return str(value)


def _optional_duration(raw: Mapping[str, Any], key: str) -> float | None:
    value = raw.get(key)
    if value in (None, False, "off", "none", 0):
        return None
    return parse_duration(value, f"watch.{key}")


def parse_policy(raw: Mapping[str, Any]) -> Policy:
    """A typed ``Policy`` from a raw table (built-in defaults under it).

    Raises:
        InvalidInput: an unknown key, a bad duration, severity, action or threshold.
    """
    if not isinstance(raw, Mapping):
        raise InvalidInput("watch must be a table (a dict) of settings and rules")
    unknown = sorted(set(raw) - _POLICY_KEYS)
    if unknown:
        raise InvalidInput(
            f"unknown watch setting(s): {', '.join(unknown)}",
            "known: " + ", ".join(sorted(_POLICY_KEYS)) + " (see docs/watchdog.md)",
        )
    full = merge(DEFAULTS, raw)
    repeat = _choice(full, "repeat", "reopen", REPEATS, "watch")
    rules = full.get("rules") or {}
    if not isinstance(rules, Mapping):
        raise InvalidInput("watch.rules must be a table of named rules")
    metric_rules: list[MetricRule] = []
    gpu_rules: list[GpuRule] = []
    for name, rule in rules.items():
        parsed = _parse_rule(str(name), rule, repeat)
        (metric_rules if isinstance(parsed, MetricRule) else gpu_rules).append(parsed)  # type: ignore[arg-type]
    return Policy(
        heartbeat_timeout=_optional_duration(full, "heartbeat_timeout"),
        max_runtime=_optional_duration(full, "max_runtime"),
        stall=_optional_duration(full, "stall"),
        stop_grace=parse_duration(full["stop_grace"], "watch.stop_grace"),
        repeat=repeat,
        metric_rules=tuple(metric_rules),
        gpu_rules=tuple(gpu_rules),
    )


def _parse_rule(name: str, raw: Any, repeat: str) -> MetricRule | GpuRule:
    at = f"watch.rules.{name}"
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"{at} must be a table")
    unknown = sorted(set(raw) - _RULE_KEYS)
    if unknown:
        raise InvalidInput(f"{at}: unknown key(s) {', '.join(unknown)}", "see docs/watchdog.md")
    if "gpu_util_below" in raw:
        below = raw["gpu_util_below"]
        if not isinstance(below, int | float) or isinstance(below, bool) or not 0 < below <= 100:
            raise InvalidInput(f"{at}.gpu_util_below must be a percentage in (0, 100]")
        if "for" not in raw:
            raise InvalidInput(f"{at} needs `for`, how long utilisation must stay low")
        return GpuRule(
            name,
            float(below),
            parse_duration(raw["for"], f"{at}.for"),
            _choice(raw, "severity", "warning", SEVERITIES, at),
            _choice(raw, "action", "alert", ACTIONS, at),
            _choice(raw, "repeat", repeat, REPEATS, at),
        )
    metric = raw.get("metric")
    if not isinstance(metric, str) or not metric.strip():
        raise InvalidInput(f'{at} needs `metric` (e.g. "train/loss") or `gpu_util_below`')
    factor = raw.get("diverge_factor")
    if factor is not None and (
        not isinstance(factor, int | float) or isinstance(factor, bool) or not factor > 1
    ):
        raise InvalidInput(f"{at}.diverge_factor must be a number above 1, not {factor!r}")
    steps = raw.get("diverge_steps", 50)
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise InvalidInput(f"{at}.diverge_steps must be a positive integer, not {steps!r}")
    nan = raw.get("nan", True)
    if not isinstance(nan, bool):
        raise InvalidInput(f"{at}.nan must be true or false")
    return MetricRule(
        name,
        metric,
        nan,
        None if factor is None else float(factor),
        steps,
        _choice(raw, "severity", "high", SEVERITIES, at),
        _choice(raw, "action", "stop", ACTIONS, at),
        _choice(raw, "repeat", repeat, REPEATS, at),
    )
