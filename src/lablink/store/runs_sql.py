"""Projects and runs: create, read, search, update; tags, notes, inputs and summaries."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa

from lablink.checks.filters import Expr
from lablink.checks.run_view import blank_fields
from lablink.errors import AlreadyExists, InvalidInput, NotFound
from lablink.gcpause import gc_paused
from lablink.models import MetricSummary, Note, Project, RunRecord
from lablink.store import schema as t
from lablink.store.base_sql import RUN_STATE
from lablink.store.events_sql import EventsSql
from lablink.store.filter_sql import compile_filter, order_by_clause
from lablink.store.row_columns import COLUMN_FIELDS, metric_lists, to_columns
from lablink.store.rows import (
    ALWAYS_COLUMNS,
    COLUMN_FIELD,
    LIST_SKIPPABLE,
    RUN_DEFAULTS,
    Blanks,
    as_number,
    metrics_by_run,
    param_columns,
    to_run,
)
from lablink.store.side_rows import metric_rows, read_params, read_tags

# Up to this many matches a page is picked from the matches alone; beyond, the runs are
# walked newest first (measured in benchmarks/tracking.py).
_SET_PAGE_MAX = 10_000
# Up to this many runs in the project a filter is tested run by run, count included.
_CORRELATED_MAX = 5_000
# The side tables read as lists, and what stands in for one a list leaves blank (true,
# so ``or`` keeps it; the blank fill replaces it).
_LISTED = ("tags", "notes", "inputs")
_LEFT: Any = ("left blank",)
_T = TypeVar("_T")
# Statements every run creation runs, built once (SQLAlchemy then reuses their compiled form).
_RUN_EXISTS = sa.select(t.runs.c.id).where(t.runs.c.id == sa.bindparam("run_id"))
_RUN_INSERT = t.runs.insert()
# (the bound id is named apart from the columns set, which the call's values name)
_SET_CONFIG = t.runs.update().where(t.runs.c.id == sa.bindparam("config_of"))
_DROP_PARAMS = t.run_params.delete().where(t.run_params.c.run_id == sa.bindparam("run_id"))
_ADD_PARAMS = t.run_params.insert()


class RunsSql(EventsSql):
    """Run rows and what hangs off them; status changes append to the event log."""

    def __init__(self, engine: sa.Engine) -> None:
        super().__init__(engine)
        self._project_ids: dict[str, int] = {}

    # -- projects -----------------------------------------------------------------------
    def ensure_project(self, name: str) -> int:
        if name in self._project_ids:
            return self._project_ids[name]
        with self.write() as conn:
            conn.execute(
                self.insert(t.projects)
                .values(name=name, created_at=time.time())
                .on_conflict_do_nothing(index_elements=["name"])
            )
            pid = conn.execute(
                sa.select(t.projects.c.id).where(t.projects.c.name == name)
            ).scalar_one()
        self._project_ids[name] = int(pid)
        return int(pid)

    def _project_id(self, conn: sa.Connection, name: str) -> int:
        if name in self._project_ids:  # a project is never deleted nor renamed
            return self._project_ids[name]
        pid = conn.execute(sa.select(t.projects.c.id).where(t.projects.c.name == name)).scalar()
        if pid is None:
            raise NotFound(f"no project named {name!r}", "list projects with `lablink projects`")
        self._project_ids[name] = int(pid)
        return int(pid)

    def list_projects(self) -> list[Project]:
        r = t.runs
        counts = (
            sa.select(
                r.c.project_id,
                sa.func.count().label("n"),
                sa.func.sum(sa.case((r.c.status == "running", 1), else_=0)).label("active"),
                sa.func.max(sa.func.coalesce(r.c.updated_at, r.c.created_at)).label("last"),
            )
            .group_by(r.c.project_id)
            .subquery()
        )
        query = (
            sa.select(
                t.projects.c.name,
                t.projects.c.created_at,
                counts.c.n,
                counts.c.active,
                counts.c.last,
            )
            .select_from(t.projects.outerjoin(counts, counts.c.project_id == t.projects.c.id))
            .order_by(sa.desc(sa.func.coalesce(counts.c.last, t.projects.c.created_at)))
        )
        with self.engine.connect() as conn:
            return [
                Project(row.name, row.created_at, int(row.n or 0), int(row.active or 0), row.last)
                for row in conn.execute(query)
            ]

    # -- runs -------------------------------------------------------------------------
    def create_run(
        self, values: Mapping[str, Any], params: Mapping[str, Any], tags: Sequence[str]
    ) -> None:
        with self.write() as conn:
            exists = self.hot.execute(conn, _RUN_EXISTS, {"run_id": values["id"]})
            if exists:
                raise AlreadyExists(f"run {values['id']} already exists")
            # on the driver's cursor (``HotSql``), every defaulted column given, as the
            # statement is compiled for the columns given
            self.hot.execute(conn, _RUN_INSERT, {**RUN_DEFAULTS, **values})
            if params:
                conn.execute(
                    t.run_params.insert(),
                    [
                        {"run_id": values["id"], "key": k, **param_columns(v)}
                        for k, v in params.items()
                    ],
                )
            if tags:
                conn.execute(
                    t.run_tags.insert(),
                    [{"run_id": values["id"], "tag": tag} for tag in dict.fromkeys(tags)],
                )
            self.add_event(
                conn,
                values["project_id"],
                values["id"],
                "run_created",
                {"status": values["status"], "name": values["name"]},
            )

    def create_runs(
        self, rows: Sequence[tuple[Mapping[str, Any], Mapping[str, Any], Sequence[str]]]
    ) -> None:
        if not rows:
            return
        ids = [values["id"] for values, _, _ in rows]
        params = [
            {"run_id": values["id"], "key": k, **param_columns(v)}
            for values, ps, _ in rows
            for k, v in ps.items()
        ]
        tags = [
            {"run_id": values["id"], "tag": tag}
            for values, _, ts in rows
            for tag in dict.fromkeys(ts)
        ]
        now = time.time()
        events = [
            {
                "project_id": values["project_id"],
                "run_id": values["id"],
                "kind": "run_created",
                "payload": {"status": values["status"], "name": values["name"]},
                "created_at": now,
            }
            for values, _, _ in rows
        ]
        with self.write() as conn:
            taken = conn.execute(sa.select(t.runs.c.id).where(t.runs.c.id.in_(ids))).first()
            if taken:
                raise AlreadyExists(f"run {taken.id} already exists", "choose another id")
            # one statement per table: executemany, far cheaper than a round trip per run
            # executemany wants one set of columns: a capture field one run lacks is NULL
            columns = list(dict.fromkeys(k for values, _, _ in rows for k in values))
            conn.execute(
                t.runs.insert(), [{k: values.get(k) for k in columns} for values, _, _ in rows]
            )
            if params:
                conn.execute(t.run_params.insert(), params)
            if tags:
                conn.execute(t.run_tags.insert(), tags)
            conn.execute(t.events.insert(), events)
            last = conn.execute(sa.select(sa.func.max(t.events.c.id))).scalar_one()
            self._notify(conn, int(last))

    def existing_run_ids(self, run_ids: Sequence[str]) -> set[str]:
        if not run_ids:
            return set()
        query = sa.select(t.runs.c.id).where(t.runs.c.id.in_(list(run_ids)))
        with self.engine.connect() as conn:
            return {str(rid) for rid in conn.execute(query).scalars()}

    def get_run(self, run_id: str) -> RunRecord:
        runs = self._load_runs([run_id])
        if not runs:
            raise NotFound(f"no run with id {run_id!r}", "list runs with `lablink runs ls`")
        return runs[0]

    def run_status(self, run_id: str) -> tuple[str, str | None, str | None]:
        c = t.runs.c
        query = sa.select(c.status, c.status_reason, c.stop_requested).where(c.id == run_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"no run with id {run_id!r}", "list runs with `lablink runs ls`")
        return str(row.status), row.status_reason, row.stop_requested

    def resolve_run_id(self, ref: str) -> str:
        ref = ref.strip()
        if not ref:
            raise InvalidInput("a run id is empty")
        with self.engine.connect() as conn:
            exact = conn.execute(sa.select(t.runs.c.id).where(t.runs.c.id == ref)).scalar()
            if exact:
                return str(exact)
            if len(ref) < 4:
                raise NotFound(f"no run with id {ref!r}", "give at least 4 characters of an id")
            like = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            found = (
                conn.execute(
                    sa.select(t.runs.c.id).where(t.runs.c.id.like(like, escape="\\")).limit(2)
                )
                .scalars()
                .all()
            )
        if not found:
            raise NotFound(f"no run with id {ref!r}", "list runs with `lablink runs ls`")
        if len(found) > 1:
            raise InvalidInput(f"run id prefix {ref!r} is ambiguous", "give more characters")
        return str(found[0])

    def search_runs(
        self,
        project: str | None,
        where: Expr | None,
        order_by: str | None,
        descending: bool,
        limit: int,
        offset: int,
        fields: Sequence[str] | None = None,
    ) -> tuple[list[RunRecord], int]:
        return self._search(
            project, where, order_by, descending, limit, offset, fields, self._hydrate
        )

    def search_run_columns(
        self,
        project: str | None,
        where: Expr | None,
        order_by: str | None,
        descending: bool,
        limit: int,
        offset: int,
        fields: Sequence[str],
    ) -> tuple[dict[str, list[Any]], int]:
        unknown = set(fields) - COLUMN_FIELDS
        if unknown:
            raise InvalidInput(f"fields {sorted(unknown)} are not made as columns from rows")
        return self._search(
            project, where, order_by, descending, limit, offset, fields, self._columns
        )

    def _search(
        self,
        project: str | None,
        where: Expr | None,
        order_by: str | None,
        descending: bool,
        limit: int,
        offset: int,
        fields: Sequence[str] | None,
        build: Callable[[sa.Connection, Sequence[Any], Sequence[str] | None], _T],
    ) -> tuple[_T, int]:
        """A page of matching run rows as ``build`` makes it, and the match count."""
        r = t.runs
        with self.engine.connect() as conn:
            conds: list[Any] = []
            if project is not None:
                conds.append(r.c.project_id == self._project_id(conn, project))
            # A count reads every match. The set form (filter_sql.py) reads only the
            # matching index entries, but of every project: a small project is cheaper
            # to test run by run (correlated form).
            reach = min(offset + limit, _SET_PAGE_MAX)
            size = (
                self._runs_up_to(conn, conds, max(_CORRELATED_MAX, reach) + 1)
                if where is not None and project is not None
                else None
            )
            as_set = where is not None and (size is None or size > _CORRELATED_MAX)
            clause = None if where is None else compile_filter(where, as_set=as_set)
            counted = conds if clause is None else [*conds, clause]
            # A project with no more runs than the page reaches: the page holds every
            # match from ``offset`` on, so its length gives the count (unless empty).
            short = size is not None and size <= reach
            total = -1 if short else self._count(conn, counted)
            if not short and total <= offset:
                return build(conn, [], fields), total
            if where is not None:
                # Few matches: sort just those. Many: walk the runs in order and stop
                # after a page, testing each (correlated form).
                page_as_set = as_set and (short or total <= _SET_PAGE_MAX)
                same = page_as_set == as_set  # the count's clause serves: compiled once
                conds.append(clause if same else compile_filter(where, as_set=page_as_set))
            order = order_by_clause(order_by)
            direction = sa.desc if descending else sa.asc
            sort = [
                direction(o).nulls_last() for o in (order if isinstance(order, list) else [order])
            ]
            with gc_paused():
                if (
                    fields is not None
                    and not LIST_SKIPPABLE.intersection(fields)
                    and (short or offset + limit >= total)
                ):
                    # The page holds every match left and no JSON column is asked for:
                    # sort the small rows at once. (A short page of many matches sorts
                    # ids, which an index covers, and reads only its own rows.)
                    rows = conn.execute(
                        self._run_rows(fields)
                        .where(*conds)
                        .order_by(*sort, sa.desc(r.c.created_at), r.c.id)
                        .limit(limit)
                        .offset(offset)
                    ).all()
                else:
                    # Ids first: sorting whole rows would carry their package lists
                    # through the sort.
                    ids = conn.execute(
                        sa.select(r.c.id)
                        .where(*conds)
                        .order_by(*sort, sa.desc(r.c.created_at), r.c.id)
                        .limit(limit)
                        .offset(offset)
                    ).scalars()
                    rows = self._rows_by_id(conn, list(ids), fields)
                if short:
                    if not rows and offset:  # past the end: how far is unknown
                        return build(conn, [], fields), self._count(conn, counted)
                    total = offset + len(rows)
                return build(conn, rows, fields), total

    @staticmethod
    def _runs_up_to(conn: sa.Connection, conds: Sequence[Any], n: int) -> int:
        """How many runs meet ``conds``, counting no further than ``n`` (reads at most
        ``n`` index entries)."""
        some = sa.select(t.runs.c.id).where(*conds).limit(n).subquery()
        return int(conn.execute(sa.select(sa.func.count()).select_from(some)).scalar_one())

    @staticmethod
    def _count(conn: sa.Connection, conds: Sequence[Any]) -> int:
        """How many runs meet ``conds``."""
        query = sa.select(sa.func.count()).select_from(t.runs).where(*conds)
        return int(conn.execute(query).scalar_one())

    def update_run(self, run_id: str, values: Mapping[str, Any]) -> None:
        with self.write() as conn:
            row = conn.execute(
                sa.select(t.runs.c.project_id, t.runs.c.status).where(t.runs.c.id == run_id)
            ).first()
            if row is None:
                raise NotFound(f"no run with id {run_id!r}")
            conn.execute(
                t.runs.update()
                .where(t.runs.c.id == run_id)
                .values(updated_at=time.time(), **values)
            )
            if "status" in values and values["status"] != row.status:
                self.add_event(
                    conn,
                    row.project_id,
                    run_id,
                    "status",
                    {"status": values["status"], "reason": values.get("status_reason")},
                )

    def set_config(self, run_id: str, config: Mapping[str, Any], params: Mapping[str, Any]) -> None:
        with self.write() as conn:
            self.set_config_in(conn, run_id, config, params)

    def set_config_in(
        self,
        conn: sa.Connection,
        run_id: str,
        config: Mapping[str, Any],
        params: Mapping[str, Any],
    ) -> None:
        """``set_config`` in ``conn``'s transaction (with writes of the caller's own)."""
        # on the driver's cursor (``HotSql``): an MLflow param logged is this whole call
        hot = self.hot
        if not hot.execute(conn, RUN_STATE, {"run_id": run_id}):
            raise NotFound(f"no run with id {run_id!r}", "list runs with `lablink runs ls`")
        hot.execute(
            conn,
            _SET_CONFIG,
            {"config_of": run_id, "config": dict(config), "updated_at": time.time()},
        )
        hot.execute(conn, _DROP_PARAMS, {"run_id": run_id})
        if params:
            columns = [param_columns(v) for v in params.values()]
            hot.executemany(
                conn,
                _ADD_PARAMS,
                {
                    "run_id": [run_id] * len(params),
                    "key": list(params),
                    "value_num": [c["value_num"] for c in columns],
                    "value_text": [c["value_text"] for c in columns],
                },
            )

    def set_summary(self, run_id: str, summary: Mapping[str, Any]) -> None:
        with self.write() as conn:
            current = conn.execute(sa.select(t.runs.c.summary).where(t.runs.c.id == run_id)).first()
            if current is None:
                raise NotFound(f"no run with id {run_id!r}")
            merged = {**(current.summary or {}), **summary}
            conn.execute(
                t.runs.update()
                .where(t.runs.c.id == run_id)
                .values(summary=merged, updated_at=time.time())
            )
            for key, value in summary.items():
                number = as_number(value)
                if number is None:
                    # a text or structured entry (a gate record) is no metric: it clears a
                    # metric's summary value but does not add a metric to the run
                    conn.execute(
                        t.run_metrics.update()
                        .where(t.run_metrics.c.run_id == run_id, t.run_metrics.c.key == key)
                        .values(summary_value=None)
                    )
                    continue
                stmt = self.insert(t.run_metrics).values(
                    run_id=run_id, key=key, count=0, summary_value=number
                )
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["run_id", "key"], set_={"summary_value": number}
                    )
                )

    def add_tags(self, run_id: str, tags: Sequence[str]) -> None:
        with self.write() as conn:
            self.require_run(conn, run_id)
            for tag in dict.fromkeys(tags):
                conn.execute(
                    self.insert(t.run_tags).values(run_id=run_id, tag=tag).on_conflict_do_nothing()
                )
            conn.execute(
                t.runs.update().where(t.runs.c.id == run_id).values(updated_at=time.time())
            )

    def remove_tags(self, run_id: str, tags: Sequence[str]) -> None:
        with self.write() as conn:
            self.require_run(conn, run_id)
            conn.execute(
                t.run_tags.delete().where(
                    t.run_tags.c.run_id == run_id, t.run_tags.c.tag.in_(list(tags))
                )
            )

    def add_note(self, run_id: str, author: str, text: str, outcome: str | None) -> None:
        with self.write() as conn:
            self.require_run(conn, run_id)
            conn.execute(
                t.notes.insert().values(
                    run_id=run_id, author=author, text=text, outcome=outcome, created_at=time.time()
                )
            )
            values: dict[str, Any] = {"updated_at": time.time()}
            if outcome:
                values["outcome"] = outcome
            conn.execute(t.runs.update().where(t.runs.c.id == run_id).values(**values))

    def add_input(self, run_id: str, kind: str, ref: str, digest: str | None) -> None:
        with self.write() as conn:
            self.require_run(conn, run_id)
            conn.execute(
                self.insert(t.run_inputs)
                .values(
                    run_id=run_id,
                    kind=kind,
                    ref=ref,
                    digest=digest,
                    created_at=time.time(),
                )
                .on_conflict_do_nothing()
            )

    def _load_runs(
        self, ids: Sequence[str], fields: Sequence[str] | None = None
    ) -> list[RunRecord]:
        """Hydrate runs in one query per table, keeping the order of ``ids``."""
        if not ids:
            return []
        with self.engine.connect() as conn, gc_paused():
            return self._hydrate(conn, self._rows_by_id(conn, ids, fields), fields)

    def _rows_by_id(
        self, conn: sa.Connection, ids: Sequence[str], fields: Sequence[str] | None
    ) -> list[Any]:
        """The run rows of ``ids`` in that order (ids not found left out)."""
        if not ids:
            return []
        query = self._run_rows(fields).where(self.among(t.runs.c.id, ids))
        found = {row.id: row for row in conn.execute(query).all()}
        return [found[i] for i in ids if i in found]

    @staticmethod
    def _run_rows(fields: Sequence[str] | None) -> sa.Select[Any]:
        """The runs columns a record needs, with its project's name (built once per
        selection: a select of every column is a millisecond to build)."""
        return _run_rows(None if fields is None else frozenset(fields))

    def _hydrate(
        self, conn: sa.Connection, rows: Sequence[Any], fields: Sequence[str] | None
    ) -> list[RunRecord]:
        """Records from run rows, reading each side table once and only when wanted."""
        if not rows:
            return []
        ids = [row[0] for row in rows]  # id is the first column
        want = set(fields) if fields is not None else None

        def wanted(name: str) -> bool:
            return want is None or name in want

        tags = read_tags(conn, self.among, ids) if wanted("tags") else {}
        params = read_params(conn, self.among, ids) if wanted("params") else {}
        metrics: dict[str, dict[str, MetricSummary]] = {}
        if wanted("metrics") or wanted("summary"):
            metrics = metrics_by_run(metric_rows(conn, self.among, ids))
        notes: dict[str, list[Note]] = {}
        for row in (
            ()
            if not wanted("notes")
            else conn.execute(
                sa.select(t.notes).where(self.among(t.notes.c.run_id, ids)).order_by(t.notes.c.id)
            )
        ):
            notes.setdefault(row.run_id, []).append(
                Note(row.text, row.author, row.created_at, row.outcome)
            )
        inputs: dict[str, list[dict[str, Any]]] = {}
        for row in (
            ()
            if not wanted("inputs")
            else conn.execute(
                sa.select(t.run_inputs)
                .where(self.among(t.run_inputs.c.run_id, ids))
                .order_by(t.run_inputs.c.created_at)
            )
        ):
            inputs.setdefault(row.run_id, []).append(
                {"kind": row.kind, "ref": row.ref, "digest": row.digest}
            )
        blank = Blanks(() if fields is None else blank_fields(fields))
        # ``or []``, not ``.get(run_id, [])``: an empty made only for a run that lacks
        # one, and none for a field left blank (``blank`` puts its own)
        no_tags, no_notes, no_inputs = (_LEFT if blank.left(f) else None for f in _LISTED)
        return [
            to_run(
                row,
                tags.get(run_id) or no_tags or [],
                params.get(run_id) or {},
                metrics.get(run_id) or {},
                notes.get(run_id) or no_notes or [],
                inputs.get(run_id) or no_inputs or [],
                blank=blank,
            )
            for row, run_id in zip(rows, ids, strict=True)
        ]

    def _columns(
        self, conn: sa.Connection, rows: Sequence[Any], fields: Sequence[str] | None
    ) -> dict[str, list[Any]]:
        """The column answer from run rows, reading each side table once if wanted."""
        chosen = fields or ()  # ``search_run_columns`` always names them
        ids = [row[0] for row in rows]
        want = set(chosen) if ids else set()
        return to_columns(
            rows,
            chosen,
            read_tags(conn, self.among, ids) if "tags" in want else {},
            read_params(conn, self.among, ids) if "params" in want else {},
            metric_lists(metric_rows(conn, self.among, ids)) if "metrics" in want else {},
        )


@functools.lru_cache(maxsize=64)
def _run_rows(want: frozenset[str] | None) -> sa.Select[Any]:
    """The runs columns a record needs, with its project's name.

    With ``fields``, the columns of the other fields are not read at all (decoding
    package lists and configs is most of a list's cost; sorting wide rows, much of
    the rest); they read as NULL, keeping every column's place in the row.
    """
    columns = [
        c
        if want is None or c.name in ALWAYS_COLUMNS or COLUMN_FIELD.get(c.name, c.name) in want
        else sa.null().label(c.name)
        for c in t.runs.c
    ]
    return sa.select(*columns, t.projects.c.name.label("project_name")).join(
        t.projects, t.projects.c.id == t.runs.c.project_id
    )
