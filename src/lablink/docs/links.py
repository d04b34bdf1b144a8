"""Where each generated lab docs page lives, for links from the web UI."""

from __future__ import annotations

from lablink.docs.cards import datasheet_path, model_path
from lablink.docs.markdown import slug
from lablink.models import Artifact, RunRecord


def experiment_log_path(project: str) -> str:
    """The experiment log of ``project``, relative to the docs folder."""
    return f"experiments/{slug(project)}.md"


def run_links(base: str, run: RunRecord, artifacts: list[Artifact]) -> dict[str, object]:
    """Links from a run page: its project's experiment log, and each model's card."""
    return {
        "log": f"{base}/{experiment_log_path(run.project)}",
        "models": {a.name: f"{base}/{model_path(run, a)}" for a in artifacts if a.kind == "model"},
    }


def datasheet_link(base: str, dataset: str) -> str:
    """The datasheet of ``dataset``."""
    return f"{base}/{datasheet_path(dataset)}"
