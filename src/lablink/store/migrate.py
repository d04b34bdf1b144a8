"""Schema version checks (cheap, no Alembic import) and upgrades (Alembic)."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from lablink.errors import SchemaOutOfDate

# The newest revision under migrations/versions; tests check it matches Alembic's head.
HEAD = "0015"
MIGRATIONS = Path(__file__).with_name("migrations")


def current_revision(engine: sa.Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: sa.Engine, target: str = "head") -> None:
    """Apply the migrations up to ``target`` (HEAD by default), serialised across processes.

    Tests pass an older revision to build a database as an earlier lablink left it.
    """
    from alembic import command
    from alembic.config import Config

    with _migration_lock(engine), engine.begin() as conn:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        command.upgrade(config, target)


def ensure_schema(engine: sa.Engine, auto_upgrade: bool = True) -> None:
    """Bring an empty or old database to HEAD, or refuse with the command that does it."""
    revision = current_revision(engine)
    if revision == HEAD:
        return
    if revision is not None and not auto_upgrade:
        raise SchemaOutOfDate(
            f"the database is at revision {revision}, this lablink needs {HEAD}",
            "run `lablink db migrate` (back the database up first)",
        )
    upgrade(engine)


@contextlib.contextmanager
def _migration_lock(engine: sa.Engine) -> Iterator[None]:
    """Two processes opening a fresh store at once must not both create tables."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(7358201)"))
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(7358201)"))
                conn.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
