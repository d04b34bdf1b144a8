"""MLflow's JSON wire format: reading requests, rendering experiments, runs, metrics.

MLflow clients send protobuf JSON: 64-bit integers may come as strings, doubles as
``"NaN"`` or ``"Infinity"``, GET arguments in the query string (repeated for lists).
Answers use the same field names; numbers are sent as numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import Request

from lablink.checks.limits import MAX_SMALL_BODY_BYTES
from lablink.errors import InvalidInput
from lablink.models import RunRecord
from lablink.server.jsonio import loads_body
from lablink.store.mlflow_sql import ExperimentRow, RunExtras

# lablink status -> MLflow status
STATUS = {
    "running": "RUNNING",
    "finished": "FINISHED",
    "failed": "FAILED",
    "crashed": "FAILED",
    "timed_out": "FAILED",
    "killed": "KILLED",
    "preempted": "KILLED",
}
_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
LISTS = frozenset({"experiment_ids", "run_ids", "order_by", "stages"})


async def arguments(request: Request) -> dict[str, Any]:
    """A request's arguments: its JSON body, or its query string for GET."""
    out: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        if key in LISTS:
            out.setdefault(key, []).append(value)
        else:
            out[key] = value
    if request.method in ("GET", "HEAD"):
        return out
    body = await request.body()
    if not body.strip():
        return out  # a DELETE may name what it deletes in the query string
    if len(body) > MAX_SMALL_BODY_BYTES and not request.url.path.endswith("/log-batch"):
        raise InvalidInput("request body too large")
    data = loads_body(body)
    if not isinstance(data, dict):
        raise InvalidInput("request body must be a JSON object")
    return data


def text(args: Mapping[str, Any], name: str, required: bool = True) -> str | None:
    """A string argument. Raises ``InvalidInput`` when required and missing, or not text."""
    value = args.get(name)
    if value is None or value == "":
        if required:
            raise InvalidInput(f"missing value for required parameter {name!r}")
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"parameter {name!r} must be a string, not {type(value).__name__}")
    return value


_INT64_MAX = 2**63 - 1


def integer(args: Mapping[str, Any], name: str, default: int | None = None) -> int | None:
    """An int64 argument, sent as a number or a string of digits."""
    value = args.get(name)
    if type(value) is int and -_INT64_MAX <= value <= _INT64_MAX:
        return value  # the common case, first: a batch has two a metric
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, int | str | float):
        raise InvalidInput(f"parameter {name!r} must be an integer")
    try:
        number = int(value) if not isinstance(value, float) or value.is_integer() else None
    except ValueError:
        number = None
    if number is None or abs(number) > _INT64_MAX:
        raise InvalidInput(f"parameter {name!r} must be an integer, not {str(value)[:40]!r}")
    return number


def double(value: Any, name: str) -> float:
    """A double, sent as a number or as ``"NaN"``/``"Infinity"``/``"-Infinity"``."""
    if isinstance(value, str) and value in _FLOATS:
        return _FLOATS[value]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{name} must be a number, not {str(value)[:40]!r}")
    return float(value)


def pairs(args: Mapping[str, Any], name: str) -> dict[str, str]:
    """A list of ``{key, value}`` (params, tags) as a dict; values must be strings."""
    items = args.get(name) or []
    if not isinstance(items, list):
        raise InvalidInput(f"{name} must be a list of {{key, value}}")
    out: dict[str, str] = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise InvalidInput(f"each of {name} needs a string key")
        value = item.get("value", "")
        if not isinstance(value, str):
            raise InvalidInput(f"{name} {item['key']!r}: the value must be a string")
        out[item["key"]] = value
    return out


def metric(item: Any) -> tuple[str, float, int, int]:
    """``(key, value, timestamp ms, step)`` from a metric object."""
    if not isinstance(item, Mapping) or not isinstance(item.get("key"), str):
        raise InvalidInput("each metric needs a string key")
    ts = integer(item, "timestamp")
    if ts is None:
        raise InvalidInput(f"metric {item['key']!r} needs a timestamp")
    step = integer(item, "step", 0)
    assert step is not None
    return item["key"], double(item.get("value"), f"metric {item['key']!r}"), ts, step


def metrics(items: list[Any]) -> list[tuple[str, float, int, int]]:
    """``metric`` of each item. An item as the MLflow client sends it (a float value,
    int timestamp and step) is taken in one test; any other goes through ``metric``,
    which converts it or names what is wrong: a thousand a batch add up."""
    out = []
    for item in items:
        if type(item) is dict:
            key, value = item.get("key"), item.get("value")
            ts, step = item.get("timestamp"), item.get("step")
            if (
                type(key) is str
                and type(value) is float
                and type(ts) is int
                and type(step) is int
                and -_INT64_MAX <= ts <= _INT64_MAX
                and -_INT64_MAX <= step <= _INT64_MAX
            ):
                out.append((key, value, ts, step))
                continue
        out.append(metric(item))
    return out


def number(value: float) -> float | str:
    """A double as protobuf JSON writes it: NaN and ±inf as quoted tokens."""
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def ms(seconds: float | None) -> int | None:
    """Seconds since the epoch as MLflow's milliseconds."""
    return None if seconds is None else round(seconds * 1000)


def experiment(exp: ExperimentRow) -> dict[str, Any]:
    """An experiment as MLflow renders it (``artifact_location`` points at the proxy)."""
    return {
        "experiment_id": str(exp.experiment_id),
        "name": exp.name,
        "artifact_location": f"mlflow-artifacts:/{exp.experiment_id}",
        "lifecycle_stage": exp.lifecycle_stage,
        "last_update_time": ms(exp.updated_at),
        "creation_time": ms(exp.created_at),
        "tags": [{"key": k, "value": v} for k, v in sorted(exp.tags.items())],
    }


def run_params(run: RunRecord, extras: RunExtras) -> dict[str, str]:
    """Params as MLflow strings: the exact strings sent, else lablink's params as text."""
    params = {k: _param_text(v) for k, v in run.params.items()}
    params.update(extras.params)
    return params


def _param_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    if value is None:
        return "None"
    return str(value)


def run_tags(run: RunRecord, extras: RunExtras) -> dict[str, str]:
    """MLflow tags, with the system tags lablink's own fields answer."""
    tags = dict(extras.tags)
    tags["mlflow.runName"] = run.name
    tags.setdefault("mlflow.user", run.user)
    if run.git.commit:
        tags["mlflow.source.git.commit"] = run.git.commit
    return tags


def run_info(run: RunRecord, extras: RunExtras, experiment_id: str) -> dict[str, Any]:
    """``RunInfo``; artifacts go through this server's MLflow artifact proxy."""
    info = {
        "run_id": run.id,
        "run_uuid": run.id,
        "run_name": run.name,
        "experiment_id": experiment_id,
        "user_id": run.user,
        "status": STATUS.get(run.status, "FAILED"),
        "start_time": ms(run.created_at),
        "artifact_uri": f"mlflow-artifacts:/{experiment_id}/{run.id}/artifacts",
        "lifecycle_stage": extras.lifecycle_stage,
    }
    if run.ended_at is not None:
        info["end_time"] = ms(run.ended_at)
    return info


def run(run: RunRecord, extras: RunExtras, experiment_id: str) -> dict[str, Any]:
    """A ``Run``: info, data (latest metrics, params, tags) and dataset inputs."""
    at = ms(run.ended_at or run.heartbeat_at or run.created_at)
    metrics = [
        {"key": k, "value": number(m.value), "timestamp": at, "step": m.last_step or 0}
        for k, m in sorted(run.metrics.items())
        if m.value is not None
    ]
    return {
        "info": run_info(run, extras, experiment_id),
        "data": {
            "metrics": metrics,
            "params": _kv(run_params(run, extras)),
            "tags": _kv(run_tags(run, extras)),
        },
        "inputs": {"dataset_inputs": _datasets(run.inputs)},
    }


def _kv(values: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in sorted(values.items())]


def _datasets(inputs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for item in inputs:
        if item.get("kind") != "mlflow-dataset":
            continue
        name, _, digest = str(item.get("ref", "")).rpartition("@")
        out.append(
            {
                "tags": [],
                "dataset": {
                    "name": name or digest,
                    "digest": digest if name else "",
                    "source_type": "lablink",
                    "source": "",
                },
            }
        )
    return out
