"""Model registry persistence: logged models, registered models, versions and aliases.

``RegistrySql`` wraps a ``SqlStore`` (its engine, its one write path, its dialect
INSERT) like ``MlflowSql``. ``schema.py`` explains each table; the rules (what a
source may be, how stages move) live in ``core/registry.py``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from lablink.errors import AlreadyExists, NotFound
from lablink.store import schema as t
from lablink.store.sql import SqlStore


@dataclasses.dataclass(frozen=True)
class LoggedModelRow:
    """A model the MLflow client logged in a run; its files are run artifacts at ``path``."""

    model_id: str
    run_id: str
    name: str
    path: str
    model_type: str | None
    status: str
    params: Mapping[str, str]
    tags: Mapping[str, str]
    created_at: float
    updated_at: float


@dataclasses.dataclass(frozen=True)
class VersionRow:
    """One version of a registered model."""

    model: str
    version: int
    source: str
    location: str
    run_id: str | None
    logged_model_id: str | None
    stage: str
    description: str | None
    tags: Mapping[str, str]
    created_by: str
    created_at: float
    updated_at: float
    aliases: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class ModelRow:
    """A registered model with its aliases (alias -> version)."""

    id: int
    name: str
    project: str | None
    description: str | None
    tags: Mapping[str, str]
    created_by: str
    created_at: float
    updated_at: float
    aliases: Mapping[str, int]
    latest: int | None  # the highest version number, None without versions


class RegistrySql:
    """Queries for the registry tables over one SQL store."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    # -- logged models ----------------------------------------------------------------
    def add_logged_model(self, row: LoggedModelRow) -> None:
        """Store a new logged model."""
        with self.store.write() as conn:
            conn.execute(t.mlflow_logged_models.insert().values(**dataclasses.asdict(row)))

    def logged_model(self, model_id: str) -> LoggedModelRow:
        """One logged model. Raises ``NotFound``."""
        g = t.mlflow_logged_models
        with self.store.engine.connect() as conn:
            row = conn.execute(sa.select(g).where(g.c.model_id == model_id)).first()
        if row is None:
            raise NotFound(f"logged model {model_id!r} not found")
        return _logged(row)

    def logged_models(self, run_ids: list[str] | None = None) -> list[LoggedModelRow]:
        """Logged models, of the given runs only when ``run_ids`` is given."""
        g = t.mlflow_logged_models
        query = sa.select(g).order_by(g.c.created_at, g.c.model_id)
        if run_ids is not None:
            query = query.where(g.c.run_id.in_(run_ids))
        with self.store.engine.connect() as conn:
            return [_logged(r) for r in conn.execute(query)]

    def logged_models_of(self, projects: list[str]) -> list[LoggedModelRow]:
        """The logged models of the runs of these projects."""
        g, r, p = t.mlflow_logged_models, t.runs, t.projects
        query = (
            sa.select(g)
            .join(r, r.c.id == g.c.run_id)
            .join(p, p.c.id == r.c.project_id)
            .where(p.c.name.in_(projects))
            .order_by(g.c.created_at, g.c.model_id)
        )
        with self.store.engine.connect() as conn:
            return [_logged(row) for row in conn.execute(query)]

    def update_logged_model(self, model_id: str, **values: Any) -> None:
        """Set ``status``, ``params`` or ``tags`` of a logged model. Raises ``NotFound``."""
        g = t.mlflow_logged_models
        with self.store.write() as conn:
            done = conn.execute(
                g.update().where(g.c.model_id == model_id).values(updated_at=time.time(), **values)
            )
            if done.rowcount == 0:
                raise NotFound(f"logged model {model_id!r} not found")

    def delete_logged_model(self, model_id: str) -> None:
        """Forget a logged model (its files stay with the run). Raises ``NotFound``."""
        g = t.mlflow_logged_models
        with self.store.write() as conn:
            if conn.execute(g.delete().where(g.c.model_id == model_id)).rowcount == 0:
                raise NotFound(f"logged model {model_id!r} not found")

    # -- registered models ------------------------------------------------------------
    def add_model(
        self, name: str, actor: str, tags: Mapping[str, str], description: str | None
    ) -> None:
        """Register a new model name. Raises ``AlreadyExists``."""
        m = t.registered_models
        now = time.time()
        with self.store.write() as conn:
            if conn.execute(sa.select(m.c.id).where(m.c.name == name)).first() is not None:
                raise AlreadyExists(f"registered model (name={name}) already exists")
            conn.execute(
                m.insert().values(
                    name=name,
                    project_id=None,
                    description=description,
                    tags=dict(tags),
                    created_by=actor,
                    created_at=now,
                    updated_at=now,
                )
            )

    def models(self, name: str | None = None) -> list[ModelRow]:
        """Every registered model (or the one named ``name``), by name."""
        m, p, v, a = t.registered_models, t.projects, t.model_versions, t.model_aliases
        latest = (
            sa.select(v.c.model_id, sa.func.max(v.c.version).label("latest"))
            .group_by(v.c.model_id)
            .subquery()
        )
        query = (
            sa.select(m, p.c.name.label("project"), latest.c.latest)
            .outerjoin(p, p.c.id == m.c.project_id)
            .outerjoin(latest, latest.c.model_id == m.c.id)
            .order_by(m.c.name)
        )
        if name is not None:
            query = query.where(m.c.name == name)
        with self.store.engine.connect() as conn:
            rows = conn.execute(query).all()
            ids = [r.id for r in rows]
            aliases: dict[int, dict[str, int]] = {}
            if ids:
                for r in conn.execute(
                    sa.select(a).where(a.c.model_id.in_(ids)).order_by(a.c.alias)
                ):
                    aliases.setdefault(r.model_id, {})[r.alias] = r.version
        return [
            ModelRow(
                int(r.id),
                r.name,
                r.project,
                r.description,
                dict(r.tags or {}),
                r.created_by,
                float(r.created_at),
                float(r.updated_at),
                aliases.get(r.id, {}),
                None if r.latest is None else int(r.latest),
            )
            for r in rows
        ]

    def model(self, name: str) -> ModelRow:
        """One registered model. Raises ``NotFound``."""
        found = self.models(name)
        if not found:
            raise NotFound(f"registered model {name!r} not found")
        return found[0]

    def update_model(self, model_id: int, **values: Any) -> None:
        """Set ``name``, ``description``, ``tags`` or ``project_id`` of a model.

        Raises:
            AlreadyExists: a new name that another model has.
        """
        m = t.registered_models
        with self.store.write() as conn:
            name = values.get("name")
            if name is not None:
                clash = conn.execute(
                    sa.select(m.c.id).where((m.c.name == name) & (m.c.id != model_id))
                ).first()
                if clash is not None:
                    raise AlreadyExists(f"registered model (name={name}) already exists")
            conn.execute(
                m.update().where(m.c.id == model_id).values(updated_at=time.time(), **values)
            )

    def delete_model(self, model_id: int) -> None:
        """Remove a model with its versions and aliases."""
        with self.store.write() as conn:
            for table in (t.model_aliases, t.model_versions):
                conn.execute(table.delete().where(table.c.model_id == model_id))
            conn.execute(t.registered_models.delete().where(t.registered_models.c.id == model_id))

    # -- versions ---------------------------------------------------------------------
    def add_version(
        self, model: ModelRow, values: Mapping[str, Any], project_id: int | None
    ) -> int:
        """Number and store the next version of ``model``; answers its number. The model
        takes ``project_id`` when it has no project yet."""
        v, m = t.model_versions, t.registered_models
        now = time.time()
        with self.store.write() as conn:
            # FOR UPDATE serialises numbering per model on PostgreSQL (as dataset commits
            # do); SQLite's write transaction already holds the database.
            conn.execute(sa.select(m.c.id).where(m.c.id == model.id).with_for_update())
            top = conn.execute(
                sa.select(sa.func.max(v.c.version)).where(v.c.model_id == model.id)
            ).scalar()
            number = int(top or 0) + 1
            conn.execute(
                v.insert().values(
                    model_id=model.id, version=number, created_at=now, updated_at=now, **values
                )
            )
            this = m.c.id == model.id
            conn.execute(m.update().where(this).values(updated_at=now))
            if project_id is not None:  # only the first version's run gives the project
                conn.execute(
                    m.update().where(this & m.c.project_id.is_(None)).values(project_id=project_id)
                )
        return number

    def versions(self, model: ModelRow | None = None) -> list[VersionRow]:
        """The versions of ``model`` (of every model for None), newest first."""
        v, m = t.model_versions, t.registered_models
        query = (
            sa.select(v, m.c.name.label("model"))
            .join(m, m.c.id == v.c.model_id)
            .order_by(m.c.name, v.c.version.desc())
        )
        if model is not None:
            query = query.where(v.c.model_id == model.id)
        with self.store.engine.connect() as conn:
            rows = conn.execute(query).all()
            aliases: dict[tuple[str, int], list[str]] = {}
            a = t.model_aliases
            alias_query = sa.select(a, m.c.name.label("model")).join(m, m.c.id == a.c.model_id)
            if model is not None:
                alias_query = alias_query.where(a.c.model_id == model.id)
            for r in conn.execute(alias_query.order_by(a.c.alias)):
                aliases.setdefault((r.model, r.version), []).append(r.alias)
        return [_version(r, tuple(aliases.get((r.model, r.version), ()))) for r in rows]

    def versions_of_run(self, run_id: str) -> list[tuple[str, int, str | None]]:
        """``(model name, version, model's project)`` of every version registered from
        run ``run_id``."""
        v, m, p = t.model_versions, t.registered_models, t.projects
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                sa.select(m.c.name, v.c.version, p.c.name.label("project"))
                .join(m, m.c.id == v.c.model_id)
                .outerjoin(p, p.c.id == m.c.project_id)
                .where(v.c.run_id == run_id)
                .order_by(m.c.name, v.c.version)
            ).all()
        return [(r.name, int(r.version), r.project) for r in rows]

    def version(self, model: ModelRow, number: int) -> VersionRow:
        """One version. Raises ``NotFound``."""
        for row in self.versions(model):
            if row.version == number:
                return row
        raise NotFound(f"model version (name={model.name}, version={number}) not found")

    def update_version(self, model: ModelRow, number: int, **values: Any) -> None:
        """Set ``stage``, ``description`` or ``tags`` of a version. Raises ``NotFound``."""
        v = t.model_versions
        with self.store.write() as conn:
            done = conn.execute(
                v.update()
                .where((v.c.model_id == model.id) & (v.c.version == number))
                .values(updated_at=time.time(), **values)
            )
            if done.rowcount == 0:
                raise NotFound(f"model version (name={model.name}, version={number}) not found")

    def archive_stage(self, model: ModelRow, stage: str, keep: int) -> None:
        """Move every other version in ``stage`` to ``Archived``."""
        v = t.model_versions
        with self.store.write() as conn:
            conn.execute(
                v.update()
                .where((v.c.model_id == model.id) & (v.c.stage == stage) & (v.c.version != keep))
                .values(stage="Archived", updated_at=time.time())
            )

    def delete_version(self, model: ModelRow, number: int) -> None:
        """Remove a version and the aliases that point at it. Raises ``NotFound``."""
        v, a = t.model_versions, t.model_aliases
        with self.store.write() as conn:
            conn.execute(a.delete().where((a.c.model_id == model.id) & (a.c.version == number)))
            done = conn.execute(
                v.delete().where((v.c.model_id == model.id) & (v.c.version == number))
            )
            if done.rowcount == 0:
                raise NotFound(f"model version (name={model.name}, version={number}) not found")

    # -- aliases ----------------------------------------------------------------------
    def set_alias(self, model: ModelRow, alias: str, number: int, actor: str) -> None:
        """Point ``alias`` at version ``number`` (moving it if set)."""
        a = t.model_aliases
        now = time.time()
        stmt = self.store.insert(a).values(
            model_id=model.id, alias=alias, version=number, set_by=actor, set_at=now
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["model_id", "alias"],
            set_={"version": number, "set_by": actor, "set_at": now},
        )
        with self.store.write() as conn:
            conn.execute(stmt)

    def delete_alias(self, model: ModelRow, alias: str) -> None:
        """Remove an alias. Raises ``NotFound`` when it is not set."""
        a = t.model_aliases
        with self.store.write() as conn:
            done = conn.execute(a.delete().where((a.c.model_id == model.id) & (a.c.alias == alias)))
            if done.rowcount == 0:
                raise NotFound(f"registered model {model.name!r} has no alias {alias!r}")


def _logged(row: Any) -> LoggedModelRow:
    return LoggedModelRow(
        row.model_id,
        row.run_id,
        row.name,
        row.path,
        row.model_type,
        row.status,
        dict(row.params or {}),
        dict(row.tags or {}),
        float(row.created_at),
        float(row.updated_at),
    )


def _version(row: Any, aliases: tuple[str, ...]) -> VersionRow:
    return VersionRow(
        row.model,
        int(row.version),
        row.source,
        row.location,
        row.run_id,
        row.logged_model_id,
        row.stage,
        row.description,
        dict(row.tags or {}),
        row.created_by,
        float(row.created_at),
        float(row.updated_at),
        aliases,
    )
