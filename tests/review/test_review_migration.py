"""Migration 0011: a 0009 database with a dataset gains the review tables exactly as
schema.py has them, and downgrades without them."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from reviewtools import add_version, split_folder

from lablink.core.lab import Lab
from lablink.core.review_report import ReviewOptions
from lablink.core.reviews import Reviewer
from lablink.settings import Settings
from lablink.store.migrate import upgrade
from migration_steps import database_at, downgrade, schema_drift


def test_a_0009_database_upgrades_and_reviews_work(settings: Settings, tmp_path: Path) -> None:
    assert "reviews" not in database_at(settings.db, "0009")
    with Lab(settings) as lab:
        assert schema_drift(lab.store.engine, ["review"]) == []
        ref = add_version(lab, split_folder(tmp_path / "images"), "images", "ana")
        review = lab.reviews.request(Reviewer("ana"), ref, ReviewOptions()).review
        assert review.state == "pending"


def test_the_migration_downgrades(settings: Settings) -> None:
    engine = sa.create_engine(settings.db)
    try:
        upgrade(engine)
        downgrade(engine, "0009")
        assert not sa.inspect(engine).has_table("review_events")
        assert not sa.inspect(engine).has_table("reviews")
    finally:
        engine.dispose()
