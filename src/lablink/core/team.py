"""Team use cases: the roster, core hours, on-call rotations and incident routing.

Teammates are users (``core/people.py``) with a time zone, working hours, focus blocks,
away periods and contacts; adding someone who is not yet a user creates the user when
an e-mail is given (one person, one record). Every input is parsed before anything is
written, so a bad field fails with its name and nothing half-saved. The time
arithmetic lives in ``team/`` (pure); this module reads and writes the store.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lablink.checks.durations import parse_duration
from lablink.errors import Conflict, InvalidInput, NotFound
from lablink.identity import check_email, check_name
from lablink.store.sql import SqlStore
from lablink.store.team_sql import TeamSql
from lablink.team import hours as h
from lablink.team.overlap import Overlap, overlap
from lablink.team.roster import Contact, Member, Roster
from lablink.team.rotation import Override, Rotation, Shift, current, shifts
from lablink.team.routing import Page, route

MAX_CONTACTS = 20
MAX_MEMBERS = 1000
MAX_SCHEDULE_WEEKS = 52
OVERRIDE_HORIZON_DAYS = 366  # "the schedule": overrides must fall within the next year


def mask(url: str) -> str:
    """A contact URL with its secrets masked, or an error naming the contact."""
    from lablink.core.channels import channel_label

    if not isinstance(url, str) or "://" not in url or len(url) > 2000:
        raise InvalidInput(f"contact: {str(url)[:40]!r} is not an apprise URL", _CONTACT_HINT)
    try:
        label = channel_label(url)
    except InvalidInput:
        raise InvalidInput(
            f"contact: apprise does not understand {url.split(':', 1)[0]}://…", _CONTACT_HINT
        ) from None
    # A webhook's path is often its secret, and apprise's privacy form keeps paths.
    scheme, _, rest = label.partition("://")
    host, slash, _ = rest.partition("/")
    return f"{scheme}://{host}/…" if slash else label


_CONTACT_HINT = (
    "write an apprise URL such as mailto://user:pass@example.org or json://host:9000/hook"
)


def parse_handoff(text: str, daily: bool) -> tuple[int | None, int]:
    """``Mon 09:00`` (weekly) or ``09:00`` (daily) as (weekday or None, minute)."""
    parts = text.strip().split()
    try:
        if len(parts) == 2 and not daily:
            day = h.parse_days(parts[0], "handoff")
            if len(day) != 1:
                raise InvalidInput(f"handoff: {text!r} names more than one day", "write Mon 09:00")
            return day[0], _minute(parts[1])
        if len(parts) == 1:
            return (None if daily else 0), _minute(parts[0])
    except ValueError:
        pass
    raise InvalidInput(
        f"handoff: {text!r} is not a hand-off time",
        "write 'Mon 09:00' for a weekly rotation, or '09:00' with --daily",
    )


def _minute(text: str) -> int:
    hh, _, mm = text.partition(":")
    value = int(hh) * 60 + int(mm)
    if not 0 <= int(hh) < 24 or not 0 <= int(mm) < 60:
        raise ValueError(text)
    return value


def parse_when(text: str, tz: str, field: str, now: float) -> float:
    """``now``, ``2026-12-01T09:00`` (in ``tz`` unless it has an offset) or a date."""
    clean = text.strip()
    if clean.lower() == "now":
        return now
    try:
        value = dt.datetime.fromisoformat(clean)
    except ValueError:
        raise InvalidInput(
            f"{field}: {text!r} is not a date and time", "write 2026-12-01T09:00 or now"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=h.zone(tz))
    return value.timestamp()


class Team:
    """The team over one store; ``clock`` gives "now" (tests pass their own)."""

    def __init__(self, store: SqlStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.sql = TeamSql(store)
        self.clock = clock
        # The parsed roster of the last ``routing_roster`` call and the stamp it was read
        # at: one small query tells whether any process changed the roster since.
        self._cached: tuple[tuple[Any, ...], float, Roster] | None = None

    # -- roster ----------------------------------------------------------------------
    def add(
        self,
        actor: str,
        name: str,
        tz: str,
        hours: Sequence[str],
        focus: Sequence[str] = (),
        away: Sequence[str] = (),
        contacts: Sequence[str] = (),
        email: str | None = None,
        source: str = "cli",
    ) -> Member:
        """Add or replace a teammate (creating their user when ``email`` is given).

        Raises:
            InvalidInput: a bad zone, hours, focus block, away period or contact (the
                message names the field).
            NotFound: no user ``name`` and no ``email`` to create one.
        """
        values, new_user = self._member_values(
            name, tz, hours, focus, away, contacts, email, source
        )
        detail = {"tz": tz, "hours": list(hours), "focus": list(focus), "away": list(away)}
        self.sql.put_member(name, values, self._entry(actor, "team.add", name, detail), new_user)
        return self.member(name)

    def _member_values(
        self,
        name: str,
        tz: str,
        hours: Sequence[str],
        focus: Sequence[str],
        away: Sequence[str],
        contacts: Sequence[str],
        email: str | None,
        source: str,
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        check_name(name)
        h.zone(tz)
        week = h.parse_hours(hours)
        blocks = h.parse_focus(focus, week)
        periods = h.parse_away(away)
        if len(contacts) > MAX_CONTACTS:
            raise InvalidInput(f"contact: at most {MAX_CONTACTS} contacts per person")
        masked = [{"url": url, "label": mask(url)} for url in contacts]
        new_user = None
        if email is not None:
            check_email(email)
            new_user = {
                "name": name,
                "kind": "user",
                "email": email,
                "display_name": None,
                "is_admin": False,
                "disabled": False,
                "created_at": self.clock(),
            }
        values = {
            "tz": tz,
            "hours": h.hours_to_json(week),
            "focus": h.hours_to_json(blocks),
            "away": h.away_to_json(periods),
            "contacts": masked,
            "source": source,
            "updated_at": self.clock(),
        }
        return values, new_user

    def remove(self, actor: str, name: str) -> None:
        """Take ``name`` off the team (their user and history stay).

        Raises:
            NotFound: ``name`` is not on the team.
            Conflict: a rotation still has them as a member or fallback.
        """
        holding = [r.name for r in self.rotations() if name in (*r.members, r.fallback)]
        if holding:
            raise Conflict(
                f"{name} is in rotation {', '.join(holding)}",
                "take them out first: lablink oncall rotation create NAME --members ...",
            )
        self.sql.delete_member(name, self._entry(actor, "team.remove", name, {}))

    def members(self) -> list[Member]:
        """Every teammate, by name."""
        return [_member(row) for row in self.sql.members()]

    def member(self, name: str) -> Member:
        """One teammate. Raises ``NotFound``."""
        for m in self.members():
            if m.name == name:
                return m
        raise NotFound(f"{name!r} is not on the team", "`lablink team ls` lists it")

    # -- rotations -------------------------------------------------------------------
    def create_rotation(
        self,
        actor: str,
        name: str,
        members: Sequence[str],
        handoff: str = "Mon 09:00",
        daily: bool = False,
        follow_sun: bool = False,
        escalate_after: str = "15m",
        fallback: str | None = None,
        tz: str = "UTC",
        projects: Sequence[str] = (),
        source: str = "cli",
    ) -> Rotation:
        """Create or replace a rotation; every member and the fallback must be on the team.

        Raises:
            InvalidInput: no members, a bad hand-off, zone or delay, or someone not on
                the team (the message names the field).
        """
        values = self._rotation_values(
            name,
            members,
            handoff,
            daily,
            follow_sun,
            escalate_after,
            fallback,
            tz,
            projects,
            source,
            {m.name for m in self.members()},
        )
        detail = {k: v for k, v in values.items() if k not in ("updated_at", "source")}
        self.sql.put_rotation(values, self._entry(actor, "oncall.rotation", name, detail))
        return self.rotation(name)

    def _rotation_values(
        self,
        name: str,
        members: Sequence[str],
        handoff: str,
        daily: bool,
        follow_sun: bool,
        escalate_after: str,
        fallback: str | None,
        tz: str,
        projects: Sequence[str],
        source: str,
        team: set[str],
    ) -> dict[str, Any]:
        check_name(name, "rotation name")
        people = [m.strip() for m in members if m.strip()]
        if not people:
            raise InvalidInput(
                "members: a rotation needs at least one member", "pass --members ana,kenji"
            )
        if len(set(people)) != len(people):
            raise InvalidInput(f"members: {', '.join(people)} names someone twice")
        for person in [*people, *([fallback] if fallback else [])]:
            if person not in team:
                field = "fallback" if person == fallback and person not in people else "members"
                raise InvalidInput(
                    f"{field}: {person!r} is not on the team",
                    f"add them first: lablink team add {person} --tz ... --hours ...",
                )
        day, minute = parse_handoff(handoff, daily)
        h.zone(tz)
        delay = parse_duration(escalate_after, "escalate_after")
        if delay <= 0:
            raise InvalidInput("escalate_after: must be longer than 0", "write 15m")
        return {
            "name": name,
            "members": people,
            "handoff_day": day,
            "handoff_minute": minute,
            "tz": tz,
            "follow_sun": follow_sun,
            "escalate_after": delay,
            "fallback": fallback,
            "projects": list(projects),
            "source": source,
            "updated_at": self.clock(),
        }

    def remove_rotation(self, actor: str, name: str) -> None:
        """Delete a rotation and its overrides. Raises ``NotFound``."""
        self.sql.delete_rotation(name, self._entry(actor, "oncall.rotation.remove", name, {}))

    def rotations(self) -> list[Rotation]:
        """Every rotation by name."""
        return [_rotation(row) for row in self.sql.rotations()]

    def rotation(self, name: str) -> Rotation:
        """One rotation. Raises ``NotFound``."""
        for r in self.rotations():
            if r.name == name:
                return r
        raise NotFound(f"no rotation {name!r}", "`lablink oncall now` lists them")

    def override(
        self, actor: str, person: str, start: str, end: str, rotation: str | None = None
    ) -> Override:
        """Put ``person`` on call from ``start`` to ``end`` (times in the rotation's zone).

        Raises:
            InvalidInput: the window is empty, already over, or outside the schedule
                (past the next year); the person is not on the team; no rotation
                given when there are several.
            NotFound: no such rotation.
        """
        rot = self._pick(rotation)
        now = self.clock()
        a = parse_when(start, rot.tz, "from", now)
        b = parse_when(end, rot.tz, "to", now)
        if b <= a:
            raise InvalidInput(
                "to: the override ends before it starts", "--to must be after --from"
            )
        if b <= now:
            raise InvalidInput(
                "to: the override is over already", "an override covers time to come"
            )
        if a > now + OVERRIDE_HORIZON_DAYS * 86400 or b - a > OVERRIDE_HORIZON_DAYS * 86400:
            raise InvalidInput(
                "from: the override is outside the schedule (the next 366 days)",
                "overrides cover shifts of the coming year",
            )
        if person not in {m.name for m in self.members()}:
            raise InvalidInput(
                f"person: {person!r} is not on the team", f"lablink team add {person} ..."
            )
        values = {
            "person": person,
            "start_at": a,
            "end_at": b,
            "created_by": actor,
            "created_at": now,
        }
        detail = {"person": person, "start": a, "end": b}
        new_id = self.sql.add_override(
            rot.name, values, self._entry(actor, "oncall.override", rot.name, detail)
        )
        return Override(new_id, rot.name, person, a, b, actor, now)

    def _pick(self, rotation: str | None) -> Rotation:
        if rotation is not None:
            return self.rotation(rotation)
        found = self.rotations()
        if not found:
            raise Conflict("rotation: there are no rotations", "lablink oncall rotation create ...")
        if len(found) != 1:
            raise InvalidInput("rotation: name the rotation", "pass --rotation NAME")
        return found[0]

    # -- reading the schedule --------------------------------------------------------
    def roster(self, at: float | None = None) -> Roster:
        """Members, rotations and overrides still to come, read now."""
        at = self.clock() if at is None else at
        members = {m.name: m for m in self.members()}
        overrides = [_override(row) for row in self.sql.overrides(at - 14 * 86400)]
        return Roster(members, self.rotations(), overrides)

    def now(self, at: float | None = None) -> list[dict[str, Any]]:
        """Per rotation: the shift under way and the next one."""
        at = self.clock() if at is None else at
        roster = self.routing_roster(at)
        weeks = roster.weeks
        out = []
        for rot in roster.rotations:
            shift, nxt = current(rot, weeks, roster.overrides, at)
            out.append(
                {
                    "rotation": rot.name,
                    "now": shift.to_dict(),
                    "next": nxt.to_dict() if nxt else None,
                }
            )
        return out

    def schedule(
        self, weeks: int = 4, rotation: str | None = None, at: float | None = None
    ) -> list[Shift]:
        """Shifts from now for ``weeks`` weeks, of one rotation or all.

        Raises:
            InvalidInput: weeks outside 1..52.
            NotFound: no such rotation.
        """
        if not 1 <= weeks <= MAX_SCHEDULE_WEEKS:
            raise InvalidInput(f"weeks: {weeks} is not between 1 and {MAX_SCHEDULE_WEEKS}")
        at = self.clock() if at is None else at
        roster = self.roster(at)
        chosen = [self.rotation(rotation)] if rotation else roster.rotations
        found: list[Shift] = []
        for rot in chosen:
            found.extend(shifts(rot, roster.weeks, roster.overrides, at, at + weeks * 7 * 86400))
        return sorted(found, key=lambda s: (s.start, s.rotation))

    def ics(self, rotation: str, weeks: int = 12) -> bytes:
        """The rotation's shifts for ``weeks`` weeks as an iCalendar file."""
        from lablink.team.ics import shifts_ics

        return shifts_ics(rotation, self.schedule(weeks, rotation), self.clock())

    def overlap(self, week: str | None = None, k: int | None = None) -> Overlap:
        """Core hours of an ISO week (this week by default)."""
        return overlap([m.week for m in self.members()], week, k, self.clock())

    # -- routing ---------------------------------------------------------------------
    def route(
        self, severity: str, project: str | None, owner: str | None, now: float
    ) -> list[Page]:
        """Whom to notify about an incident, when and why (``team/routing.py``)."""
        return route(severity, project, owner, self.routing_roster(now), now)

    def routing_roster(self, now: float) -> Roster:
        """The roster, re-read only when its stamp changed (or after a day of clock)."""
        stamp = self.sql.stamp()
        cached = self._cached
        if cached is not None and cached[0] == stamp and abs(now - cached[1]) < 86400:
            return cached[2]
        roster = self.roster(now)
        self._cached = (stamp, now, roster)
        return roster

    def contact_urls(self) -> dict[str, str]:
        """Every teammate's contact URLs by channel key (for the notifier's sender)."""
        from lablink.core.channels import channel_key

        return {channel_key(c.url): c.url for m in self.members() for c in m.contacts}

    # -- lablink.toml ------------------------------------------------------------------
    def sync(self, actor: str, config: Mapping[str, Any]) -> dict[str, int]:
        """Make the roster and rotations from ``[team]`` and ``[oncall]`` the stored ones.

        Everything is checked first and written in one transaction. Entries added by
        hand for other names stay; ones that came from an earlier sync and are gone
        from the file are removed.

        Raises:
            InvalidInput: a bad entry (the message names ``team.NAME.FIELD``).
        """
        from lablink.team.config import read_config

        if not config.get("team") and not config.get("oncall"):
            # an empty sync would remove every synced entry: almost always a wrong folder
            raise InvalidInput(
                "team: no [team] or [oncall] table to sync",
                "run it where lablink.toml has them, or pass --file; `lablink team rm` "
                "removes people one by one",
            )
        people, rotas = read_config(config)
        members: list[tuple[str, Mapping[str, Any], Mapping[str, Any] | None]] = []
        for name, entry in people.items():
            try:
                values, new_user = self._member_values(
                    name,
                    entry["tz"],
                    entry["hours"],
                    entry["focus"],
                    entry["away"],
                    entry["contacts"],
                    entry["email"],
                    "toml",
                )
            except InvalidInput as exc:
                raise InvalidInput(f"team.{name}: {exc.message}", exc.hint) from None
            members.append((name, values, new_user))
        team = {m.name for m in self.members() if m.source != "toml"} | set(people)
        rows = []
        for name, entry in rotas.items():
            try:
                rows.append(self._rotation_values(name, source="toml", team=team, **entry))
            except InvalidInput as exc:
                raise InvalidInput(f"oncall.{name}: {exc.message}", exc.hint) from None
        audit = self._entry(
            actor, "team.sync", None, {"people": sorted(people), "rotations": sorted(rotas)}
        )
        self.sql.replace_all(members, rows, audit)
        return {"people": len(members), "rotations": len(rows)}

    def _entry(
        self, actor: str, action: str, target: str | None, detail: Mapping[str, Any]
    ) -> dict[str, Any]:
        return {
            "at": self.clock(),
            "actor": actor,
            "action": action,
            "target": target,
            "detail": dict(detail),
        }


def _member(row: Mapping[str, Any]) -> Member:
    week = h.Week.build(
        row["name"],
        row["tz"],
        h.hours_from_json(row["hours"]),
        h.hours_from_json(row["focus"]),
        h.away_from_json(row["away"]),
    )
    contacts = tuple(Contact(c["url"], c["label"]) for c in row["contacts"] or ())
    return Member(
        row["name"],
        row["email"],
        row["display_name"],
        week,
        contacts,
        row["source"],
        float(row["updated_at"]),
    )


def _rotation(row: Mapping[str, Any]) -> Rotation:
    return Rotation(
        name=row["name"],
        members=tuple(row["members"]),
        handoff_day=row["handoff_day"],
        handoff_minute=int(row["handoff_minute"]),
        tz=row["tz"],
        follow_sun=bool(row["follow_sun"]),
        escalate_after=float(row["escalate_after"]),
        fallback=row["fallback"],
        projects=tuple(row["projects"] or ()),
    )


def _override(row: Mapping[str, Any]) -> Override:
    return Override(
        int(row["id"]),
        row["rotation"],
        row["person"],
        float(row["start_at"]),
        float(row["end_at"]),
        row["created_by"],
        float(row["created_at"]),
    )
