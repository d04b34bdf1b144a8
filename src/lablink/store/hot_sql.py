"""Statements of the ingest path run on the driver's cursor, compiled once.

A small batch's store work is a handful of short statements, and SQLAlchemy's
execution layer (result set-up, events, per-call cache look-ups) costs several times
what SQLite spends running them. ``HotSql`` compiles each statement once with the
engine's own dialect, for the columns given, and runs it on the DBAPI cursor of the
SQLAlchemy connection, inside that connection's transaction. The dialect's bind
processors still convert each value (NaN kept on SQLite, JSON serialized), and
driver errors are raised as SQLAlchemy's, as ``Connection.execute`` raises them.

An INSERT of many rows can run as a few multi-row ``VALUES`` statements rather than
the driver's ``executemany``, which binds and steps its statement once a row: for a
thousand-row upsert that per-row round trip costs more than SQLite's own work. SQLite
applies the rows of one statement in order, each seeing the ones before (an upsert
of a key twice merges twice), as executemany does.

Only SQLite takes this path; other dialects run the same statements through
``Connection.execute``, so each statement is still written once, in Core.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import chain
from typing import Any, NamedTuple

import sqlalchemy as sa

Rows = Sequence[Sequence[Any]]
# Parameters a statement may bind: SQLite's default limit before 3.32, met by any build.
MAX_PARAMS = 999


class _Prepared(NamedTuple):
    sql: str
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    stmt: Any  # kept with its entry, so its id is never reused for another statement
    # an INSERT's text around its one ``VALUES (?, ...)`` group, to repeat the group;
    # None for other statements
    rows: tuple[str, str, str] | None


class HotSql:
    """Runs Core statements on the DBAPI cursor where the dialect allows it."""

    def __init__(self, engine: sa.Engine) -> None:
        dialect = engine.dialect
        # SQLite's driver is positional (qmark) and has no server-side statement cache
        # to keep warm: the compiled text is all it needs.
        self._direct = dialect.name == "sqlite" and dialect.positional
        self._dialect = dialect
        self._prepared: dict[tuple[int, tuple[str, ...]], _Prepared] = {}
        self._error: type[Exception] = getattr(dialect.loaded_dbapi, "Error", Exception)

    def execute(self, conn: sa.Connection, stmt: sa.Executable, params: Mapping[str, Any]) -> Rows:
        """Run ``stmt`` with ``params``; the rows it returns (none for a plain write)."""
        if not self._direct:
            result = conn.execute(stmt, dict(params))
            return result.all() if result.returns_rows else []
        sql, names, processors, _, _ = self._prepare(stmt, params)
        return self._run(conn, sql, _values(params, names, processors))

    def execute_once(self, conn: sa.Connection, stmt: sa.Executable) -> Rows:
        """Run ``stmt``, which carries its own values and is built for this one call
        (so it is compiled here and not kept); the rows it returns, on SQLite as the
        driver's tuples: tens of thousands of rows cost a fraction as SQLAlchemy's."""
        if not self._direct:
            result = conn.execute(stmt)
            return result.all() if result.returns_rows else []
        assert isinstance(stmt, sa.ClauseElement)
        compiled = stmt.compile(dialect=self._dialect, compile_kwargs={"render_postcompile": True})
        names = tuple(getattr(compiled, "positiontup", None) or ())
        given: Mapping[str, Any] = getattr(compiled, "_bind_processors", {})
        processors = tuple(given.get(name) for name in names)
        return self._run(conn, compiled.string, _values(compiled.params, names, processors))

    def _run(self, conn: sa.Connection, sql: str, values: tuple[Any, ...]) -> Rows:
        cursor = conn.connection.cursor()
        try:
            cursor.execute(sql, values)
            return cursor.fetchall() if cursor.description else []
        except self._error as exc:
            raise sa.exc.DBAPIError.instance(sql, values, exc, self._error) from exc
        finally:
            cursor.close()

    def executemany(
        self,
        conn: sa.Connection,
        stmt: sa.Executable,
        columns: Mapping[str, Sequence[Any]],
        *,
        multirow: bool = False,
    ) -> None:
        """Run ``stmt`` once per row of ``columns`` (name -> values, a row each; all of
        the same length), returning nothing. Rows are zipped from the converted columns,
        so a thousand-row batch costs little more than the driver's own executemany.

        ``multirow``: an INSERT runs as multi-row ``VALUES`` statements on SQLite. It
        pays where SQLite's own work per row is small (an upsert of a few numbers); an
        insert into an indexed table of blobs measured no faster.
        """
        first = next(iter(columns.values()), ())
        if not first:
            return
        if not self._direct:
            keys = list(columns)
            conn.execute(
                stmt,
                [dict(zip(keys, row, strict=True)) for row in zip(*columns.values(), strict=True)],
            )
            return
        prepared = self._prepare(stmt, columns)
        converted = [
            columns[name] if convert is None else list(map(convert, columns[name]))
            for name, convert in zip(prepared.names, prepared.processors, strict=True)
        ]
        cursor = conn.connection.cursor()
        sql = prepared.sql
        values: list[Any] = []
        try:
            if not multirow or prepared.rows is None or len(first) == 1:
                values = list(zip(*converted, strict=True))
                cursor.executemany(sql, values)
                return
            head, group, tail = prepared.rows
            per = max(1, MAX_PARAMS // len(prepared.names))
            for start in range(0, len(first), per):
                part = [column[start : start + per] for column in converted]
                count = len(part[0])
                sql = head + ", ".join([group] * count) + tail
                values = list(chain.from_iterable(zip(*part, strict=True)))
                cursor.execute(sql, values)
        except self._error as exc:
            raise sa.exc.DBAPIError.instance(sql, values, exc, self._error) from exc
        finally:
            cursor.close()

    def _prepare(self, stmt: sa.Executable, params: Mapping[str, Any]) -> _Prepared:
        keys = tuple(params)
        cache_key = (id(stmt), keys)
        found = self._prepared.get(cache_key)
        if found is None:
            assert isinstance(stmt, sa.ClauseElement)
            compiled = stmt.compile(dialect=self._dialect, column_keys=list(keys))
            names = tuple(getattr(compiled, "positiontup", None) or ())
            # what Connection.execute applies: the dialect's conversion per bound type
            given: Mapping[str, Any] = getattr(compiled, "_bind_processors", {})
            processors = tuple(given.get(name) for name in names)
            sql = compiled.string
            found = _Prepared(sql, names, processors, stmt, _rows_template(sql, len(names)))
            self._prepared[cache_key] = found
        return found


def _rows_template(sql: str, params: int) -> tuple[str, str, str] | None:
    """``sql`` split around its ``VALUES (?, ...)`` group when that group binds every
    parameter of an INSERT (so repeating it inserts more rows); else None."""
    group = "(" + ", ".join(["?"] * params) + ")"
    at = sql.find(" VALUES " + group)
    if not params or not sql.startswith("INSERT ") or at < 0 or sql.count("?") != params:
        return None
    at += len(" VALUES ")
    return sql[:at], group, sql[at + len(group) :]


def _values(
    params: Mapping[str, Any],
    names: tuple[str, ...],
    processors: tuple[Callable[[Any], Any] | None, ...],
) -> tuple[Any, ...]:
    return tuple(
        params[name] if convert is None else convert(params[name])
        for name, convert in zip(names, processors, strict=True)
    )
