"""Whom to tell about an incident, when, and why: one decision over the roster.

- **Critical** incidents page whoever is on call now in each rotation that covers the
  project, whatever the hour. If nobody acknowledges within the rotation's
  ``escalate_after``, the next member is paged, then the fallback (queued now with a
  later send time; an acknowledgement cancels them).
- **Other** incidents go to the run's owner when they are working; while the owner is
  outside working hours or in a focus block the notification is held until their next
  free moment; when the owner is away, or not on the team, it goes to on-call instead
  (with the same escalation).
- ``to_person`` is the held-outside-hours decision alone, for one person: data reviews
  use it to reach reviewers and authors.
- With no team configured the decision is empty and the notifier falls back to the
  ``[notify] channels``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from lablink.team.hours import fmt_minute
from lablink.team.roster import Contact, Member, Roster
from lablink.team.rotation import escalation

CRITICAL = frozenset(("critical",))


@dataclasses.dataclass(frozen=True)
class Page:
    """One person to notify on all their contacts at ``at``, and why them."""

    person: str
    contacts: tuple[Contact, ...]
    at: float
    step: int
    reason: str
    held_until: float | None = None


def route(
    severity: str, project: str | None, owner: str | None, roster: Roster, now: float
) -> list[Page]:
    """The pages for an incident of ``severity`` on a run of ``owner`` in ``project``."""
    if roster.empty:
        return []
    if severity in CRITICAL:
        pages = _on_call(roster, project, now, f"{severity} incident: paging on-call")
        if pages:
            return pages
        member = roster.find(owner)
        if member is not None:
            return [
                Page(
                    member.name,
                    member.contacts,
                    now,
                    0,
                    f"{severity} incident; no rotation covers {project}: the run's owner",
                )
            ]
        return []
    member = roster.find(owner)
    if member is None:
        return _on_call(roster, project, now, f"the run's owner {owner!r} is not on the team")
    state = member.week.state(now)
    if state == "away":
        return _on_call(roster, project, now, f"the owner {member.name} is away") or [
            Page(
                member.name,
                member.contacts,
                now,
                0,
                f"owner of the run; away, but no rotation covers {project}",
            )
        ]
    if state != "working" and member.week.next_free(now) is None:
        return _on_call(roster, project, now, f"the owner {member.name} has no working hours ahead")
    return [to_person(member, now, "owner of the run")]


def to_person(member: Member, now: float, role: str) -> Page:
    """A page for ``member`` (``role``: why them): now while they are working, else held
    until their next free moment (after the night, a focus block or the days away); now
    when no working hours lie ahead, rather than never."""
    state = member.week.state(now)
    where = f"{member.week.local(now):%a %H:%M} {member.week.tz}"
    opens = None if state == "working" else member.week.next_free(now)
    if opens is None:
        why = "working now" if state == "working" else "no working hours ahead"
        return Page(member.name, member.contacts, now, 0, f"{role}, {why} ({where})")
    what = {"focus": "in a focus block", "away": "away"}.get(state, "outside working hours")
    at_local = member.week.local(opens)
    reason = (
        f"{role}; {what} ({where}): held until "
        f"{at_local:%a} {fmt_minute(at_local.hour * 60 + at_local.minute)} local"
    )
    return Page(member.name, member.contacts, opens, 0, reason, held_until=opens)


def _on_call(roster: Roster, project: str | None, now: float, why: str) -> list[Page]:
    pages: list[Page] = []
    weeks = roster.weeks
    for rotation in roster.rotations:
        if not rotation.covers(project):
            continue
        for step, (person, reason) in enumerate(escalation(rotation, weeks, roster.overrides, now)):
            member = roster.members.get(person)
            contacts = member.contacts if member else ()
            if step == 0:
                text = f"{why}; {reason}"
            else:
                minutes = round(rotation.escalate_after * step / 60)
                text = f"not acknowledged within {minutes} min: {reason}"
            pages.append(Page(person, contacts, now + rotation.escalate_after * step, step, text))
    return pages


def people(pages: Sequence[Page]) -> list[str]:
    """The people paged first (step 0), in order."""
    return [p.person for p in pages if p.step == 0]


__all__ = ["Member", "Page", "people", "route", "to_person"]
