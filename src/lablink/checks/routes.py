"""Where the REST API lives: the server mounts it here and the SDK's clients call it."""

from __future__ import annotations

API_PREFIX = "/api/v1"

# The MLflow-compatible API (``server/mlflow/``): MLflow's own paths, so an unchanged
# MLflow client finds it. Errors there use MLflow's envelope.
MLFLOW_PREFIXES = ("/api/2.0/mlflow", "/api/3.0/mlflow", "/ajax-api/2.0/mlflow")
MLFLOW_ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"


def is_mlflow_path(path: str) -> bool:
    """Whether ``path`` belongs to the MLflow-compatible API."""
    return path.startswith(MLFLOW_PREFIXES) or path.startswith(MLFLOW_ARTIFACTS)
