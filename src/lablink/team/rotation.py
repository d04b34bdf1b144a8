"""On-call rotations: whose turn it is at an instant, and the shifts over a range.

A rotation hands off weekly (``Mon 09:00``) or daily (``09:00``) in its own time zone,
so a hand-off stays at 09:00 local across DST changes. Turns count whole periods from
a fixed anchor (Monday 2024-01-01), so every process computes the same schedule with
no stored state. Someone away on the day is skipped (the next member covers). With
follow-the-sun, each moment goes to the first member, in turn order from the week's
owner, whose working hours cover it; when nobody's do, the turn's owner keeps it.
Overrides win over all of this.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from lablink.team.hours import DAYS, Week, fmt_minute, local_time, zone

ANCHOR = dt.date(2024, 1, 1)  # a Monday
MAX_RANGE_DAYS = 400


@dataclasses.dataclass(frozen=True)
class Override:
    """``person`` is on call from ``start`` to ``end`` (epoch seconds) in a rotation."""

    id: int
    rotation: str
    person: str
    start: float
    end: float
    created_by: str
    created_at: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Rotation:
    """A rotation's definition; ``handoff_day`` is None for a daily hand-off."""

    name: str
    members: tuple[str, ...]
    handoff_day: int | None
    handoff_minute: int
    tz: str
    follow_sun: bool = False
    escalate_after: float = 900.0
    fallback: str | None = None
    projects: tuple[str, ...] = ()

    @property
    def handoff(self) -> str:
        """The hand-off as typed: ``Mon 09:00`` or ``daily 09:00``."""
        day = "daily" if self.handoff_day is None else DAYS[self.handoff_day].title()
        return f"{day} {fmt_minute(self.handoff_minute)}"

    def covers(self, project: str | None) -> bool:
        """Whether incidents of ``project`` page this rotation (no list: every project)."""
        return not self.projects or project is None or project in self.projects

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "name": self.name,
            "members": list(self.members),
            "handoff": self.handoff,
            "daily": self.handoff_day is None,
            "tz": self.tz,
            "follow_the_sun": self.follow_sun,
            "escalate_after": self.escalate_after,
            "fallback": self.fallback,
            "projects": list(self.projects),
        }


@dataclasses.dataclass(frozen=True)
class Shift:
    """``person`` is on call in ``rotation`` from ``start`` to ``end``; ``why`` says how."""

    rotation: str
    person: str
    start: float
    end: float
    why: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)


def period_days(rotation: Rotation) -> int:
    """Days between hand-offs."""
    return 1 if rotation.handoff_day is None else 7


def turn_at(rotation: Rotation, at: float) -> tuple[int, float, float]:
    """The turn number at ``at`` and that turn's start and end (epoch seconds)."""
    tz = zone(rotation.tz)
    local = local_time(at, tz)
    day = local.date()
    if rotation.handoff_day is not None:
        day -= dt.timedelta(days=(day.weekday() - rotation.handoff_day) % 7)
    start = _instant(tz, day, rotation.handoff_minute)
    step = dt.timedelta(days=period_days(rotation))
    if start > at:
        day -= step
        start = _instant(tz, day, rotation.handoff_minute)
    end = _instant(tz, day + step, rotation.handoff_minute)
    turn = (day - ANCHOR).days // period_days(rotation)
    return turn, start, end


def _instant(tz: Any, day: dt.date, minute: int) -> float:
    return dt.datetime(
        day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=tz
    ).timestamp()


def _present(weeks: Mapping[str, Week], name: str, at: float) -> bool:
    week = weeks.get(name)
    return week is None or not week.is_away(week.local(at).date())


def _working(weeks: Mapping[str, Week], name: str, at: float) -> bool:
    week = weeks.get(name)
    return week is not None and week.state(at) in ("working", "focus")


def who(
    rotation: Rotation,
    weeks: Mapping[str, Week],
    overrides: Sequence[Override],
    at: float,
) -> tuple[str, str]:
    """Who is on call at ``at`` and why."""
    for o in overrides:
        if o.rotation == rotation.name and o.start <= at < o.end:
            return o.person, f"override by {o.created_by}"
    members = rotation.members
    turn, _, _ = turn_at(rotation, at)
    first = turn % len(members)
    order = [members[(first + i) % len(members)] for i in range(len(members))]
    owner = order[0]
    if rotation.follow_sun:
        for name in order:
            if _working(weeks, name, at):  # an away day is never "working"
                return name, "follow-the-sun: in working hours" + (
                    "" if name == owner else f" ({owner}'s turn)"
                )
    for name in order:
        if _present(weeks, name, at):
            if name == owner:
                return name, f"turn {turn} of the rotation"
            return name, f"covers for {owner}, who is away"
    return owner, f"turn {turn} of the rotation (everyone is away)"


def escalation(
    rotation: Rotation, weeks: Mapping[str, Week], overrides: Sequence[Override], at: float
) -> list[tuple[str, str]]:
    """Whom to page in order: who is on call, the next member present, then the fallback."""
    person, why = who(rotation, weeks, overrides, at)
    chain = [(person, f"on call in {rotation.name}: {why}")]
    members = rotation.members
    if person in members and len(members) > 1:
        i = members.index(person)
        for step in range(1, len(members)):
            name = members[(i + step) % len(members)]
            if _present(weeks, name, at):
                chain.append((name, f"next in {rotation.name} after {person}"))
                break
    if rotation.fallback and rotation.fallback not in {n for n, _ in chain}:
        chain.append((rotation.fallback, f"fallback of {rotation.name}"))
    return chain


def _changes(
    rotation: Rotation,
    weeks: Mapping[str, Week],
    overrides: Sequence[Override],
    start: float,
    end: float,
) -> list[float]:
    """Every instant in ``(start, end)`` where the person on call may change."""
    points = {start, end}
    at = start
    while at < end:
        _, _, turn_end = turn_at(rotation, at)
        points.add(min(turn_end, end))
        at = turn_end
    for o in overrides:
        if o.rotation == rotation.name:
            points.update(p for p in (o.start, o.end) if start < p < end)
    for name in rotation.members:
        week = weeks.get(name)
        if week is None:
            continue
        if rotation.follow_sun:
            for a, b in week.intervals(start, end, "hours"):
                points.update((a, b))
        for first, last in week.away:  # away days begin and end at local midnight
            for t in (week.instant(first, 0), week.instant(last + dt.timedelta(days=1), 0)):
                if start < t < end:
                    points.add(t)
    return sorted(p for p in points if start <= p <= end)


def shifts(
    rotation: Rotation,
    weeks: Mapping[str, Week],
    overrides: Sequence[Override],
    start: float,
    end: float,
) -> list[Shift]:
    """The shifts between ``start`` and ``end``: one per stretch with the same person."""
    if end - start > MAX_RANGE_DAYS * 86400:
        end = start + MAX_RANGE_DAYS * 86400
    out: list[Shift] = []
    points = _changes(rotation, weeks, overrides, start, end)
    for a, b in itertools.pairwise(points):
        if b <= a:
            continue
        person, why = who(rotation, weeks, overrides, a)
        if out and out[-1].person == person and out[-1].end == a:
            last = out[-1]
            out[-1] = Shift(rotation.name, person, last.start, b, last.why)
        else:
            out.append(Shift(rotation.name, person, a, b, why))
    return out


def current(
    rotation: Rotation, weeks: Mapping[str, Week], overrides: Sequence[Override], at: float
) -> tuple[Shift, Shift | None]:
    """The shift under way at ``at`` and the next one.

    Looks a day either side first (follow-the-sun shifts last hours), then a whole
    period, so ``oncall now`` stays cheap with many rotations.
    """
    period = period_days(rotation) * 86400.0
    widest = period + 86400.0
    spans = (86400.0, 3 * 86400.0, widest) if rotation.follow_sun else (widest,)
    for span in spans:
        found = shifts(rotation, weeks, overrides, at - span, at + span)
        i = next(k for k, s in enumerate(found) if s.start <= at < s.end)
        now, nxt = found[i], found[i + 1] if i + 1 < len(found) else None
        if nxt is not None and found[0].start < now.start:
            return now, nxt  # both edges of the shift under way are inside the window
    return now, nxt
