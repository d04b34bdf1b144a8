"""Dataset version aliases: where each alias points now, and every move it made.

One write transaction moves an alias and records the move, so the record never
disagrees with the alias (``schema.py`` explains the two tables).
"""

from __future__ import annotations

import dataclasses
import time

import sqlalchemy as sa

from lablink.errors import NotFound
from lablink.store import schema as t
from lablink.store.sql import SqlStore


@dataclasses.dataclass(frozen=True)
class AliasRow:
    """An alias of a dataset and the version it points at."""

    dataset: str
    alias: str
    version: int
    set_by: str
    set_at: float

    def to_dict(self) -> dict[str, object]:
        """The JSON form the API and ``--json`` print."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class AliasMove:
    """One move of an alias: ``version`` None when it was deleted."""

    alias: str
    version: int | None
    previous: int | None
    actor: str
    at: float

    def to_dict(self) -> dict[str, object]:
        """The JSON form."""
        return dataclasses.asdict(self)


class DatasetAliasSql:
    """Queries for ``dataset_aliases`` and ``dataset_alias_moves``."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def _dataset_id(self, conn: sa.Connection, name: str) -> int:
        d = t.datasets
        found = conn.execute(sa.select(d.c.id).where(d.c.name == name)).scalar()
        if found is None:
            raise NotFound(f"no dataset named {name!r}", "list datasets with `lablink data ls`")
        return int(found)

    def aliases(self, name: str) -> list[AliasRow]:
        """The aliases of a dataset, by name. Raises ``NotFound`` for no such dataset."""
        a = t.dataset_aliases
        with self.store.engine.connect() as conn:
            dataset_id = self._dataset_id(conn, name)
            rows = conn.execute(
                sa.select(a).where(a.c.dataset_id == dataset_id).order_by(a.c.alias)
            ).all()
        return [AliasRow(name, r.alias, int(r.version), r.set_by, float(r.set_at)) for r in rows]

    def lookup(self, name: str, alias: str) -> int:
        """The version number ``alias`` points at. Raises ``NotFound``."""
        for row in self.aliases(name):
            if row.alias == alias:
                return row.version
        raise NotFound(
            f"dataset {name!r} has no version aliased {alias!r}",
            f"see its aliases with `lablink data show {name}`; set one with "
            f"`lablink data alias {name}@v1 {alias}`",
        )

    def moves(self, name: str, limit: int = 100) -> list[AliasMove]:
        """The latest moves of a dataset's aliases, newest first."""
        m = t.dataset_alias_moves
        with self.store.engine.connect() as conn:
            dataset_id = self._dataset_id(conn, name)
            rows = conn.execute(
                sa.select(m)
                .where(m.c.dataset_id == dataset_id)
                .order_by(m.c.id.desc())
                .limit(limit)
            ).all()
        return [AliasMove(r.alias, r.version, r.previous, r.actor, float(r.at)) for r in rows]

    def move(self, name: str, alias: str, version: int | None, actor: str) -> int | None:
        """Point ``alias`` at ``version`` (delete it for None) and record the move; answers
        the version it pointed at before.

        Raises:
            NotFound: no such dataset, or deleting an alias that is not set.
        """
        a, m = t.dataset_aliases, t.dataset_alias_moves
        now = time.time()
        with self.store.write() as conn:
            dataset_id = self._dataset_id(conn, name)
            # one move of a dataset's aliases at a time on PostgreSQL, so the recorded
            # ``previous`` is the version the alias really left
            d = t.datasets
            conn.execute(sa.select(d.c.id).where(d.c.id == dataset_id).with_for_update())
            key = (a.c.dataset_id == dataset_id) & (a.c.alias == alias)
            previous = conn.execute(sa.select(a.c.version).where(key)).scalar()
            if version is None:
                if previous is None:
                    raise NotFound(f"dataset {name!r} has no alias {alias!r}")
                conn.execute(a.delete().where(key))
            elif previous is None:
                conn.execute(
                    a.insert().values(
                        dataset_id=dataset_id,
                        alias=alias,
                        version=version,
                        set_by=actor,
                        set_at=now,
                    )
                )
            else:
                conn.execute(
                    a.update().where(key).values(version=version, set_by=actor, set_at=now)
                )
            conn.execute(
                m.insert().values(
                    dataset_id=dataset_id,
                    alias=alias,
                    version=version,
                    previous=previous,
                    actor=actor,
                    at=now,
                )
            )
        return None if previous is None else int(previous)
