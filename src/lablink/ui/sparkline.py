"""An incident's metric window as an SVG drawn on the server: points, axes, the trigger.

No script runs for it (the incidents page works with scripts off), so everything the
template draws is computed here in pixel coordinates. Non-finite values cannot sit on
the y axis: they are drawn as marks along the top edge, each labelled with what it was
(``NaN``, ``+inf``, ``-inf``), never lumped together as "nan".
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

WIDTH, HEIGHT = 480.0, 150.0
LEFT, RIGHT, TOP, BOTTOM = 56.0, 12.0, 16.0, 24.0


@dataclasses.dataclass(frozen=True)
class Point:
    """One finite point: pixel position and what its tooltip says."""

    x: float
    y: float
    label: str


@dataclasses.dataclass(frozen=True)
class Mark:
    """A non-finite value, drawn on the top edge at its x position."""

    x: float
    word: str
    label: str


@dataclasses.dataclass(frozen=True)
class Sparkline:
    """Everything ``_incident.html`` draws for one window."""

    points: Sequence[Point]
    marks: Sequence[Mark]
    polyline: str
    lo: float
    hi: float
    x0: float
    x1: float
    trigger: Point | Mark | None
    width: float = WIDTH
    height: float = HEIGHT
    left: float = LEFT
    right: float = WIDTH - RIGHT
    top: float = TOP
    bottom: float = HEIGHT - BOTTOM


def word_for(value: Any) -> str | None:
    """``NaN``, ``+inf`` or ``-inf`` for a non-finite value (a float or the stored text)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "NaN"  # unreadable evidence is no number either
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+inf" if number > 0 else "-inf"
    return None


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def sparkline(
    xs: Sequence[Any], ys: Sequence[Any], trigger_x: float | None = None, x_name: str = "step"
) -> Sparkline | None:
    """The window ``(xs, ys)`` in pixels; ``trigger_x`` picks the point that fired."""
    pairs = [(float(x), y) for x, y in zip(xs, ys, strict=False)]
    if not pairs:
        return None
    finite = [float(y) for _, y in pairs if word_for(y) is None]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    if hi == lo:
        lo, hi = lo - 1.0, hi + 1.0
    x0, x1 = pairs[0][0], pairs[-1][0]
    span = (x1 - x0) or 1.0

    def px(x: float) -> float:
        return round(LEFT + (x - x0) / span * (WIDTH - RIGHT - LEFT), 1)

    def py(y: float) -> float:
        return round(HEIGHT - BOTTOM - (y - lo) / (hi - lo) * (HEIGHT - BOTTOM - TOP), 1)

    points: list[Point] = []
    marks: list[Mark] = []
    trigger: Point | Mark | None = None
    for x, y in pairs:
        word = word_for(y)
        x_label = f"{x_name} {x:g}"
        item: Point | Mark
        if word is None:
            item = Point(px(x), py(float(y)), f"{x_label}: {_fmt(float(y))}")
            points.append(item)
        else:
            item = Mark(px(x), word, f"{x_label}: {word}")
            marks.append(item)
        if trigger_x is not None and x == trigger_x:
            trigger = item
    polyline = " ".join(f"{p.x},{p.y}" for p in points)
    return Sparkline(points, marks, polyline, lo, hi, x0, x1, trigger)
