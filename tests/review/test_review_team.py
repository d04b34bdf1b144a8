"""The team's rule in lablink.toml, notifications to reviewers, and runs' lineage."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from reviewtools import Receiver, add_version, make_people, split_folder, team_settings

import lablink
from helpers import LoopbackServer, wait_for
from lablink.core.lab import Lab
from lablink.core.review_report import ReviewOptions
from lablink.core.reviews import Reviewer
from lablink.docs.cards import _data_links
from lablink.errors import InvalidInput

TOML = """
[data]
require_review = true
reviewers = ["kenji", "gone"]
approvals = 2

[notify]
channels = ["{url}"]
"""


def test_the_team_rule_notifies_and_guards_training(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Receiver() as receiver:
        settings = team_settings(
            tmp_path / "repo", db_url, tmp_path / "home", TOML.format(url=receiver.url), "ana"
        )
        monkeypatch.chdir(tmp_path / "repo")
        with Lab(settings) as lab:
            make_people(lab, "ana", "kenji", "mia")
            ref = add_version(lab, split_folder(tmp_path / "images"), "images", "ana")
            with pytest.raises(lablink.DatasetNotApproved, match="has not been reviewed"):
                lablink.dataset(ref, settings=settings)  # [data] require_review
            asked = lab.reviews.request(Reviewer("ana", verified=True), ref, ReviewOptions())
            review = asked.review
            assert review.reviewers == ("kenji",)  # "gone" is unknown: left out
            assert review.approvals_needed == 2
            # kenji is not on the team roster: the [notify] channels, from the outbox
            assert [(n["to"], n["state"]) for n in asked.notified] == [("kenji", "queued")]
            assert "not on the team roster" in asked.notified[0]["reason"]
            wait_for(lambda: receiver.bodies, 30, "the request on the channel")
            assert len(receiver.bodies) == 1
            body = receiver.bodies[0]
            assert "images@v1" in body["title"] and "kenji" in body["message"]
            assert "lablink review approve images@v1" in body["message"]
            lab.reviews.approve(Reviewer("kenji", verified=True), ref)
            with pytest.raises(lablink.DatasetNotApproved, match="its review is pending"):
                lablink.dataset(ref, settings=settings)
            lab.reviews.approve(Reviewer("mia", verified=True), ref)
            assert lablink.dataset(ref, settings=settings).ref == ref


def test_a_run_records_the_review_state_of_its_data(lab: Lab, tmp_path: Path) -> None:
    make_people(lab, "kenji")
    ref = add_version(lab, split_folder(tmp_path / "images"), "images", "ana")
    lab.reviews.request(Reviewer("ana"), ref, ReviewOptions(), reviewers=["kenji"])
    lab.reviews.approve(Reviewer("kenji", verified=True), ref)
    run = lablink.init(project="vision", name="train", settings=lab.settings)
    try:
        lablink.dataset(ref, require_review=True)
    finally:
        run.finish()
    inputs = {(i["kind"], i["ref"]): i["digest"] for i in _inputs(lab, run.id)}
    assert inputs[("review", ref)] == "approved"
    assert ("dataset", ref) in inputs
    record = lab.tracking.get_run(run.id)
    assert "images@v1](" in _data_links(record)
    assert "(review: approved when trained on)" in _data_links(record)
    with LoopbackServer(lab).start() as srv, httpx.Client(base_url=srv.url) as client:
        html = client.get(f"/r/{run.id}").text
        srv.stop()
    assert 'data-review="approved"' in html
    assert 'href="/datasets/images/v/1/review">approved</a>' in html


def _inputs(lab: Lab, run_id: str) -> list[dict[str, str]]:
    record = lab.tracking.get_run(run_id)
    return [dict(i) for i in record.inputs]


def test_the_review_page_without_auth_shows_no_forms(lab: Lab, tmp_path: Path) -> None:
    from PIL import Image

    folder = split_folder(tmp_path / "images")
    Image.new("RGB", (8, 8), (1, 2, 3)).save(folder / "val" / "frame.png")
    ref = add_version(lab, folder, "images", "ana")
    splits = ReviewOptions(splits={"train": "train/", "val": "val/"})
    lab.reviews.request(Reviewer("ana"), ref, splits)
    with LoopbackServer(lab).start() as srv, httpx.Client(base_url=srv.url) as client:
        page = client.get("/datasets/images/v/1/review")
        image = client.get("/datasets/images/v/1/review/sample", params={"path": "val/frame.png"})
        not_image = client.get(
            "/datasets/images/v/1/review/sample", params={"path": "val/table.csv"}
        )
        absent = client.get("/datasets/images/v/1/review/sample", params={"path": "x.png"})
        missing = client.get("/datasets/images/v/9/review")
        dataset = client.get("/datasets/images")
        post = client.post("/datasets/images/v/1/review/approve", data={"note": "ok"})
        srv.stop()
    assert page.status_code == 200
    assert 'data-check="leakage.exact"' in page.text and "approve-form" not in page.text
    assert "needs a server that knows who is looking" in page.text
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content[:4] == b"\x89PNG"
    assert not_image.status_code == 400 and absent.status_code == 404
    assert missing.status_code == 404
    assert 'href="/datasets/images/v/1/review" data-review="pending"' in dataset.text
    assert post.status_code == 403 and "knows who is calling" in post.text
    assert lab.reviews.get(ref).state == "pending"


@pytest.mark.parametrize(
    ("toml", "problem"),
    [
        ("[data]\napprovals = 0\n", "approvals must be a whole number from 1"),
        ("[data]\nrequire_review = 'yes'\n", "require_review must be true or false"),
        ("[data]\nreviewers = 'kenji'\n", "reviewers must be a list"),
    ],
)
def test_a_malformed_team_rule_is_refused_before_anything_is_stored(
    tmp_path: Path, toml: str, problem: str
) -> None:
    db = f"sqlite:///{tmp_path / 'home' / 'lablink.db'}"
    (tmp_path / "home").mkdir()
    settings = team_settings(tmp_path / "repo", db, tmp_path / "home", toml, "ana")
    with Lab(settings) as lab:
        ref = add_version(lab, split_folder(tmp_path / "images"), "images", "ana")
        with pytest.raises(InvalidInput, match=problem):
            lab.reviews.request(Reviewer("ana"), ref, ReviewOptions())
        assert lab.reviews.list() == []
