"""The one metric-key rule the server, the core and the SDK share."""

from __future__ import annotations

import pytest

from lablink.checks.keys import check_metric_key, metric_key_problem
from lablink.errors import InvalidInput


@pytest.mark.parametrize(
    ("key", "word"),
    [
        ("a\tb", "control"),
        ("a\x7fb", "control"),  # DEL
        ("a\x85b", "control"),  # C1 next line
        ("a\u2028b", "control"),
        ("a\u2029b", "control"),
        ("a\ud800", "surrogate"),
        ("", "empty"),
        (" ", "empty"),
        ("k" * 251, "251"),
        (5, "text"),
        (None, "text"),
    ],
)
def test_bad_keys_are_refused_with_the_reason(key: object, word: str) -> None:
    problem = metric_key_problem(key)
    assert problem is not None and word in problem
    with pytest.raises(InvalidInput, match=word):
        check_metric_key(key)


@pytest.mark.parametrize("key", ["train/loss", "val/acc@top-5", "ünïcode/λ", "k" * 250, "a b"])
def test_good_keys_pass(key: str) -> None:
    assert metric_key_problem(key) is None
    assert check_metric_key(key) == key
