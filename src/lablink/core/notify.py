"""Alerts through apprise: Slack, PagerDuty, e-mail, Teams, Discord, JSON webhooks, ...

Channels are apprise URLs in the ``[notify]`` table of ``lablink.toml``::

    [notify]
    channels = ["slack://T000/B000/XXXX", "pagerduty://key@routing", "json://host:9000/hook"]
    max_attempts = 5        # then the delivery is marked failed
    backoff = "2s"          # first retry delay; doubles per attempt ...
    max_backoff = "5m"      # ... up to this

Whom to tell is the team's decision (``core/team.py``, ``team/routing.py``): critical
incidents page whoever is on call, others go to the run's owner, held outside their
working hours; each row records the person, why them, and the escalation step. With no
team configured, every alert goes to the ``channels`` above, as before. Data reviews
queue their notifications here too (``enqueue_review``, rows naming a review
event instead of an incident; ``core/review_notify.py`` decides whom and when), so one
worker, one outbox and one record of attempts serve both.

``enqueue`` only writes outbox rows (``store/deliveries_sql.py``), so raising an
incident on the ingestion path never waits on a network. A background worker claims
due rows, sends them, and records every attempt; a failure is retried with
exponential backoff until ``max_attempts``. The worker runs in ``lablink server``; an
embedded store starts one on the first alert (rows it leaves are sent by any server
on the same store later).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lablink.checks.durations import parse_duration
from lablink.core.channels import Sender, apprise_send, channel_key, channel_label
from lablink.errors import InvalidInput
from lablink.models import Incident
from lablink.store.deliveries_sql import Delivery, DeliverySql, Routed
from lablink.store.incidents_sql import IncidentSql
from lablink.store.sql import SqlStore

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.5
ADVICE = {
    "nan": "Check the learning rate, gradient clipping, mixed-precision loss scaling and the "
    "batch at that step; restart from the last good checkpoint.",
    "diverged": "Lower the learning rate or add warm-up or clipping, compare with the last good "
    "run, and restart from a checkpoint before the rise.",
    "lost_heartbeat": "Check the job on its host (out of memory? preempted? killed?) with the "
    "scheduler's log or dmesg; if it is frozen, kill it; relaunch from the last checkpoint.",
    "stalled": "The process is alive but logs nothing: look for a hang (py-spy dump --pid), a "
    "stuck data loader or collective; kill it if it does not move.",
    "gpu_idle": "The run holds GPUs it does not use: check the input pipeline or whether it "
    "finished its work without exiting; free the GPUs.",
    "timeout": "The run passed max_runtime and was asked to stop; raise the limit in "
    "lablink.toml if it needs longer, or resume it from its checkpoint.",
}


def compose(incident: Incident, event: str, public_url: str | None) -> tuple[str, str]:
    """The title and body of an alert: the run, the rule, the evidence, a link, what to do."""
    verb = "reopened" if event == "reopened" else "opened"
    title = (
        f"[lablink] {incident.severity}: {incident.kind} on {incident.project}/{incident.run_name}"
    )
    link = (
        f"{public_url.rstrip('/')}/r/{incident.run_id}"
        if public_url
        else "(set LABLINK_PUBLIC_URL on the server for links)"
    )
    action = {
        "stop": "The watchdog asked the run to stop.",
        "crash": "The run was marked crashed.",
    }.get(incident.action, "No action was taken on the run.")
    lines = [
        f"Incident #{incident.id} {verb}: {incident.title}",
        f"Run: {incident.project}/{incident.run_name} ({incident.run_id})",
        f"Rule: {incident.rule} ({incident.kind}), severity {incident.severity}",
        f"Evidence: {_evidence(incident.evidence)}",
        action,
        f"Run page: {link}",
        f"What to do: {ADVICE.get(incident.kind, 'Look at the run page.')}",
        f"Then: lablink incidents ack {incident.id}; "
        f'lablink incidents resolve {incident.id} --note "what you did"',
    ]
    return title, "\n".join(lines)


def _evidence(evidence: Mapping[str, Any]) -> str:
    parts = [f"{k}={v}" for k, v in evidence.items() if k not in ("window", "gpus")]
    window = evidence.get("window")
    if isinstance(window, Mapping) and window.get("values"):
        tail = [str(v) for v in list(window["values"])[-5:]]
        steps = list(window.get("steps") or [])
        where = f" (steps {steps[0]}..{steps[-1]})" if steps else ""
        parts.append(f"last values {', '.join(tail)}{where}")
    for gpu, info in (evidence.get("gpus") or {}).items():
        parts.append(f"gpu{gpu} mean {info.get('mean')}% max {info.get('max')}%")
    return "; ".join(parts)


class Notifier:
    """Queues alerts for every channel and sends them from a background worker."""

    def __init__(
        self,
        store: SqlStore,
        config: Mapping[str, Any],
        public_url: str | None,
        sender: Sender = apprise_send,
        clock: Callable[[], float] = time.time,
    ) -> None:
        channels = config.get("channels", [])
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            raise InvalidInput("notify.channels must be a list of apprise URLs")
        self.channels: dict[str, str] = {channel_key(url): url for url in channels}
        self.max_attempts = int(config.get("max_attempts", 5))
        if self.max_attempts < 1:
            raise InvalidInput("notify.max_attempts must be at least 1")
        self.backoff = parse_duration(config.get("backoff", "2s"), "notify.backoff")
        self.max_backoff = parse_duration(config.get("max_backoff", "5m"), "notify.max_backoff")
        self._labels: list[tuple[str, str]] | None = None
        self.public_url = public_url
        self.sender = sender
        self.clock = clock  # the worker's "now": tests drive held and escalated alerts
        self.store = store
        self._contacts: dict[str, str] = {}
        self._team: Any = None  # core.team.Team, made on first use (it caches the roster)
        self.deliveries = DeliverySql(store)
        self.incidents = IncidentSql(store)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def labels(self) -> Sequence[tuple[str, str]]:
        """``(masked URL, key)`` of each channel (apprise loads on first use)."""
        if self._labels is None:
            self._labels = [(channel_label(url), key) for key, url in self.channels.items()]
        return self._labels

    def enqueue(self, incident: Incident, event: str, now: float) -> None:
        """Queue an alert for the people the team routes it to (else on every channel)
        and wake the worker (starting it if needed)."""
        routed = self._route(incident, now)
        if routed:
            self.deliveries.enqueue_routed(incident.id, event, routed, now)
        elif self.channels:
            self.deliveries.enqueue(incident.id, event, self.labels(), now)
        else:
            return
        self.start()
        self._wake.set()

    def enqueue_review(
        self, event_id: int, event: str, routed: Sequence[Routed], now: float
    ) -> None:
        """Queue the notifications of a review event (``core/review_notify.py`` decides
        whom, when and why) and wake the worker."""
        if not routed:
            return
        self.deliveries.enqueue_routed(None, event, routed, now, review_event_id=event_id)
        self.start()
        self._wake.set()

    def remember(self, url: str) -> str:
        """The key of a teammate's contact URL, kept for the worker to send to."""
        key = channel_key(url)
        self._contacts[key] = url
        return key

    def _route(self, incident: Incident, now: float) -> list[Routed]:
        """The team's pages as outbox rows: one per contact of each person paged."""
        team = self.team()
        try:
            owner = team.sql.run_owner(incident.run_id)
            pages = team.route(incident.severity, incident.project, owner, now)
        except Exception:  # a broken roster must not lose the alert: use the channels
            logger.exception(
                "notify: routing incident %d failed; using [notify] channels", incident.id
            )
            return []
        rows: list[Routed] = []
        for page in pages:
            for contact in page.contacts:
                key = channel_key(contact.url)
                self._contacts[key] = contact.url
                rows.append(
                    Routed(
                        contact.label,
                        key,
                        page.person,
                        page.reason,
                        page.step,
                        page.at,
                        page.held_until,
                    )
                )
            if not page.contacts:
                rows.append(
                    Routed(
                        "(no contact)",
                        "none",
                        page.person,
                        page.reason,
                        page.step,
                        page.at,
                        page.held_until,
                        "failed",
                    )
                )
        return rows

    def start(self) -> None:
        """Start the background worker (idempotent); a bad channel URL fails here."""
        self.labels()  # loads apprise now, not on the request that opens an incident
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopping.clear()
            self._thread = threading.Thread(target=self._loop, name="lablink-notify", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the worker; rows not yet sent stay queued in the store."""
        self._stopping.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                sent = self.run_once()
            except Exception:
                logger.exception("notify: the worker failed; retrying")
                sent = 0
            if not sent:
                self._wake.wait(POLL_SECONDS)
                self._wake.clear()

    def run_once(self, now: float | None = None) -> int:
        """Send every due delivery once; returns how many were tried."""
        due = self.deliveries.claim_due(self.clock() if now is None else now)
        for delivery in due:
            self._attempt(delivery)
        return len(due)

    def team(self) -> Any:
        """The team use cases that decide whom to notify (``core/team.py``)."""
        if self._team is None:
            from lablink.core.team import Team

            # reads the clock late: tests swap ``self.clock`` after construction
            self._team = Team(self.store, lambda: self.clock())
        return self._team

    def _url(self, key: str) -> str | None:
        url = self.channels.get(key) or self._contacts.get(key)
        if url is None:  # a teammate's contact added since, or by another process
            self._contacts = self.team().contact_urls()
            url = self._contacts.get(key)
        return url

    def _message(self, delivery: Delivery) -> tuple[str, str, str] | None:
        """The title, body and severity of a delivery; None when it is no longer needed
        (it is cancelled then, saying why)."""
        if delivery.review_event_id is not None:
            return self._review_message(delivery, delivery.review_event_id)
        assert delivery.incident_id is not None  # a row names an incident or a review event
        incident = self.incidents.get(delivery.incident_id)
        if (delivery.step or 0) > 0 and incident.state != "open":
            self.deliveries.cancel(delivery, f"not needed: the incident was {incident.state} first")
            return None
        if delivery.held_until is not None and incident.state == "resolved":
            self.deliveries.cancel(delivery, "not needed: the incident was resolved while held")
            return None
        title, body = compose(incident, delivery.event, self.public_url)
        return title, body, incident.severity

    def _review_message(self, delivery: Delivery, event_id: int) -> tuple[str, str, str] | None:
        from lablink.core.review_message import message
        from lablink.store.reviews_sql import ReviewSql

        review = ReviewSql(self.store).by_event(event_id)
        if delivery.event == "request" and review.state not in ("pending", "revoked"):
            self.deliveries.cancel(
                delivery, f"not needed: the review was {review.state} while this was held"
            )
            return None
        title, body = message(review, event_id, self.public_url)
        return title, body, "info"

    def _attempt(self, delivery: Delivery) -> None:
        found = self._message(delivery)
        if found is None:
            return
        title, body, severity = found
        url = self._url(delivery.channel_key)
        started = time.monotonic()
        error: str | None
        if url is None:
            ok, error = False, "this channel is no longer configured on this server"
        else:
            if delivery.reason:
                body += f"\nWhy you: {delivery.reason}"
            try:
                ok, error = self.sender(url, title, body, severity)
            except Exception as exc:  # a notifier plugin's bug is a failed attempt
                ok, error = False, f"{type(exc).__name__}: {exc}"
        attempt = delivery.attempts + 1
        now = self.clock()
        retry_at = None
        if not ok and url is not None and attempt < self.max_attempts:
            retry_at = now + min(self.backoff * 2 ** (attempt - 1), self.max_backoff)
        self.deliveries.record(delivery, ok, time.monotonic() - started, error, now, retry_at)
        if not ok:
            logger.warning(
                "notify: %s to %s failed (attempt %d%s): %s",
                f"incident {delivery.incident_id}"
                if delivery.incident_id is not None
                else f"review event {delivery.review_event_id}",
                delivery.channel,
                attempt,
                ", will retry" if retry_at else ", giving up",
                error,
            )
