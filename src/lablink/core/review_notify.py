"""Tell reviewers that a version awaits them, and authors what the reviewers did.

Whom: each reviewer when a review is requested; the version's author when someone
approves, rejects, comments on or revokes an approval of it (not their own steps).

How: someone on the team roster (``core/team.py``) with contacts is reached on those
contacts (apprise URLs) while they work; outside their hours, in a focus block or away,
the notification is held until their next free moment: the incident routing's decision
(``team/routing.py`` ``to_person``). Someone with no roster entry or no contacts is
reached through the project's ``[notify] channels``; with none of those either, the row
is recorded as failed, saying so.

Each notification is one outbox row (``store/deliveries_sql.py``) with who, why, when
it is due and the review event it tells of; the notifier's worker (``core/notify.py``)
sends it like an incident alert, retries a failed channel and records every attempt.
Nothing here waits on a network, and a failed channel never undoes a review step.
"""

from __future__ import annotations

import logging
from typing import Any

from lablink.core.notify import Notifier
from lablink.core.review_message import compose
from lablink.errors import InvalidInput
from lablink.models import Review
from lablink.settings import Settings
from lablink.store.deliveries_sql import Routed
from lablink.team.roster import Roster
from lablink.team.routing import to_person

logger = logging.getLogger(__name__)

__all__ = ["channels", "compose", "notify", "sent_rows"]

ROLES = {
    "request": "reviewer of {ref}",
    "approve": "author of {ref}",
    "reject": "author of {ref}",
    "comment": "author of {ref}",
    "revoke": "author of {ref}",
}


def channels(settings: Settings) -> list[str]:
    """The ``[notify] channels`` of the project configuration. Raises ``InvalidInput``."""
    table = settings.project_config.get("notify") or {}
    found = table.get("channels", []) if isinstance(table, dict) else None
    if not isinstance(found, list) or not all(isinstance(c, str) for c in found):
        raise InvalidInput("notify.channels must be a list of apprise URLs")
    return found


def recipients(review: Review) -> list[str]:
    """Whom the review's last event concerns: the reviewers of a request, else the author
    (unless the author took the step)."""
    event = review.events[-1]
    if event.action == "request":
        return list(review.reviewers)
    return [] if event.actor == review.author else [review.author]


def notify(notifier: Notifier, review: Review) -> list[dict[str, Any]]:
    """Queue the notifications of the review's last event; one summary per row
    (``to``, ``channel``, ``state``: queued, held or failed, ``at``, ``reason``)."""
    people = recipients(review)
    if not people:
        return []
    event = review.events[-1]
    now = notifier.clock()
    role = ROLES.get(event.action, "author of {ref}").format(ref=review.ref)
    roster = _roster(notifier, now)
    routed: list[Routed] = []
    for name in people:
        routed.extend(_rows(notifier, roster, name, role, now))
    notifier.enqueue_review(event.id, event.action, routed, now)
    return [_summary(r) for r in routed]


def _roster(notifier: Notifier, now: float) -> Roster | None:
    try:
        roster: Roster = notifier.team().routing_roster(now)
    except Exception:  # a broken roster must not lose the notification: use the channels
        logger.exception("review: reading the team roster failed; using [notify] channels")
        return None
    return roster


def _rows(
    notifier: Notifier, roster: Roster | None, name: str, role: str, now: float
) -> list[Routed]:
    member = roster.find(name) if roster is not None else None
    if member is not None and member.contacts:
        page = to_person(member, now, role)
        return [
            Routed(
                c.label, notifier.remember(c.url), name, page.reason, 0, page.at, page.held_until
            )
            for c in page.contacts
        ]
    why = "not on the team roster" if member is None else "no contact on the team roster"
    reason = f"{role}; {why}: the project's [notify] channels"
    fixed = notifier.labels()
    if not fixed:
        reason = f"{role}; {why}, and no [notify] channels"
        return [Routed("(no contact)", "none", name, reason, 0, now, None, "failed")]
    return [Routed(label, key, name, reason, 0, now, None) for label, key in fixed]


def _summary(row: Routed) -> dict[str, Any]:
    state = "failed" if row.state == "failed" else "held" if row.held_until else "queued"
    return {
        "to": row.recipient,
        "channel": row.channel,
        "state": state,
        "at": row.at,
        "reason": row.reason,
    }


def sent_rows(notifier: Notifier, review_id: int) -> list[dict[str, Any]]:
    """Every notification of a review with its attempts, oldest first."""
    return [
        {**d.to_dict(), "history": [a.to_dict() for a in attempts]}
        for d, attempts in notifier.deliveries.for_review(review_id)
    ]
