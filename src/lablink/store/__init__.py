"""Persistence: ``open_store(url)`` picks the dialect from the URL and migrates on open."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lablink.errors import InvalidInput
from lablink.homedir import make_dirs
from lablink.store.base import Store

if TYPE_CHECKING:  # importing the SQL modules loads numpy and SQLAlchemy: only on open
    from lablink.store.sql import SqlStore


def open_store(url: str, auto_upgrade: bool = True, durability: str = "commit") -> SqlStore:
    """Open (and if needed create and migrate) the store at a SQLAlchemy URL.

    ``durability`` applies to SQLite ("commit" or "process", see ``SqliteStore``);
    PostgreSQL fsyncs each commit itself.
    """
    from lablink.store.migrate import ensure_schema

    if url.startswith("sqlite"):
        from lablink.store.sqlite import SqliteStore, make_sqlite_engine

        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path and path != ":memory:":
            make_dirs(Path(path).expanduser().parent)
        engine = make_sqlite_engine(url)
        ensure_schema(engine, auto_upgrade)
        return SqliteStore(engine, "process" if durability == "process" else "commit")
    if url.startswith("postgresql"):
        from lablink.store.postgres import PostgresStore, make_postgres_engine

        engine = make_postgres_engine(url)
        ensure_schema(engine, auto_upgrade)
        return PostgresStore(engine)
    raise InvalidInput(
        f"unsupported database URL {url!r}",
        "use sqlite:///path/to/lablink.db or postgresql+psycopg://host/db",
    )


__all__ = ["Store", "open_store"]
