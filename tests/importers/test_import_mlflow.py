"""``lablink import mlflow`` from a real MLflow server, an SQLite store and an mlruns folder."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from importer_support import COMMIT, Cli, MlflowServer, populate

from helpers import LoopbackServer, chdir, make_settings
from lablink.core.lab import Lab
from lablink.importers import mlflow_source
from lablink.importers.mlflow_source import ORIGIN_TAG
from lablink.settings import Settings
from mlflow import MlflowClient

# MLflow's SQL store (the source here, not lablink) uses a loader SQLAlchemy 2.1 deprecates.
pytestmark = pytest.mark.filterwarnings(
    "ignore:The ``noload`` loader strategy is deprecated:DeprecationWarning"
)
STATUSES = {"FINISHED": "finished", "FAILED": "failed", "RUNNING": "killed"}


def check_imported(lab: Lab, source: MlflowClient, written: dict[str, Any]) -> None:
    """Every run written at the source is in lablink, field by field, point by point."""
    by_origin = {}
    for exp in {w["experiment"] for w in written.values()}:
        made = lab.mlflow.experiment_by_name(exp)
        assert source.get_experiment_by_name(exp).tags.items() <= made.tags.items()
        eid = str(made.experiment_id)
        for run, extras, _ in lab.mlflow.runs([eid]):
            by_origin[extras.tags[ORIGIN_TAG]] = (run, extras, exp)
    assert set(written) <= set(by_origin)
    for origin, w in written.items():
        run, extras, exp = by_origin[origin]
        src = source.get_run(origin)
        assert exp == w["experiment"] and run.project == exp.replace(" ", "-")
        assert run.name == w["name"]
        assert run.status == STATUSES[w["status"]]
        assert run.user == (w["user"] or src.info.user_id)
        assert round(run.created_at * 1000) == src.info.start_time
        if w["status"] != "RUNNING":
            assert round((run.ended_at or 0) * 1000) == src.info.end_time
        assert extras.params == w["params"] == src.data.params
        for key, text in w["params"].items():  # the string kept, the typed value beside it
            assert str(run.config[key]).lower() == text.lower() or run.config[key] == float(text)
        tags = {**src.data.tags, ORIGIN_TAG: origin, "import.complete": "true"}
        if "mlflow.parentRunId" in tags:  # the parent, by its lablink id
            parent = by_origin[tags["mlflow.parentRunId"]][0].id
            tags["mlflow.parentRunId"] = parent
        assert tags == extras.tags
        if w["user"]:
            assert run.git.commit == COMMIT
        assert set(run.metrics) == set(w["metrics"])
        for key, points in w["metrics"].items():
            h = lab.tracking.history(run.id, key)
            got = sorted(
                (s, round(t * 1000), repr(v))
                for s, t, v in zip(h.steps, h.times, h.values, strict=True)
            )
            # what the source holds (MLflow's SQL store keeps +inf as the largest float)
            held = source.get_metric_history(origin, key)
            assert got == sorted((m.step, m.timestamp, repr(m.value)) for m in held), key
            assert len(got) == len(points)
        stored = {a.name: a for a in lab.tracking.list_artifacts(run.id)}
        assert set(stored) == set(w["artifacts"])
        for name, data in w["artifacts"].items():
            with lab.blobs.open(stored[name].digest) as fh:
                assert fh.read() == data, name


def import_json(cli: Cli, *args: str, code: int = 0) -> dict[str, Any]:
    result = cli("import", "mlflow", *args, "--json", code=code)
    return dict(json.loads(result.stdout))


def totals(summary: dict[str, Any]) -> dict[str, int]:
    keys = ("imported", "completed", "skipped", "failed", "points", "artifacts")
    return {k: sum(p[k] for p in summary["projects"]) for k in keys}


def home_lab(tmp_path: Path) -> Lab:
    return Lab(make_settings(tmp_path / "lablink-home", user="tester@example.org"))


def test_import_from_a_server_then_again(
    mlflow_server: MlflowServer, tmp_path: Path, cli: Cli
) -> None:
    source = MlflowClient(tracking_uri=mlflow_server.url)
    prefix = uuid.uuid4().hex[:6] + "-"
    written = populate(source, tmp_path, prefix, big=3 << 20)
    names = [f"{prefix}vision", f"{prefix}nlp text"]
    args = ["--from", mlflow_server.url, "--experiment", names[0], "--experiment", names[1]]

    first = totals(import_json(cli, *args))
    points = sum(len(p) for w in written.values() for p in w["metrics"].values())
    assert first == {
        "imported": 4,
        "completed": 0,
        "skipped": 0,
        "failed": 0,
        "points": points,
        "artifacts": 4,
    }
    with home_lab(tmp_path) as lab:
        check_imported(lab, source, written)

    again = import_json(cli, *args)
    assert totals(again) == {
        "imported": 0,
        "completed": 0,
        "skipped": 4,
        "failed": 0,
        "points": 0,
        "artifacts": 0,
    }
    with home_lab(tmp_path) as lab:
        check_imported(lab, source, written)
        assert (
            sum(p.run_count for p in lab.tracking.list_projects() if p.name.startswith(prefix)) == 4
        )

    table = cli("import", "mlflow", *args).stdout
    assert "skipped" in table and names[0] in table


def test_a_run_that_failed_to_import_is_completed_on_the_next(
    mlflow_server: MlflowServer, tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # points in many small batches, so the second pass must skip each stored one
    monkeypatch.setattr(mlflow_source, "BATCH_POINTS", 64)
    source = MlflowClient(tracking_uri=mlflow_server.url)
    prefix = uuid.uuid4().hex[:6] + "-"
    written = populate(source, tmp_path, prefix)
    first_run = next(iter(written))
    # the server cannot serve one artifact (its file is a dangling link): that run
    # fails after its points are stored
    eid = source.get_run(first_run).info.experiment_id
    weights = mlflow_server.artifacts / eid / first_run / "artifacts/outputs/model/weights/w.bin"
    shutil.move(weights, tmp_path / "weights-away")
    weights.symlink_to(tmp_path / "nowhere")
    args = ["--from", mlflow_server.url, "--experiment", f"{prefix}vision"]
    result = cli("import", "mlflow", *args, code=1)
    assert "1 runs failed to import" in result.stderr and "resnet-a" in result.stderr

    weights.unlink()
    shutil.move(tmp_path / "weights-away", weights)
    second = totals(import_json(cli, *args))
    assert second["completed"] == 1 and second["skipped"] == 2 and second["failed"] == 0
    assert second["points"] == 0  # every batch was stored by the first pass
    vision = {k: w for k, w in written.items() if w["experiment"] == f"{prefix}vision"}
    with home_lab(tmp_path) as lab:
        check_imported(lab, source, vision)


def test_import_into_a_lablink_server(
    mlflow_server: MlflowServer, server: LoopbackServer, settings: Settings, cli: Cli
) -> None:
    source = MlflowClient(tracking_uri=mlflow_server.url)
    prefix = uuid.uuid4().hex[:6] + "-"
    written = populate(source, Path(settings.home), prefix)
    args = ["--server", server.url, "import", "mlflow", "--from", mlflow_server.url]
    args += ["--experiment", f"{prefix}vision", "--experiment", f"{prefix}nlp text", "--json"]
    assert totals(json.loads(cli(*args).stdout))["imported"] == 4
    check_imported(server.lab, source, written)
    assert totals(json.loads(cli(*args).stdout))["skipped"] == 4
    check_imported(server.lab, source, written)


def test_import_from_an_sqlite_store(tmp_path: Path, cli: Cli) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    # MLflow's SQL store keeps files under ./mlruns of where it is first opened
    with chdir(tmp_path):
        source = MlflowClient(tracking_uri=uri)
        written = populate(source, tmp_path)
    assert (tmp_path / "mlruns").is_dir()
    assert totals(import_json(cli, "--from", uri))["imported"] == 4
    with home_lab(tmp_path) as lab:
        check_imported(lab, source, written)
        # every experiment, one without runs too, with its tags
        assert lab.mlflow.experiment_by_name("empty").tags == {"note": "no runs yet"}
    assert totals(import_json(cli, "--from", uri))["skipped"] == 4


def test_import_from_an_mlruns_folder(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "mlruns"
    with monkeypatch.context() as m:
        m.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 makes no new file stores
        source = MlflowClient(tracking_uri=str(store))
        written = populate(source, tmp_path)
    assert totals(import_json(cli, "--from", str(store)))["imported"] == 4
    with monkeypatch.context() as m:
        m.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        with home_lab(tmp_path) as lab:
            check_imported(lab, MlflowClient(tracking_uri=str(store)), written)
    assert totals(import_json(cli, "--from", store.as_uri()))["skipped"] == 4


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("sqlite:///{tmp}/none.db", "no MLflow database at"),
        ("sqlite:///{tmp}/plain.db", "is not an MLflow database"),
        ("{tmp}/no-such-folder", "no MLflow store (mlruns folder) at"),
        ("{tmp}", "holds no MLflow experiments"),
        ("http://127.0.0.1:{port}", "cannot reach an MLflow server at"),
    ],
)
def test_a_store_that_does_not_exist(tmp_path: Path, cli: Cli, source: str, message: str) -> None:
    import sqlite3

    from importer_support import free_port

    with sqlite3.connect(tmp_path / "plain.db") as db:
        db.execute("create table t (x)")
    db.close()
    result = cli(
        "import", "mlflow", "--from", source.format(tmp=tmp_path, port=free_port()), code=1
    )
    assert message in result.stderr and "hint:" in result.stderr
    assert not (tmp_path / "none.db").exists()  # MLflow was not left to make one


def test_an_unknown_experiment(mlflow_server: MlflowServer, cli: Cli) -> None:
    result = cli("import", "mlflow", "--from", mlflow_server.url, "--experiment", "nope", code=1)
    assert "no experiment 'nope'" in result.stderr


def test_an_old_start_time_is_not_a_silent_run(lab: Lab) -> None:
    # the watchdog crashes runs it has not heard from for minutes: an imported run
    # started long ago has just been heard from
    before = time.time()
    created, _ = lab.mlflow.create_run("ana", "0", 1_500_000_000_000, "old", {})
    for run in (created, lab.tracking.get_run(created.id)):  # as answered, and as stored
        assert run.created_at == 1_500_000_000.0
        assert run.heartbeat_at is not None and run.heartbeat_at >= before
