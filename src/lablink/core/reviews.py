"""Data review use cases: request, comment, approve, reject, revoke, list.

A review belongs to one dataset version. Requesting it computes the automated report
(``core/review_report.py``) and stores it with the review, then tells the reviewers;
a decision or comment tells the version's author (``core/review_notify.py``: their
team contacts within their working hours, else the ``[notify]`` channels). Every step
is an immutable event with who and when; the state (pending → approved | rejected,
approved → revoked) follows from the log.

Who acts is a ``Reviewer``: on a server with auth, the identity its authentication
proved (``verified``); in an embedded store, the configured user, whom nothing proves.
With a verified identity the version's author may not approve or reject it; an
embedded single-user store may, and the answer carries a warning saying no second
person checked the data.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lablink.checks.review_policy import ReviewPolicy, check_approvals, raise_unless_approved
from lablink.core.datasets.refs import parse_ref
from lablink.core.review_options import ReviewOptions
from lablink.errors import (
    AlreadyExists,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
)
from lablink.identity import check_name
from lablink.models import DatasetVersion, Review
from lablink.store.reviews_sql import ReviewSql

if TYPE_CHECKING:
    from lablink.core.review_context import ReviewLab

logger = logging.getLogger(__name__)

MAX_NOTE = 10_000
MAX_REVIEWERS = 20
MAX_LIST = 1000
OPEN_STATES = ("pending", "revoked")
UNVERIFIED_WARNING = (
    "no second person is known to have checked this data: this store has no "
    "authentication, so nothing proves who approved it (a team server, lablink server "
    "--auth required, does)"
)


@dataclasses.dataclass(frozen=True)
class Reviewer:
    """Who acts on a review. ``verified``: proven by the server's authentication."""

    name: str
    verified: bool = False
    is_admin: bool = False


@dataclasses.dataclass(frozen=True)
class Outcome:
    """A review after a step, with what the caller should be told."""

    review: Review
    warning: str | None = None
    notified: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The review's dict with ``warning`` and ``notified``."""
        out = self.review.to_dict()
        out["warning"] = self.warning
        out["notified"] = list(self.notified)
        return out


class Reviews:
    """Reviews of dataset versions over one lab (store, blobs, people, settings)."""

    def __init__(self, lab: ReviewLab) -> None:
        self.lab = lab
        self.sql = ReviewSql(lab.store)

    @functools.cached_property
    def policy(self) -> ReviewPolicy:
        """The team's ``[data]`` review rule (read on first use: a page that only shows
        review states does not fail over a malformed table). Raises ``InvalidInput``."""
        return ReviewPolicy.from_config(self.lab.settings.project_config)

    # -- requests ---------------------------------------------------------------------
    def request(
        self,
        who: Reviewer,
        ref: str,
        options: ReviewOptions,
        reviewers: Sequence[str] = (),
        approvals: int | None = None,
        notify: bool = True,
    ) -> Outcome:
        """Compute the report of a version and open its review.

        ``approvals`` may raise the team's ``[data] approvals`` for this version, never
        lower it. With no ``reviewers``, those of ``[data] reviewers`` who are known.

        Raises:
            NotFound: no such version.
            InvalidInput: a bad option (a split path not in the version, a column not in
                its tables), a reviewer unknown to the server, or the version's author
                named as its reviewer.
            AlreadyExists: the version has a review.
        """
        # the report's table reading (polars, numpy) loads with the first review, so a
        # server that never reviews data does not carry it in memory
        from lablink.core.review_notify import channels
        from lablink.core.review_report import build_report

        version = self.version(ref)
        channels(self.lab.settings)  # a malformed [notify] table fails before any write
        needed = max(self.policy.approvals, check_approvals(approvals) if approvals else 1)
        names = self._reviewers(reviewers, version.created_by)
        self._refuse_second(version)
        report = build_report(self.lab, version.dataset, version.version, options)
        values = {
            "reviewers": list(names),
            "options": options.to_dict(),
            "report": report,
            "report_status": str(report.get("status", "warn")),
            "approvals_needed": needed,
        }
        version_id = self.lab.datasets.sql.version_id(version.dataset, version.version)
        review = self.sql.create(version_id, values, who.name, who.verified, time.time())
        return Outcome(review, notified=self._notify(review) if notify else ())

    def _notify(self, review: Review) -> tuple[dict[str, Any], ...]:
        """Queue the notifications of the review's last event; never fails the step."""
        from lablink.core.review_notify import notify

        try:
            return tuple(notify(self.lab.watchdog.notifier, review))
        except Exception:  # the step is stored: a notification problem is logged
            logger.exception("review: queueing the notifications of %s failed", review.ref)
            return ()

    def show(self, ref: str) -> dict[str, Any]:
        """The review's dict with its notifications (``deliveries``). Raises ``NotFound``."""
        review = self.get(ref)
        return {**review.to_dict(), "deliveries": self._deliveries(review.id)}

    def deliveries(self, ref: str) -> list[dict[str, Any]]:
        """The notifications of a version's review (whom, through what, why, when
        sent or held until), each with its attempts. Raises ``NotFound``."""
        return self._deliveries(self.get(ref).id)

    def deliveries_of(self, review: Review) -> list[dict[str, Any]]:
        """The notifications of a review already read (see ``deliveries``)."""
        return self._deliveries(review.id)

    def _deliveries(self, review_id: int) -> list[dict[str, Any]]:
        from lablink.core.review_notify import sent_rows

        return sent_rows(self.lab.watchdog.notifier, review_id)

    def _refuse_second(self, version: DatasetVersion) -> None:
        try:
            self.sql.get(version.dataset, version.version)
        except NotFound:
            return
        raise AlreadyExists(
            f"{version.ref} already has a review",
            f"see it with `lablink review show {version.ref}`; a changed dataset is a new "
            "version, which needs a new review",
        )

    def _reviewers(self, named: Sequence[str], author: str) -> tuple[str, ...]:
        if len(named) > MAX_REVIEWERS:
            raise InvalidInput(f"at most {MAX_REVIEWERS} reviewers")
        out: list[str] = []
        for name in named:
            check_name(name, "reviewer")
            try:
                user = self.lab.people.get_user(name)
            except NotFound:
                raise InvalidInput(
                    f"reviewer {name!r} is not known to this lablink",
                    f"name someone from `lablink users ls`, or add them: lablink users add {name}",
                ) from None
            if user.disabled:
                raise InvalidInput(f"reviewer {name!r} is disabled", "name someone active")
            if name == author:
                raise InvalidInput(
                    f"{name} made this version and cannot review it",
                    "name a second person with --reviewer",
                )
            if name not in out:
                out.append(name)
        if named:
            return tuple(out)
        known = []
        for name in self.policy.reviewers:  # the team's list: those known, not the author
            try:
                if name != author and not self.lab.people.get_user(name).disabled:
                    known.append(name)
            except (NotFound, InvalidInput):
                continue
        return tuple(known)

    # -- reading ----------------------------------------------------------------------
    def version(self, ref: str) -> DatasetVersion:
        """The version a reference names (``images@v7``, ``images``: the latest).

        Raises:
            InvalidInput: a malformed reference.
            NotFound: no such dataset or version.
        """
        return self.lab.datasets.resolve(parse_ref(ref))

    def get(self, ref: str) -> Review:
        """The review of a version. Raises ``NotFound`` (no version, or no review)."""
        version = self.version(ref)
        try:
            return self.sql.get(version.dataset, version.version)
        except NotFound:
            raise NotFound(
                f"{version.ref} has no review",
                f"request one with `lablink review request {version.ref}`",
            ) from None

    def find(self, ref: str) -> Review | None:
        """The review of a version, or None when it has none. Raises ``NotFound``."""
        version = self.version(ref)
        try:
            return self.sql.get(version.dataset, version.version)
        except NotFound:
            return None

    def list(
        self, pending: bool = False, mine: str | None = None, limit: int = 100
    ) -> list[Review]:
        """Reviews newest first: ``pending`` keeps those awaiting a decision (pending or
        revoked), ``mine`` those a person requested, reviews or authored.

        Raises:
            InvalidInput: a limit outside 1..1000.
        """
        if not 1 <= limit <= MAX_LIST:
            raise InvalidInput(f"limit must be between 1 and {MAX_LIST}, not {limit}")
        return self.sql.find(OPEN_STATES if pending else None, mine, limit)

    def states(self, refs: Sequence[str]) -> dict[str, Review]:
        """The reviews of versions named ``name@vN`` (others and unreviewed ones left out)."""
        wanted: list[tuple[str, int]] = []
        for ref in refs:
            try:
                parsed = parse_ref(ref)
            except InvalidInput:
                continue
            if parsed.name is not None and parsed.version is not None:
                wanted.append((parsed.name, parsed.version))
        return {r.ref: r for r in self.sql.states(wanted).values()}

    def require_approved(self, ref: str) -> Review:
        """The approved review of a version.

        Raises:
            DatasetNotApproved: it has none, or its review is not approved; the hint
                names the command that requests (or shows) it.
        """
        version = self.version(ref)
        review = self.find(version.ref)
        raise_unless_approved(version.ref, review.state if review else None)
        assert review is not None
        return review

    # -- decisions --------------------------------------------------------------------
    def comment(self, who: Reviewer, ref: str, text: str) -> Outcome:
        """Add a remark to the discussion. Raises ``InvalidInput``, ``NotFound``."""
        return self._step(who, ref, "comment", (text, True), lambda review: review.state)

    def approve(self, who: Reviewer, ref: str, note: str | None = None) -> Outcome:
        """Approve a version for training.

        Raises:
            Forbidden: the caller made the version (proven identity), or the review
                names other reviewers.
            Conflict: the review was rejected, or the caller approved it already.
        """

        def decide(review: Review) -> str:
            self._may_decide(who, review, "approve")
            if who.name in review.approvers:
                raise Conflict(
                    f"{who.name} has already approved {review.ref}",
                    f"it needs {review.approvals_needed} approval(s) from distinct people",
                )
            enough = len(review.approvers) + 1 >= review.approvals_needed
            return "approved" if enough else review.state

        outcome = self._step(who, ref, "approve", (note, False), decide)
        if who.verified:
            return outcome
        return dataclasses.replace(outcome, warning=UNVERIFIED_WARNING)

    def reject(self, who: Reviewer, ref: str, note: str) -> Outcome:
        """Reject a version, saying why (``note`` is required).

        Raises:
            InvalidInput: no note.
            Forbidden: as for ``approve``.
            Conflict: already rejected.
        """

        def decide(review: Review) -> str:
            self._may_decide(who, review, "reject")
            return "rejected"

        return self._step(who, ref, "reject", (note, True), decide)

    def revoke(self, who: Reviewer, ref: str, note: str | None = None) -> Outcome:
        """Withdraw the caller's approval (a server admin withdraws them all).

        Raises:
            Forbidden: the caller holds no approval and is not a server admin.
            Conflict: nothing is approved.
        """

        def decide(review: Review) -> str:
            if not review.approvers:
                raise Conflict(f"{review.ref} has no approval to revoke")
            if who.name in review.approvers:
                left = len(review.approvers) - 1
            elif who.is_admin or not who.verified:
                left = 0
            else:
                raise Forbidden(
                    f"{who.name} has not approved {review.ref}",
                    "only an approver revokes their approval, or a server admin all of them",
                )
            return "approved" if left >= review.approvals_needed else "revoked"

        return self._step(who, ref, "revoke", (note, False), decide)

    def _may_decide(self, who: Reviewer, review: Review, verb: str) -> None:
        if review.state == "rejected":
            raise Conflict(
                f"{review.ref} was rejected",
                "fix the data, add it as a new version and request a review of that",
            )
        if who.verified and who.name == review.author:
            raise Forbidden(
                f"{who.name} made {review.ref} and cannot {verb} it",
                "a second person must review it: "
                + (
                    ", ".join(review.reviewers)
                    if review.reviewers
                    else "name one with `lablink review request --reviewer`"
                ),
            )
        # Named reviewers decide, unless too few are named to reach the approvals needed
        # (then any member may); a server admin may stand in for them.
        enough_named = len(review.reviewers) >= review.approvals_needed
        outsider = enough_named and who.name not in review.reviewers
        if who.verified and outsider and not who.is_admin:
            raise Forbidden(
                f"{who.name} is not a reviewer of {review.ref}",
                f"its reviewers are {', '.join(review.reviewers)}",
            )

    def _step(
        self,
        who: Reviewer,
        ref: str,
        action: str,
        note: tuple[str | None, bool],
        decide: Any,
    ) -> Outcome:
        """Append one event: the version and its review first (a clear NotFound naming
        the request command), then the note (``(text, required)``), then ``decide``."""
        version = self.version(ref)
        self.get(version.ref)
        text = _note(*note)
        review = self.sql.append(
            version.dataset,
            version.version,
            who.name,
            action,
            text,
            who.verified,
            time.time(),
            decide,
        )
        return Outcome(review, notified=self._notify(review))


def _note(text: str | None, required: bool = False) -> str | None:
    if text is not None and not isinstance(text, str):
        raise InvalidInput("a note is text")
    text = (text or "").strip()
    if required and not text:
        raise InvalidInput("say why in a note", 'pass --note "what you found"')
    if len(text) > MAX_NOTE:
        raise InvalidInput(f"the note is {len(text)} characters; keep it under {MAX_NOTE}")
    return text or None
