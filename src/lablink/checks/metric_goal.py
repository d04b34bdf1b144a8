"""Which way a metric improves, from its name: the one rule the UI and the CLI share.

A key whose name holds a word for a cost (``loss``, ``error``, ``perplexity``, ``mse``,
``wer``, ``latency``, ``time``...) is better small; anything else (accuracy, F1, reward)
is better large. The run page, the runs table, ``runs ls`` and ``runs compare`` all ask
here, so "best" means the same thing everywhere.
"""

from __future__ import annotations

LOWER_IS_BETTER_WORDS = (
    "loss",
    "err",  # error, err_rate
    "perplexity",
    "ppl",
    "mse",
    "mae",
    "rmse",
    "wer",
    "cer",
    "time",
    "latency",
    "regret",
)


def lower_is_better(key: str) -> bool:
    """Whether the best value of metric ``key`` is its minimum (losses, errors, times)."""
    name = key.lower()
    return any(word in name for word in LOWER_IS_BETTER_WORDS)


def goal(key: str) -> str:
    """``"min"`` or ``"max"``: which extreme of ``key`` is its best value."""
    return "min" if lower_is_better(key) else "max"


def best_of(key: str, minimum: float | None, maximum: float | None) -> float | None:
    """The best of a metric's logged extremes, by the direction of ``key``."""
    return minimum if lower_is_better(key) else maximum
