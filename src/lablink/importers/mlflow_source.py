"""Runs of an MLflow server or store, read with MLflow's own client.

``--from`` takes what ``MlflowClient(tracking_uri=...)`` takes: a server URL, a
``sqlite:///`` database, or a ``./mlruns`` folder (MLflow's file store). Histories are
read a page at a time and artifacts downloaded one file at a time to a temporary
folder, so neither a long series nor a large checkpoint is held in memory whole.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from lablink.errors import InvalidInput, NotFound, ServiceUnavailable
from lablink.importers.model import BATCH_POINTS, Series, SourceArtifact, SourceRun

ORIGIN_TAG = "import.mlflow.run_id"
# Tags that name another run by its id: a nested run's parent.
LINK_TAGS = ("mlflow.parentRunId",)
PAGE = 10_000  # points of a history, or runs of a search, per request
_HINT = "pass a server URL (http://host:5000), sqlite:///path/to/mlflow.db or an mlruns folder"


class MlflowSource:
    """The experiments and runs of one MLflow tracking URI."""

    def __init__(self, uri: str) -> None:
        try:
            from mlflow import MlflowClient
        except ImportError as exc:
            raise InvalidInput(
                "`lablink import mlflow` reads with MLflow's client, which is not installed",
                "pip install 'lablink[import]' (or mlflow-skinny)",
            ) from exc
        self.uri = _check_uri(uri)
        # MLflow 3 refuses to open a file store unless this is set; reading one is what
        # an import from ./mlruns is for, so it is allowed while the store is opened
        with _environ("MLFLOW_ALLOW_FILE_STORE", "true"):
            self.client = MlflowClient(tracking_uri=self.uri)
            self.store: Any = self.client._tracking_client.store  # paged histories
        self.label = uri
        self.tags: dict[str, dict[str, str]] = {}  # experiment name -> its tags

    def experiments(self, names: Sequence[str] = ()) -> list[tuple[str, str]]:
        """``(id, name)`` of the active experiments, or of those named (NotFound else);
        their tags are then in ``self.tags``."""
        found: list[tuple[str, str]] = []
        token = None
        while True:
            try:
                page = self.client.search_experiments(max_results=1000, page_token=token)
            except Exception as exc:  # MLflow raises its own error types for a bad store
                raise ServiceUnavailable(
                    f"cannot read the MLflow store at {self.label}: {_first_line(exc)}", _HINT
                ) from exc
            for e in page:
                found.append((e.experiment_id, e.name))
                self.tags[e.name] = dict(e.tags)
            token = page.token
            if not token:
                break
        if names:
            known = {name for _, name in found}
            missing = [n for n in names if n not in known]
            if missing:
                raise NotFound(
                    f"no experiment {', '.join(map(repr, missing))} at {self.label}",
                    f"it has: {', '.join(sorted(known))[:500]}",
                )
            found = [(eid, name) for eid, name in found if name in names]
        return found

    def count(self, experiment_ids: Sequence[str]) -> int:
        """How many active runs the experiments hold."""
        return sum(1 for _ in self._search(experiment_ids))

    def runs(self, experiments: Sequence[tuple[str, str]]) -> Iterator[SourceRun]:
        """The active runs of the experiments, oldest first."""
        names = dict(experiments)
        for run in self._search(list(names)):
            yield self._source_run(run, names[run.info.experiment_id])

    def _search(self, experiment_ids: Sequence[str]) -> Iterator[Any]:
        for eid in experiment_ids:
            token = None
            while True:
                page = self.client.search_runs(
                    [eid], max_results=PAGE, order_by=["start_time ASC"], page_token=token
                )
                yield from page
                token = page.token
                if not token:
                    break

    def _source_run(self, run: Any, experiment: str) -> SourceRun:
        info, data = run.info, run.data
        run_id = info.run_id
        warnings: list[str] = []
        return SourceRun(
            origin=run_id,
            experiment=experiment,
            name=info.run_name or None,
            status=info.status,
            start_ms=info.start_time,
            end_ms=info.end_time,
            user=info.user_id or data.tags.get("mlflow.user") or None,
            params=dict(data.params),
            tags=dict(data.tags),
            batches=lambda: self._batches(run_id, sorted(data.metrics), warnings),
            artifacts=lambda: self._artifacts(run_id, None),
            warnings=warnings,
        )

    def _history(self, run_id: str, key: str) -> Iterator[Any]:
        token = None
        while True:
            page = self.store.get_metric_history(run_id, key, max_results=PAGE, page_token=token)
            yield from page
            token = getattr(page, "token", None)
            if not token:
                break

    def _batches(self, run_id: str, keys: Sequence[str], warnings: list[str]) -> Iterator[Series]:
        series: Series = {}
        held = 0
        for key in keys:
            negative = 0
            for m in self._history(run_id, key):
                if m.step < 0:  # lablink's steps start at 0
                    negative += 1
                    continue
                s = series.setdefault(key, {"steps": [], "times": [], "values": []})
                s["steps"].append(m.step)
                s["times"].append(m.timestamp / 1000)
                s["values"].append(m.value)
                held += 1
                if held >= BATCH_POINTS:
                    yield series
                    series, held = {}, 0
            if negative:
                warnings.append(
                    f"run {run_id}: {negative} points of {key!r} with a negative step left out"
                )
        if series:
            yield series

    def _artifacts(self, run_id: str, folder: str | None) -> Iterator[SourceArtifact]:
        for info in self.client.list_artifacts(run_id, folder):
            if info.is_dir:
                yield from self._artifacts(run_id, info.path)
            else:
                yield SourceArtifact(info.path, info.file_size, self._fetcher(run_id, info.path))

    def _fetcher(self, run_id: str, path: str) -> Any:
        def fetch(folder: Path) -> Path:
            # MLflow draws a bar per file on stderr; the import draws its own
            with _environ("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false"):
                return Path(self.client.download_artifacts(run_id, path, dst_path=str(folder)))

        return fetch


def _check_uri(uri: str) -> str:
    """The tracking URI to open, once what it names is known to exist.

    MLflow would make a new, empty store for a database or folder that is not there;
    an import from it must fail instead.
    """
    if uri.startswith(("http://", "https://")):
        _probe(uri)
        return uri.rstrip("/")
    if uri.startswith("sqlite:///"):
        path = Path(uri.removeprefix("sqlite:///"))
        if not path.is_file():
            raise NotFound(f"no MLflow database at {path}", _HINT)
        try:
            with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
                tables = {r[0] for r in db.execute("select name from sqlite_master")}
        except sqlite3.DatabaseError as exc:
            raise InvalidInput(f"{path} is not an SQLite database: {exc}", _HINT) from exc
        if "experiments" not in tables or "runs" not in tables:
            raise InvalidInput(f"{path} is not an MLflow database (no experiments table)", _HINT)
        return uri
    if "://" in uri and not uri.startswith("file://"):
        return uri  # another database MLflow knows (postgresql://, mysql://): its errors
    folder = Path(uri.removeprefix("file://"))
    if not folder.is_dir():
        raise NotFound(f"no MLflow store (mlruns folder) at {folder}", _HINT)
    if not any(folder.glob("*/meta.yaml")):
        raise InvalidInput(f"{folder} holds no MLflow experiments (no */meta.yaml)", _HINT)
    return folder.resolve().as_uri()


def _probe(url: str) -> None:
    """Fail fast and clearly when no MLflow server answers at ``url``."""
    import httpx

    try:
        answer = httpx.get(
            url.rstrip("/") + "/api/2.0/mlflow/experiments/search",
            params={"max_results": 1},
            timeout=30,
        )
    except httpx.HTTPError as exc:
        raise ServiceUnavailable(
            f"cannot reach an MLflow server at {url}: {exc}", "is `mlflow server` running there?"
        ) from exc
    # 401/403: a server with auth; MLflow's client sends MLFLOW_TRACKING_TOKEN itself
    if answer.status_code >= 400 and answer.status_code not in (401, 403):
        raise ServiceUnavailable(
            f"{url} does not answer as an MLflow server (HTTP {answer.status_code})", _HINT
        )


@contextlib.contextmanager
def _environ(name: str, value: str) -> Iterator[None]:
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
