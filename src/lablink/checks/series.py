"""One metric's points in a batch, checked into int64/float64 arrays (no I/O).

JSON batches arrive as Python lists. Every element is type-checked (no ``"7"`` or
``true`` for a number, anywhere in the list), and integer steps are converted to int64
directly, so steps up to 2^62 stay exact instead of passing through float64 (exact
only to 2^53). Binary batches arrive as numpy arrays already and get the shared checks.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from lablink.checks.wire_numbers import MAX_WIRE_INT, STEPS_RULE
from lablink.errors import InvalidInput

Columns = tuple[np.ndarray, np.ndarray, np.ndarray]

_INT: frozenset[type] = frozenset({int})
_NUMBER: frozenset[type] = frozenset({int, float})
_VALUE: frozenset[type] = frozenset({int, float, type(None)})


def check_series(key: str, series: Any) -> Columns:
    """``{"steps", "times", "values"}`` of metric ``key`` as (int64, float64, float64).

    Raises:
        InvalidInput: naming the metric and what is wrong; nothing is stored then.
    """
    if not isinstance(series, Mapping):
        raise InvalidInput(f"metric {key!r}: expected an object with steps, times and values")
    try:
        steps, times, values = series["steps"], series["times"], series["values"]
    except KeyError as exc:
        raise InvalidInput(f"metric {key!r}: missing {exc.args[0]!r}") from exc
    if all(isinstance(c, np.ndarray) for c in (steps, times, values)):
        return check_arrays(key, steps, times, values)  # decoded from the binary format
    if not (isinstance(steps, list) and isinstance(times, list) and isinstance(values, list)):
        raise InvalidInput(f"metric {key!r}: steps, times and values must be lists")
    if not len(steps) == len(times) == len(values):
        raise InvalidInput(f"metric {key!r}: steps, times and values differ in length")
    _check_types(key, "steps", steps, _NUMBER)
    _check_types(key, "times", times, _NUMBER)
    _check_types(key, "values", values, _VALUE)
    try:
        w = np.asarray(times, dtype=np.float64)
        v = np.asarray([math.nan if x is None else x for x in values], dtype=np.float64)
    except OverflowError as exc:  # an integer past float64's range (10**400)
        raise InvalidInput(f"metric {key!r}: every time and value must be a number") from exc
    return check_arrays(key, _steps(key, steps), w, v)


def _check_types(key: str, name: str, column: list[Any], allowed: frozenset[type]) -> None:
    # set(map(type, ...)) runs in C: cheap next to parsing the JSON these came from.
    kinds = set(map(type, column))
    if kinds <= allowed:
        return
    if kinds & {list, dict}:
        raise InvalidInput(f"metric {key!r}: {name} must be flat lists of numbers")
    odd = sorted(k.__name__ for k in kinds - allowed)
    raise InvalidInput(
        f"metric {key!r}: every one of {name} must be a number, not {', '.join(odd)}"
    )


def _steps(key: str, steps: list[Any]) -> np.ndarray:
    """Steps as int64, exact: integers go straight to int64, never through float64."""
    refused = InvalidInput(f"metric {key!r}: {STEPS_RULE}")
    if set(map(type, steps)) <= _INT:
        try:
            return np.asarray(steps, dtype=np.int64)
        except OverflowError:
            raise refused from None
    as_float = np.asarray(steps, dtype=np.float64)  # some steps are floats such as 3.0
    if len(as_float) and (
        not np.all(np.isfinite(as_float))
        or np.any(as_float != np.round(as_float))
        or as_float.min() < 0
        or as_float.max() > MAX_WIRE_INT
    ):  # checked before the int64 conversion, which would wrap out-of-range steps
        raise refused
    return np.asarray([int(s) for s in steps], dtype=np.int64)


def check_arrays(key: str, steps: np.ndarray, times: np.ndarray, values: np.ndarray) -> Columns:
    """Shared checks once the columns are int64/float64 arrays of one length."""
    if not len(steps) == len(times) == len(values):
        raise InvalidInput(f"metric {key!r}: steps, times and values differ in length")
    if len(steps) and (steps.min() < 0 or steps.max() > MAX_WIRE_INT):
        raise InvalidInput(f"metric {key!r}: {STEPS_RULE}")
    if len(times) and not np.all(np.isfinite(times)):
        raise InvalidInput(f"metric {key!r}: times must be finite numbers (UNIX seconds)")
    return steps, times, values


def check_columns(keys: Sequence[str], steps: np.ndarray, times: np.ndarray) -> None:
    """``check_arrays`` over a batch given as columns, one point a row with its key, in
    one pass for every key.

    A thousand keys of one point each (an MLflow batch) cost one numpy pass here, not a
    thousand. The message is the one ``check_series`` gives, key by key in order of
    first appearance, for the first key with a bad point.

    Raises:
        InvalidInput: naming the metric and what is wrong.
    """
    if not len(keys) == len(steps) == len(times):
        raise InvalidInput("keys, steps and times differ in length")
    bad_steps = (steps < 0) | (steps > MAX_WIRE_INT)
    bad_times = ~np.isfinite(times)
    if not (bad_steps.any() or bad_times.any()):
        return
    wrong_steps = {keys[i] for i in np.flatnonzero(bad_steps).tolist()}
    wrong_times = {keys[i] for i in np.flatnonzero(bad_times).tolist()}
    for key in dict.fromkeys(keys):
        if key in wrong_steps:
            raise InvalidInput(f"metric {key!r}: {STEPS_RULE}")
        if key in wrong_times:
            raise InvalidInput(f"metric {key!r}: times must be finite numbers (UNIX seconds)")


class PointColumns(Mapping[str, Columns]):
    """A checked batch of one point per key, kept as columns.

    It reads as the per-key batch (``key -> (steps, times, values)``) that observers
    take, building a key's arrays only when asked for it: most batches are never read
    key by key.
    """

    def __init__(
        self, keys: Sequence[str], steps: np.ndarray, times: np.ndarray, values: np.ndarray
    ) -> None:
        self._keys = list(keys)
        self._columns = (steps, times, values)
        self._rows: dict[str, int] | None = None

    def _row(self, key: str) -> int:
        if self._rows is None:
            self._rows = {k: i for i, k in enumerate(self._keys)}
        return self._rows[key]

    def __getitem__(self, key: str) -> Columns:
        i = self._row(key)
        steps, times, values = self._columns
        return steps[i : i + 1], times[i : i + 1], values[i : i + 1]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)
