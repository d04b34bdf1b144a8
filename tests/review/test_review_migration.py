"""Migration 0011: a 0009 database with a dataset gains the review tables exactly as
schema.py has them, and downgrades without them."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from reviewtools import add_version, split_folder

from lablink.core.lab import Lab
from lablink.core.review_report import ReviewOptions
from lablink.core.reviews import Reviewer
from lablink.settings import Settings
from lablink.store import schema as t
from lablink.store.migrate import HEAD, current_revision, upgrade


def test_a_0009_database_upgrades_and_reviews_work(settings: Settings, tmp_path: Path) -> None:
    engine = sa.create_engine(settings.db)
    try:
        upgrade(engine, "0009")
        assert not sa.inspect(engine).has_table("reviews")
    finally:
        engine.dispose()
    with Lab(settings) as lab:
        assert current_revision(lab.store.engine) == HEAD
        with lab.store.engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), t.metadata)
        assert [d for d in diffs if "review" in repr(d)] == []
        ref = add_version(lab, split_folder(tmp_path / "images"), "images", "ana")
        review = lab.reviews.request(Reviewer("ana"), ref, ReviewOptions()).review
        assert review.state == "pending"


def test_the_migration_downgrades(settings: Settings) -> None:
    from alembic import command
    from alembic.config import Config

    from lablink.store.migrate import MIGRATIONS

    engine = sa.create_engine(settings.db)
    try:
        upgrade(engine)
        with engine.begin() as conn:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = conn
            command.downgrade(config, "0009")
        assert not sa.inspect(engine).has_table("review_events")
        assert not sa.inspect(engine).has_table("reviews")
    finally:
        engine.dispose()
