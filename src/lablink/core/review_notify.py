"""Tell reviewers that a dataset version awaits them, on the incident channels.

The channels are the apprise URLs of ``[notify] channels`` in ``lablink.toml``, the
same ones incidents use (``core/notify.py``). The people table holds no per-person
contacts yet, so every request goes to every channel, naming its reviewers. A failed
channel is logged and reported in the answer; it never undoes the request.
"""

from __future__ import annotations

import logging
from typing import Any

from lablink.core.channels import Sender, apprise_send, channel_label
from lablink.errors import InvalidInput
from lablink.models import Review
from lablink.settings import Settings

logger = logging.getLogger(__name__)


def compose(review: Review, public_url: str | None) -> tuple[str, str]:
    """The title and body of a review request."""
    who = ", ".join(review.reviewers) or "anyone with the member role"
    link = (
        f"{public_url.rstrip('/')}/datasets/{review.dataset}/v/{review.version}/review"
        if public_url
        else "(set LABLINK_PUBLIC_URL on the server for links)"
    )
    title = f"[lablink] review requested: {review.ref}"
    lines = [
        f"{review.requested_by} asks {who} to review {review.ref} (made by {review.author}).",
        f"Report: {review.report.get('status', '?')}: {review.report.get('summary', '')}",
        f"Approvals needed: {review.approvals_needed}",
        f"Review page: {link}",
        f"Then: lablink review show {review.ref}; lablink review approve {review.ref} "
        f'or lablink review reject {review.ref} --note "why"',
    ]
    return title, "\n".join(lines)


def channels(settings: Settings) -> list[str]:
    """The ``[notify] channels`` of the project configuration. Raises ``InvalidInput``."""
    table = settings.project_config.get("notify") or {}
    found = table.get("channels", []) if isinstance(table, dict) else None
    if not isinstance(found, list) or not all(isinstance(c, str) for c in found):
        raise InvalidInput("notify.channels must be a list of apprise URLs")
    return found


def notify_request(
    settings: Settings, review: Review, sender: Sender = apprise_send
) -> list[dict[str, Any]]:
    """Send the request to every channel; one ``{channel, ok, error}`` per channel."""
    title, body = compose(review, settings.public_url)
    results = []
    for url in channels(settings):
        try:
            label = channel_label(url)
            ok, error = sender(url, title, body, "info")
        except Exception as exc:  # a plugin's bug or a bad URL is a failed delivery
            label, ok, error = url.split(":", 1)[0] + "://…", False, f"{type(exc).__name__}: {exc}"
        if not ok:
            logger.warning("review: telling %s about %s failed: %s", label, review.ref, error)
        results.append({"channel": label, "ok": ok, "error": error})
    return results
