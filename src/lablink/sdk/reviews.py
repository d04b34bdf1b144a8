"""Data reviews from the CLI and the SDK: the embedded store, or a server over HTTP.

``open_reviews`` picks, as ``sdk/connect.py`` does for datasets: a configured server
means HTTP, else the embedded store. Both answer in the REST API's JSON shapes and
raise the same ``LablinkError``s. In the embedded store the acting person is the
configured user, whom nothing proves: approvals made there carry a warning.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from lablink.core.datasets.refs import parse_ref
from lablink.settings import Settings


class ReviewsClient(abc.ABC):
    """Review operations on one lablink."""

    @abc.abstractmethod
    def request(
        self,
        ref: str,
        options: dict[str, Any],
        reviewers: Sequence[str],
        approvals: int | None,
    ) -> dict[str, Any]:
        """Open the review of a version (computes and stores its report)."""

    @abc.abstractmethod
    def show(self, ref: str) -> dict[str, Any]:
        """A version's review. Raises ``NotFound``."""

    @abc.abstractmethod
    def act(self, ref: str, action: str, note: str | None) -> dict[str, Any]:
        """``comment``, ``approve``, ``reject`` or ``revoke``."""

    @abc.abstractmethod
    def ls(self, pending: bool, mine: bool, limit: int) -> list[dict[str, Any]]:
        """Reviews newest first."""

    @abc.abstractmethod
    def state(self, ref: str) -> tuple[str, str | None]:
        """``(name@vN, review state or None)`` of the version ``ref`` names."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections."""

    def __enter__(self) -> ReviewsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalReviews(ReviewsClient):
    """Reviews in the embedded store, acting as the configured user (unverified)."""

    def __init__(self, settings: Settings) -> None:
        from lablink.core.lab import Lab
        from lablink.core.reviews import Reviewer

        self.lab = Lab(settings)
        self.who = Reviewer(settings.user)
        self.queued = False  # this process queued notifications: send the due ones on close

    def request(
        self, ref: str, options: dict[str, Any], reviewers: Sequence[str], approvals: int | None
    ) -> dict[str, Any]:
        from lablink.core.review_report import ReviewOptions

        found = self.lab.reviews.request(
            self.who, ref, ReviewOptions.from_dict(options), reviewers, approvals
        )
        self.queued = True
        return found.to_dict()

    def show(self, ref: str) -> dict[str, Any]:
        return self.lab.reviews.show(ref)

    def act(self, ref: str, action: str, note: str | None) -> dict[str, Any]:
        reviews = self.lab.reviews
        self.queued = True
        if action == "comment":
            return reviews.comment(self.who, ref, note or "").to_dict()
        if action == "approve":
            return reviews.approve(self.who, ref, note).to_dict()
        if action == "reject":
            return reviews.reject(self.who, ref, note or "").to_dict()
        return reviews.revoke(self.who, ref, note).to_dict()

    def ls(self, pending: bool, mine: bool, limit: int) -> list[dict[str, Any]]:
        found = self.lab.reviews.list(pending, self.who.name if mine else None, limit)
        return [r.to_dict(report=False) for r in found]

    def state(self, ref: str) -> tuple[str, str | None]:
        version = self.lab.reviews.version(ref)
        review = self.lab.reviews.find(version.ref)
        return version.ref, review.state if review else None

    def close(self) -> None:
        if self.queued:  # a one-shot process: send what is due now; held rows wait in
            notifier = self.lab.watchdog.notifier  # the store for a server to send
            notifier.stop()
            notifier.run_once()
        self.lab.close()


class HttpReviews(ReviewsClient):
    """Reviews on a lablink server; who acts is whom its authentication proves."""

    def __init__(self, settings: Settings) -> None:
        from lablink.sdk.api import ApiClient

        self.api = ApiClient(settings)

    def _path(self, ref: str) -> str:
        parsed = parse_ref(ref)
        if parsed.name is None or parsed.digest is not None:
            found = self.api.json("GET", "/datasets/-/resolve", params={"ref": ref})
            name, version = found["dataset"], f"v{found['version']}"
        else:
            name = parsed.name
            version = "latest" if parsed.version is None else f"v{parsed.version}"
        return f"/datasets/{quote(name, safe='')}/versions/{version}/review"

    def request(
        self, ref: str, options: dict[str, Any], reviewers: Sequence[str], approvals: int | None
    ) -> dict[str, Any]:
        body = {**options, "reviewers": list(reviewers)}
        body = {k: v for k, v in body.items() if v not in (None, [], {}, ())}
        if approvals is not None:
            body["approvals"] = approvals
        return dict(self.api.json("POST", self._path(ref), json=body))

    def show(self, ref: str) -> dict[str, Any]:
        return dict(self.api.json("GET", self._path(ref)))

    def act(self, ref: str, action: str, note: str | None) -> dict[str, Any]:
        body = {"note": note} if note is not None else {}
        return dict(self.api.json("POST", f"{self._path(ref)}/{action}", json=body))

    def ls(self, pending: bool, mine: bool, limit: int) -> list[dict[str, Any]]:
        params = {"pending": pending, "mine": mine, "limit": limit}
        return list(self.api.json("GET", "/reviews", params=params)["reviews"])

    def state(self, ref: str) -> tuple[str, str | None]:
        from lablink.errors import NotFound

        version = self.api.json("GET", "/datasets/-/resolve", params={"ref": ref})
        exact = f"{version['dataset']}@v{version['version']}"
        try:
            return exact, str(self.show(exact)["state"])
        except NotFound as exc:
            if "has no review" in exc.message:
                return exact, None
            raise

    def close(self) -> None:
        self.api.close()


def open_reviews(settings: Settings) -> ReviewsClient:
    """HTTP when a server is configured, else the embedded store."""
    return HttpReviews(settings) if settings.server else LocalReviews(settings)
