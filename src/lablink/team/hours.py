"""A teammate's week: time zone, working hours per weekday, focus blocks, away periods.

Everything is parsed here from the text people type (``--hours "Mon-Thu 08:00-16:00"``,
``--focus "Tue,Thu 13:00-16:00"``, ``--away 2026-12-24..2027-01-02``) into minutes of
the local day, so "is ana working at this instant" is a zoneinfo conversion and a few
comparisons. Local times are converted with zoneinfo, so DST changes are exact: 09:00
in London is 09:00 GMT in winter and 09:00 BST in summer. Every error names the field.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
import re
from collections.abc import Iterator, Sequence
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lablink.errors import InvalidInput

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WORKDAYS = (0, 1, 2, 3, 4)
DAY_MINUTES = 24 * 60
_SPAN = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
UTC = dt.UTC

# A weekday's intervals as (start, end) minutes of the local day, end exclusive.
Spans = tuple[tuple[int, int], ...]


@functools.cache
def zone(name: str, field: str = "tz") -> ZoneInfo:
    """The IANA zone ``name`` (Europe/London, America/Los_Angeles, UTC).

    Raises:
        InvalidInput: not an IANA zone name.
    """
    if not isinstance(name, str) or not name or name.startswith(("/", ".")) or ".." in name:
        raise InvalidInput(f"{field}: {name!r} is not an IANA time zone", _TZ_HINT)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInput(f"{field}: {name!r} is not an IANA time zone", _TZ_HINT) from None


_TZ_HINT = "write a zone like Europe/London, America/Los_Angeles, Asia/Tokyo or UTC"


def parse_days(text: str, field: str) -> tuple[int, ...]:
    """``Mon-Thu``, ``Tue,Thu``, ``Sat`` or ``daily`` as weekday numbers (Monday is 0)."""
    clean = text.strip().lower()
    if clean in ("daily", "every", "all"):
        return tuple(range(7))
    if clean in ("weekdays", "workdays"):
        return WORKDAYS
    found: list[int] = []
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        a, b = _day(first), _day(last) if last else _day(first)
        if a is None or b is None:
            raise InvalidInput(
                f"{field}: {part.strip()!r} is not a weekday",
                "write days as Mon, Tue, ... Sun, ranges like Mon-Thu, or lists like Tue,Thu",
            )
        found.extend(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return tuple(sorted(set(found)))


def _day(text: str) -> int | None:
    """Monday is 0: ``mon``, ``Monday``, ``tues``, ``THU``; None for anything else."""
    word = text.strip().lower()
    for i, name in enumerate(_FULL_DAYS):
        if len(word) >= 3 and name.startswith(word):
            return i
    return None


_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def parse_span(text: str, field: str) -> tuple[int, int]:
    """``09:00-17:30`` as minutes of the day; ``24:00`` may end a span."""
    match = _SPAN.match(text.strip())
    if not match:
        raise InvalidInput(f"{field}: {text!r} is not a time span", "write HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if h1 > 23 or m1 > 59 or m2 > 59 or end > DAY_MINUTES:
        raise InvalidInput(f"{field}: {text!r} has a time that does not exist", "write HH:MM-HH:MM")
    if end <= start:
        raise InvalidInput(
            f"{field}: {text!r} ends before it starts",
            "split a night across midnight: 'Mon 22:00-24:00' and 'Tue 00:00-06:00'",
        )
    return start, end


def parse_day_spans(
    text: str, field: str, default_days: Sequence[int]
) -> dict[int, tuple[int, int]]:
    """``[DAYS] HH:MM-HH:MM``: the span on each of its days (``default_days`` without DAYS)."""
    parts = text.strip().rsplit(None, 1)
    if len(parts) == 2:
        days, span = parse_days(parts[0], field), parse_span(parts[1], field)
    else:
        days, span = tuple(default_days), parse_span(text, field)
    return dict.fromkeys(days, span)


def parse_hours(specs: Sequence[str]) -> dict[int, Spans]:
    """Working hours: a bare span covers Mon-Fri, a span with days replaces those days."""
    if not specs:
        raise InvalidInput("hours: give working hours", "pass --hours 09:00-17:30")
    week: dict[int, list[tuple[int, int]]] = {}
    named: dict[int, list[tuple[int, int]]] = {}
    for spec in specs:
        has_days = len(spec.strip().split()) > 1
        for day, span in parse_day_spans(spec, "hours", WORKDAYS).items():
            (named if has_days else week).setdefault(day, []).append(span)
    week.update(named)  # spans given for named days replace the Mon-Fri default there
    return {day: merge(spans) for day, spans in sorted(week.items())}


def parse_focus(specs: Sequence[str], hours: dict[int, Spans]) -> dict[int, Spans]:
    """Focus blocks; each must overlap some working hours on each of its days."""
    week: dict[int, list[tuple[int, int]]] = {}
    for spec in specs:
        for day, (start, end) in parse_day_spans(spec, "focus", sorted(hours)).items():
            if not any(s < end and start < e for s, e in hours.get(day, ())):
                raise InvalidInput(
                    f"focus: {spec!r} overlaps no working hours on {DAYS[day].title()}",
                    "a focus block protects time inside working hours; check --hours",
                )
            week.setdefault(day, []).append((start, end))
    return {day: merge(spans) for day, spans in sorted(week.items())}


def parse_away(specs: Sequence[str]) -> tuple[tuple[dt.date, dt.date], ...]:
    """``2026-12-24..2027-01-02`` (inclusive) or one date, as date pairs."""
    periods: list[tuple[dt.date, dt.date]] = []
    for spec in specs:
        first, _, last = spec.strip().partition("..")
        try:
            a = dt.date.fromisoformat(first.strip())
            b = dt.date.fromisoformat(last.strip()) if last else a
        except ValueError:
            raise InvalidInput(
                f"away: {spec!r} is not a date or a date range",
                "write 2026-12-24..2027-01-02 (both days included) or one date",
            ) from None
        if b < a:
            raise InvalidInput(f"away: {spec!r} ends before it starts", "write FIRST..LAST")
        periods.append((a, b))
    return tuple(sorted(periods))


def merge(spans: Sequence[tuple[int, int]]) -> Spans:
    """Sorted, non-overlapping spans."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return tuple(out)


def subtract(spans: Spans, holes: Spans) -> Spans:
    """``spans`` minus ``holes``."""
    out: list[tuple[int, int]] = []
    for start, end in spans:
        cursor = start
        for h1, h2 in holes:
            if h2 <= cursor or h1 >= end:
                continue
            if h1 > cursor:
                out.append((cursor, h1))
            cursor = max(cursor, h2)
        if cursor < end:
            out.append((cursor, end))
    return tuple(out)


def fmt_span(span: tuple[int, int]) -> str:
    """``09:00-17:30``."""
    return f"{fmt_minute(span[0])}-{fmt_minute(span[1])}"


def fmt_minute(minute: int) -> str:
    """``HH:MM`` for a minute of the day (``24:00`` for the end of it)."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


@dataclasses.dataclass(frozen=True)
class Week:
    """One person's parsed week; ``free`` is working hours minus focus blocks."""

    name: str
    tz: str
    hours: dict[int, Spans]
    focus: dict[int, Spans]
    away: tuple[tuple[dt.date, dt.date], ...]
    zone: ZoneInfo = dataclasses.field(compare=False, repr=False)
    free: dict[int, Spans] = dataclasses.field(compare=False, repr=False)

    @classmethod
    def build(
        cls,
        name: str,
        tz: str,
        hours: dict[int, Spans],
        focus: dict[int, Spans],
        away: tuple[tuple[dt.date, dt.date], ...],
    ) -> Week:
        """A week with its zone loaded and its free time computed."""
        free = {d: subtract(s, focus.get(d, ())) for d, s in hours.items()}
        return cls(name, tz, hours, focus, away, zone(tz), free)

    def local(self, at: float) -> dt.datetime:
        """The local time at the epoch second ``at`` (see ``local_time``)."""
        return local_time(at, self.zone)

    def is_away(self, day: dt.date) -> bool:
        """Whether ``day`` (a local date) falls in an away period."""
        return any(a <= day <= b for a, b in self.away)

    def state(self, at: float) -> str:
        """``working``, ``focus``, ``off`` (outside hours) or ``away`` at ``at``."""
        local = self.local(at)
        if self.is_away(local.date()):
            return "away"
        minute = local.hour * 60 + local.minute
        day = local.weekday()
        if not _inside(self.hours.get(day, ()), minute):
            return "off"
        return "focus" if _inside(self.focus.get(day, ()), minute) else "working"

    def intervals(
        self, start: float, end: float, kind: str = "free"
    ) -> Iterator[tuple[float, float]]:
        """UTC epoch intervals of ``free`` time (or ``hours``) between ``start`` and ``end``,
        away days left out, clipped to the range."""
        table = self.free if kind == "free" else self.hours
        day = dt.datetime.fromtimestamp(start, self.zone).date() - dt.timedelta(days=1)
        last = dt.datetime.fromtimestamp(end, self.zone).date() + dt.timedelta(days=1)
        while day <= last:
            if not self.is_away(day):
                for a, b in table.get(day.weekday(), ()):
                    s, e = self.instant(day, a), self.instant(day, b)
                    s, e = max(s, start), min(e, end)
                    if s < e:
                        yield s, e
            day += dt.timedelta(days=1)

    def instant(self, day: dt.date, minute: int) -> float:
        """The epoch second of ``minute`` of local ``day`` (a 24:00 is the next midnight).

        A local time skipped by a DST change maps to the same wall time before the
        change, one hour later in the new offset: what a calendar does too.
        """
        base = dt.datetime(day.year, day.month, day.day, tzinfo=self.zone)
        if minute >= DAY_MINUTES:
            nxt = day + dt.timedelta(days=1)
            return dt.datetime(nxt.year, nxt.month, nxt.day, tzinfo=self.zone).timestamp()
        return base.replace(hour=minute // 60, minute=minute % 60).timestamp()

    def next_free(self, at: float, horizon_days: int = 400) -> float | None:
        """The first instant at or after ``at`` inside free time, or None within the horizon."""
        for start, end in self.intervals(at, at + horizon_days * 86400.0):
            if end > at:
                return max(start, at)
        return None

    def describe(self) -> dict[str, Any]:
        """The week as text, as people typed it."""
        return {
            "tz": self.tz,
            "hours": {
                DAYS[d].title(): [fmt_span(s) for s in spans] for d, spans in self.hours.items()
            },
            "focus": {
                DAYS[d].title(): [fmt_span(s) for s in spans] for d, spans in self.focus.items()
            },
            "away": [f"{a.isoformat()}..{b.isoformat()}" for a, b in self.away],
        }


def local_time(at: float, tz: dt.tzinfo) -> dt.datetime:
    """The local time in ``tz`` at the epoch second ``at``, to the whole second below.

    Every boundary (a handoff, working hours, an away day) falls on a whole second, and
    ``fromtimestamp`` rounds to the microsecond: an instant a fraction of a microsecond
    before midnight would be read as midnight, past a boundary it has not reached.
    """
    return dt.datetime.fromtimestamp(math.floor(at), tz)


def _inside(spans: Spans, minute: int) -> bool:
    return any(s <= minute < e for s, e in spans)


def hours_to_json(week: dict[int, Spans]) -> dict[str, list[list[int]]]:
    """A week table for a JSON column."""
    return {str(d): [list(s) for s in spans] for d, spans in week.items()}


def hours_from_json(data: Any) -> dict[int, Spans]:
    """The inverse of ``hours_to_json``."""
    return {int(d): tuple((int(a), int(b)) for a, b in spans) for d, spans in (data or {}).items()}


def away_to_json(away: tuple[tuple[dt.date, dt.date], ...]) -> list[list[str]]:
    """Away periods for a JSON column."""
    return [[a.isoformat(), b.isoformat()] for a, b in away]


def away_from_json(data: Any) -> tuple[tuple[dt.date, dt.date], ...]:
    """The inverse of ``away_to_json``."""
    return tuple((dt.date.fromisoformat(a), dt.date.fromisoformat(b)) for a, b in data or ())


def week_text(table: dict[str, list[str]]) -> str:
    """``Mon-Thu 09:00-17:30; Fri 09:00-13:00``: runs of days with the same spans."""
    groups: list[tuple[list[str], str]] = []
    for day, spans in table.items():
        text = ",".join(spans)
        after = groups and DAYS.index(groups[-1][0][-1].lower()) + 1 == DAYS.index(day.lower())
        if after and groups[-1][1] == text:
            groups[-1][0].append(day)
        else:
            groups.append(([day], text))
    return "; ".join(
        f"{days[0]}-{days[-1]} {text}" if len(days) > 1 else f"{days[0]} {text}"
        for days, text in groups
    )
