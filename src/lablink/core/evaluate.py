"""``lablink eval``: score a run's model artifact on a registered dataset version.

The convention (``docs/gate.md``, "Evaluating a checkpoint"):

- the dataset version holds a table (``.csv``, ``.parquet``, ``.jsonl``/``.ndjson``)
  with an ``id`` column and, for accuracy, a ``label`` column (names configurable);
- the user's prediction function is ``predict(model_path: Path, rows: list[dict]) ->
  list``, named ``package.module:function`` and imported from the current directory.
  It is called on batches of rows and returns one prediction per row. If it accepts a
  ``data_dir`` keyword, it also gets the folder holding every file of the version;
- ``kind="correct"`` logs 1 where the prediction equals the label, else 0;
  ``kind="score"`` logs the number the function returns for each row as it is.

The per-example values go to ``predictions/<metric>.jsonl`` through
``log_predictions``, with the version's canonical reference (``name@vN``), so
``lablink gate --per-example`` refuses to compare runs scored on different data.

Nothing here imports the SDK: the caller resolves the dataset version (anything with
``ref``, ``digest``, ``files`` and ``path``) and hands a transport.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import inspect
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from lablink.core.gate.predictions import ArtifactSource, log_predictions
from lablink.errors import InvalidInput, LablinkError, NotFound
from lablink.models import Artifact

TABLE_SUFFIXES = (".csv", ".parquet", ".jsonl", ".ndjson")
KINDS = ("correct", "score")


class UserCodeError(LablinkError):
    """The user's prediction function could not be imported, raised, or returned garbage."""

    code = "user_code_error"
    status = 400


class DatasetVersion(Protocol):
    """What evaluation needs of a dataset version (``lablink.sdk.data.Dataset`` has it)."""

    @property
    def ref(self) -> str: ...
    @property
    def digest(self) -> str: ...
    @property
    def files(self) -> list[str]: ...
    @property
    def path(self) -> Path: ...


@dataclasses.dataclass(frozen=True)
class EvalResult:
    """What one evaluation logged."""

    run_id: str
    model: str
    dataset: str
    dataset_digest: str
    table: str
    metric: str
    kind: str
    direction: str
    count: int
    mean: float
    artifact: Artifact

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the artifact by name)."""
        data = dataclasses.asdict(self)
        data["artifact"] = self.artifact.name
        return data


def find_artifact(source: ArtifactSource, run_id: str, name: str) -> Artifact:
    """The newest artifact of the run called ``name``.

    Raises:
        NotFound: the run has no such artifact (the hint lists the ones it has).
    """
    artifacts = source.list_artifacts(run_id)
    found = [a for a in artifacts if a.name == name]
    if not found:
        names = sorted({a.name for a in artifacts if not a.name.startswith("predictions/")})
        hint = f"its artifacts: {', '.join(names[:10])}" if names else "it has no artifacts"
        raise NotFound(f"run {run_id} has no artifact {name!r}", hint)
    return max(found, key=lambda a: a.created_at)


def pick_table(files: Sequence[str], table: str | None = None) -> str:
    """The table file of a version: ``table`` if given, else its only table file.

    Raises:
        InvalidInput: ``table`` is not in the version, or there is no table or several.
    """
    if table is not None:
        if table not in files:
            raise InvalidInput(f"the dataset version has no file {table!r}")
        if not table.endswith(TABLE_SUFFIXES):
            raise InvalidInput(f"{table!r} is not a table ({', '.join(TABLE_SUFFIXES)})")
        return table
    tables = [f for f in files if f.endswith(TABLE_SUFFIXES)]
    if len(tables) == 1:
        return tables[0]
    if not tables:
        raise InvalidInput(
            f"the dataset version has no table file ({', '.join(TABLE_SUFFIXES)})",
            "add a table with an id column and a label column to the version",
        )
    raise InvalidInput(
        f"the dataset version has {len(tables)} table files: {', '.join(tables[:5])}",
        "name one with --table",
    )


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a CSV, Parquet or JSON-lines table, as dicts of Python values."""
    import polars as pl

    try:
        if path.suffix == ".csv":
            frame = pl.read_csv(path)
        elif path.suffix == ".parquet":
            frame = pl.read_parquet(path)
        else:
            frame = pl.read_ndjson(path)
    except Exception as exc:  # polars raises many types for a malformed file
        raise InvalidInput(f"cannot read table {path.name}: {exc}") from exc
    return frame.to_dicts()


def load_function(spec: str, search_dir: Path | None = None) -> Callable[..., Any]:
    """Import ``package.module:function``, with ``search_dir`` (default cwd) on sys.path.

    Raises:
        InvalidInput: a malformed spec.
        UserCodeError: the module cannot be imported, raises when imported, or has no
            such callable.
    """
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise InvalidInput(
            f"--predict must be 'package.module:function', not {spec!r}",
            "for example --predict mymodel.eval:predict, found from the current directory",
        )
    with _on_path(search_dir or Path.cwd()):
        importlib.invalidate_caches()
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                raise UserCodeError(
                    f"cannot import {module_name!r} for --predict {spec}",
                    f"run from the folder that holds {module_name.replace('.', '/')}.py",
                ) from None
            raise _user_error(f"importing {module_name}", exc) from None
        except (Exception, SystemExit) as exc:
            raise _user_error(f"importing {module_name}", exc) from None
    function: Any = module
    for part in attr.split("."):
        function = getattr(function, part, None)
        if function is None:
            break
    if not callable(function):
        raise UserCodeError(f"{module_name} has no function {attr!r} (--predict {spec})")
    found: Callable[..., Any] = function
    return found


@contextlib.contextmanager
def _on_path(folder: Path) -> Iterator[None]:
    entry = str(folder.resolve())
    added = entry not in sys.path
    if added:
        sys.path.insert(0, entry)
    try:
        yield
    finally:
        if added and entry in sys.path:
            sys.path.remove(entry)


def _user_error(where: str, exc: BaseException) -> UserCodeError:
    """A one-paragraph error for an exception in user code: type, message, last user frame."""
    frames = traceback.extract_tb(exc.__traceback__)
    here = Path(__file__).resolve()
    user = [f for f in frames if Path(f.filename).resolve() != here]
    at = f" (at {user[-1].filename}:{user[-1].lineno} in {user[-1].name})" if user else ""
    message = str(exc).strip()
    summary = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return UserCodeError(
        f"{where} raised {summary}{at}",
        "this error comes from your code, not lablink; run the function alone to debug it",
    )


def predict_all(
    function: Callable[..., Any],
    name: str,
    model_path: Path,
    rows: list[dict[str, Any]],
    *,
    batch_size: int,
    data_dir: Path | None = None,
) -> list[Any]:
    """Call the user's ``function`` on batches of rows; one prediction per row.

    Raises:
        UserCodeError: the function raised, or returned the wrong number of values.
    """
    if batch_size < 1:
        raise InvalidInput(f"batch size must be at least 1, not {batch_size}")
    extra: dict[str, Any] = {}
    with contextlib.suppress(TypeError, ValueError):  # builtins may have no signature
        parameters = inspect.signature(function).parameters
        if "data_dir" in parameters and data_dir is not None:
            extra["data_dir"] = data_dir
    predictions: list[Any] = []
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        try:
            out = function(model_path, batch, **extra)
            out = list(out)
        except (Exception, SystemExit) as exc:
            raise _user_error(name, exc) from None
        if len(out) != len(batch):
            raise UserCodeError(
                f"{name} returned {len(out)} predictions for a batch of {len(batch)} rows",
                "return one prediction per row, in the order of the rows",
            )
        predictions.extend(out)
    return predictions


def _same(prediction: Any, label: Any) -> bool:
    try:
        if bool(prediction == label):
            return True
    except (TypeError, ValueError):  # e.g. an array compared with a number
        pass
    return str(prediction) == str(label)


def score(
    rows: list[dict[str, Any]],
    predictions: list[Any],
    *,
    kind: str,
    label_column: str,
    name: str,
) -> list[float]:
    """Per-example values: 1/0 correctness against the label, or the returned scores."""
    if kind == "correct":
        return [
            1.0 if _same(p, row[label_column]) else 0.0
            for p, row in zip(predictions, rows, strict=True)
        ]
    values = []
    for number, p in enumerate(predictions):
        try:
            values.append(float(p))
        except (TypeError, ValueError):
            raise UserCodeError(
                f"{name} returned {p!r} for row {number}; --metric-kind score needs a number",
                "return a numeric per-example score, or use --metric-kind correct",
            ) from None
    return values


def evaluate(
    source: ArtifactSource,
    run: str,
    model: str,
    data: DatasetVersion,
    predict: str | Callable[..., Any],
    *,
    metric: str = "acc",
    kind: str = "correct",
    direction: str = "max",
    id_column: str = "id",
    label_column: str = "label",
    table: str | None = None,
    batch_size: int = 256,
    search_dir: Path | None = None,
) -> EvalResult:
    """Score run ``run``'s model artifact ``model`` on ``data``; log per-example values.

    Args:
        source: a transport (``lablink.gate`` passes a ``Client``'s).
        run: the run id (or unique prefix) whose artifact is the model.
        model: the artifact's name, e.g. ``model.pt``.
        data: the resolved dataset version (``lablink.dataset("val-set@v3",
            record=False)``).
        predict: ``package.module:function`` (imported from ``search_dir``, default
            the cwd) or the function itself.
        metric: the metric name the predictions are logged under.
        kind: ``correct`` (1/0 prediction == label) or ``score`` (the returned number).
        direction: ``max`` if larger values are better, else ``min``.
        id_column, label_column: column names in the table.
        table: the table file in the version (default: its only table).
        batch_size: rows per call of the prediction function.

    Raises:
        NotFound: no such run or artifact.
        InvalidInput: bad options, no table, missing columns, duplicate ids.
        UserCodeError: the prediction function failed (import, call or result).
    """
    if kind not in KINDS:
        raise InvalidInput(f"metric kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if kind == "correct" and direction != "max":
        raise InvalidInput("correctness is 1 when right: its direction is max")
    run_id = source.get_run(run).id
    artifact = find_artifact(source, run_id, model)
    table_name = pick_table(data.files, table)
    rows = read_rows(data.path / table_name)
    if not rows:
        raise InvalidInput(f"{data.ref}: table {table_name} has no rows")
    columns = [id_column] + ([label_column] if kind == "correct" else [])
    missing = [c for c in columns if c not in rows[0]]
    if missing:
        raise InvalidInput(
            f"{data.ref}: table {table_name} has no column {missing[0]!r} "
            f"(it has {', '.join(map(str, rows[0]))})",
            "name the columns with --id-column and --label-column",
        )
    if isinstance(predict, str):
        name = predict
        function = load_function(predict, search_dir)
    else:
        function = predict
        name = getattr(predict, "__qualname__", repr(predict))
    # The user's folder stays importable while the function runs (lazy imports).
    with (
        tempfile.TemporaryDirectory(prefix="lablink-eval-") as tmp,
        _on_path(search_dir or Path.cwd()),
    ):
        model_path = source.download_blob(artifact.digest, Path(tmp) / Path(model).name)
        predictions = predict_all(
            function, name, model_path, rows, batch_size=batch_size, data_dir=data.path
        )
    values = score(rows, predictions, kind=kind, label_column=label_column, name=name)
    ids = [row[id_column] for row in rows]
    # The digest goes with the reference; log_predictions then adds the same ref again,
    # which the store ignores.
    source.add_input(run_id, "dataset", data.ref, data.digest)
    logged = log_predictions(
        source, run_id, ids, values, metric=metric, dataset=data.ref, direction=direction
    )
    return EvalResult(
        run_id=run_id,
        model=artifact.name,
        dataset=data.ref,
        dataset_digest=data.digest,
        table=table_name,
        metric=metric,
        kind=kind,
        direction=direction,
        count=len(values),
        mean=sum(values) / len(values),
        artifact=logged,
    )


__all__ = [
    "DatasetVersion",
    "EvalResult",
    "UserCodeError",
    "evaluate",
    "find_artifact",
    "load_function",
    "pick_table",
    "predict_all",
    "read_rows",
    "score",
]
