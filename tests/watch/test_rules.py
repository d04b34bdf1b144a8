"""The pure rules: durations, policies, and each check on plain values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lablink.checks.durations import parse_duration
from lablink.checks.watch_policy import (
    GpuRule,
    MetricRule,
    Policy,
    merge,
    parse_policy,
)
from lablink.checks.watch_rules import (
    check_divergence,
    check_gpu,
    check_heartbeat,
    check_nan,
    check_runtime,
    check_stall,
    divergence_threshold,
    streak_start,
)
from lablink.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("2m", 120), ("12h", 43200), ("90s", 90), ("1h30m", 5400), ("500ms", 0.5), ("1d", 86400),
     (" 2M ", 120), (1.5, 1.5), (3, 3), ("2w", 1209600), ("2", 2)],
)  # fmt: skip
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "bad", ["", "2 minutes", "m", "-1s", "0s", "2m5", True, None, [1], 0, "-2", "nan"]
)
def test_bad_durations_are_named(bad: object) -> None:
    with pytest.raises(InvalidInput, match="duration"):
        parse_duration(bad, "watch.stall")


@given(st.integers(0, 100), st.integers(0, 59), st.integers(1, 59))
def test_duration_parts_add_up(h: int, m: int, s: int) -> None:
    assert parse_duration(f"{h}h{m}m{s}s") == h * 3600 + m * 60 + s


def test_policy_from_the_issue_example() -> None:
    policy = parse_policy(
        {
            "heartbeat_timeout": "2m",
            "max_runtime": "12h",
            "stall": "15m",
            "rules": {
                "loss": {"metric": "train/loss", "nan": True, "diverge_factor": 3.0},
                "gpu": {"gpu_util_below": 10, "for": "10m"},
            },
        }
    )
    assert (policy.heartbeat_timeout, policy.max_runtime, policy.stall) == (120, 43200, 900)
    assert policy.metric_rules == (MetricRule("loss", "train/loss", True, 3.0, 50),)
    assert policy.gpu_rules == (GpuRule("gpu", 10.0, 600.0),)
    assert policy.metric_keys == {"train/loss"}


def test_defaults_and_off() -> None:
    assert parse_policy({}) == Policy()
    assert parse_policy({"heartbeat_timeout": "off"}).heartbeat_timeout is None


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ({"heartbeat": "2m"}, "unknown watch setting"),
        ({"rules": {"x": {"metric": "a", "nan": "yes"}}}, "nan must be true or false"),
        ({"rules": {"x": {"metric": "a", "diverge_factor": 0.5}}}, "above 1"),
        ({"rules": {"x": {"metric": "a", "diverge_steps": 0}}}, "positive integer"),
        ({"rules": {"x": {"nan": True}}}, "needs `metric`"),
        ({"rules": {"x": {"gpu_util_below": 10}}}, "needs `for`"),
        ({"rules": {"x": {"gpu_util_below": 300, "for": "1m"}}}, "percentage"),
        ({"rules": {"x": {"metric": "a", "severity": "meh"}}}, "severity must be one of"),
        ({"rules": {"x": {"metric": "a", "action": "explode"}}}, "action must be one of"),
        ({"rules": {"x": {"metric": "a", "colour": 1}}}, "unknown key"),
        ({"repeat": "sometimes"}, "repeat must be one of"),
        ({"rules": ["a"]}, "table of named rules"),
    ],
)
def test_bad_policies_are_named(raw: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        parse_policy(raw)


def test_merge_overrides_rule_by_rule() -> None:
    base = {"stall": "15m", "rules": {"loss": {"metric": "train/loss", "nan": True}}}
    merged = merge(base, {"rules": {"loss": {"diverge_factor": 2.0}}, "stall": "1m"})
    assert merged == {
        "stall": "1m",
        "rules": {"loss": {"metric": "train/loss", "nan": True, "diverge_factor": 2.0}},
    }


RULE = MetricRule("loss", "train/loss", True, 3.0, 5)


def arr(*values: float) -> np.ndarray:
    return np.asarray(values, dtype=float)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_is_found_at_its_step(bad: float) -> None:
    steps = np.arange(10, 20)
    values = np.linspace(1, 0.5, 10)
    values[4] = bad
    finding = check_nan(RULE, steps, values)
    assert finding is not None and finding.kind == "nan" and finding.evidence["step"] == 14
    assert finding.evidence["window"]["steps"][-1] == 14 and finding.action == "stop"
    assert check_nan(RULE, steps, np.linspace(1, 0.5, 10)) is None


def test_threshold_needs_a_positive_minimum() -> None:
    assert divergence_threshold(RULE, 0.5, arr(1, 2)) == 1.5
    assert divergence_threshold(RULE, None, arr(2, 1)) == 3.0
    assert divergence_threshold(RULE, -1.0, arr(2, 1)) is None
    assert divergence_threshold(MetricRule("x", "x"), 1.0, arr(1)) is None


def test_streak_start() -> None:
    assert streak_start(np.arange(5), arr(1, 5, 1, 5, 5), 3) == 3
    assert streak_start(np.arange(3), arr(5, 5, 5), 3) == 0
    assert streak_start(np.arange(3), arr(5, 5, 1), 3) is None
    assert streak_start(np.arange(2), arr(1, math.nan), 3) == 1


def test_divergence_needs_the_streak_to_last() -> None:
    steps, values = np.arange(10, 14), arr(4, 4, 4, 4)
    assert check_divergence(RULE, steps, values, 3.0, 10, 1.0) is None  # 4 steps < 5
    found = check_divergence(RULE, steps, values, 3.0, 9, 1.0)
    assert found is not None and found.kind == "diverged" and found.evidence["since_step"] == 9


def test_timer_checks() -> None:
    policy = parse_policy({"heartbeat_timeout": "10s", "max_runtime": "1m", "stall": "30s"})
    assert check_heartbeat(policy, 100.0, 95.0) is None
    lost = check_heartbeat(policy, 100.0, 85.0)
    assert lost is not None and lost.kind == "lost_heartbeat" and lost.action == "crash"
    assert check_runtime(policy, 100.0, 50.0) is None
    timeout = check_runtime(policy, 100.0, 30.0)
    assert timeout is not None and timeout.kind == "timeout" and timeout.action == "stop"
    assert check_stall(policy, 100.0, 80.0) is None
    stalled = check_stall(policy, 100.0, 60.0)
    assert stalled is not None and stalled.kind == "stalled"
    assert check_heartbeat(parse_policy({"heartbeat_timeout": "off"}), 1e9, 0.0) is None


def test_gpu_needs_the_whole_window_below() -> None:
    rule = GpuRule("gpu", 10.0, 60.0)
    times = [40.0 + 5 * i for i in range(13)]  # 40..100 covers [40, 100]
    idle = {0: (times, [3.0] * 13), 1: (times, [99.0] * 13)}
    found = check_gpu(rule, 100.0, idle)
    assert found is not None and list(found.evidence["gpus"]) == ["0"]
    spike = {0: (times, [3.0] * 12 + [50.0])}
    assert check_gpu(rule, 100.0, spike) is None
    short = {0: (times[-3:], [3.0] * 3)}  # only the last 10 s were sampled
    assert check_gpu(rule, 100.0, short) is None
