"""``lablink import tensorboard`` over event files written by tensorboardX."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from importer_support import Cli
from tensorboardX import SummaryWriter
from tensorboardX.summary import hparams

from helpers import LoopbackServer, make_settings
from lablink.core.lab import Lab
from lablink.importers import tensorboard_source
from lablink.importers.tensorboard_source import ORIGIN_TAG
from lablink.settings import Settings

T0 = 1_700_000_000.0


def write_logs(logdir: Path) -> dict[str, Any]:
    """Three run folders: scalars, hparams and text; scalars nested deeper; a truncated one."""
    expected: dict[str, Any] = {}
    with SummaryWriter(str(logdir / "lr0.1")) as w:
        for step in range(200):
            w.add_scalar("loss/train", 2.0 / (step + 1), step, walltime=T0 + step)
            if step % 50 == 0:
                w.add_scalar("acc/val", step / 200, step, walltime=T0 + step + 0.5)
        w.add_text("notes", "first **try**", 0, walltime=T0)
        w.add_text("notes", "lr too high?", 150, walltime=T0 + 150)
        for summary in hparams({"lr": 0.1, "batch": 32, "opt": "adam", "aug": True}, {}):
            w.file_writer.add_summary(summary, walltime=T0)
    expected["lr0.1"] = {
        "points": {
            "loss/train": [(s, T0 + s, 2.0 / (s + 1)) for s in range(200)],
            "acc/val": [(s, T0 + s + 0.5, s / 200) for s in range(0, 200, 50)],
        },
        "params": {"lr": "0.1", "batch": "32", "opt": "adam", "aug": "True"},
        "config": {"lr": 0.1, "batch": 32, "opt": "adam", "aug": True},
    }
    with SummaryWriter(str(logdir / "sweep" / "seed1")) as w:
        for step in range(10):
            w.add_scalar("loss", float(step), step, walltime=T0 + 10 * step)
        # torch's way: hparams and their metrics in a sub-folder named by the time
        w.add_hparams({"seed": 1, "lr": 0.5}, {"hparam/final": 9.0})
    expected["sweep/seed1"] = {
        "points": {
            "loss": [(s, T0 + 10 * s, float(s)) for s in range(10)],
            "hparam/final": [(0, None, 9.0)],
        },
        "params": {"seed": "1", "lr": "0.5"},
        "config": {"seed": 1, "lr": 0.5},
    }
    with SummaryWriter(str(logdir / "cut")) as w:
        for step in range(100):
            w.add_scalar("loss", float(step), step, walltime=T0 + step)
    (event_file,) = (logdir / "cut").glob("*tfevents*")
    data = event_file.read_bytes()
    event_file.write_bytes(data[:-10])  # the last record loses its end
    expected["cut"] = {
        "points": {"loss": [(s, T0 + s, float(s)) for s in range(99)]},
        "params": {},
        "config": {},
    }
    return expected


def check_imported(lab: Lab, project: str, expected: dict[str, Any]) -> None:
    runs = {r.tags_kv[ORIGIN_TAG]: r for r in _runs(lab, project)}
    assert set(runs) == set(expected)
    for origin, want in expected.items():
        run = runs[origin]
        assert run.record.name == origin and run.record.status == "finished"
        assert dict(run.extras.params) == want["params"]
        assert {k: run.record.config[k] for k in want["config"]} == want["config"]
        assert set(run.record.metrics) == set(want["points"])
        for key, points in want["points"].items():
            h = lab.tracking.history(run.record.id, key)
            got = list(zip(h.steps, h.times, h.values, strict=True))
            assert [s for s, *_ in got] == [s for s, *_ in points]
            written = [
                (round(t, 3), round(w, 3))
                for (_, t, _), (_, w, _) in zip(got, points, strict=True)
                if w is not None
            ]
            assert all(a == b for a, b in written)
            assert [v for *_, v in got] == [pytest_approx(v) for *_, v in points]
        first = min(t for pts in want["points"].values() for _, t, _ in pts if t is not None)
        assert abs(run.record.created_at - first) < 1e-3
    notes = {a.name: a for a in lab.tracking.list_artifacts(runs["lr0.1"].record.id)}
    assert set(notes) == {"tensorboard/text/notes/text_summary.md"}
    with lab.blobs.open(notes["tensorboard/text/notes/text_summary.md"].digest) as fh:
        text = fh.read().decode()
    assert text == "## step 0\n\nfirst **try**\n\n## step 150\n\nlr too high?\n\n"


def pytest_approx(value: float) -> Any:
    return pytest.approx(value, rel=1e-6)  # scalars are float32 in event files


class _Run:
    def __init__(self, record: Any, extras: Any) -> None:
        self.record, self.extras, self.tags_kv = record, extras, extras.tags


def _runs(lab: Lab, project: str) -> list[_Run]:
    eid = str(lab.mlflow.experiment_by_name(project).experiment_id)
    return [_Run(r, x) for r, x, _ in lab.mlflow.runs([eid])]


@pytest.mark.parametrize("batch", [50_000, 7])
def test_import_event_files(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    # small batches: a metric's points are split over several, and keys share one
    monkeypatch.setattr(tensorboard_source, "BATCH_POINTS", batch)
    expected = write_logs(tmp_path / "logs")
    result = cli("import", "tensorboard", str(tmp_path / "logs"), "--project", "vision")
    assert "truncated or corrupt" in result.stderr and "cut" in result.stderr
    assert "vision" in result.stdout
    with Lab(make_settings(tmp_path / "lablink-home", user="tester@example.org")) as lab:
        check_imported(lab, "vision", expected)

    again = cli("import", "tensorboard", str(tmp_path / "logs"), "--project", "vision", "--json")
    (tally,) = json.loads(again.stdout)["projects"]
    assert tally["skipped"] == 3 and tally["imported"] == 0 and tally["points"] == 0


def test_import_into_a_lablink_server(
    tmp_path: Path, server: LoopbackServer, settings: Settings, cli: Cli
) -> None:
    expected = write_logs(tmp_path / "logs")
    args = ["--server", server.url, "import", "tensorboard", str(tmp_path / "logs")]
    summary = json.loads(cli(*args, "--project", "tb", "--json").stdout)
    assert summary["projects"][0]["imported"] == 3
    assert any("truncated" in p for p in summary["problems"])
    check_imported(server.lab, "tb", expected)


def test_run_names_from_the_leaf_folder(tmp_path: Path, cli: Cli) -> None:
    write_logs(tmp_path / "logs")
    cli("import", "tensorboard", str(tmp_path / "logs"), "-p", "x", "--run-name-from", "leaf")
    with Lab(make_settings(tmp_path / "lablink-home", user="tester@example.org")) as lab:
        assert sorted(r.record.name for r in _runs(lab, "x")) == ["cut", "lr0.1", "seed1"]


def test_bad_input(tmp_path: Path, cli: Cli) -> None:
    missing = cli("import", "tensorboard", str(tmp_path / "nope"), "--project", "p", code=1)
    assert "no folder" in missing.stderr
    (tmp_path / "empty").mkdir()
    empty = cli("import", "tensorboard", str(tmp_path / "empty"), "--project", "p", code=1)
    assert "no TensorBoard event files" in empty.stderr
    write_logs(tmp_path / "logs")
    bad = cli(
        "import", "tensorboard", str(tmp_path / "logs"), "-p", "p", "--run-name-from", "x", code=1
    )
    assert "--run-name-from must be one of dir, leaf" in bad.stderr


def test_import_into_a_server_with_auth(tmp_path: Path, lab: Lab, cli: Cli) -> None:
    from helpers import AppServer
    from lablink.server.app import create_app
    from lablink.server.auth import AuthConfig

    people = lab.people
    tokens = {}
    for name in ("mia", "kenji"):
        people.add_user("root", name, f"{name}@lab.org")
        tokens[name] = people.create_token("root", name, "laptop", None, "member").secret
    lab.tracking.create_run("mia", "vision", "baseline")
    people.grant("root", "vision", "mia", "member")
    people.grant("root", "vision", "kenji", "viewer")
    write_logs(tmp_path / "logs")
    srv = AppServer(create_app(lab, auth=AuthConfig("required"))).start()
    try:
        base = ["--server", srv.url, "--token"]
        args = ["import", "tensorboard", str(tmp_path / "logs"), "-p", "vision", "--json"]
        denied = cli(*base, tokens["kenji"], *args, code=1)
        assert "not a member" in denied.stderr
        summary = json.loads(cli(*base, tokens["mia"], *args).stdout)
        assert summary["projects"][0]["imported"] == 3
    finally:
        srv.stop()
    owners = {r.record.user for r in _runs(lab, "vision") if ORIGIN_TAG in r.tags_kv}
    assert owners == {"mia"}  # the token's user, not whoever the files name
