"""``lablink eval`` end to end: a real dataset version, a model artifact, the user's
predict function, then ``lablink gate --per-example`` on the logged predictions."""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner, Result

from conftest import Home
from lablink.cli.main import app
from lablink.core import evaluate as ev
from lablink.core.gate.predictions import read_predictions
from lablink.sdk.data import dataset
from lablink.sdk.direct import DirectTransport

PREDICT = '''
import json
from pathlib import Path


def predict(model_path: Path, rows: list[dict]) -> list[int]:
    """A linear classifier whose weights are the model artifact (JSON)."""
    w = json.loads(model_path.read_text())
    return [int(w["a"] * r["x1"] + w["b"] * r["x2"] + w["c"] > 0) for r in rows]


def loss(model_path, rows, data_dir=None):
    """A per-example score; checks that the version's folder is handed over."""
    assert (data_dir / "README.txt").read_text() == "validation split"
    w = json.loads(model_path.read_text())
    return [abs(w["a"] * r["x1"] + w["b"] * r["x2"] + w["c"]) for r in rows]


def broken(model_path, rows):
    raise ValueError("the model file is corrupt")


def short(model_path, rows):
    return [1]
'''


def lablink(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def flat(text: str) -> str:
    return " ".join(text.split())


def table(seed: int, n: int = 400) -> pl.DataFrame:
    """Examples labelled by the rule x1 + x2 > 0."""
    rng = random.Random(seed)
    x1 = [rng.uniform(-1, 1) for _ in range(n)]
    x2 = [rng.uniform(-1, 1) for _ in range(n)]
    return pl.DataFrame(
        {
            "id": [f"ex-{seed}-{i:04d}" for i in range(n)],
            "x1": x1,
            "x2": x2,
            "label": [int(a + b > 0) for a, b in zip(x1, x2, strict=True)],
        }
    )


def add_version(root: Path, name: str, frame: pl.DataFrame, fmt: str = "csv") -> str:
    folder = root / f"{name}-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    (folder / "README.txt").write_text("validation split")
    if fmt == "csv":
        frame.write_csv(folder / "examples.csv")
    else:
        frame.write_parquet(folder / "examples.parquet")
    result = lablink("data", "add", str(folder), "--name", name, "--json")
    assert result.exit_code == 0, result.output
    return str(json.loads(result.stdout)["version"]["ref"])


@pytest.fixture
def module(home: Home, tmp_path: Path) -> str:
    """The user's module, written to the cwd under a fresh name (imports are cached)."""
    name = f"user_eval_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(PREDICT)
    return name


def model_run(home: Home, transport: DirectTransport, tag: str, weights: dict[str, float]) -> str:
    """A finished run with a tiny real model file as its artifact ``model.json``."""
    run = home.runs(tag, [1.0])[0]
    path = home.path.parent / f"{tag}-model.json"
    path.write_text(json.dumps(weights))
    transport.upload_artifact(run, path, "model.json", "model")
    return run


GOOD = {"a": 1.0, "b": 1.0, "c": 0.0}
BAD = {"a": 1.0, "b": 0.0, "c": 0.0}  # ignores x2: about 75% right


def test_eval_then_gate_per_example(
    home: Home, transport: DirectTransport, module: str, tmp_path: Path
) -> None:
    v1 = add_version(tmp_path, "val-set", table(1))
    good = model_run(home, transport, "good", GOOD)
    bad = model_run(home, transport, "bad", BAD)
    for run in (good, bad):
        result = lablink(
            "eval", "--model", "model.json", "--data", "val-set", "--run", run,
            "--metric", "acc", "--predict", f"{module}:predict",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert f"on {v1} (400 examples from examples.csv)" in flat(result.stdout)

    logged = read_predictions(transport, good, "acc")
    assert logged.dataset == v1 == "val-set@v1"  # the canonical ref, not "val-set"
    assert len(logged.ids) == 400 and logged.values.tolist() == [1.0] * 400
    inputs = transport.get_run(good).inputs
    digest = dataset(v1, record=False).digest
    assert [(i["kind"], i["ref"], i["digest"]) for i in inputs] == [("dataset", v1, digest)]
    bad_acc = read_predictions(transport, bad, "acc").values.mean()
    assert 0.6 < bad_acc < 0.9

    gate = ["gate", "--per-example", "--metric", "acc", "--margin", "0.01"]
    worse = lablink(*gate, "--baseline", good, "--candidate", bad)
    assert worse.exit_code == 1, worse.output
    assert "FAIL" in worse.stdout
    better = lablink(*gate, "--baseline", bad, "--candidate", good)
    assert better.exit_code == 0, better.output
    assert "PASS" in better.stdout

    # Another version of the data: the gate refuses to compare.
    v2 = add_version(tmp_path, "val-set", table(2))
    other = model_run(home, transport, "other", GOOD)
    result = lablink(
        "eval", "--model", "model.json", "--data", v2, "--run", other,
        "--predict", f"{module}:predict", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["dataset"] == "val-set@v2"
    refused = lablink(*gate, "--baseline", good, "--candidate", other)
    assert refused.exit_code == 2, refused.output
    assert "refused" in flat(refused.output) and "val-set@v1" in flat(refused.output)


def test_user_code_errors_are_one_clear_message(
    home: Home, transport: DirectTransport, module: str, tmp_path: Path
) -> None:
    add_version(tmp_path, "val-set", table(3, n=20))
    run = model_run(home, transport, "m", GOOD)
    base = ["eval", "--model", "model.json", "--data", "val-set@v1", "--run", run]
    raised = lablink(*base, "--predict", f"{module}:broken")
    assert raised.exit_code == 1
    text = flat(raised.output)
    assert f"{module}:broken raised ValueError: the model file is corrupt" in text
    assert f"{module}.py:" in text and "Traceback" not in raised.output
    short = lablink(*base, "--predict", f"{module}:short")
    assert short.exit_code == 1
    assert "returned 1 predictions for a batch of 20 rows" in flat(short.output)
    missing = lablink(*base, "--predict", f"{module}:nope")
    assert missing.exit_code == 1 and "has no function 'nope'" in flat(missing.output)
    absent = lablink(*base, "--predict", "no_such_module_xyz:predict")
    assert absent.exit_code == 1 and "cannot import 'no_such_module_xyz'" in flat(absent.output)
    no_model = lablink(*[a if a != "model.json" else "weights.pt" for a in base], "--predict",
                       f"{module}:predict")  # fmt: skip
    assert no_model.exit_code == 1 and "no artifact 'weights.pt'" in flat(no_model.output)
    assert not [a for a in transport.list_artifacts(run) if a.name.startswith("predictions/")]


def test_scores_from_a_parquet_table_through_the_core_api(
    home: Home, transport: DirectTransport, module: str, tmp_path: Path
) -> None:
    ref = add_version(tmp_path, "val-scores", table(4, n=50), fmt="parquet")
    run = model_run(home, transport, "s", GOOD)
    version = dataset(ref, record=False)
    result = ev.evaluate(
        transport, run, "model.json", version, f"{module}:loss",
        metric="margin", kind="score", direction="min", batch_size=7, search_dir=tmp_path,
    )  # fmt: skip
    assert (result.count, result.table, result.dataset) == (50, "examples.parquet", ref)
    logged = read_predictions(transport, run, "margin")
    assert logged.direction == "min" and logged.values.min() >= 0 and logged.values.max() > 0
    frame = table(4, n=50)
    expected = (frame["x1"] + frame["x2"]).abs().to_list()
    assert logged.values.tolist() == pytest.approx(expected)


def test_table_and_option_checks() -> None:
    assert ev.pick_table(["README.txt", "a.csv"]) == "a.csv"
    with pytest.raises(ev.InvalidInput, match="2 table files"):
        ev.pick_table(["a.csv", "b.parquet"])
    with pytest.raises(ev.InvalidInput, match="no table file"):
        ev.pick_table(["README.txt"])
    assert ev.pick_table(["a.csv", "b.parquet"], "b.parquet") == "b.parquet"
    with pytest.raises(ev.InvalidInput, match=r"package\.module:function"):
        ev.load_function("just_a_module")
    rows = [{"label": 1}, {"label": "cat"}, {"label": 2}]
    assert ev.score(rows, ["1", "cat", 3], kind="correct", label_column="label", name="f") == [
        1.0,
        1.0,
        0.0,
    ]
