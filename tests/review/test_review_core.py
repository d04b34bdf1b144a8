"""Review records over the embedded store (SQLite and PostgreSQL): request, decide, log."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from reviewtools import add_version, make_people, split_folder

from lablink.core.lab import Lab
from lablink.core.review_report import ReviewOptions
from lablink.core.reviews import Reviewer
from lablink.errors import (
    AlreadyExists,
    Conflict,
    DatasetNotApproved,
    Forbidden,
    InvalidInput,
    LablinkError,
    NotFound,
)
from lablink.store import schema as t

SPLITS = ReviewOptions(splits={"train": "train/", "val": "val/"})
ANA, KENJI, MIA = (Reviewer(n, verified=True) for n in ("ana", "kenji", "mia"))


@pytest.fixture
def images(lab: Lab, tmp_path: Path) -> str:
    make_people(lab, "ana", "kenji", "mia")
    return add_version(lab, split_folder(tmp_path / "images"), "images", "ana")


def _counts(lab: Lab) -> tuple[int, int]:
    with lab.store.engine.connect() as conn:
        reviews = conn.execute(sa.select(sa.func.count()).select_from(t.reviews)).scalar_one()
        events = conn.execute(sa.select(sa.func.count()).select_from(t.review_events)).scalar_one()
    return int(reviews), int(events)


def test_request_stores_the_report_and_a_planted_duplicate_fails_it(lab: Lab, images: str) -> None:
    outcome = lab.reviews.request(ANA, images, SPLITS, reviewers=["kenji"])
    review = outcome.review
    assert review.state == "pending"
    assert review.author == "ana" and review.reviewers == ("kenji",)
    assert review.report["status"] == "fail"
    assert isinstance(review.report["summary"], str)
    exact = [c for c in review.report["checks"] if c["name"] == "leakage.exact"]
    assert exact and exact[0]["status"] == "fail"
    assert [e.action for e in review.events] == ["request"]
    assert lab.reviews.get(images).id == review.id


def test_two_people_approve_and_the_author_may_not(lab: Lab, images: str) -> None:
    lab.settings.project_config  # noqa: B018 - the default policy: one approval
    lab.reviews.request(ANA, images, SPLITS, reviewers=["kenji", "mia"], approvals=2)
    with pytest.raises(Forbidden, match="ana made images@v1 and cannot approve it"):
        lab.reviews.approve(ANA, images)
    first = lab.reviews.approve(KENJI, images, "looks fine").review
    assert first.state == "pending" and first.approvers == ("kenji",)
    with pytest.raises(Conflict, match="kenji has already approved"):
        lab.reviews.approve(KENJI, images)
    second = lab.reviews.approve(MIA, images).review
    assert second.state == "approved" and second.approvers == ("kenji", "mia")
    assert lab.reviews.require_approved(images).id == second.id
    revoked = lab.reviews.revoke(MIA, images, "saw a blank frame").review
    assert revoked.state == "revoked"
    assert [e.action for e in revoked.events] == [
        "request", "approve", "approve", "revoke"
    ]  # fmt: skip
    with pytest.raises(DatasetNotApproved, match="its review is revoked"):
        lab.reviews.require_approved(images)


def test_refusals_change_nothing(lab: Lab, images: str, tmp_path: Path) -> None:
    before = _counts(lab)
    with pytest.raises(NotFound, match="images"):
        lab.reviews.request(ANA, "images@v9", SPLITS)
    # The report engine names the split or its path and the missing column (its words
    # may differ; the error is a LablinkError either way).
    with pytest.raises(LablinkError, match="test"):
        lab.reviews.request(ANA, images, ReviewOptions(splits={"test": "test/"}))
    with pytest.raises(LablinkError, match="subject"):
        lab.reviews.request(ANA, images, ReviewOptions(key="subject"))
    with pytest.raises(InvalidInput, match="'zoe' is not known"):
        lab.reviews.request(ANA, images, SPLITS, reviewers=["zoe"])
    with pytest.raises(InvalidInput, match="ana made this version"):
        lab.reviews.request(KENJI, images, SPLITS, reviewers=["ana"])
    assert _counts(lab) == before
    lab.reviews.request(ANA, images, ReviewOptions(key="patient_id"), reviewers=["kenji"])
    with pytest.raises(AlreadyExists, match="already has a review"):
        lab.reviews.request(ANA, images, SPLITS)
    with pytest.raises(Forbidden, match="mia is not a reviewer"):
        lab.reviews.approve(MIA, images)
    with pytest.raises(InvalidInput, match="say why"):
        lab.reviews.reject(KENJI, images, "  ")
    lab.reviews.reject(KENJI, images, "sensor 3 drops out")
    after = _counts(lab)
    with pytest.raises(Conflict, match="was rejected"):
        lab.reviews.approve(KENJI, images)
    assert _counts(lab) == after


def test_a_new_version_needs_a_new_review(lab: Lab, images: str, tmp_path: Path) -> None:
    lab.reviews.request(ANA, images, SPLITS, reviewers=["kenji"])
    lab.reviews.approve(KENJI, images)
    folder = split_folder(tmp_path / "images")
    (folder / "train" / "new.bin").write_bytes(b"more")
    newer = add_version(lab, folder, "images", "ana")
    with pytest.raises(DatasetNotApproved, match="images@v2 has not been reviewed"):
        lab.reviews.require_approved(newer)
    assert lab.reviews.require_approved(images).state == "approved"


def test_embedded_approval_warns_that_nobody_else_checked(lab: Lab, images: str) -> None:
    me = Reviewer("ana")  # an embedded store: nothing proves who this is
    lab.reviews.request(me, images, SPLITS)
    outcome = lab.reviews.approve(me, images)
    assert outcome.review.state == "approved"
    assert outcome.warning and "no second person" in outcome.warning
    assert outcome.review.events[-1].verified is False


def test_the_log_is_append_only(lab: Lab, images: str) -> None:
    lab.reviews.request(ANA, images, SPLITS)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), lab.store.engine.begin() as c:
        c.execute(t.review_events.update().values(actor="someone else"))
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), lab.store.engine.begin() as c:
        c.execute(t.review_events.delete())


def test_listing(lab: Lab, images: str) -> None:
    lab.reviews.request(ANA, images, SPLITS, reviewers=["kenji"])
    assert [r.ref for r in lab.reviews.list(pending=True)] == [images]
    assert [r.ref for r in lab.reviews.list(mine="kenji")] == [images]
    assert lab.reviews.list(mine="mia") == []
    lab.reviews.approve(KENJI, images)
    assert lab.reviews.list(pending=True) == []
    with pytest.raises(InvalidInput, match="limit"):
        lab.reviews.list(limit=0)


def test_concurrent_approvals_by_one_person_count_once(lab: Lab, images: str) -> None:
    import threading

    lab.reviews.request(ANA, images, SPLITS, reviewers=["kenji", "mia"], approvals=2)
    barrier = threading.Barrier(4)
    results: list[str] = []

    def approve(who: Reviewer) -> None:
        barrier.wait(30)
        try:
            lab.reviews.approve(who, images)
            results.append(f"ok {who.name}")
        except Conflict:
            results.append(f"refused {who.name}")

    threads = [threading.Thread(target=approve, args=(w,)) for w in (KENJI, KENJI, MIA, MIA)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(results) == ["ok kenji", "ok mia", "refused kenji", "refused mia"]
    review = lab.reviews.get(images)
    assert review.state == "approved" and sorted(review.approvers) == ["kenji", "mia"]
