"""The pure parts of team operations: parsing, weeks across DST, rotations (issue 20)."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from team_support import utc

from lablink.errors import InvalidInput
from lablink.team import hours as h
from lablink.team.rotation import Override, Rotation, current, shifts, turn_at, who

ZONES = ("Europe/London", "America/Los_Angeles", "Asia/Tokyo", "Australia/Sydney", "UTC",
         "Asia/Kolkata", "America/Sao_Paulo")  # fmt: skip


def week(
    name: str, tz: str, hours: list[str], focus: list[str] = (), away: list[str] = ()
) -> h.Week:  # type: ignore[assignment]
    parsed = h.parse_hours(hours)
    return h.Week.build(name, tz, parsed, h.parse_focus(focus, parsed), h.parse_away(away))


def test_days_and_spans_parse_as_people_write_them() -> None:
    assert h.parse_days("Mon-Thu", "hours") == (0, 1, 2, 3)
    assert h.parse_days("Fri-Mon", "hours") == (0, 4, 5, 6)
    assert h.parse_days("tue, thursday", "focus") == (1, 3)
    with pytest.raises(InvalidInput, match="'monkey' is not a weekday"):
        h.parse_days("monkey", "focus")
    assert h.parse_span("09:00-24:00", "hours") == (540, 1440)
    hours = h.parse_hours(["09:00-17:30", "Fri 09:00-13:00", "Sat 10:00-11:00"])
    assert hours[0] == ((540, 1050),) and hours[4] == ((540, 780),) and 6 not in hours
    with pytest.raises(InvalidInput, match=r"^hours: 'Moonday' is not a weekday"):
        h.parse_hours(["Moonday 09:00-10:00"])
    with pytest.raises(InvalidInput, match="ends before it starts"):
        h.parse_span("22:00-06:00", "hours")
    with pytest.raises(InvalidInput, match=r"^tz: "):
        h.zone("../etc/passwd")


def test_a_week_follows_each_zone_across_its_own_dst_change() -> None:
    ana = week(
        "ana", "Europe/London", ["09:00-17:30"], ["Tue 13:00-16:00"], ["2026-12-24..2027-01-02"]
    )
    assert ana.state(utc("2026-03-27T08:30")) == "off"  # Friday 08:30 GMT
    assert ana.state(utc("2026-03-30T08:30")) == "working"  # Monday 09:30 BST
    assert ana.state(utc("2026-03-31T13:30")) == "focus"  # Tuesday 14:30 BST
    assert ana.state(utc("2026-12-28T10:00")) == "away"
    # Friday evening: free again on Monday 09:00 local, whichever offset that is
    assert ana.next_free(utc("2026-03-27T18:00")) == utc("2026-03-30T08:00")
    assert ana.next_free(utc("2026-12-23T18:00")) == utc("2027-01-04T09:00")


@settings(max_examples=60, deadline=None)
@given(
    tz=st.sampled_from(ZONES),
    start=st.integers(0, 20),
    length=st.integers(1, 8),
    at=st.floats(utc("2026-01-01T00:00"), utc("2026-12-31T00:00")),
)
def test_free_intervals_are_ordered_and_free_inside(
    tz: str, start: int, length: int, at: float
) -> None:
    w = week("x", tz, [f"Mon-Sun {start:02d}:00-{min(start + length, 24):02d}:00"])
    found = list(w.intervals(at, at + 3 * 86400))
    for (a, b), (c, _) in itertools.pairwise(found):
        assert a < b <= c
    for a, b in found:
        assert at <= a < b <= at + 3 * 86400
        # its first instant and one just before its end (a midpoint of a sliver a
        # float apart would round onto the end, which is outside)
        assert w.state(a) == w.state(max(a, b - 1e-3)) == "working"
    if found:
        assert w.next_free(at) == found[0][0]


def test_a_weekly_hand_off_stays_at_nine_local_across_dst() -> None:
    rot = Rotation("r", ("ana", "kenji"), 0, 540, "Europe/London")
    _, winter, _ = turn_at(rot, utc("2026-03-25T12:00"))
    _, summer, end = turn_at(rot, utc("2026-04-01T12:00"))
    assert winter == utc("2026-03-23T09:00") and summer == utc("2026-03-30T08:00")
    assert end == utc("2026-04-06T08:00")
    assert (
        who(rot, {}, [], utc("2026-03-25T12:00"))[0] != who(rot, {}, [], utc("2026-04-01T12:00"))[0]
    )


@settings(max_examples=40, deadline=None)
@given(
    at=st.floats(utc("2026-01-01T00:00"), utc("2026-12-31T00:00")),
    sun=st.booleans(),
    daily=st.booleans(),
)
# A fraction of a microsecond before a boundary, which fromtimestamp rounds up to it.
@example(at=utc("2026-12-31T00:00") - 2.4e-7, sun=True, daily=False)
@example(at=utc("2026-03-23T09:00") - 2.4e-7, sun=False, daily=False)
def test_shifts_tile_the_range_and_current_contains_now(at: float, sun: bool, daily: bool) -> None:
    weeks = {
        "ana": week("ana", "Europe/London", ["09:00-17:30"], away=["2026-06-01..2026-06-14"]),
        "kenji": week("kenji", "Asia/Tokyo", ["09:00-18:00"]),
        "lucia": week("lucia", "America/Los_Angeles", ["09:00-17:00"]),
    }
    rot = Rotation("r", ("ana", "kenji", "lucia"), None if daily else 0, 540, "UTC", follow_sun=sun)
    overrides = [Override(1, "r", "lucia", at + 3600, at + 7200, "admin", at)]
    found = shifts(rot, weeks, overrides, at, at + 7 * 86400)
    assert found[0].start == at and found[-1].end == at + 7 * 86400
    for a, b in itertools.pairwise(found):
        assert a.end == b.start and a.person != b.person
    assert who(rot, weeks, overrides, at + 5400)[0] == "lucia"
    now, nxt = current(rot, weeks, overrides, at)
    assert now.start <= at < now.end and now.person == who(rot, weeks, overrides, at)[0]
    assert nxt is None or (nxt.start == now.end and nxt.person != now.person)


def test_follow_the_sun_goes_to_whoever_is_working() -> None:
    weeks = {
        "ana": week("ana", "Europe/London", ["09:00-17:30"]),
        "kenji": week("kenji", "Asia/Tokyo", ["09:00-18:00"]),
        "lucia": week("lucia", "America/Los_Angeles", ["09:00-17:00"]),
    }
    rot = Rotation("r", ("lucia", "kenji", "ana"), 0, 540, "UTC", follow_sun=True)
    wednesday = dt.date(2026, 12, 9)
    assert wednesday.weekday() == 2
    assert who(rot, weeks, [], utc("2026-12-09T02:00"))[0] == "kenji"  # 11:00 in Tokyo
    assert who(rot, weeks, [], utc("2026-12-09T12:00"))[0] == "ana"  # 12:00 in London
    assert who(rot, weeks, [], utc("2026-12-09T20:00"))[0] == "lucia"  # 12:00 in Los Angeles
    saturday = who(rot, weeks, [], utc("2026-12-12T12:00"))
    assert "follow-the-sun" not in saturday[1]  # nobody works: the turn's owner keeps it
