"""Per-example predictions stored as run artifacts, for ``lablink gate --per-example``.

A run's per-example results for one metric live in the artifact
``predictions/<metric>.jsonl``: a header line, then one line per example::

    {"lablink": "predictions", "version": 1, "metric": "acc", "direction": "max",
     "dataset": "val-set@v3", "count": 3}
    {"id": "img-0001", "value": 1}
    {"id": "img-0002", "value": 0}

``value`` is 0/1 (correct or not; compared with McNemar's exact test) or any score
(compared with the paired bootstrap). ``predictions/<metric>.npz`` with arrays ``ids``
and ``values`` and a JSON ``header`` string is read too. The dataset reference is also
recorded among the run's inputs, so lineage shows which data a checkpoint was scored on.

Nothing here imports the SDK: ``source`` is anything with the transport methods used
(a ``Transport``; ``lablink.gate`` passes a ``Client``'s).
"""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from lablink.checks.keys import check_metric_key
from lablink.errors import InvalidInput, NotFound
from lablink.models import Artifact, RunRecord

PREFIX = "predictions/"
KIND = "predictions"


class ArtifactSource(Protocol):
    """The transport methods predictions need (``lablink.sdk.transport.Transport`` has them)."""

    def get_run(self, ref: str) -> RunRecord: ...
    def list_artifacts(self, run_id: str) -> list[Artifact]: ...
    def download_blob(self, digest: str, dest: Path) -> Path: ...
    def upload_artifact(self, run_id: str, path: Path, name: str, kind: str) -> Artifact: ...
    def add_input(self, run_id: str, kind: str, ref: str, digest: str | None) -> None: ...


class Predictions:
    """One run's per-example values for one metric."""

    def __init__(self, run_id: str, header: dict[str, Any], ids: list[str], values: np.ndarray):
        self.run_id = run_id
        self.header = header
        self.ids = ids
        self.values = values

    @property
    def dataset(self) -> str | None:
        """The evaluated dataset version, e.g. ``val-set@v3`` (None if not recorded)."""
        ref = self.header.get("dataset")
        return str(ref) if ref else None

    @property
    def direction(self) -> str | None:
        """``max`` or ``min`` as logged (None if not recorded)."""
        direction = self.header.get("direction")
        return direction if direction in ("max", "min") else None


def _check(ids: Sequence[Any], values: Sequence[Any]) -> tuple[list[str], np.ndarray]:
    if len(ids) != len(values):
        raise InvalidInput(f"{len(ids)} example ids but {len(values)} values")
    if not ids:
        raise InvalidInput("no predictions to log")
    names = [str(i) for i in ids]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})[:5]
        raise InvalidInput(f"duplicate example ids: {', '.join(dupes)}")
    try:
        array = np.asarray([float(v) for v in values], dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"prediction values must be numbers: {exc}") from exc
    if not np.all(np.isfinite(array)):
        raise InvalidInput("prediction values must be finite (no NaN or infinity)")
    return names, array


def log_predictions(
    source: ArtifactSource,
    run: str,
    ids: Sequence[Any],
    values: Sequence[Any],
    *,
    metric: str = "acc",
    dataset: str | None = None,
    direction: str = "max",
) -> Artifact:
    """Attach per-example values to a run as ``predictions/<metric>.jsonl``.

    Args:
        source: a transport (``lablink.gate`` passes a ``Client``'s).
        run: the run id (or unique prefix).
        ids: example ids, unique; the gate compares only identical id sets.
        values: 0/1 correctness or a score per example.
        metric: the metric name, e.g. ``acc``.
        dataset: the evaluated dataset version, e.g. ``val-set@v3``.
        direction: ``max`` if larger values are better, else ``min``.

    Raises:
        InvalidInput: mismatched lengths, duplicate ids, non-numeric values.
        NotFound: no such run.
    """
    if direction not in ("max", "min"):
        raise InvalidInput(f"direction must be max or min, not {direction!r}")
    check_metric_key(metric)
    names, array = _check(ids, values)
    run_id = source.get_run(run).id
    header = {
        "lablink": "predictions",
        "version": 1,
        "metric": metric,
        "direction": direction,
        "dataset": dataset,
        "count": len(names),
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "predictions.jsonl"
        with path.open("w", encoding="utf-8") as out:
            out.write(json.dumps(header) + "\n")
            for name, value in zip(names, array.tolist(), strict=True):
                number = int(value) if value.is_integer() else value
                out.write(json.dumps({"id": name, "value": number}) + "\n")
        artifact = source.upload_artifact(run_id, path, f"{PREFIX}{metric}.jsonl", KIND)
    if dataset:
        source.add_input(run_id, "dataset", dataset, None)
    return artifact


def read_predictions(source: ArtifactSource, run: str, metric: str) -> Predictions:
    """A run's per-example values for ``metric`` (the newest artifact of that name).

    Raises:
        NotFound: the run has no ``predictions/<metric>.jsonl`` or ``.npz``.
        InvalidInput: the artifact is malformed.
    """
    run_record = source.get_run(run)
    wanted = {f"{PREFIX}{metric}.jsonl", f"{PREFIX}{metric}.npz"}
    found = [a for a in source.list_artifacts(run_record.id) if a.name in wanted]
    if not found:
        raise NotFound(
            f"run {run_record.id} has no per-example predictions for {metric!r}",
            f"log them with `lablink gate log-predictions {run_record.id} FILE --metric {metric}`",
        )
    artifact = max(found, key=lambda a: a.created_at)
    with tempfile.TemporaryDirectory() as tmp:
        path = source.download_blob(artifact.digest, Path(tmp) / Path(artifact.name).name)
        header, ids, values = _parse(path)
    if not header.get("dataset"):
        refs = [i.get("ref") for i in run_record.inputs if i.get("kind") == "dataset"]
        if len(set(refs)) == 1:
            header = {**header, "dataset": refs[0]}
    return Predictions(run_record.id, header, ids, values)


def _parse(path: Path) -> tuple[dict[str, Any], list[str], np.ndarray]:
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(str(data["header"])) if "header" in data else {}
            ids, values = _check(data["ids"].tolist(), data["values"].tolist())
        return header, ids, values
    header, ids, raw = read_table(path)
    names, array = _check(ids, raw)
    return header, names, array


def read_table(path: Path) -> tuple[dict[str, Any], list[Any], list[Any]]:
    """Read ``(header, ids, values)`` from a predictions file a user hands the CLI.

    ``.jsonl``: lines ``{"id": ..., "value": ...}`` (``correct`` or ``score`` also
    work for ``value``), an optional header line with ``"lablink": "predictions"``.
    ``.csv``: columns ``id`` and one of ``value``/``correct``/``score``.
    ``.npz``: arrays ``ids`` and ``values``.
    """
    if not path.is_file():
        raise InvalidInput(f"no such file: {path}")
    header: dict[str, Any] = {}
    ids: list[Any] = []
    values: list[Any] = []
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            if "ids" not in data or "values" not in data:
                raise InvalidInput(f"{path} needs arrays 'ids' and 'values'")
            return header, data["ids"].tolist(), data["values"].tolist()
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as fh:
            rows: list[dict[str, Any]] = list(csv.DictReader(fh))
    else:
        rows = []
        with path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InvalidInput(f"{path}:{number} is not JSON: {exc.msg}") from exc
                if not isinstance(record, dict):
                    raise InvalidInput(f"{path}:{number} is not a JSON object")
                if record.get("lablink") == "predictions":
                    header = record
                else:
                    rows.append(record)
    for number, row in enumerate(rows, 1):
        value = next((row[k] for k in ("value", "correct", "score") if k in row), None)
        if "id" not in row or value is None:
            raise InvalidInput(f"{path}: record {number} needs 'id' and 'value'")
        ids.append(row["id"])
        values.append(_number(value))
    return header, ids, values


def _number(value: Any) -> Any:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return 1.0 if value.strip().lower() == "true" else 0.0
    return value


def align(base: Predictions, cand: Predictions) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Both sides' values in one example order, or refuse with the reason.

    Raises:
        InvalidInput: the sides were scored on different dataset versions, one side
            does not record its dataset, or the example id sets differ.
    """
    if base.dataset != cand.dataset:
        raise InvalidInput(
            "per-example comparison refused: the baseline was evaluated on "
            f"{base.dataset or 'an unrecorded dataset'} and the candidate on "
            f"{cand.dataset or 'an unrecorded dataset'}",
            "evaluate both checkpoints on the same dataset version (log it with --dataset)",
        )
    only_base = set(base.ids) - set(cand.ids)
    only_cand = set(cand.ids) - set(base.ids)
    if only_base or only_cand:
        sample = sorted(only_base | only_cand)[:3]
        raise InvalidInput(
            "per-example comparison refused: the example sets differ "
            f"({len(only_base)} ids only in the baseline, {len(only_cand)} only in the "
            f"candidate, e.g. {', '.join(sample)})",
            "score both checkpoints on exactly the same examples",
        )
    index = {name: i for i, name in enumerate(cand.ids)}
    order = np.asarray([index[name] for name in base.ids], dtype=int)
    return base.values, cand.values[order], list(base.ids)


__all__ = [
    "ArtifactSource",
    "Predictions",
    "align",
    "log_predictions",
    "read_predictions",
    "read_table",
]
