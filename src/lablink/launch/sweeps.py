"""Finding sweeps and their trials through a transport (embedded store or a server)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lablink.errors import Conflict, InvalidInput, NotFound
from lablink.launch.sweep_spec import SweepSpec
from lablink.launch.sweep_trials import (
    SPEC_ARTIFACT,
    SWEEP_TAG,
    SweepView,
    group_by_sweep,
    sweep_tag,
    trials_of,
)
from lablink.models import RunRecord
from lablink.sdk.transport import Transport

MAX_TRIAL_RUNS = 10_000  # the most runs one search reads


def read_spec(transport: Transport, runs: list[RunRecord]) -> dict[str, Any]:
    """The sweep file stored with the newest of ``runs`` that has one ({} if none)."""
    for run in sorted(runs, key=lambda r: r.created_at, reverse=True):
        for artifact in transport.list_artifacts(run.id):
            if artifact.name == SPEC_ARTIFACT:
                with tempfile.TemporaryDirectory(prefix="lablink-sweep-") as tmp:
                    path = transport.download_blob(artifact.digest, Path(tmp) / "spec.json")
                    data: dict[str, Any] = json.loads(path.read_text())
                    return data
    return {}


def view_of(sweep_id: str, spec: Mapping[str, Any], runs: list[RunRecord]) -> SweepView:
    """A ``SweepView`` of ``runs`` under ``spec``."""
    trials = trials_of(runs, str(spec["metric"]["name"]), list(spec["space"]))
    return SweepView(sweep_id, spec, trials)


def get_sweep(transport: Transport, sweep_id: str) -> SweepView:
    """One sweep by id.

    Raises:
        NotFound: no run carries the sweep's tag.
    """
    runs, _ = transport.search_runs(
        None, f"tags.{sweep_tag(sweep_id)}", "created_at", False, MAX_TRIAL_RUNS, 0
    )
    spec = read_spec(transport, runs) if runs else {}
    if not spec:
        raise NotFound(f"no sweep {sweep_id!r}", "list the sweeps with `lablink sweeps ls`")
    return view_of(sweep_id, spec, runs)


def list_sweeps(transport: Transport, project: str | None) -> list[SweepView]:
    """Every sweep (of ``project``), newest first."""
    try:
        runs, _ = transport.search_runs(
            project, f"tags.{SWEEP_TAG}", "created_at", False, MAX_TRIAL_RUNS, 0
        )
    except NotFound:  # a project with no runs yet has no sweeps
        return []
    views = []
    for sid, group in group_by_sweep(runs).items():
        spec = read_spec(transport, group)
        if spec:
            views.append(view_of(sid, spec, group))
    views.sort(key=lambda v: max(t.started_at for t in v.trials) if v.trials else 0, reverse=True)
    return views


def resumable(
    transport: Transport, spec: SweepSpec, project: str, resume: str | None, new: bool
) -> SweepView | None:
    """The sweep ``lablink sweep`` continues: ``resume`` by id, else the newest stopped
    sweep of the same name in ``project`` (unless ``new``); None starts a new one.

    Raises:
        NotFound: ``resume`` names no sweep.
        InvalidInput: the file's space, method, metric or seed differs from the sweep's.
        Conflict: a trial of the sweep is still running.
    """
    if resume:
        view: SweepView | None = get_sweep(transport, resume)
    elif new:
        return None
    else:
        same = [
            v
            for v in list_sweeps(transport, project)
            if v.spec.get("name") == spec.name and v.status != "finished"
        ]
        view = same[0] if same else None
    if view is None:
        return None
    stored = view.spec
    mine = spec.to_json()
    for key in ("space", "method", "metric", "seed"):  # the seed orders a grid
        if stored.get(key) != mine.get(key):
            raise InvalidInput(
                f"the file's {key} differs from sweep {view.id}'s",
                "resume with the same file, or start a new sweep with --new",
            )
    if view.status == "running":
        running = [t.run_id for t in view.trials if t.state == "running"]
        raise Conflict(
            f"sweep {view.id} has running trials ({', '.join(running)})",
            "another `lablink sweep` may be running it; end them with `lablink jobs stop`",
        )
    return view
