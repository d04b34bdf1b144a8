"""On-call shifts as an iCalendar file (RFC 5545) with the ``icalendar`` library."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence

from lablink.team.rotation import Shift


def shifts_ics(rotation: str, shifts: Sequence[Shift], made_at: float) -> bytes:
    """One VEVENT per shift, times in UTC, with a UID stable across exports."""
    from icalendar import Calendar, Event

    cal = Calendar()
    cal.add("prodid", "-//lablink//on-call//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", f"lablink on-call: {rotation}")
    stamp = dt.datetime.fromtimestamp(made_at, dt.UTC)
    for shift in shifts:
        event = Event()
        key = f"{rotation}|{shift.person}|{shift.start:.0f}"
        event.add("uid", hashlib.sha256(key.encode()).hexdigest()[:24] + "@lablink")
        event.add("summary", f"On call: {shift.person} ({rotation})")
        event.add("description", shift.why)
        event.add("dtstart", dt.datetime.fromtimestamp(shift.start, dt.UTC))
        event.add("dtend", dt.datetime.fromtimestamp(shift.end, dt.UTC))
        event.add("dtstamp", stamp)
        event.add("transp", "TRANSPARENT")  # being on call does not block a calendar
        cal.add_component(event)
    return bytes(cal.to_ical())
