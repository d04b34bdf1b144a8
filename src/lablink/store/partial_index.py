"""A unique index over the rows a WHERE clause picks, the same on SQLite and PostgreSQL.

SQLAlchemy spells a partial index per dialect (``sqlite_where=``, ``postgresql_where=``)
and checks each such argument when the index is built, against its dialect's list of
arguments: naming ``postgresql_where`` imports SQLAlchemy's whole PostgreSQL dialect,
its asyncpg driver and asyncio with it (about 45 ms), into every process that imports
``store/schema.py``, SQLite-only CLI commands included. This index fills in
its WHERE when a dialect's options are first read instead, which is when that dialect
compiles the index's DDL (``CREATE INDEX ... WHERE``); SQLite's, already loaded, are
filled in at once so the index reads like one built with ``sqlite_where=``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import util

# The dialects that store the WHERE clause of an index (both backends lablink runs on).
WHERE_DIALECTS = ("sqlite", "postgresql")


class PartialUniqueIndex(sa.Index):
    """``sa.Index(name, *columns, unique=True, sqlite_where=w, postgresql_where=w)``,
    without importing the PostgreSQL dialect before PostgreSQL is used."""

    def __init__(self, name: str, *columns: Any, where: sa.ColumnElement[bool]) -> None:
        self.where = where
        super().__init__(name, *columns, unique=True)
        self.dialect_options["sqlite"]  # filled in now: that dialect is loaded

    @util.memoized_property
    def dialect_options(self) -> util.PopulateDict[str, Any]:
        """Each dialect's options, read from its registry on first use (as SQLAlchemy's
        own ``dialect_options`` does), with ``where`` set for ``WHERE_DIALECTS``."""
        return util.PopulateDict(self._options_for)

    def _options_for(self, dialect_name: str) -> Any:
        options = self._kw_reg_for_dialect_cls(dialect_name)
        if dialect_name in WHERE_DIALECTS:
            options["where"] = self.where
        return options
