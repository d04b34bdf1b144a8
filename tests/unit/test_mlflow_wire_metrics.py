"""``wire.metrics``: a batch's metric objects read as ``wire.metric`` reads each one."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

from lablink.errors import InvalidInput
from lablink.server.mlflow import wire

GOOD: list[Any] = [
    {"key": "a", "value": 0.5, "timestamp": 1733500000000, "step": 3},  # the client's form
    {"key": "b", "value": 2, "timestamp": "17", "step": "4"},  # int value, digit strings
    {"key": "c", "value": "NaN", "timestamp": 1},  # no step: 0
    {"key": "d", "value": -0.0, "timestamp": 1, "step": 2.0},
    {"key": "e", "value": "-Infinity", "timestamp": 2**63 - 1, "step": None},
]
BAD: list[Any] = [
    {"key": "f", "value": True, "timestamp": 1, "step": 1},
    {"key": "g", "value": 1.0, "timestamp": True, "step": 1},
    {"key": "h", "value": 1.0, "timestamp": 1, "step": 2**63},
    {"key": "i", "value": 1.0, "step": 1},
    {"key": 7, "value": 1.0, "timestamp": 1, "step": 1},
    ["key", "value"],
]


def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    return [repr(x) for x in a] == [repr(x) for x in b] and all(
        type(x) is type(y) for x, y in zip(a, b, strict=True)
    )


def test_every_form_reads_as_metric_reads_it() -> None:
    got = wire.metrics(GOOD)
    assert all(_same(g, wire.metric(m)) for g, m in zip(got, GOOD, strict=True))
    assert got[0] == ("a", 0.5, 1733500000000, 3)
    assert math.isnan(got[2][1]) and got[2][3] == 0


@pytest.mark.parametrize("bad", BAD)
def test_a_bad_metric_is_refused_with_metrics_own_message(bad: Any) -> None:
    try:
        wire.metric(bad)
    except InvalidInput as exc:
        message = str(exc)
    else:
        pytest.fail(f"wire.metric took {bad!r}")
    with pytest.raises(InvalidInput, match=f"^{re.escape(message)}$"):
        wire.metrics([GOOD[0], bad])
