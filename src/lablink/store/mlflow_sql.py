"""MLflow-compatibility persistence: experiment ids, run lifecycle, exact params, kv tags.

``MlflowSql`` wraps a ``SqlStore`` and uses its engine, its one write path and its
dialect INSERT, like the other repositories. It stores only what lablink's own tables
cannot say (``schema.py`` explains each table); runs, metrics and artifacts stay in
lablink's tables and are reached through the core.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from lablink.errors import AlreadyExists, NotFound
from lablink.store import schema as t
from lablink.store.sql import SqlStore

DEFAULT_ID = 0  # MLflow's "Default" experiment

# The statements every MLflow create and log-batch runs, built once: building a
# statement anew each call makes SQLAlchemy work out its cache key again.
_EXPERIMENT = (
    sa.select(t.mlflow_experiments, t.projects.c.name.label("project"))
    .join(t.projects, t.projects.c.id == t.mlflow_experiments.c.project_id)
    .where(t.mlflow_experiments.c.experiment_id == sa.bindparam("experiment_id"))
)
_STAGE = sa.select(t.mlflow_runs.c.lifecycle_stage).where(
    t.mlflow_runs.c.run_id == sa.bindparam("run_id")
)
_PARAMS = sa.select(t.mlflow_params.c.key, t.mlflow_params.c.value).where(
    t.mlflow_params.c.run_id == sa.bindparam("run_id"),
    t.mlflow_params.c.key.in_(sa.bindparam("keys", expanding=True)),
)
_CONFIG = sa.select(t.runs.c.config).where(t.runs.c.id == sa.bindparam("run_id"))
# read to be rewritten: PostgreSQL locks the row until the transaction ends (SQLite's
# write transactions hold the whole database already)
_CONFIG_TO_SET = _CONFIG.with_for_update()
# a run (by its exact id) with its lifecycle stage: text only, read on the driver's cursor
_RUN_STAGE = (
    sa.select(t.runs.c.id, t.mlflow_runs.c.lifecycle_stage)
    .select_from(t.runs.outerjoin(t.mlflow_runs, t.mlflow_runs.c.run_id == t.runs.c.id))
    .where(t.runs.c.id == sa.bindparam("run_id"))
)


@dataclasses.dataclass(frozen=True)
class ExperimentRow:
    """An MLflow experiment: a lablink project with a numeric id and an MLflow name."""

    experiment_id: int
    project: str
    name: str
    lifecycle_stage: str
    tags: Mapping[str, str]
    created_at: float
    updated_at: float


@dataclasses.dataclass(frozen=True)
class RunExtras:
    """What MLflow keeps about a run beyond lablink's record."""

    lifecycle_stage: str = "active"
    params: Mapping[str, str] = dataclasses.field(default_factory=dict)
    tags: Mapping[str, str] = dataclasses.field(default_factory=dict)


class MlflowSql:
    """Queries for the ``mlflow_*`` tables over one SQL store."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self._put_stmts: dict[tuple[str, bool], Any] = {}

    # -- experiments ------------------------------------------------------------------
    def _select(self) -> sa.Select[Any]:
        e, p = t.mlflow_experiments, t.projects
        return sa.select(e, p.c.name.label("project")).join(p, p.c.id == e.c.project_id)

    def experiments(self) -> list[ExperimentRow]:
        """Every experiment, giving each project without one an id first."""
        e, p = t.mlflow_experiments, t.projects
        with self.store.engine.connect() as conn:
            missing = conn.execute(
                sa.select(p.c.id, p.c.name, p.c.created_at)
                .where(~p.c.id.in_(sa.select(e.c.project_id)))
                .order_by(p.c.id)
            ).all()
        for row in missing:
            self._adopt(row.id, row.name, row.created_at)
        with self.store.engine.connect() as conn:
            rows = conn.execute(self._select().order_by(e.c.experiment_id)).all()
        return [_experiment(r) for r in rows]

    def _adopt(self, project_id: int, name: str, created_at: float) -> None:
        """Give a project an experiment id (a project made by lablink's SDK)."""
        e = t.mlflow_experiments
        with self.store.write() as conn:
            taken = conn.execute(sa.select(e.c.experiment_id).where(e.c.name == name)).first()
            conn.execute(
                self.store.insert(e)
                .values(
                    project_id=project_id,
                    # an MLflow name already taken by another experiment: keep both apart
                    name=name if taken is None else f"{name} (project)",
                    lifecycle_stage="active",
                    tags={},
                    created_at=created_at,
                    updated_at=created_at,
                )
                # two callers adopting one project at once: the second adds nothing,
                # whichever unique index (project or name) sees the clash first
                .on_conflict_do_nothing()
            )

    def experiment(self, experiment_id: int) -> ExperimentRow:
        """One experiment by id. Raises ``NotFound``."""
        with self.store.engine.connect() as conn:
            row = conn.execute(_EXPERIMENT, {"experiment_id": experiment_id}).first()
        if row is None:
            raise NotFound(f"experiment {experiment_id} not found")
        return _experiment(row)

    def experiment_by(
        self, *, name: str | None = None, project: str | None = None
    ) -> ExperimentRow:
        """One experiment by MLflow name or by project. Raises ``NotFound``."""
        e, p = t.mlflow_experiments, t.projects
        where = e.c.name == name if name is not None else p.c.name == project
        with self.store.engine.connect() as conn:
            row = conn.execute(self._select().where(where)).first()
        if row is None:
            raise NotFound(f"experiment {name or project!r} not found")
        return _experiment(row)

    def add_experiment(
        self, project_id: int, name: str, tags: Mapping[str, str], experiment_id: int | None = None
    ) -> int:
        """Give ``project_id`` the experiment ``name``; answers its id.

        Raises:
            AlreadyExists: the name, or the project, has an experiment already.
        """
        e = t.mlflow_experiments
        now = time.time()
        values: dict[str, Any] = {
            "project_id": project_id,
            "name": name,
            "lifecycle_stage": "active",
            "tags": dict(tags),
            "created_at": now,
            "updated_at": now,
        }
        if experiment_id is not None:
            values["experiment_id"] = experiment_id
        with self.store.write() as conn:
            clash = conn.execute(
                sa.select(e.c.experiment_id).where(
                    (e.c.name == name) | (e.c.project_id == project_id)
                )
            ).first()
            if clash is not None:
                raise AlreadyExists(f"experiment {name!r} already exists")
            new = conn.execute(self.store.insert(e).values(**values).returning(e.c.experiment_id))
            return int(new.scalar_one())

    def update_experiment(self, experiment_id: int, **values: Any) -> None:
        """Set ``name``, ``lifecycle_stage`` or ``tags`` of an experiment.

        Raises:
            NotFound: no such experiment.
            AlreadyExists: the new name is taken.
        """
        e = t.mlflow_experiments
        with self.store.write() as conn:
            name = values.get("name")
            if name is not None:
                other = conn.execute(
                    sa.select(e.c.experiment_id).where(
                        (e.c.name == name) & (e.c.experiment_id != experiment_id)
                    )
                ).first()
                if other is not None:
                    raise AlreadyExists(f"experiment {name!r} already exists")
            done = conn.execute(
                e.update()
                .where(e.c.experiment_id == experiment_id)
                .values(updated_at=time.time(), **values)
            )
            if done.rowcount == 0:
                raise NotFound(f"experiment {experiment_id} not found")

    # -- runs -------------------------------------------------------------------------
    def extras(self, run_ids: Sequence[str]) -> dict[str, RunExtras]:
        """The MLflow extras of each run (runs without any get the defaults)."""
        stage: dict[str, str] = {}
        params: dict[str, dict[str, str]] = {}
        tags: dict[str, dict[str, str]] = {}
        among = self.store.among  # a long list bound as one value, not one per id
        r = t.mlflow_runs
        with self.store.engine.connect() as conn:
            for part in _chunks(list(run_ids), 500):
                rows = conn.execute(
                    sa.select(r.c.run_id, r.c.lifecycle_stage).where(among(r.c.run_id, part))
                )
                stage.update((run_id, value) for run_id, value in rows)
                for table, into in ((t.mlflow_params, params), (t.mlflow_tags, tags)):
                    c = table.c
                    query = sa.select(c.run_id, c.key, c.value).where(among(c.run_id, part))
                    for run_id, key, value in conn.execute(query):
                        if run_id in into:
                            into[run_id][key] = value
                        else:
                            into[run_id] = {key: value}
        return {
            rid: RunExtras(stage.get(rid, "active"), params.get(rid, {}), tags.get(rid, {}))
            for rid in run_ids
        }

    def params(self, run_id: str, keys: Iterable[str]) -> dict[str, str]:
        """The stored values of a run's params among ``keys`` (one read, not a run's
        whole extras, to check the params a batch sends)."""
        with self.store.engine.connect() as conn:
            rows = conn.execute(_PARAMS, {"run_id": run_id, "keys": list(keys)})
            return {row.key: row.value for row in rows}

    def lifecycle(self, run_id: str) -> str:
        """A run's lifecycle stage (``active`` for a run without MLflow extras)."""
        with self.store.engine.connect() as conn:
            stage = conn.execute(_STAGE, {"run_id": run_id}).scalar()
        return str(stage or "active")

    def batch_state(
        self, run_id: str, param_keys: Sequence[str]
    ) -> tuple[str, dict[str, str]] | None:
        """What a log-batch checks first: the lifecycle stage of the run whose exact id is
        ``run_id``, and the stored values of its params among ``param_keys``. None: no
        run has exactly that id."""
        stored: dict[str, str] = {}
        with self.store.engine.connect() as conn:
            found = self.store.hot.execute(conn, _RUN_STAGE, {"run_id": run_id})
            if not found:
                return None
            if param_keys:
                rows = conn.execute(_PARAMS, {"run_id": run_id, "keys": list(param_keys)})
                stored = {r.key: r.value for r in rows}
        return str(found[0][1] or "active"), stored

    def set_lifecycle(self, run_ids: Iterable[str], stage: str) -> None:
        """Mark runs ``active`` or ``deleted``."""
        with self.store.write() as conn:
            self._set_lifecycle(conn, run_ids, stage)

    def _set_lifecycle(self, conn: sa.Connection, run_ids: Iterable[str], stage: str) -> None:
        deleted_at = time.time() if stage == "deleted" else None
        stmt = self._put_stmts.get(("mlflow_runs", True))
        if stmt is None:  # built once, like ``_put``'s
            stmt = self.store.insert(t.mlflow_runs)
            stmt = stmt.on_conflict_do_update(
                index_elements=["run_id"],
                set_={
                    "lifecycle_stage": stmt.excluded.lifecycle_stage,
                    "deleted_at": stmt.excluded.deleted_at,
                },
            )
            self._put_stmts[("mlflow_runs", True)] = stmt
        hot = self.store.hot  # on the driver's cursor: a run's creation writes this
        for rid in run_ids:
            hot.execute(
                conn, stmt, {"run_id": rid, "lifecycle_stage": stage, "deleted_at": deleted_at}
            )

    def start_run(self, run_id: str, tags: Mapping[str, str]) -> None:
        """A run created through MLflow: the ``active`` stage and its tags, in one
        transaction (one commit to make durable, not two)."""
        with self.store.write() as conn:
            self._set_lifecycle(conn, [run_id], "active")
            self._put(t.mlflow_tags, run_id, tags, overwrite=True, conn=conn)

    def config(self, run_id: str) -> dict[str, Any]:
        """A run's config (what params merge into). Raises ``NotFound``."""
        with self.store.engine.connect() as conn:
            row = conn.execute(_CONFIG, {"run_id": run_id}).first()
        if row is None:
            raise NotFound(f"no run with id {run_id!r}", "list runs with `lablink runs ls`")
        return dict(row.config or {})

    def log_params(
        self,
        run_id: str,
        params: Mapping[str, str],
        merge: Callable[[dict[str, Any]], tuple[dict[str, Any], dict[str, Any]]],
    ) -> None:
        """Store params (a key already stored keeps its value: the core checks equality)
        and the run's new config, with its flat params (as ``SqlStore.set_config``), in
        one transaction. ``merge`` makes the config and flat params from the run's
        config, read in that transaction (so params logged at once are all kept); what
        it raises leaves everything as it was.

        Raises:
            NotFound: no run has exactly that id.
        """
        with self.store.write() as conn:
            row = conn.execute(_CONFIG_TO_SET, {"run_id": run_id}).first()
            if row is None:
                raise NotFound(f"no run with id {run_id!r}", "list runs with `lablink runs ls`")
            config, flat = merge(dict(row.config or {}))
            self._put(t.mlflow_params, run_id, params, overwrite=False, conn=conn)
            self.store.set_config_in(conn, run_id, config, flat)

    def put_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        """Store tags, replacing the values of keys already set."""
        self._put(t.mlflow_tags, run_id, tags, overwrite=True)

    def _put(
        self,
        table: sa.Table,
        run_id: str,
        values: Mapping[str, str],
        overwrite: bool,
        conn: sa.Connection | None = None,
    ) -> None:
        if not values:
            return
        rows = {"run_id": [run_id] * len(values), "key": list(values), "value": [*values.values()]}
        # One statement per table and mode, run for every row (executemany) on the
        # driver's cursor: a statement with the rows inlined is compiled anew each time,
        # a millisecond a call, and SQLAlchemy's execution costs more than SQLite's.
        stmt = self._put_stmts.get((table.name, overwrite))
        if stmt is None:
            stmt = self.store.insert(table)
            if overwrite:
                stmt = stmt.on_conflict_do_update(
                    index_elements=["run_id", "key"], set_={"value": stmt.excluded.value}
                )
            else:
                stmt = stmt.on_conflict_do_nothing(index_elements=["run_id", "key"])
            self._put_stmts[(table.name, overwrite)] = stmt
        if conn is not None:
            self.store.hot.executemany(conn, stmt, rows)
            return
        with self.store.write() as own:
            self.store.hot.executemany(own, stmt, rows)

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag. Raises ``NotFound`` when the run has no such tag."""
        g = t.mlflow_tags
        with self.store.write() as conn:
            done = conn.execute(g.delete().where((g.c.run_id == run_id) & (g.c.key == key)))
            if done.rowcount == 0:
                raise NotFound(f"no tag {key!r} on run {run_id}")

    def project_run_ids(self, project: str) -> list[str]:
        """Every run id of a project (to delete or restore an experiment's runs)."""
        r, p = t.runs, t.projects
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                sa.select(r.c.id).join(p, p.c.id == r.c.project_id).where(p.c.name == project)
            )
            return [row.id for row in rows]


def _experiment(row: Any) -> ExperimentRow:
    return ExperimentRow(
        int(row.experiment_id),
        row.project,
        row.name,
        row.lifecycle_stage,
        dict(row.tags or {}),
        float(row.created_at),
        float(row.updated_at),
    )


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
