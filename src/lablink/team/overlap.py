"""Core hours: when, in an ISO week, all (or at least k) teammates are free together.

"Free" is inside working hours and outside focus blocks, on a day the person is not
away. Each person's local intervals are turned into UTC instants with zoneinfo, so a
DST change inside the week (London and Los Angeles change on different Sundays) moves
the overlap on exactly the days it should. A sweep over the interval edges counts who
is free in each stretch; a stretch with at least ``k`` people is an overlap.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from lablink.errors import InvalidInput, NotFound
from lablink.team.hours import UTC, Week

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def week_range(text: str | None, now: float) -> tuple[str, float, float]:
    """``2026-W50`` (or this week) as its label and its UTC Monday-to-Monday range."""
    if text is None:
        year, number, _ = dt.datetime.fromtimestamp(now, UTC).isocalendar()
    else:
        match = _WEEK.match(text.strip().upper())
        if not match:
            raise InvalidInput(f"week: {text!r} is not an ISO week", "write it like 2026-W50")
        year, number = int(match.group(1)), int(match.group(2))
    try:
        monday = dt.date.fromisocalendar(year, number, 1)
    except ValueError:
        raise InvalidInput(
            f"week: {year} has no week {number}", "weeks run 1 to 52 or 53"
        ) from None
    start = dt.datetime(monday.year, monday.month, monday.day, tzinfo=UTC).timestamp()
    return f"{year}-W{number:02d}", start, start + 7 * 86400


def local_span(week: Week, start: float, end: float) -> str:
    """``Tue 16:00-17:30 GMT`` in ``week``'s zone (both days when it crosses midnight)."""
    a, b = week.local(start), week.local(end)
    if a.date() == b.date():
        return f"{a:%a %H:%M}-{b:%H:%M} {a:%Z}"
    return f"{a:%a %H:%M}-{b:%a %H:%M} {b:%Z}"


@dataclasses.dataclass(frozen=True)
class Slot:
    """A stretch of time with the people free in it."""

    start: float
    end: float
    people: tuple[str, ...]

    @property
    def minutes(self) -> int:
        """Its length in whole minutes."""
        return round((self.end - self.start) / 60)

    def to_dict(self, weeks: Sequence[Week]) -> dict[str, Any]:
        """With the start and end in each member's local time."""
        local = {w.name: local_span(w, self.start, self.end) for w in weeks}
        return {
            "start": self.start,
            "end": self.end,
            "utc": f"{dt.datetime.fromtimestamp(self.start, UTC):%a %Y-%m-%d %H:%M}-"
            f"{dt.datetime.fromtimestamp(self.end, UTC):%H:%M} UTC",
            "minutes": self.minutes,
            "people": list(self.people),
            "local": local,
        }


@dataclasses.dataclass(frozen=True)
class Overlap:
    """A week's overlaps, the best slot of each UTC day and an hourly heat-map."""

    week: str
    start: float
    k: int
    members: tuple[Week, ...]
    slots: tuple[Slot, ...]
    best: tuple[Slot | None, ...]  # one per day, Monday first
    heat: tuple[tuple[float, ...], ...]  # [day][hour]: people free on average

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        weeks = self.members
        return {
            "week": self.week,
            "start": self.start,
            "min": self.k,
            "members": [{"name": w.name, "tz": w.tz} for w in weeks],
            "slots": [s.to_dict(weeks) for s in self.slots],
            "best": [s.to_dict(weeks) if s else None for s in self.best],
            "heat": [list(row) for row in self.heat],
        }


def overlap(weeks: Sequence[Week], week: str | None, k: int | None, now: float) -> Overlap:
    """The stretches of ``week`` where at least ``k`` (default: all) of ``weeks`` are free.

    Raises:
        InvalidInput: a bad week, or ``k`` outside 1..members.
        NotFound: the team has nobody.
    """
    label, start, end = week_range(week, now)
    if not weeks:
        raise NotFound("overlap: the team has nobody", "add people with `lablink team add`")
    n = len(weeks)
    need = n if k is None else k
    if not 1 <= need <= n:
        raise InvalidInput(f"min: {k} is not between 1 and the team's {n} people")
    edges: list[tuple[float, int, str]] = []
    for w in weeks:
        for a, b in w.intervals(start, end):
            edges.append((a, 1, w.name))
            edges.append((b, -1, w.name))
    edges.sort(key=lambda e: (e[0], e[1]))
    free: set[str] = set()
    stretches: list[Slot] = []
    last = start
    for at, delta, name in edges:
        if at > last and free:
            stretches.append(Slot(last, at, tuple(sorted(free))))
        if delta > 0:
            free.add(name)
        else:
            free.discard(name)
        last = at
    slots = _join([s for s in stretches if len(s.people) >= need])
    return Overlap(
        label, start, need, tuple(weeks), tuple(slots), _best(slots, start), _heat(stretches, start)
    )


def _join(slots: list[Slot]) -> list[Slot]:
    out: list[Slot] = []
    for s in slots:
        if out and out[-1].end == s.start and out[-1].people == s.people:
            out[-1] = Slot(out[-1].start, s.end, s.people)
        else:
            out.append(s)
    return out


def _best(slots: Sequence[Slot], start: float) -> tuple[Slot | None, ...]:
    """Per UTC day: the slot with the most people, then the longest, then the earliest."""
    best: list[Slot | None] = [None] * 7
    for s in slots:
        day = int((s.start - start) // 86400)
        if not 0 <= day < 7:
            continue
        cur = best[day]
        if cur is None or (len(s.people), s.end - s.start) > (len(cur.people), cur.end - cur.start):
            best[day] = s
    return tuple(best)


def _heat(stretches: Sequence[Slot], start: float) -> tuple[tuple[float, ...], ...]:
    """People free in each UTC hour of the week, averaged over the hour."""
    cells = [0.0] * (7 * 24)
    for s in stretches:
        at = s.start
        while at < s.end:
            hour = int((at - start) // 3600)
            upto = min(s.end, start + (hour + 1) * 3600)
            if 0 <= hour < len(cells):
                cells[hour] += len(s.people) * (upto - at) / 3600
            at = upto
    return tuple(tuple(round(c, 2) for c in cells[d * 24 : (d + 1) * 24]) for d in range(7))
