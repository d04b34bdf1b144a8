"""MLflow's JSON for the model registry: registered models, versions, logged models."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lablink.server.mlflow.wire import ms
from lablink.store.registry_sql import LoggedModelRow, ModelRow, VersionRow


def kv(values: Mapping[str, str]) -> list[dict[str, str]]:
    """Tags as MLflow lists them."""
    return [{"key": k, "value": v} for k, v in sorted(values.items())]


def version(row: VersionRow) -> dict[str, Any]:
    """A ``ModelVersion``; every version is ``READY`` (its files exist when it is made)."""
    out: dict[str, Any] = {
        "name": row.model,
        "version": str(row.version),
        "creation_timestamp": ms(row.created_at),
        "last_updated_timestamp": ms(row.updated_at),
        "user_id": row.created_by,
        "current_stage": row.stage,
        "description": row.description or "",
        "source": row.source,
        "status": "READY",
        "tags": kv(row.tags),
        "aliases": list(row.aliases),
    }
    if row.run_id:
        out["run_id"] = row.run_id
    if row.logged_model_id:
        out["model_id"] = row.logged_model_id
    return out


def model(row: ModelRow, latest: Sequence[VersionRow] = ()) -> dict[str, Any]:
    """A ``RegisteredModel`` with its aliases and the latest version of each stage."""
    return {
        "name": row.name,
        "creation_timestamp": ms(row.created_at),
        "last_updated_timestamp": ms(row.updated_at),
        "description": row.description or "",
        "latest_versions": [version(v) for v in latest],
        "tags": kv(row.tags),
        "aliases": [{"alias": a, "version": str(v)} for a, v in sorted(row.aliases.items())],
    }


def logged_model(row: LoggedModelRow, experiment_id: int, location: str) -> dict[str, Any]:
    """A ``LoggedModel``: its info (location: a folder of its run's artifacts) and params."""
    info: dict[str, Any] = {
        "experiment_id": str(experiment_id),
        "model_id": row.model_id,
        "name": row.name,
        "artifact_uri": location,
        "creation_timestamp_ms": ms(row.created_at),
        "last_updated_timestamp_ms": ms(row.updated_at),
        "source_run_id": row.run_id,
        "status": row.status,
        "tags": kv(row.tags),
    }
    if row.model_type:
        info["model_type"] = row.model_type
    return {"info": info, "data": {"params": kv(row.params), "metrics": []}}
