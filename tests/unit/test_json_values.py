"""Pure helpers for free-form JSON: flattening, checking, column encoding, table cells."""

from __future__ import annotations

import json
import math

import pytest

from lablink.checks.json_value import check_json_value
from lablink.checks.limits import MAX_DEPTH
from lablink.checks.run_fields import flatten
from lablink.errors import InvalidInput
from lablink.store.jsoncol import FiniteJson, json_dumps, json_loads
from lablink.ui.render import CELL_CHARS, fmt_cell


def test_flatten_keeps_the_config_order_depth_first() -> None:
    config = {"a": 1, "m": {"x": {"y": 2}, "z": 3}, "e": {}, "l": [1, {"k": 2}], "b": 4}
    assert list(flatten(config).items()) == [
        ("a", 1),
        ("m.x.y", 2),
        ("m.z", 3),
        ("e", {}),
        ("l", [1, {"k": 2}]),
        ("b", 4),
    ]


def test_flatten_refuses_nesting_past_the_bound_without_recursing() -> None:
    config: dict[str, object] = {"leaf": 1}
    for _ in range(MAX_DEPTH - 1):
        config = {"k": config}
    assert flatten(config) == {"k." * (MAX_DEPTH - 1) + "leaf": 1}
    deep: dict[str, object] = {"leaf": 1}
    for _ in range(10_000):  # far past Python's recursion limit
        deep = {"k": deep}
    with pytest.raises(InvalidInput, match=f"nested deeper than {MAX_DEPTH}"):
        flatten(deep)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"a": [1, {"b": "x\x00"}]}, r"config\.a\[1\]\.b: text must not contain NUL"),
        ({"a": {"b": 2**64}}, r"config\.a\.b: integer .* 64 bits"),
        ({"a": [object()]}, r"config\.a\[0\]: object is not a JSON value"),
        ({"a": {(1, 2): 1}}, r"config\.a: key \(1, 2\) is not text"),
    ],
)
def test_check_json_value_names_the_path_of_the_bad_part(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_json_value(value, "config")


def test_check_json_value_refuses_deep_values_iteratively() -> None:
    value: object = 1
    for _ in range(100_000):
        value = [value]
    with pytest.raises(ValueError, match=f"nested deeper than {MAX_DEPTH}"):
        check_json_value(value, "config")


def test_json_columns_keep_non_finite_floats() -> None:
    value = {"a": math.nan, "b": [math.inf, {"c": -math.inf}], "d": 1.5, "e": None}
    text = json_dumps(value)
    assert "NaN" not in text.replace('"NaN"', "")  # no bare token PostgreSQL refuses
    json.loads(text, parse_constant=lambda token: pytest.fail(f"bare {token}"))
    back = json_loads(text)
    assert math.isnan(back["a"]) and back["b"] == [math.inf, {"c": -math.inf}]
    assert back["d"] == 1.5 and back["e"] is None
    assert json_loads(json_dumps({"plain": [1, 2]})) == {"plain": [1, 2]}
    assert math.isinf(json_loads(json_dumps(math.inf)))


def test_table_cells_are_cut() -> None:
    cell = fmt_cell(list(range(10_000)))
    assert len(cell) == CELL_CHARS and cell.endswith("…") and cell.startswith("[0, 1, 2")
    assert fmt_cell("short") == "short"


def test_a_vouched_finite_object_reads_back_as_the_general_writer_writes_it() -> None:
    value = {
        "points": 3,
        "metrics": {"é": {"steps": [0, 2**62], "values": [0.1, -1e-310, "NaN"]}},
        "keys": ["a", "b"],
    }
    for given in (value, {**value, "big": 2**70}):  # past 64 bits: the general path
        text = json_dumps(FiniteJson(given))
        assert json_loads(text) == json_loads(json_dumps(given)) == given
