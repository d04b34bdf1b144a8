"""Which way a metric improves, shared by the UI and the CLI."""

from __future__ import annotations

import pytest

from lablink.checks.metric_goal import best_of, goal, lower_is_better


@pytest.mark.parametrize(
    "key", ["train/loss", "val/WER", "eval/error_rate", "val/perplexity", "sys/step_time"]
)
def test_costs_are_better_small(key: str) -> None:
    assert lower_is_better(key)
    assert goal(key) == "min"
    assert best_of(key, 0.1, 0.9) == 0.1


@pytest.mark.parametrize("key", ["val/acc", "val/f1", "reward", "bleu"])
def test_scores_are_better_large(key: str) -> None:
    assert not lower_is_better(key)
    assert goal(key) == "max"
    assert best_of(key, 0.1, 0.9) == 0.9
