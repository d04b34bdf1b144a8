"""The text of a review's notifications: the request to its reviewers, and each
decision or comment to the version's author.

Composed when the message is sent (a held one reads the review as it is then), from
the review and the event the delivery tells of.
"""

from __future__ import annotations

from lablink.models import Review, ReviewEvent

WHAT = {
    "approve": "approved",
    "reject": "rejected",
    "comment": "commented on",
    "revoke": "revoked an approval of",
}


def review_link(review: Review, public_url: str | None) -> str:
    """The review page's address, or how to get one."""
    if not public_url:
        return "(set LABLINK_PUBLIC_URL on the server for links)"
    return f"{public_url.rstrip('/')}/datasets/{review.dataset}/v/{review.version}/review"


def compose(review: Review, public_url: str | None) -> tuple[str, str]:
    """The title and body of a review request."""
    who = ", ".join(review.reviewers) or "anyone with the member role"
    title = f"[lablink] review requested: {review.ref}"
    lines = [
        f"{review.requested_by} asks {who} to review {review.ref} (made by {review.author}).",
        f"Report: {review.report.get('status', '?')}: {review.report.get('summary', '')}",
        f"Approvals needed: {review.approvals_needed}",
        f"Review page: {review_link(review, public_url)}",
        f"Then: lablink review show {review.ref}; lablink review approve {review.ref} "
        f'or lablink review reject {review.ref} --note "why"',
    ]
    return title, "\n".join(lines)


def compose_event(review: Review, event: ReviewEvent, public_url: str | None) -> tuple[str, str]:
    """The title and body telling the author of a decision or comment."""
    verb = WHAT.get(event.action, event.action)
    title = f"[lablink] {event.actor} {verb} {review.ref}"
    lines = [f"{event.actor} {verb} {review.ref}, which you made."]
    if event.note:
        lines.append(f"Note: {event.note}")
    lines += [
        f"The review is now {review.state} "
        f"({len(review.approvers)} of {review.approvals_needed} approvals).",
        f"Review page: {review_link(review, public_url)}",
        f"Then: lablink review show {review.ref}",
    ]
    return title, "\n".join(lines)


def message(review: Review, event_id: int, public_url: str | None) -> tuple[str, str]:
    """The title and body of the notification of event ``event_id`` of ``review``."""
    event = next((e for e in review.events if e.id == event_id), None)
    if event is None or event.action == "request":
        return compose(review, public_url)
    return compose_event(review, event, public_url)
