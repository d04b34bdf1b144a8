"""Notification channels: apprise URLs, their safe labels and keys, and sending."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

from lablink.errors import InvalidInput

# Sends one message to one apprise URL: returns (ok, error text).
Sender = Callable[[str, str, str, str], tuple[bool, str | None]]
_NOTIFY_TYPES = {"critical": "failure", "high": "failure", "warning": "warning", "info": "info"}


def channel_key(url: str) -> str:
    """A stable id for a channel URL that reveals nothing of its secrets."""
    return "sha256:" + hashlib.sha256(url.encode()).hexdigest()[:32]


def channel_label(url: str) -> str:
    """The channel URL with its secrets masked (apprise's privacy form), no options."""
    import apprise

    plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        raise InvalidInput(f"apprise does not understand the channel {url.split(':', 1)[0]}://…")
    return str(plugin.url(privacy=True)).split("?", 1)[0]  # type: ignore[no-untyped-call]


def apprise_send(url: str, title: str, body: str, severity: str) -> tuple[bool, str | None]:
    """Send through apprise; the error is what apprise logged at WARNING or above."""
    import apprise

    notifier = apprise.Apprise()
    if not notifier.add(url):
        return False, "apprise does not understand this channel URL"
    with apprise.LogCapture(level=logging.WARNING) as logs:  # type: ignore[no-untyped-call]
        ok = bool(notifier.notify(title=title, body=body, notify_type=_NOTIFY_TYPES[severity]))
        text = logs.getvalue().strip()
    return ok, None if ok else (text or "apprise reported a failure")
