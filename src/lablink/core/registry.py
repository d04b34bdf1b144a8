"""The model registry: registered models, their versions, stages, aliases and tags.

A version points at model files lablink already keeps: a run's artifacts. Its source
may be ``runs:/<run id>/<path>``, ``models:/<logged model id>`` (a model the MLflow
client logged in a run), ``models:/<name>/<version>``, ``models:/<name>@<alias>``, or
an artifact URI of lablink's MLflow proxy (``mlflow-artifacts:/<exp>/<run>/artifacts/
<path>``); each resolves, when the version is made, to a proxy URI the MLflow client
downloads from. The MLflow routes (``server/mlflow/registry.py``), the web UI and
``lablink models`` all call this.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from lablink.core.mlflow_compat import MlflowCompat
from lablink.errors import InvalidInput, NotFound
from lablink.store.registry_sql import ModelRow, RegistrySql, VersionRow

STAGES = {s.lower(): s for s in ("None", "Staging", "Production", "Archived")}
MAX_MODEL_NAME = 256
MAX_ALIAS = 255
MAX_TAG_VALUE = 5000
_ALIAS = re.compile(r"[A-Za-z0-9_-]{1,255}")
_PROXY = re.compile(r"mlflow-artifacts:/+(\d+)/([A-Za-z0-9_-]{4,32})/artifacts(?:/(.*))?")
ALIAS_HINT = "aliases are letters, digits, _ and -, such as champion or prod"


class Registry:
    """Registered models over one lab's store and its MLflow experiments."""

    def __init__(self, mlflow: MlflowCompat) -> None:
        self.mlflow = mlflow
        self.sql = RegistrySql(mlflow.store)

    # -- registered models ------------------------------------------------------------
    def create(
        self,
        actor: str,
        name: Any,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
    ) -> ModelRow:
        """Register a model name.

        Raises:
            InvalidInput: a bad name or tags.
            AlreadyExists: the name is taken.
        """
        name = check_model_name(name)
        _check_tags(tags or {})
        self.sql.add_model(name, actor, tags or {}, description)
        return self.sql.model(name)

    def model(self, name: Any) -> ModelRow:
        """One registered model. Raises ``NotFound`` (``InvalidInput`` for a bad name)."""
        return self.sql.model(check_model_name(name))

    def models(self) -> list[ModelRow]:
        """Every registered model, by name."""
        return self.sql.models()

    def rename(self, name: str, new_name: Any) -> ModelRow:
        """Rename a model (versions and aliases follow it)."""
        model = self.model(name)
        self.sql.update_model(model.id, name=check_model_name(new_name))
        return self.sql.model(str(new_name))

    def describe(self, name: str, description: str | None) -> ModelRow:
        """Set a model's description."""
        model = self.model(name)
        self.sql.update_model(model.id, description=description)
        return self.sql.model(model.name)

    def set_tag(self, name: str, key: str, value: str) -> None:
        """Set one tag of a model."""
        _check_tags({key: value})
        model = self.model(name)
        self.sql.update_model(model.id, tags={**model.tags, key: value})

    def delete_tag(self, name: str, key: str) -> None:
        """Remove one tag of a model (a tag not set is no error, as in MLflow)."""
        model = self.model(name)
        self.sql.update_model(model.id, tags={k: v for k, v in model.tags.items() if k != key})

    def delete(self, name: str) -> None:
        """Remove a model with its versions and aliases (the files stay with the runs)."""
        self.sql.delete_model(self.model(name).id)

    # -- versions ---------------------------------------------------------------------
    def create_version(
        self,
        actor: str,
        name: str,
        source: Any,
        run_id: str | None = None,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
        logged_model_id: str | None = None,
    ) -> VersionRow:
        """The next version of ``name``, from ``source`` (see the module docstring).

        Raises:
            NotFound: no such model, or the source names a run or model that is not there.
            InvalidInput: a source lablink cannot serve, or a run id that contradicts it.
        """
        model = self.model(name)
        _check_tags(tags or {})
        location, source_run, logged = self.resolve_source(source, logged_model_id)
        if run_id and source_run and run_id != source_run:
            raise InvalidInput(
                f"run_id {run_id!r} is not the run of source {source!r} ({source_run})"
            )
        run_id = source_run or run_id or None
        project_id = None
        if run_id is not None:
            run = self.mlflow.tracking.get_run(run_id)
            run_id = run.id
            project_id = self.mlflow.store.ensure_project(run.project)
        number = self.sql.add_version(
            model,
            {
                "source": source,
                "location": location,
                "run_id": run_id,
                "logged_model_id": logged,
                "stage": "None",
                "description": description,
                "tags": dict(tags or {}),
                "created_by": actor,
            },
            project_id,
        )
        return self.sql.version(self.sql.model(model.name), number)

    def resolve_source(
        self, source: Any, logged_model_id: str | None = None
    ) -> tuple[str, str | None, str | None]:
        """``(proxy URI, run id, logged model id)`` a version's source stands for.

        Raises:
            InvalidInput: a source that is none of the accepted forms.
            NotFound: it names a run, logged model or version that is not there.
        """
        if not isinstance(source, str) or not source.strip():
            raise InvalidInput("a model version needs a source", SOURCE_HINT)
        if source.startswith("runs:/"):
            run_id, _, path = source[len("runs:/") :].strip("/").partition("/")
            run = self.mlflow.tracking.get_run(run_id)
            exp = self.mlflow.experiment_of(run.project)
            return proxy_uri(exp.experiment_id, run.id, path), run.id, None
        if source.startswith("models:/"):
            rest = source[len("models:/") :].strip("/")
            if rest.startswith("m-") and "/" not in rest and "@" not in rest:
                return self._logged_location(rest)
            version = self.resolve(source)
            return version.location, version.run_id, version.logged_model_id
        if match := _PROXY.fullmatch(source):
            run = self.mlflow.tracking.get_run(match.group(2))
            return source, run.id, logged_model_id
        raise InvalidInput(f"lablink cannot serve model files from {source[:200]!r}", SOURCE_HINT)

    def _logged_location(self, model_id: str) -> tuple[str, str, str]:
        logged = self.sql.logged_model(model_id)
        run = self.mlflow.tracking.get_run(logged.run_id)
        exp = self.mlflow.experiment_of(run.project)
        return proxy_uri(exp.experiment_id, run.id, logged.path), run.id, model_id

    def version(self, name: str, version: Any) -> VersionRow:
        """One version of a model. Raises ``NotFound`` or ``InvalidInput`` (bad number)."""
        return self.sql.version(self.model(name), parse_version(version))

    def versions(self, name: str | None = None) -> list[VersionRow]:
        """The versions of ``name`` (of every model for None), newest first."""
        return self.sql.versions(self.model(name) if name is not None else None)

    def describe_version(self, name: str, version: Any, description: str | None) -> VersionRow:
        """Set a version's description."""
        model = self.model(name)
        number = parse_version(version)
        self.sql.update_version(model, number, description=description)
        return self.sql.version(model, number)

    def transition(self, name: str, version: Any, stage: Any, archive_others: bool) -> VersionRow:
        """Move a version to a stage; ``archive_others`` archives the rest in that stage.

        Raises:
            InvalidInput: a stage that is not None, Staging, Production or Archived.
        """
        canonical = STAGES.get(str(stage).lower()) if isinstance(stage, str) else None
        if canonical is None:
            raise InvalidInput(f"invalid model version stage {stage!r}", ", ".join(STAGES.values()))
        model = self.model(name)
        number = parse_version(version)
        self.sql.update_version(model, number, stage=canonical)
        if archive_others and canonical in ("Staging", "Production"):
            self.sql.archive_stage(model, canonical, number)
        return self.sql.version(model, number)

    def set_version_tag(self, name: str, version: Any, key: str, value: str) -> None:
        """Set one tag of a version."""
        _check_tags({key: value})
        row = self.version(name, version)
        self.sql.update_version(self.model(name), row.version, tags={**row.tags, key: value})

    def delete_version_tag(self, name: str, version: Any, key: str) -> None:
        """Remove one tag of a version."""
        row = self.version(name, version)
        tags = {k: v for k, v in row.tags.items() if k != key}
        self.sql.update_version(self.model(name), row.version, tags=tags)

    def delete_version(self, name: str, version: Any) -> None:
        """Remove a version and the aliases on it (the files stay with the run)."""
        self.sql.delete_version(self.model(name), parse_version(version))

    def latest(self, name: str, stages: Sequence[str] = ()) -> list[VersionRow]:
        """The newest version in each stage (each of ``stages``, or every stage)."""
        wanted = {STAGES.get(s.lower(), s) for s in stages}
        out: dict[str, VersionRow] = {}
        for row in self.versions(name):
            if (not wanted or row.stage in wanted) and row.stage not in out:
                out[row.stage] = row
        return sorted(out.values(), key=lambda r: r.version)

    # -- aliases ----------------------------------------------------------------------
    def set_alias(self, actor: str, name: str, alias: Any, version: Any) -> None:
        """Point ``alias`` at a version (moving it if it is set).

        Raises:
            InvalidInput: an alias that is ``latest``, looks like a version (``v3``) or
                holds other characters than letters, digits, ``_`` and ``-``.
            NotFound: no such model or version.
        """
        alias = check_alias(alias)
        row = self.version(name, version)
        self.sql.set_alias(self.model(name), alias, row.version, actor)

    def delete_alias(self, name: str, alias: Any) -> None:
        """Remove an alias. Raises ``NotFound`` when it is not set."""
        self.sql.delete_alias(self.model(name), check_alias(alias))

    def by_alias(self, name: str, alias: Any) -> VersionRow:
        """The version ``alias`` points at. Raises ``NotFound``."""
        model = self.model(name)
        alias = check_alias(alias)
        if alias not in model.aliases:
            raise NotFound(f"registered model {name!r} has no alias {alias!r}")
        return self.sql.version(model, model.aliases[alias])

    def resolve(self, uri: str) -> VersionRow:
        """The version ``models:/name/3``, ``models:/name@alias``, ``models:/name/latest``
        or ``models:/name/Production`` names. Raises ``NotFound`` or ``InvalidInput``."""
        rest = uri[len("models:/") :].strip("/") if uri.startswith("models:/") else uri
        if "@" in rest:
            name, _, alias = rest.partition("@")
            return self.by_alias(name, alias)
        name, _, which = rest.rpartition("/")
        if not name:
            raise InvalidInput(f"invalid model URI {uri[:200]!r}", MODEL_URI_HINT)
        if which.isdigit():
            return self.version(name, which)
        if which.lower() == "latest":
            found = self.versions(name)
        else:
            found = [v for v in self.versions(name) if v.stage.lower() == which.lower()]
        if not found:
            raise NotFound(f"registered model {name!r} has no version {which!r}")
        return found[0]


SOURCE_HINT = (
    "register runs:/<run id>/<path>, models:/<logged model id>, models:/<name>/<version> "
    "or an mlflow-artifacts:/ URI of this server"
)
MODEL_URI_HINT = "write models:/<name>/<version>, models:/<name>@<alias> or models:/<name>/latest"


def proxy_uri(experiment_id: int, run_id: str, path: str) -> str:
    """The artifact-proxy URI of ``path`` in a run's artifacts."""
    base = f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts"
    return f"{base}/{path.strip('/')}" if path.strip("/") else base


def source_model(source: Any) -> tuple[str, str] | None:
    """What a ``models:/`` source names: ``("logged", id)`` for ``models:/<logged model
    id>``, ``("registered", name)`` for ``models:/<name>/<version>`` or
    ``models:/<name>@<alias>``; None for any other source."""
    if not isinstance(source, str) or not source.startswith("models:/"):
        return None
    rest = source[len("models:/") :].strip("/")
    if rest.startswith("m-") and "/" not in rest and "@" not in rest:
        return ("logged", rest)
    name = rest.partition("@")[0] if "@" in rest else rest.rpartition("/")[0]
    return ("registered", name) if name else None


def location_parts(location: str) -> tuple[str, str] | None:
    """``(run id, path)`` of a proxy URI, None for anything else."""
    match = _PROXY.fullmatch(location)
    return (match.group(2), match.group(3) or "") if match else None


def check_model_name(name: Any) -> str:
    """A registered model name: 1-256 printable characters without ``/`` or ``@``."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("registered model name must be a non-empty string", "such as iris")
    if len(name) > MAX_MODEL_NAME or not name.isprintable() or "/" in name or "@" in name:
        raise InvalidInput(
            f"invalid registered model name {name[:60]!r}",
            f"up to {MAX_MODEL_NAME} printable characters, without / or @",
        )
    return name


def check_alias(alias: Any) -> str:
    """A model alias: not ``latest``, not a version (``v3``), ``[A-Za-z0-9_-]``."""
    if not isinstance(alias, str) or not _ALIAS.fullmatch(alias):
        raise InvalidInput(f"invalid alias {str(alias)[:60]!r}", ALIAS_HINT)
    if alias.lower() == "latest" or re.fullmatch(r"v\d+", alias.lower()) or alias.isdigit():
        raise InvalidInput(
            f"alias {alias!r} is reserved: it reads as a version", "choose a word, such as prod"
        )
    return alias


def parse_version(version: Any) -> int:
    """A version number as sent (digits, or an int). Raises ``InvalidInput``."""
    text = str(version) if isinstance(version, int) and not isinstance(version, bool) else version
    if not isinstance(text, str) or not text.isascii() or not text.isdigit() or len(text) > 9:
        raise InvalidInput(f"invalid model version {str(version)[:40]!r}", "versions are 1, 2, 3")
    if int(text) < 1:
        raise InvalidInput(f"invalid model version {text!r}", "versions count from 1")
    return int(text)


def _check_tags(tags: Mapping[str, Any]) -> None:
    for key, value in tags.items():
        if not isinstance(key, str) or not key or len(key) > 250 or not key.isprintable():
            raise InvalidInput(f"invalid tag key {str(key)[:40]!r}", "keys are 1-250 characters")
        if not isinstance(value, str) or len(value) > MAX_TAG_VALUE:
            raise InvalidInput(f"tag {key!r}: the value must be text up to {MAX_TAG_VALUE}")


def model_dict(model: ModelRow) -> dict[str, Any]:
    """A registered model as lablink's API and ``--json`` print it."""
    return {
        "name": model.name,
        "project": model.project,
        "description": model.description,
        "tags": dict(model.tags),
        "aliases": dict(model.aliases),
        "latest_version": model.latest,
        "created_by": model.created_by,
        "created_at": model.created_at,
        "updated_at": model.updated_at,
    }


def version_dict(version: VersionRow) -> dict[str, Any]:
    """A model version as lablink's API and ``--json`` print it; ``path`` is the folder
    of the run's artifacts that holds its files."""
    parts = location_parts(version.location)
    return {
        "model": version.model,
        "version": version.version,
        "stage": version.stage,
        "aliases": list(version.aliases),
        "source": version.source,
        "location": version.location,
        "run_id": version.run_id,
        "path": parts[1] if parts else None,
        "logged_model_id": version.logged_model_id,
        "description": version.description,
        "tags": dict(version.tags),
        "created_by": version.created_by,
        "created_at": version.created_at,
        "updated_at": version.updated_at,
    }
