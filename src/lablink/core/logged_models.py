"""MLflow logged models: what ``mlflow.<flavor>.log_model`` makes, kept as run artifacts.

The MLflow 3 client first creates a logged model, uploads its files to the model's
``artifact_location``, then marks it ready. lablink keeps no second place for model
files: a logged model must come from a run, and its location is a folder of that run's
artifacts (named after the model, ``model`` by default), so ``runs:/<run>/model`` and
``models:/<model id>`` both reach the same files and the run page lists them.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping

from lablink.core.mlflow_compat import MlflowCompat
from lablink.core.registry import proxy_uri
from lablink.errors import InvalidInput, NotFound
from lablink.store.mlflow_sql import ExperimentRow
from lablink.store.registry_sql import LoggedModelRow, RegistrySql

STATUSES = ("LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED")
MAX_NAME = 500


class LoggedModels:
    """Create, read, finalize, tag and search logged models."""

    def __init__(self, mlflow: MlflowCompat) -> None:
        self.mlflow = mlflow
        self.sql = RegistrySql(mlflow.store)

    def create(
        self,
        experiment_id: str,
        run_id: str | None,
        name: str | None,
        model_type: str | None,
        params: Mapping[str, str],
        tags: Mapping[str, str],
    ) -> LoggedModelRow:
        """A new logged model of run ``run_id`` in experiment ``experiment_id``.

        Raises:
            InvalidInput: no run (lablink keeps model files with the run that made them),
                a run of another experiment, or a bad name.
            NotFound: no such experiment or run.
        """
        exp = self.mlflow.experiment(experiment_id)
        if not run_id:
            raise InvalidInput(
                "lablink keeps a model's files with the run that made it: log the model "
                "inside a run",
                "wrap the log_model call in `with mlflow.start_run():`",
            )
        run = self.mlflow.tracking.get_run(run_id)
        if run.project != exp.project:
            raise InvalidInput(f"run {run.id} is not in experiment {exp.experiment_id}")
        name = name or "model"
        if len(name) > MAX_NAME or not name.isprintable() or "/" in name or ".." in name:
            raise InvalidInput(f"invalid model name {name[:60]!r}", "a name such as model")
        model_id = "m-" + secrets.token_hex(16)
        taken = {m.path for m in self.sql.logged_models([run.id])}
        path = name if name not in taken else f"{name}-{model_id[2:10]}"
        now = time.time()
        row = LoggedModelRow(
            model_id,
            run.id,
            name,
            path,
            model_type,
            STATUSES[0],
            dict(params),
            dict(tags),
            now,
            now,
        )
        self.sql.add_logged_model(row)
        return row

    def get(self, model_id: str) -> LoggedModelRow:
        """One logged model. Raises ``NotFound``."""
        return self.sql.logged_model(model_id)

    def finalize(self, model_id: str, status: str) -> LoggedModelRow:
        """Mark a logged model ready (or failed)."""
        if status not in STATUSES:
            raise InvalidInput(f"invalid logged model status {status!r}", ", ".join(STATUSES))
        self.sql.update_logged_model(model_id, status=status)
        return self.get(model_id)

    def log_params(self, model_id: str, params: Mapping[str, str]) -> None:
        """Add params to a logged model."""
        row = self.get(model_id)
        self.sql.update_logged_model(model_id, params={**row.params, **params})

    def set_tags(self, model_id: str, tags: Mapping[str, str]) -> None:
        """Set tags of a logged model."""
        row = self.get(model_id)
        self.sql.update_logged_model(model_id, tags={**row.tags, **tags})

    def delete_tag(self, model_id: str, key: str) -> None:
        """Remove a tag. Raises ``NotFound`` when it is not set."""
        row = self.get(model_id)
        if key not in row.tags:
            raise NotFound(f"no tag {key!r} on logged model {model_id}")
        self.sql.update_logged_model(model_id, tags={k: v for k, v in row.tags.items() if k != key})

    def delete(self, model_id: str) -> None:
        """Forget a logged model (its files stay with the run)."""
        self.sql.delete_logged_model(model_id)

    def of_experiments(self, experiment_ids: list[str]) -> list[LoggedModelRow]:
        """The logged models of the runs of these experiments."""
        projects = [self.mlflow.experiment(eid).project for eid in dict.fromkeys(experiment_ids)]
        return self.sql.logged_models_of(projects) if projects else []

    def experiment(self, row: LoggedModelRow) -> ExperimentRow:
        """The experiment of a logged model's run."""
        return self.mlflow.experiment_of(self.mlflow.tracking.get_run(row.run_id).project)

    def location(self, row: LoggedModelRow) -> str:
        """The proxy URI of the logged model's files."""
        return proxy_uri(self.experiment(row).experiment_id, row.run_id, row.path)
