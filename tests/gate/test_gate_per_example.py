"""Per-example mode: predictions stored as run artifacts, compared checkpoint to checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import Home
from lablink.core import gate
from lablink.core.gate.predictions import read_table
from lablink.errors import InvalidInput, NotFound
from lablink.sdk.direct import DirectTransport

N = 2000


def correct(seed: int, accuracy: float = 0.9) -> np.ndarray:
    return (np.random.default_rng(seed).uniform(size=N) < accuracy).astype(int)


def ids(n: int = N) -> list[str]:
    return [f"ex-{i:05d}" for i in range(n)]


def per_example(baseline: str, candidate: str, margin: float = 0.01) -> gate.GateOptions:
    return gate.resolve_options(
        {},
        baseline=baseline,
        candidate=candidate,
        metrics=["acc"],
        margin=margin,
        per_example=True,
    )


@pytest.fixture
def checkpoints(home: Home) -> dict[str, str]:
    names = ("base", "same", "worse", "other-data", "fewer", "shuffled")
    return {name: home.runs(name, [1.0])[0] for name in names}


def test_log_and_read_predictions(transport: DirectTransport, checkpoints: dict[str, str]) -> None:
    run = checkpoints["base"]
    artifact = gate.log_predictions(
        transport, run, ids(5), [1, 0, 1, 1, 0], metric="acc", dataset="val-set@v3"
    )
    assert artifact.name == "predictions/acc.jsonl"
    back = gate.read_predictions(transport, run, "acc")
    assert back.ids == ids(5) and back.values.tolist() == [1, 0, 1, 1, 0]
    assert (back.dataset, back.direction) == ("val-set@v3", "max")
    inputs = transport.get_run(run).inputs
    assert any(i["kind"] == "dataset" and i["ref"] == "val-set@v3" for i in inputs)
    with pytest.raises(NotFound, match="no per-example predictions for 'f1'"):
        gate.read_predictions(transport, run, "f1")


def test_bad_predictions_are_refused(
    transport: DirectTransport, checkpoints: dict[str, str]
) -> None:
    run = checkpoints["base"]
    with pytest.raises(InvalidInput, match="duplicate example ids: a"):
        gate.log_predictions(transport, run, ["a", "a"], [1, 0])
    with pytest.raises(InvalidInput, match="2 example ids but 1 values"):
        gate.log_predictions(transport, run, ["a", "b"], [1])
    with pytest.raises(InvalidInput, match="finite"):
        gate.log_predictions(transport, run, ["a", "b"], [1, float("nan")])
    with pytest.raises(InvalidInput, match="direction"):
        gate.log_predictions(transport, run, ["a"], [1], direction="up")


def test_npz_predictions_are_read(
    transport: DirectTransport, checkpoints: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "acc.npz"
    header = json.dumps({"dataset": "val@v1", "direction": "max"})
    np.savez(path, ids=np.array(["x", "y"]), values=np.array([0.5, 0.7]), header=header)
    transport.upload_artifact(checkpoints["base"], path, "predictions/score.npz", "predictions")
    back = gate.read_predictions(transport, checkpoints["base"], "score")
    assert back.ids == ["x", "y"] and back.values.tolist() == [0.5, 0.7]
    assert back.dataset == "val@v1"


def test_per_example_verdicts(transport: DirectTransport, checkpoints: dict[str, str]) -> None:
    base = correct(1)
    worse = base.copy()
    worse[np.flatnonzero(base)[:80]] = 0  # 80 examples it used to get right
    order = np.random.default_rng(0).permutation(N)
    logged = {
        "base": (ids(), base, "val@v3"),
        "same": (ids(), base, "val@v3"),
        "worse": (ids(), worse, "val@v3"),
        "other-data": (ids(), base, "val@v4"),
        "fewer": (ids(N - 1), base[:-1], "val@v3"),
        "shuffled": ([ids()[i] for i in order], worse[order], "val@v3"),
    }
    for name, (names, values, dataset) in logged.items():
        gate.log_predictions(transport, checkpoints[name], names, values.tolist(), dataset=dataset)
    run = checkpoints
    same = gate.run_gate(transport, per_example(run["base"], run["same"]))
    assert same.verdict is gate.Verdict.PASS and same.mode == "per-example"
    assert same.dataset == "val@v3"
    fail = gate.run_gate(transport, per_example(run["base"], run["worse"]))
    assert fail.verdict is gate.Verdict.FAIL
    metric = fail.metrics[0]
    assert metric.discordant == (0, 80) and metric.comparison is not None
    assert metric.comparison.test == "mcnemar"
    assert metric.comparison.diff == pytest.approx(-80 / N)
    shuffled = gate.run_gate(transport, per_example(run["base"], run["shuffled"]))
    assert shuffled.metrics[0].discordant == (0, 80)  # aligned by id, not by position
    with pytest.raises(InvalidInput, match="evaluated on val@v3 and the candidate on val@v4"):
        gate.run_gate(transport, per_example(run["base"], run["other-data"]))
    with pytest.raises(InvalidInput, match="example sets differ"):
        gate.run_gate(transport, per_example(run["base"], run["fewer"]))


def test_per_example_needs_one_run_per_side(home: Home, transport: DirectTransport) -> None:
    home.runs("main", [1.0, 2.0])
    one = home.runs("pr", [1.0])
    with pytest.raises(InvalidInput, match="one checkpoint per side"):
        gate.run_gate(transport, per_example("tags.main", one[0]))


def test_read_table_formats(tmp_path: Path) -> None:
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text(
        '{"lablink": "predictions", "dataset": "d@1"}\n'
        '{"id": 1, "correct": true}\n\n{"id": 2, "score": 0.25}\n'
    )
    assert read_table(jsonl) == ({"lablink": "predictions", "dataset": "d@1"}, [1, 2], [1.0, 0.25])
    csv = tmp_path / "p.csv"
    csv.write_text("id,value\na,1\nb,0\n")
    assert read_table(csv) == ({}, ["a", "b"], ["1", "0"])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1}\n')
    with pytest.raises(InvalidInput, match="needs 'id' and 'value'"):
        read_table(bad)
    bad.write_text("not json\n")
    with pytest.raises(InvalidInput, match=r"bad.jsonl:1 is not JSON"):
        read_table(bad)
    with pytest.raises(InvalidInput, match="no such file"):
        read_table(tmp_path / "missing.csv")
